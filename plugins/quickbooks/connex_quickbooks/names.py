"""Customer DisplayNames that QuickBooks accepts: unique across Customers, Vendors and Employees.

QuickBooks keeps one name list for customers, vendors and employees ("Duplicate Name Exists Error",
6240) and cuts nothing: a DisplayName is at most 500 characters. A customer is matched by its identity
(the task's ``customer_match``: e-mail, company, or the name itself), never by a name that happens to
be equal, so a new customer whose name is taken gets a deterministic, documented name:

1. the name itself, when no customer, vendor or employee uses it (and no other new customer of the
   same batch takes it first);
2. else ``"Name (suffix)"``: the suffix is the identity that tells this customer apart: its e-mail
   (``customer_match = "email"``), its company (``"company"``), or the word ``customer`` when the name is
   the identity (``"display_name"``, the fixed customer, a rule's ``customer_ref``: every order of that
   name then goes to the one customer ``"Name (customer)"``). The name is shortened, never the suffix,
   so the whole stays within 500 characters;
3. else, when that is taken too (by a customer with another identity, a vendor or an employee),
   ``"Name (suffix) #h"``, ``h`` being 6 hex digits of the SHA-1 of the identity.

The same order always gets the same candidates, so a later run finds the customer it created.
"""

from __future__ import annotations

import hashlib
from typing import Optional

DISPLAY_NAME_MAX = 500
NAME_LISTS = ("Customer", "Vendor", "Employee")


def _fit(base: str, tail: str) -> str:
    room = DISPLAY_NAME_MAX - len(tail)
    return f"{base[:max(room, 0)].rstrip()}{tail}"[:DISPLAY_NAME_MAX]


def suffix_of(key: tuple[str, str]) -> str:
    field, value = key
    return "customer" if field == "DisplayName" else value.replace(":", "-")


def candidates(base: str, key: tuple[str, str]) -> list[str]:
    """The names to try, in order, for a new customer named ``base`` with identity ``key`` (field, value)."""
    suffix = suffix_of(key)
    digest = hashlib.sha1(f"{key[0]}:{key[1].lower()}".encode()).hexdigest()[:6]
    return [base[:DISPLAY_NAME_MAX], _fit(base, f" ({suffix})"), _fit(base, f" ({suffix}) #{digest}")]


def same_identity(row: dict, key: tuple[str, str]) -> bool:
    """Whether an existing customer is the one ``key`` names (its e-mail, company, or name-keyed)."""
    field, value = key
    if field == "PrimaryEmailAddr":
        return str((row.get("PrimaryEmailAddr") or {}).get("Address", "")).lower() == value.lower()
    if field == "CompanyName":
        return str(row.get("CompanyName", "")).lower() == value.lower()
    return True


def holder(found_rows: dict[str, Optional[dict]]) -> Optional[str]:
    """Which list (Customer, Vendor, Employee) holds a name, from the rows found for it."""
    return next((kind for kind in NAME_LISTS if found_rows.get(kind) is not None), None)
