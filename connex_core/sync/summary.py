"""``daily_summary`` tasks: one target document per closed day.

Days are counted in the task's ``timezone`` when it has one, else in the source connector's own time
zone (``Connector.timezone``: the zone its dates are in). Orders are grouped by creation date or by
ship date (``summary_date``); only closed days are posted, and the cursor is the last day posted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..connector import FetchQuery, batched
from ..errors import ConfigurationError
from ..models import LineItem, Order, OrderStatus, ZERO
from ..rules import RuleResult
from .run import TaskRun, connector_options
from .write import OrderWriter, rule_outcome


def summary_timezone(run: TaskRun) -> ZoneInfo:
    """The task's ``timezone``, else the source connector's."""
    explicit = run.option("timezone")
    name = str(explicit if explicit is not None else run.source.timezone)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        where = run.option_key("timezone") if explicit is not None else f"connections.{run.task.source}"
        raise ConfigurationError(f"unknown time zone {name!r} (expected an IANA name such as "
                                 "\"America/Los_Angeles\")", key=where) from None


def run_daily_summary(run: TaskRun) -> None:
    """One document per closed day (in the summary's time zone), by creation date or by ship date."""
    by = str(run.option("summary_date", "created"))
    if by not in ("created", "shipped"):
        raise ConfigurationError("expected \"created\" or \"shipped\"", key=run.option_key("summary_date"))
    tz = summary_timezone(run)
    today = run.now().astimezone(tz).date()
    cursor = run.store.get_cursor(run.name)
    if run.since:
        first = run.since.astimezone(tz).date()
    elif cursor:
        first = date.fromisoformat(cursor) + timedelta(days=1)
    else:
        first = today - timedelta(days=max(1, int(run.task.initial_days)))
    last = (run.until.astimezone(tz).date() - timedelta(days=1)) if run.until else today - timedelta(days=1)
    if first > last:
        run.summary.cursor = cursor
        return
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    options = connector_options(run.task.source_options)
    if by == "created":
        query = FetchQuery(since=start, until=end, date_field="created", options=options)
    else:  # an order shipped on day D was modified on or after D
        query = FetchQuery(modified_since=start, date_field="modified", options=options)
    writer = OrderWriter(run)
    days: dict[date, _DayTotals] = {}
    for order in run.read(run.source.fetch_orders(query)):
        result = run.evaluate(order)
        outcome = rule_outcome(result)
        if outcome is not None:
            writer.record_rule_outcome(order, result, outcome, ledger=False)
            continue
        o = result.order
        if by == "created":
            when = o.created_at.astimezone(tz).date() if o.created_at else None
        else:
            when = o.shipment.ship_date if o.shipment and o.shipment.ship_date else None
        if when is None or not (first <= when <= last):
            continue
        days.setdefault(when, _DayTotals()).add(o)
    prefix = str(run.option("summary_prefix", "DS-"))
    pending = []
    for day in sorted(days):
        order = days[day].to_order(run.name, day, tz, prefix, by)
        pending.append((order, RuleResult(order=order)))
    for chunk in batched(pending, max(1, run.target.write_batch_size)):
        writer.dispatch(chunk)
    run.advance_cursor(last if run.counts.get("failed", 0) == 0 else None)


class _DayTotals:
    """What one day's summary document adds up (streaming: orders are not kept)."""

    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.lines: dict[tuple, LineItem] = {}
        self.shipping = self.tax = self.discount = self.total = self.paid_amount = ZERO
        self.currency: Optional[str] = None
        self.all_paid = True

    def add(self, order: Order) -> None:
        self.numbers.append(order.number)
        for line in order.lines:
            key = (line.sku or line.name, line.unit_price, line.adjustment)
            have = self.lines.get(key)
            if have is None:
                self.lines[key] = LineItem(sku=line.sku, name=line.name, quantity=line.quantity,
                                           unit_price=line.unit_price, tax=line.tax, discount=line.discount,
                                           adjustment=line.adjustment, item_name=line.item_name)
            else:
                have.quantity += line.quantity
                have.tax += line.tax
                have.discount += line.discount
        self.shipping += order.shipping
        self.tax += order.tax
        self.discount += order.discount
        self.total += order.total
        self.paid_amount += order.amount_paid
        self.currency = self.currency or order.currency
        self.all_paid = self.all_paid and order.paid

    def to_order(self, task: str, day: date, tz: ZoneInfo, prefix: str, by: str) -> Order:
        numbers = sorted(set(self.numbers))
        memo = f"Daily summary of {day.isoformat()} ({tz.key}, by {'creation' if by == 'created' else 'ship'} date): " \
               f"{len(numbers)} orders: " + ", ".join(numbers)
        start = datetime.combine(day, datetime.min.time(), tz)
        return Order(source="summary", source_id=f"{task}:{day.isoformat()}", number=f"{prefix}{day:%Y%m%d}",
                     status=OrderStatus.paid if self.all_paid else OrderStatus.open,
                     created_at=start, order_date=start, timezone=tz.key,
                     lines=list(self.lines.values()), shipping=self.shipping, tax=self.tax, discount=self.discount,
                     total=self.total, amount_paid=self.paid_amount, paid=self.all_paid, currency=self.currency,
                     memo=memo[:4000], tags=["daily-summary"])
