"""Connex's own built-in plugin: the rule functions every install has.

Built-in behaviour goes through the same hooks a third-party plugin uses.
"""

from __future__ import annotations

from decimal import Decimal

from .hookspecs import hookimpl


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _upper(text: str | None) -> str | None:
    return None if text is None else text.upper()


def _round(amount: Decimal | None, places: int = 2) -> Decimal | None:
    if amount is None:
        return None
    return amount.quantize(Decimal(1).scaleb(-int(places)))


@hookimpl
def register_rule_functions(register):
    register("lower", _lower, params=[("text", str)], returns=str, doc="The text in lower case.")
    register("upper", _upper, params=[("text", str)], returns=str, doc="The text in upper case.")
    register("round", _round, params=[("amount", Decimal), ("places", int)], returns=Decimal,
             doc="The amount rounded to a number of decimal places (half-even, as accountants round).")
