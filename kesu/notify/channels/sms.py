"""SMS through a configurable HTTP gateway (every SMS vendor has its own API, so kesu ships a
template rather than one client per vendor).

Config::

    {
      "url": "https://sms.example.com/api/send",
      "method": "POST",                      # POST/PUT: JSON body; GET: query parameters
      "body_template": {"mobile": "{phone}", "content": "【客诉】{text}"},
      "headers": {"Authorization": "Bearer …"},          # optional static headers
      "hmac_secret": "…",                    # optional: sign each request
      "hmac_header": "X-Signature",          # default
      "timestamp_header": "X-Timestamp",     # default
      "success_field": "code",               # optional: dotted path checked in a 2xx answer
      "success_values": [0, "OK"]
    }

Placeholders ``{phone}``, ``{text}``, ``{title}``, ``{event}`` and ``{delivery_id}`` are
replaced inside string values of the template (any depth); nothing else is interpreted, so
braces in fixed text are safe. With ``hmac_secret`` the request carries
``<timestamp_header>: <unix seconds>`` and ``<hmac_header>: <hex HMAC-SHA256 of
"<timestamp>." + body>`` (for GET the body is the query string), the same scheme as our webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from kesu.notify.channels.base import (
    ChannelConfigError,
    DeliveryResult,
    DeliveryStatus,
    HttpRequest,
    Message,
    deliver,
    encode_json,
    encoded_request,
    optional_str,
    require_str,
)

METHODS = ("POST", "PUT", "GET")
DEFAULT_TEMPLATE = {"phone": "{phone}", "text": "{text}"}


def build_request(config: Mapping[str, Any], message: Message, now: datetime) -> HttpRequest:
    url = require_str(config, "url", "sms")
    method = str(config.get("method", "POST")).upper()
    if method not in METHODS:
        raise ChannelConfigError(f"sms.method: must be one of {', '.join(METHODS)}")
    if not message.to:
        raise ValueError("message.to (the phone number) is required for SMS")
    values = {
        "{phone}": message.to,
        "{text}": message.text,
        "{title}": message.title,
        "{event}": message.event,
        "{delivery_id}": message.delivery_id,
    }
    filled = fill_template(config.get("body_template", DEFAULT_TEMPLATE), values)
    headers = _static_headers(config)
    if method == "GET":
        if not isinstance(filled, Mapping):
            raise ChannelConfigError("sms.body_template: must be an object for GET")
        query = urlencode({k: str(v) for k, v in filled.items()})
        url = f"{url}{'&' if '?' in url else '?'}{query}"
        content, signed = b"", query.encode()
    else:
        content = signed = encode_json(filled)
    secret = optional_str(config, "hmac_secret", "sms")
    if secret:
        timestamp = int(now.timestamp())
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + signed, hashlib.sha256)
        headers[str(config.get("timestamp_header", "X-Timestamp"))] = str(timestamp)
        headers[str(config.get("hmac_header", "X-Signature"))] = digest.hexdigest()
    return encoded_request(method, url, content, headers)


def verify(secret: str, timestamp: str, signature: str, signed: bytes) -> bool:
    """For a gateway (or a test double) checking our signature; ``signed`` is the raw body,
    or the query string for GET."""
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + signed, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), signature)


def send(
    request: HttpRequest, client: httpx.Client, config: Mapping[str, Any] | None = None
) -> DeliveryResult:
    field = (config or {}).get("success_field")
    if not field:
        return deliver(request, client)
    accepted = list((config or {}).get("success_values", [0]))
    return deliver(request, client, lambda r: _check_success(r, str(field), accepted))


def fill_template(template: Any, values: Mapping[str, str]) -> Any:
    """Replace placeholders in string values, recursing into lists and objects."""
    if isinstance(template, str):
        for placeholder, value in values.items():
            template = template.replace(placeholder, value)
        return template
    if isinstance(template, Mapping):
        return {key: fill_template(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(item, values) for item in template]
    return template  # numbers, booleans, null pass through


def _static_headers(config: Mapping[str, Any]) -> dict[str, str]:
    headers = config.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise ChannelConfigError("sms.headers: must map header names to strings")
    return dict(headers)


def _check_success(
    response: httpx.Response, field: str, accepted: list[Any]
) -> DeliveryResult | None:
    try:
        value: Any = response.json()
    except ValueError:
        return DeliveryResult(DeliveryStatus.FAILED, response.status_code, "response is not JSON")
    for name in field.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    if value in accepted:
        return None
    detail = f"{field}={value!r}: {response.text[:200]}"
    return DeliveryResult(DeliveryStatus.FAILED, response.status_code, detail)
