"""What rules can read and write: the canonical model seen through the rule language's types.

The checker resolves every field name against these tables, so they are derived from the
pydantic models in :mod:`connex_core.models` (a field added there is usable in rules at once),
plus the few computed values the models expose as properties (``shipped``, ``line_total``...).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Optional

from pydantic import BaseModel

from .. import models


@dataclass(frozen=True)
class Type:
    """A rule-language type: ``kind`` is text, number, money, bool, date, datetime, enum, list, map,
    model, null or any."""

    kind: str
    nullable: bool = False
    enum: Optional[type] = None
    item: Optional["Type"] = None
    model: Optional[type] = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "money")

    @property
    def temporal(self) -> bool:
        return self.kind in ("date", "datetime")

    @property
    def textual(self) -> bool:
        """Text, or an enum (whose values are text)."""
        return self.kind in ("text", "enum")

    def with_null(self, nullable: bool = True) -> "Type":
        return self if self.nullable == nullable else replace(self, nullable=nullable)

    def describe(self) -> str:
        if self.kind == "enum" and self.enum is not None:
            return "text (one of " + ", ".join(repr(m.value) for m in self.enum) + ")"
        if self.kind == "list" and self.item is not None:
            return f"list of {self.item.describe()}"
        if self.kind == "map":
            return "map of text"
        if self.kind == "model" and self.model is not None:
            return f"group of fields ({self.model.__name__})"
        if self.kind == "datetime":
            return "date and time"
        return self.kind


TEXT = Type("text")
NUMBER = Type("number")
MONEY = Type("money")
BOOL = Type("bool")
DATE = Type("date")
DATETIME = Type("datetime")
NULL = Type("null", nullable=True)
ANY = Type("any", nullable=True)


@dataclass(frozen=True)
class FieldInfo:
    """One field (or computed value) of a model as rules see it."""

    name: str
    """The Python attribute name."""
    type: Type
    description: str = ""
    writable: bool = True
    computed: bool = False


#: Fields that identify an order (or a line) across runs, and groups of fields: rules may read but never
#: change them.
READ_ONLY = {
    (models.Order, "source"), (models.Order, "source_id"), (models.Order, "original_number"),
    (models.Order, "lines"), (models.Order, "tags"), (models.Order, "shipment"),
    (models.Order, "customer"), (models.Order, "bill_to"), (models.Order, "ship_to"),
    (models.Order, "custom_fields"), (models.LineItem, "line_id"),
}

#: Decimal fields that are counts, not money.
NOT_MONEY = {(models.LineItem, "quantity")}

#: Values the models compute (properties), readable by rules.
COMPUTED: dict[type, list[FieldInfo]] = {
    models.Order: [
        FieldInfo("shipped", BOOL, models.PREDICATES["shipped"], False, True),
        FieldInfo("line_total", MONEY, "Sum of the lines' amounts (quantity x unit price).", False, True),
        FieldInfo("key", TEXT, "The order's identity across runs: 'source:source_id'.", False, True),
    ],
    models.LineItem: [
        FieldInfo("amount", MONEY, "quantity x unit price (before tax and discount).", False, True),
    ],
}


def type_of_annotation(annotation: Any, owner: type | None = None, name: str = "") -> Type:
    """The rule type of a Python annotation (``Optional[Decimal]`` is nullable money...)."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else Any
        origin = typing.get_origin(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if origin in (list, typing.List):
        (item,) = typing.get_args(annotation) or (Any,)
        return Type("list", nullable, item=type_of_annotation(item))
    if origin in (dict, typing.Dict):
        return Type("map", nullable, item=TEXT.with_null())
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return BOOL.with_null(nullable)
        if issubclass(annotation, Enum):
            return Type("enum", nullable, enum=annotation)
        if issubclass(annotation, str):
            return TEXT.with_null(nullable)
        if issubclass(annotation, Decimal):
            kind = "number" if (owner, name) in NOT_MONEY else "money"
            return Type(kind, nullable)
        if issubclass(annotation, (int, float)):
            return NUMBER.with_null(nullable)
        if issubclass(annotation, datetime):
            return DATETIME.with_null(nullable)
        if issubclass(annotation, date):
            return DATE.with_null(nullable)
        if issubclass(annotation, BaseModel):
            return Type("model", nullable, model=annotation)
    if getattr(annotation, "__name__", "") == "AwareDatetime" or "AwareDatetime" in repr(annotation):
        return DATETIME.with_null(nullable)
    return ANY


@lru_cache(maxsize=None)
def fields_of(model: type) -> dict[str, FieldInfo]:
    """Every field and computed value of ``model`` by its Python name."""
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        ty = type_of_annotation(info.annotation, model, name)
        writable = (model, name) not in READ_ONLY and model is not models.Shipment and ty.kind not in ("list", "map", "model")
        out[name] = FieldInfo(name, ty, info.description or "", writable)
    for computed in COMPUTED.get(model, []):
        out[computed.name] = computed
    return out


@dataclass(frozen=True)
class FieldRef:
    """A resolved field reference: the attribute path from the order (or from the current line)."""

    scope: str
    """'order' or 'line' (inside any/all/none)."""
    steps: tuple[str, ...]
    type: Type
    info: FieldInfo
    may_be_none: tuple[bool, ...] = field(default=())
    """For each step but the last: whether the object reached so far may be missing (shipment)."""

    @property
    def path(self) -> str:
        """The field's canonical path (``customer.email``, ``line.sku``)."""
        dotted = ".".join(self.steps)
        return f"line.{dotted}" if self.scope == "line" else dotted


def canonical_fields() -> list[tuple[str, FieldInfo]]:
    """Every field path rules can use, with its description (``connex rules fields``, docs)."""
    out: list[tuple[str, FieldInfo]] = []

    def walk(model: type, prefix: str) -> None:
        for name, info in fields_of(model).items():
            path = prefix + name
            if info.type.kind == "model" and info.type.model is not None:
                out.append((path, info))
                walk(info.type.model, path + ".")
            elif info.type.kind == "list" and info.type.item and info.type.item.kind == "model":
                out.append((path, info))
                walk(info.type.item.model, "line.")
            else:
                out.append((path, info))

    walk(models.Order, "")
    return out
