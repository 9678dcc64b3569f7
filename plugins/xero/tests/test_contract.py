"""The connector contract of connex_core, run against the Xero simulator over real HTTP."""

from __future__ import annotations

import pytest

from connex_core.connector import OrderWrite
from connex_core.sandbox import Fault
from connex_core.testing import ConnectorContractTests
from connex_xero.mapping import order_from_xero


class TestXeroContract(ConnectorContractTests):
    paging_orders = 1201  # 13 pages of 100

    @pytest.fixture
    def service(self, xero):
        return xero

    @pytest.fixture
    def make_connector(self, make_xero):
        def make(dry_run: bool = False, bad_credentials: bool = False):
            return make_xero(dry_run=dry_run, **({"client_secret": "not-the-secret"} if bad_credentials else {}))

        return make

    @pytest.fixture
    def seed_orders(self, xero):
        return lambda n: xero.seed_invoices(n, status="AUTHORISED")

    def rate_limit_fault(self) -> Fault:
        return Fault(kind="error", status=429, body=b'{"Title":"Too Many Requests","Status":429}',
                     headers={"Retry-After": "2", "X-Rate-Limit-Problem": "minute"}, methods=("GET",),
                     path="/Invoices$")

    def roundtrip(self, connector, order):
        """Write the order as an invoice, read the invoice back, map it to canonical again."""
        result = connector.write_orders([OrderWrite(order=order, idempotency_key="roundtrip")])[0]
        assert result.ok, result.error
        data = connector.client.call("read back", "get_invoices", i_ds=[result.target_id], page=1)
        return order_from_xero(data["Invoices"][0], None, connector.settings)

    def write_count(self, service) -> int:
        return service.write_calls
