"""Generic outgoing webhooks, signed so receivers can trust them.

Config: ``{"url": "https://…", "secret": "…", "headers": {…optional static headers…}}``.

Each delivery is a ``POST`` of a JSON object::

    {"id": "<delivery id>", "event": "complaint.sla_warning", "sent_at": "2026-10-08T02:00:00Z",
     "title": "…", "text": "…", "data": {…}}

with these headers:

- ``X-Kesu-Event``: the event name (also in the body), for routing without parsing.
- ``X-Kesu-Delivery``: the delivery id. It is the same on every retry of one event, so a
  receiver that stores the ids it has processed never acts twice on a retried delivery.
- ``X-Kesu-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is the lowercase hex
  HMAC-SHA256, keyed with the shared secret, of ``"<t>." + <raw request body bytes>``.
  Several ``v1=`` entries may appear (e.g. while a secret is being rotated); any match is valid.

To verify, a receiver takes the *raw* body bytes (before any JSON parsing), recomputes the HMAC
for ``t``, compares in constant time, and rejects a ``t`` more than five minutes from its own
clock (against replay). In Python::

    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, v1) and abs(time.time() - int(t)) <= 300

``verify()`` below does exactly this. A 2xx answer means delivered; 408/429/5xx and network errors
are retried with back-off; any other answer is a permanent failure.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kesu.notify.channels.base import (
    ChannelConfigError,
    DeliveryResult,
    HttpRequest,
    Message,
    deliver,
    encode_json,
    encoded_request,
    optional_str,
    require_str,
)

SIGNATURE_HEADER = "X-Kesu-Signature"
EVENT_HEADER = "X-Kesu-Event"
DELIVERY_HEADER = "X-Kesu-Delivery"
TOLERANCE = timedelta(minutes=5)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> bool:
    """Check an ``X-Kesu-Signature`` header against the raw body, as a receiver would."""
    timestamp, candidates = _parse_header(header)
    if timestamp is None or abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return False
    expected = signature(secret, timestamp, body)
    # Compare against every candidate (no early exit) to keep the timing uninformative.
    return sum(hmac.compare_digest(expected, c) for c in candidates) > 0


def build_request(config: Mapping[str, Any], message: Message, now: datetime) -> HttpRequest:
    url = require_str(config, "url", "webhook")
    secret = optional_str(config, "secret", "webhook")
    if not message.delivery_id:
        raise ValueError("message.delivery_id is required: receivers deduplicate on it")
    extra = config.get("headers", {})
    if not isinstance(extra, Mapping) or not all(isinstance(v, str) for v in extra.values()):
        raise ChannelConfigError("webhook.headers: must map header names to strings")
    body = encode_json(
        {
            "id": message.delivery_id,
            "event": message.event,
            "sent_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": message.title,
            "text": message.text,
            "data": dict(message.data),
        }
    )
    headers = {**extra, EVENT_HEADER: message.event, DELIVERY_HEADER: message.delivery_id}
    if secret:
        headers[SIGNATURE_HEADER] = signature_header(secret, int(now.timestamp()), body)
    return encoded_request("POST", url, body, headers)


def send(
    request: HttpRequest, client: httpx.Client, config: Mapping[str, Any] | None = None
) -> DeliveryResult:
    del config  # plain HTTP semantics: the status code says it all
    return deliver(request, client)


def _parse_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    return timestamp, candidates
