"""The CSV connection's settings and the task options (validated by ``connex config check`` and ``connex run``).

A connection is a folder::

    [connections.etsy-exports]
    type = "csv"
    folder = "exports/etsy"          # relative to the config's folder
    timezone = "America/New_York"    # dates in the files without an offset are in this zone
    store = "Etsy"
    columns = { order_number = "Order ID", order_date = "Sale Date" }   # only where detection needs help

Task options: as a source, ``pattern`` (which files of the folder a task reads); as a target, ``per``
(one file per run or per day) and ``prefix`` (the files' names).
"""

from __future__ import annotations

from typing import Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connex_core.api import ConnectorSettings

from .columns import COLUMNS


class CsvSettings(ConnectorSettings):
    """``[connections.NAME]`` of ``type = "csv"``: a folder of order files."""

    type: str = "csv"
    folder: str = Field(description="The folder the orders are read from (as a source) or written to (as a "
                        "target). A relative path is taken from the config's folder. Use one connection per direction: "
                        "a target's files in a source's folder would be read back as new orders.")
    pattern: str = Field("*.csv", description="Which files of the folder are order files (a glob; the folder only, "
                         "not its sub-folders).")
    columns: dict[str, str] = Field(default_factory=dict, description="The file's header for a column Connex "
                                    "could not recognise, as {column = \"Header\"} with the column names of the "
                                    "connector's README (order_number = \"Order ID\"). The others are "
                                    "detected from common marketplace exports and from this connector's own files.")
    timezone: str = Field("UTC", description="The time zone of dates the files give without an offset "
                          "(an IANA name, 'America/New_York'); dates with an offset keep theirs.")
    date_format: Optional[str] = Field(None, description="The dates' format (Python strptime, '%d/%m/%Y %H:%M'), "
                                       "when they are not ISO 8601, 'YYYY-MM-DD HH:MM:SS [+-HHMM]' or 'MM/DD/YYYY'.")
    currency: str = Field("USD", min_length=3, max_length=3, description="The currency of files with no currency "
                          "column (three letters).")
    store: Optional[str] = Field(None, description="The store or marketplace the orders are from (the orders' "
                                 "'store', which rules can test); a 'store' column wins.")
    paid: bool = Field(True, description="Whether an order whose row says nothing about payment (no paid, "
                       "amount_paid or financial_status column) counts as paid: marketplace exports list sold orders.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="The character between columns (',', ';', "
                           "or '\\t' for tab-separated exports).")
    settle_seconds: float = Field(5.0, ge=0, le=3600, description="A file changed less than this many seconds ago "
                                  "is left for the next run: it may still be being copied or exported into the folder "
                                  "(a half-written file would book orders with lines missing). 0 reads every file at once.")
    encoding: str = Field("utf-8-sig", description="The files' text encoding (utf-8-sig also reads UTF-8 with a "
                          "byte-order mark, as spreadsheet programs save it).")

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(set(value) - set(COLUMNS))
        if wrong:
            raise ValueError(f"unknown column {wrong[0]!r}; the columns are: {', '.join(COLUMNS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (such as 'UTC' or 'America/New_York')") from None
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class SourceOptions(BaseModel):
    """``source_options`` of a task reading order files."""

    model_config = ConfigDict(extra="forbid")

    pattern: Optional[str] = Field(None, description="Read only the files matching this glob (default: the "
                                   "connection's pattern), so tasks can share a folder ('etsy-*.csv').")


class TargetOptions(BaseModel):
    """``target_options`` of a task writing order files."""

    model_config = ConfigDict(extra="forbid")

    per: Literal["run", "day"] = Field("run", description="One file per run (PREFIX-YYYYMMDDTHHMMSSZ.csv, the "
                                       "default) or one per day, in UTC, appended to by each run (PREFIX-YYYY-MM-DD.csv; "
                                       "use it under connex serve, whose connectors live across runs).")
    prefix: str = Field("orders", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="The start of the files' "
                        "names (letters, digits, '.', '_', '-').")
