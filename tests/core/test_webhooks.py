"""connex_core.webhooks: the signature is checked over the raw bytes before the body is parsed; every bad
delivery is a WebhookRejected (401), never a traceback."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connex_core.errors import WebhookRejected
from connex_core.webhooks import hmac_sha256_ok, json_objects, signed_json

KEY = "verifier-key"


def sign(body: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signed_object_is_parsed():
    body = b'{"events": [{"resourceId": "1"}]}'
    data = signed_json(body, KEY, sign(body), vendor="Xero", setting="webhook_key")
    assert json_objects(data, "events", vendor="Xero") == [{"resourceId": "1"}]
    assert json_objects({}, "events", vendor="Xero") == []


@pytest.mark.parametrize("signature", [None, "", "not base64!", "é" * 44, sign(b"other body"), sign(b"{}", "other-key")])
def test_wrong_or_malformed_signatures_are_refused(signature):
    assert not hmac_sha256_ok(b"{}", KEY, signature)
    with pytest.raises(WebhookRejected, match=r"signature does not verify \(check verifier_token\)"):
        signed_json(b"{}", KEY, signature, vendor="QuickBooks", setting="verifier_token")


def test_no_key_configured_verifies_nothing():
    assert not hmac_sha256_ok(b"{}", "", sign(b"{}", ""))
    assert not hmac_sha256_ok(b"{}", None, sign(b"{}"))


@pytest.mark.parametrize("body, message", [(b"not json", "is not JSON"), (b"\xff\xfe", "is not JSON"),
                                           (b"[1, 2]", "not a JSON object"), (b'"x"', "not a JSON object")])
def test_signed_bodies_that_are_not_objects_are_refused(body, message):
    with pytest.raises(WebhookRejected, match=message):
        signed_json(body, KEY, sign(body), vendor="Xero", setting="webhook_key")


@pytest.mark.parametrize("value", ["x", [1], [{"a": 1}, "b"], {"a": 1}])
def test_lists_of_anything_but_objects_are_refused(value):
    with pytest.raises(WebhookRejected, match="'eventNotifications' is not a list of objects"):
        json_objects({"eventNotifications": value}, "eventNotifications", vendor="QuickBooks")
