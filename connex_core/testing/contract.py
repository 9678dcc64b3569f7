"""Contract tests every connector's suite subclasses.

Subclass :class:`ConnectorContractTests` in your connector's tests, and provide:

* fixture ``service``: your :class:`~connex_core.sandbox.SimulatedService`, already served on loopback;
* fixture ``make_connector``: ``make_connector(dry_run=False, bad_credentials=False)`` returns your
  connector pointed at ``service`` (with wrong credentials when asked);
* fixture ``seed_orders``: ``seed_orders(n)`` puts ``n`` orders in ``service`` for reading
  (connectors that read orders);
* method :meth:`rate_limit_fault`: a :class:`~connex_core.sandbox.Fault` shaped like your API's
  429 (with a wait small enough for a test);
* method :meth:`roundtrip`: canonical order → your API's payload → canonical order, through your
  mapping functions;
* method :meth:`write_count`: how many write calls ``service`` has answered.

The contract: paging ends (every seeded order read once, no endless loop); a 429 is waited out
and retried; a 401 is fatal with a message that says how to fix it; mapping to and from the
canonical model round-trips; dry-run writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..connector import Capability, Connector, FetchQuery, OrderWrite
from ..errors import AuthenticationError, DryRunWriteError
from ..models import Order
from ..sandbox import Fault
from .factories import make_order


class ConnectorContractTests:
    """Base class of a connector's contract tests (see the module docstring for what to provide)."""

    #: Orders seeded for the paging test: more than two pages of your API's page size.
    paging_orders: int = 1201
    #: Fields the round trip must preserve.
    roundtrip_fields: tuple[str, ...] = ("number", "total", "shipping", "tax", "currency")

    # -- to override -------------------------------------------------------------------------------
    def rate_limit_fault(self) -> Fault:
        raise NotImplementedError

    def roundtrip(self, connector: Connector, order: Order) -> Order:
        raise NotImplementedError

    def write_count(self, service: Any) -> int:
        raise NotImplementedError

    def sample_order(self) -> Order:
        return make_order()

    def fetch_query(self) -> FetchQuery:
        return FetchQuery()

    # -- the contract ------------------------------------------------------------------------------
    def _reads(self, make_connector) -> bool:
        return Capability.READ_ORDERS in make_connector().capabilities

    def test_paging_ends(self, make_connector, seed_orders):
        connector = make_connector()
        if Capability.READ_ORDERS not in connector.capabilities:
            pytest.skip("connector does not read orders")
        seed_orders(self.paging_orders)
        orders = list(connector.fetch_orders(self.fetch_query()))
        keys = [o.key for o in orders]
        assert len(keys) == self.paging_orders
        assert len(set(keys)) == self.paging_orders, "an order was read twice across pages"

    def test_rate_limit_is_waited_out(self, make_connector, seed_orders, service):
        connector = make_connector()
        if Capability.READ_ORDERS not in connector.capabilities:
            pytest.skip("connector does not read orders")
        seed_orders(3)
        fault = service.faults.add(self.rate_limit_fault())
        fault.times = 1
        orders = list(connector.fetch_orders(self.fetch_query()))
        assert len(orders) == 3
        assert service.faults.injected["error"] == 1

    def test_unauthorised_is_fatal_and_says_how_to_fix(self, make_connector):
        connector = make_connector(bad_credentials=True)
        with pytest.raises(AuthenticationError) as info:
            connector.check()
        text = str(info.value).lower()
        assert any(word in text for word in ("connect", "credential", "api key")), text

    def test_mapping_round_trips(self, make_connector):
        connector = make_connector()
        order = self.sample_order()
        back = self.roundtrip(connector, order)
        for name in self.roundtrip_fields:
            assert getattr(back, name) == getattr(order, name), name
        assert [(l.sku, l.quantity, l.unit_price) for l in back.lines if not l.adjustment] == \
               [(l.sku, l.quantity, l.unit_price) for l in order.lines if not l.adjustment]

    def test_dry_run_writes_nothing(self, make_connector, service):
        connector = make_connector(dry_run=True)
        if Capability.WRITE_ORDERS not in connector.capabilities:
            pytest.skip("connector does not write orders")
        before = self.write_count(service)
        with pytest.raises(DryRunWriteError):
            connector.write_orders([OrderWrite(order=self.sample_order(), idempotency_key="dry-run-test")])
        assert self.write_count(service) == before
