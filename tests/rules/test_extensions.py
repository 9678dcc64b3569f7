"""Typed actions and functions that plugins register through the hooks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connex_core.hookspecs import hookimpl
from connex_core.models import Order
from connex_core.rules import RuleCheckError, load_rules
from connex_core.testing.factories import make_order


class BookkeepingPlugin:
    """A plugin with one action (typed arguments) and one function."""

    @hookimpl
    def register_rule_actions(self, register):
        def set_account(order: Order, account: str, share: Decimal = Decimal("1")) -> Order:
            for line in order.lines:
                line.account = account
            order.memo = f"{account} x{share}"
            return order

        register("set_account", set_account, params=[("account", str), ("share", Decimal)],
                 doc="Book every line to an income account.")

    @hookimpl
    def register_rule_functions(self, register):
        register("initials", lambda text: None if text is None else "".join(w[0] for w in text.split()),
                 params=[("text", str)], returns=str, doc="The initials of a name.")


@pytest.fixture
def plugged(manager):
    manager.register(BookkeepingPlugin(), name="bookkeeping")
    return manager


def load(tmp_path, manager, text):
    path = tmp_path / "p.rules"
    path.write_text(text)
    return load_rules([path], manager=manager)


def test_plugin_action_and_function_run(tmp_path, plugged):
    rules = load(tmp_path, plugged, "when initials(customer.name) == 'AG' then set_account('Sales:Web'), tag 'ag'\n")
    order = make_order()
    result = rules.apply(order)
    assert [line.account for line in result.order.lines] == ["Sales:Web", "Sales:Web"]
    assert result.order.memo == "Sales:Web x1" and result.order.tags == ["ag"]
    assert {c.field for c in result.changes} == {"lines", "memo", "tags"}
    assert order.lines[0].account is None, "the plugin received a copy"


def test_plugin_action_short_form_with_one_literal(tmp_path, plugged):
    rules = load(tmp_path, plugged, "when paid then set_account 'Sales'\n")
    assert rules.apply(make_order()).order.memo == "Sales x1"


def test_plugin_arguments_are_type_checked(tmp_path, plugged):
    with pytest.raises(RuleCheckError) as info:
        load(tmp_path, plugged, "when paid then set_account(12)\nwhen paid then set_account('a', 'b')\n"
                                "when initials(total) == 'x' then stop\nwhen paid then set_account('a', 1, 2)\n")
    text = str(info.value)
    assert "p.rules:1:28: error: action 'set_account': argument 'account' must be text, not number" in text
    assert "p.rules:2:33: error: action 'set_account': argument 'share' must be money, not text" in text
    assert "p.rules:3:15: error: function 'initials': argument 'text' must be text, not money" in text
    assert "p.rules:4:16: error: action 'set_account' takes 1 to 2 argument(s), got 3" in text


def test_unknown_plugin_action_suggests_a_registered_one(tmp_path, plugged):
    with pytest.raises(RuleCheckError) as info:
        load(tmp_path, plugged, "when paid then set_acount('x')\n")
    assert "unknown action 'set_acount'; did you mean 'set_account'?" in str(info.value)


def test_a_plugin_action_that_raises_holds_the_order(tmp_path, manager):
    class Broken:
        @hookimpl
        def register_rule_actions(self, register):
            def explode(order):
                raise RuntimeError("ledger closed")

            register("explode", explode)

    manager.register(Broken(), name="broken")
    result = load(tmp_path, manager, "rule \"boom\": when paid then explode\n").apply(make_order())
    assert result.outcome == "hold" and "ledger closed" in result.reason and "'boom'" in result.reason
