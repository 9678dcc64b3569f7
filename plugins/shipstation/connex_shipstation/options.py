"""Task options of the ShipStation connector (validated by ``connex config check`` and ``connex run``).

As a source (``[tasks.NAME.source_options]``, in ``FetchQuery.options``): ``status`` and ``store_id``.
As a target ShipStation reads no task options, so any key in ``target_options`` is refused.
The task's ``date_field`` (a key of the task, not an option) is one of :data:`DATE_FIELDS`.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from .client import ORDER_STATUSES

#: ``FetchQuery.date_field`` (the task's ``date_field``) -> the prefix of ShipStation's ``*DateStart`` /
#: ``*DateEnd`` order filters (``--since``/``--until`` select by it).
ORDER_DATE_FILTERS = {"created": "createDate", "order": "orderDate", "modified": "modifyDate", "paid": "paymentDate"}
#: Shipments: the user's window is on the ship date, the incremental cursor on the create date.
SHIPMENT_DATE_FILTERS = {"created": "createDate", "modified": "createDate", "shipped": "shipDate", "ship": "shipDate"}
DATE_FIELDS = {"orders": tuple(ORDER_DATE_FILTERS), "shipments": tuple(SHIPMENT_DATE_FILTERS)}

OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]


class SourceOptions(BaseModel):
    """``source_options`` of a task reading ShipStation orders or shipments."""

    model_config = ConfigDict(extra="forbid")

    status: Optional[OrderStatus] = Field(  # type: ignore[valid-type]
        None, description="Read only orders in this ShipStation status (orderStatus), such as shipped or "
        "awaiting_shipment; default: every status. Orders arriving by webhook pass the same filter.")
    store_id: Optional[int] = Field(
        None, description="Read only this store's orders and shipments (storeId); default: the connection's store_id, "
        "else every store.")
