#!/usr/bin/env python3
"""Rule engine benchmark (issue 3 / issue 9): prints figures, asserts nothing about speed.

1. A 20-rule file over 100,000 canonical orders: the compiled engine (``RuleSet.apply``) against
   hand-written Python doing the same (the same conditions, the same copy-on-write changes and the
   same result records), side by side in one process, median of 3 interleaved runs. Both must
   agree on every order; the target is a ratio of at most 2.0.
2. Parse and check of a 5,000-rule file (the limit the commercial product documents): target < 1 s.

    .venv/bin/python benchmarks/rules_bench.py [--orders N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from connex_core.models import DocumentType, Order, OrderStatus
from connex_core.plugins import PluginManager
from connex_core.rules import Change, RuleResult, check_text, load_rules

RULES = """\
when order.number endswith '-1' then strip suffix
when shipped and amount_paid == 0 then mark unpaid
rule "skip test orders":
  when customer.email endswith ci '@example.com' then skip 'test order'
when status == 'cancelled' then skip 'cancelled'
when order_date < @2026-01-01 then skip 'before the books were opened'
when store contains ci 'amazon' then set class = 'AZ'
when class is null and store contains ci 'ebay' then set class = 'EB'
when class is null and 'wholesale' in tags then set class = 'WH'
when total > 1000.00 and not paid then hold 'large unpaid order'
when any line.sku startswith 'GIFT-' then set document_type = 'invoice'
when ship_to.country is set and ship_to.country != 'US' then set tax_code = 'EXPORT'
when payment_method in ['PayPal', 'Venmo'] then set deposit_account = 'PayPal Clearing'
when internal_notes matches '^PO\\d+' then set memo = internal_notes
when discount > 0 and discount >= total then hold 'free order'
when ship_to.state in ['CA', 'NY', 'WA'] and tax == 0 then hold 'missing sales tax'
when split then tag 'split'
when requested_service contains 'Priority' then tag 'priority'
when all line.quantity >= 10 then tag 'bulk'
when customer.name is null then set customer_ref = 'Cash Customer'
when shipment.carrier == 'fedex' and shipping == 0 then tag 'free-fedex'
"""

FILE = "bench.rules"


# -- the same 20 rules, hand-written ----------------------------------------------------------------------
class _Writer:
    __slots__ = ("order", "copied", "changes", "rule", "line")

    def __init__(self, order: Order):
        self.order, self.copied, self.changes = order, False, []

    def set(self, field: str, value) -> None:
        before = getattr(self.order, field)
        if before == value and type(before) is type(value):
            return
        if not self.copied:
            self.order, self.copied = self.order.model_copy(), True
        setattr(self.order, field, value)
        after = getattr(self.order, field)
        self.changes.append(Change(field, before, after, self.rule, self.line, FILE))

    def tag(self, text: str) -> None:
        if text in self.order.tags:
            return
        before = list(self.order.tags)
        if not self.copied:
            self.order, self.copied = self.order.model_copy(), True
        self.order.tags = [*before, text]
        self.changes.append(Change("tags", before, list(self.order.tags), self.rule, self.line, FILE))


import re  # noqa: E402  (kept beside the hand-written rules that use it)

_PO = re.compile(r"^PO\d+")
_DAY0 = datetime(2026, 1, 1).date()
_PAYPAL = frozenset(["PayPal", "Venmo"])
_STATES = frozenset(["CA", "NY", "WA"])
_T1000 = Decimal("1000.00")


def hand_written(o: Order) -> RuleResult:
    w = _Writer(o)
    fired: list[str] = []

    def fire(name: str, line: int) -> None:
        fired.append(name)
        w.rule, w.line = name, line

    def end(kind: str, reason: str) -> RuleResult:
        return RuleResult(w.order, kind, reason, w.rule, w.line, FILE, fired, w.changes)

    if w.order.number.endswith("-1"):
        fire("bench.rules:1", 1)
        w.set("number", w.order.number[:-2])
    o = w.order
    if o.shipped and o.amount_paid == 0:
        fire("bench.rules:2", 2)
        w.set("paid", False)
    o = w.order
    email = o.customer.email
    if email is not None and email.lower().endswith("@example.com"):
        fire("skip test orders", 3)
        return end("skip", "test order")
    if o.status == OrderStatus.cancelled:
        fire("bench.rules:5", 5)
        return end("skip", "cancelled")
    if o.order_date is not None and o.order_date.date() < _DAY0:
        fire("bench.rules:6", 6)
        return end("skip", "before the books were opened")
    store = o.store
    if store is not None and "amazon" in store.lower():
        fire("bench.rules:7", 7)
        w.set("class_name", "AZ")
    o = w.order
    if o.class_name is None and store is not None and "ebay" in store.lower():
        fire("bench.rules:8", 8)
        w.set("class_name", "EB")
    o = w.order
    if o.class_name is None and "wholesale" in o.tags:
        fire("bench.rules:9", 9)
        w.set("class_name", "WH")
    o = w.order
    if o.total > _T1000 and not o.paid:
        fire("bench.rules:10", 10)
        return end("hold", "large unpaid order")
    if any(line.sku is not None and line.sku.startswith("GIFT-") for line in o.lines):
        fire("bench.rules:11", 11)
        w.set("document_type", DocumentType.invoice)
    o = w.order
    if o.ship_to.country is not None and o.ship_to.country != "US":
        fire("bench.rules:12", 12)
        w.set("tax_code", "EXPORT")
    o = w.order
    if o.payment_method in _PAYPAL:
        fire("bench.rules:13", 13)
        w.set("deposit_account", "PayPal Clearing")
    o = w.order
    if o.internal_notes is not None and _PO.search(o.internal_notes):
        fire("bench.rules:14", 14)
        w.set("memo", o.internal_notes)
    o = w.order
    if o.discount > 0 and o.discount >= o.total:
        fire("bench.rules:15", 15)
        return end("hold", "free order")
    if o.ship_to.state in _STATES and o.tax == 0:
        fire("bench.rules:16", 16)
        return end("hold", "missing sales tax")
    if o.split:
        fire("bench.rules:17", 17)
        w.tag("split")
    o = w.order
    if o.requested_service is not None and "Priority" in o.requested_service:
        fire("bench.rules:18", 18)
        w.tag("priority")
    o = w.order
    if all(line.quantity >= 10 for line in o.lines):
        fire("bench.rules:19", 19)
        w.tag("bulk")
    o = w.order
    if o.customer.name is None:
        fire("bench.rules:20", 20)
        w.set("customer_ref", "Cash Customer")
    o = w.order
    if o.shipment is not None and o.shipment.carrier == "fedex" and o.shipping == 0:
        fire("bench.rules:21", 21)
        w.tag("free-fedex")
    if not fired:
        return RuleResult(o)
    return RuleResult(w.order, "sync", None, None, None, None, fired, w.changes)


# -- orders ------------------------------------------------------------------------------------------------
def make_orders(n: int, seed: int = 7) -> list[Order]:
    rnd = random.Random(seed)
    start = datetime(2025, 12, 20, tzinfo=timezone(timedelta(hours=-8)))
    out = []
    for i in range(n):
        lines = [{"sku": rnd.choice(["MUG-1", "TEE-2", "GIFT-25", "CAP-3", None]),
                  "quantity": str(rnd.choice([1, 2, 12])), "unit_price": rnd.choice(["9.99", "24.50", "120.00"])}
                 for _ in range(rnd.randint(1, 3))]
        total = Decimal(rnd.choice(["0.00", "19.99", "54.10", "230.00", "1450.00"]))
        shipped = rnd.random() < 0.4
        out.append(Order.model_validate({
            "source": "bench", "source_id": str(i), "number": f"{10000 + i}{'-1' if rnd.random() < 0.05 else ''}",
            "status": "cancelled" if rnd.random() < 0.02 else ("shipped" if shipped else "awaiting_shipment"),
            "order_date": (start + timedelta(hours=rnd.randint(0, 24 * 200))).isoformat(),
            "customer": {"name": None if rnd.random() < 0.1 else "Ana", "email": rnd.choice(
                ["ana@shop.test", "b@gmail.com", None, "qa@Example.com" if rnd.random() < 0.1 else "c@x.org"])},
            "ship_to": {"country": rnd.choice(["US"] * 8 + ["CA", None]), "state": rnd.choice(["TX", "CA", "NY", "OR"])},
            "lines": lines, "total": str(total), "amount_paid": rnd.choice(["0.00", str(total)]),
            "paid": rnd.random() < 0.7, "tax": rnd.choice(["0.00", "3.10"]), "shipping": rnd.choice(["0.00", "5.00"]),
            "discount": rnd.choice(["0.00", "0.00", "5.00"]),
            "store": rnd.choice(["Amazon US", "eBay", "Web Store", "Wholesale Portal", None]),
            "tags": rnd.choice([[], ["wholesale"], ["vip"]]), "split": rnd.random() < 0.03,
            "payment_method": rnd.choice(["PayPal", "Credit Card", None]),
            "internal_notes": rnd.choice([None, "PO12345", "call first"]),
            "requested_service": rnd.choice(["USPS Priority Mail", "UPS Ground", None]),
            "shipment": {"carrier": rnd.choice(["fedex", "usps"]), "tracking_number": "1Z"} if shipped else None,
        }))
    return out


def _key(result: RuleResult) -> tuple:
    return (result.outcome, result.reason, result.fired,
            [(c.field, c.before, c.after, c.rule, c.line) for c in result.changes], result.order)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    manager = PluginManager(load_entrypoints=False).load()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE
        path.write_text(RULES)
        t0 = time.perf_counter()
        ruleset = load_rules([path], env=manager.rule_environment())
        load_ms = (time.perf_counter() - t0) * 1000
    print(f"20-rule file: parsed, checked and compiled in {load_ms:.1f} ms ({len(ruleset)} rules, "
          f"{len(ruleset.warnings)} warning(s))")

    t0 = time.perf_counter()
    orders = make_orders(args.orders)
    print(f"{len(orders):,} orders built in {time.perf_counter() - t0:.1f} s (pydantic validation, not timed below)")

    mismatches = sum(1 for o in orders if _key(ruleset.apply(o)) != _key(hand_written(o)))
    outcomes = {}
    for o in orders:
        r = ruleset.apply(o)
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    print(f"agreement: {mismatches} mismatches on {len(orders):,} orders; outcomes {outcomes}")

    timings: dict[str, list[float]] = {"compiled rules": [], "hand-written Python": []}
    for _ in range(args.runs):
        for label, fn in (("compiled rules", ruleset.apply), ("hand-written Python", hand_written)):
            t0 = time.perf_counter()
            for o in orders:
                fn(o)
            timings[label].append(time.perf_counter() - t0)
    med = {label: statistics.median(v) for label, v in timings.items()}
    for label, seconds in med.items():
        print(f"  {label:20} {seconds:6.2f} s per {len(orders):,} orders  {len(orders) / seconds:>10,.0f} orders/s  "
              f"runs: {', '.join(f'{t:.2f}' for t in timings[label])}")
    ratio = med["compiled rules"] / med["hand-written Python"]
    print(f"ratio compiled / hand-written: {ratio:.2f} (target <= 2.0)")

    big = "".join(RULES.replace("rule \"skip test orders\":", "rule \"skip test orders {n}\":").replace(
        "{n}", str(i)) for i in range(250))
    env = manager.rule_environment()
    n_rules = len(check_text({"big.rules": big}, env)[0])
    best = min(_time(lambda: check_text({"big.rules": big}, env)) for _ in range(3))
    print(f"parse + check of a {n_rules:,}-rule file: {best:.2f} s (target < 1 s)")
    return 1 if mismatches else 0


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
