"""The preamble of a signed webhook, shared by connectors: check the HMAC, then parse the body.

QuickBooks (``intuit-signature``) and Xero (``x-xero-signature``) sign the raw body with
HMAC-SHA256 under a key from the app's settings and send it base64-encoded. :func:`signed_json`
checks that signature over the bytes as received (before anything reads the body), then parses
the JSON; anything wrong is a :class:`~connex_core.errors.WebhookRejected` (``connex serve``
answers 401), never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Optional

from .errors import WebhookRejected

__all__ = ["hmac_sha256_ok", "signed_json", "json_objects"]


def hmac_sha256_ok(body: bytes, key: Optional[str], signature_b64: Optional[str]) -> bool:
    """Whether ``signature_b64`` is the base64 HMAC-SHA256 of ``body`` under ``key``; compared as bytes, so a
    header with characters outside ASCII or not base64 at all is simply a wrong signature."""
    if not key or not signature_b64:
        return False
    try:
        given = base64.b64decode(signature_b64.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return False
    expected = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def signed_json(body: bytes, key: Optional[str], signature: Optional[str], *, vendor: str, setting: str) -> dict[str, Any]:
    """The body as a JSON object, once its signature verifies under ``key`` (the connection's ``setting``)."""
    if not hmac_sha256_ok(body, key, signature):
        raise WebhookRejected(f"{vendor} webhook signature does not verify (check {setting})")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(f"{vendor} webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(f"{vendor} webhook body is not a JSON object")
    return data


def json_objects(data: dict[str, Any], key: str, *, vendor: str) -> list[dict[str, Any]]:
    """The list under ``key`` (missing: empty), refusing anything but a list of objects."""
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WebhookRejected(f"{vendor} webhook: {key!r} is not a list of objects")
    return value
