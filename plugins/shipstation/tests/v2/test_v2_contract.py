"""The connector contract, for ShipStation API v2, against the v2 simulator on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from connex_core.connector import Connector, OrderWrite
from connex_core.models import Order
from connex_core.sandbox import Fault
from connex_core.testing import ConnectorContractTests
from connex_shipstation.v2.mapping import order_from_v2

from .conftest import FIXTURES


class TestShipStationV2Contract(ConnectorContractTests):
    paging_orders = 301  # four pages of 100

    @pytest.fixture
    def service(self, v2_sim):
        return v2_sim

    @pytest.fixture
    def make_connector(self, service, v2_connector):
        def make(dry_run: bool = False, bad_credentials: bool = False):
            overrides = {"api_key": "not-the-key"} if bad_credentials else {}
            return v2_connector(service, dry_run=dry_run, **overrides)

        return make

    @pytest.fixture
    def seed_orders(self, service):
        return service.seed_shipments

    def rate_limit_fault(self) -> Fault:
        return Fault(kind="error", status=429, body=(FIXTURES / "error_429.json").read_bytes(),
                     headers={"Retry-After": "3", "Content-Type": "application/json"})

    def roundtrip(self, connector: Connector, order: Order) -> Order:
        """Write through the connector, read the shipment back over HTTP, map it."""
        [result] = connector.write_orders([OrderWrite(order=order, idempotency_key="roundtrip")])
        assert result.ok, result.error
        return order_from_v2(connector.client.get_shipment(result.target_id))

    def write_count(self, service: Any) -> int:
        return service.write_calls
