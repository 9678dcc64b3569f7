"""The connector contract every Connex connector passes, run against the simulator on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from connex_core.connector import Connector, OrderWrite
from connex_core.models import Order
from connex_core.sandbox import Fault
from connex_core.testing import ConnectorContractTests
from connex_shipstation.mapping import order_from_shipstation


class TestShipStationContract(ConnectorContractTests):
    paging_orders = 1201  # three pages of 500

    @pytest.fixture
    def service(self, simulator):
        return simulator

    @pytest.fixture
    def make_connector(self, service, connector_for):
        def make(dry_run: bool = False, bad_credentials: bool = False):
            overrides = {"api_secret": "not-the-secret"} if bad_credentials else {}
            return connector_for(service, dry_run=dry_run, **overrides)

        return make

    @pytest.fixture
    def seed_orders(self, service):
        return service.seed_orders

    def rate_limit_fault(self) -> Fault:
        return Fault(kind="error", status=429, body=b'{"message":"Too Many Requests"}',
                     headers={"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "3"})

    def roundtrip(self, connector: Connector, order: Order) -> Order:
        """Write the order to the simulator through the connector, read it back over HTTP, map it."""
        [result] = connector.write_orders([OrderWrite(order=order, idempotency_key="roundtrip")])
        assert result.ok, result.error
        return order_from_shipstation(connector.client.get_order(result.target_id))

    def write_count(self, service: Any) -> int:
        return service.write_calls
