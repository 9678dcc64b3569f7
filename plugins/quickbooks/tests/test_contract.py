"""The connector authors' contract (connex_core.testing), run against the simulator over real HTTP."""

from __future__ import annotations

import pytest

from connex_core.connector import FetchQuery, OrderWrite
from connex_core.sandbox import Fault
from connex_core.testing import ConnectorContractTests
from connex_quickbooks.sim.simulator import THROTTLE_XML


class TestQuickBooksContract(ConnectorContractTests):
    #: 1201 documents, read 200 per page: several pages of each document type.
    paging_orders = 1201

    @pytest.fixture
    def service(self, sim):
        return sim

    @pytest.fixture
    def seed_orders(self, sim):
        return lambda n: sim.seed_documents(n)

    def fetch_query(self) -> FetchQuery:
        return FetchQuery(options={"page_size": 200})

    def rate_limit_fault(self) -> Fault:
        return Fault(kind="error", status=429, body=THROTTLE_XML.format(time="2026-09-15T10:00:00-07:00").encode(),
                     headers={"Content-Type": "application/xml"}, path=r"^/v3/")

    def roundtrip(self, connector, order):
        """Canonical -> SalesReceipt in the simulator -> canonical, through the real API calls."""
        [result] = connector.write_orders([OrderWrite(order=order, idempotency_key="roundtrip")])
        assert result.ok, result.error
        return next(o for o in connector.fetch_orders(FetchQuery()) if o.source_id == result.target_id)

    def write_count(self, service) -> int:
        return service.write_calls
