"""What every outgoing channel shares: the message, the request it becomes, the delivery result.

A channel module turns ``(config, message, now)`` into an ``HttpRequest`` without doing any I/O,
then ``send`` performs it and classifies the answer. Build the request afresh for every attempt:
DingTalk and Feishu reject signatures older than an hour, and the webhook timestamp should be the
time of sending. ``Message.delivery_id`` is what stays the same across attempts.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "kesu-notify/1"


class ChannelConfigError(ValueError):
    """A channel config is unusable; the message names the offending field."""


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # Markdown for robots that render it, plain text elsewhere
    event: str = "notification"  # e.g. "complaint.sla_warning"; webhooks route on it
    delivery_id: str = ""  # idempotency key: the outbox row's id, the same on every retry
    to: str = ""  # phone number for SMS; group robots ignore it
    data: Mapping[str, Any] = field(default_factory=dict)  # structured payload for webhooks


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes = b""  # the exact bytes sent; webhook signatures cover these bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def safe_url(self) -> str:
        """The URL with query values masked, for logs: robot URLs carry their secret there."""
        parts = urlsplit(self.url)
        masked = "&".join(f"{name}=***" for name, _ in parse_qsl(parts.query, True))
        return urlunsplit(parts._replace(query=masked))


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"  # try again later (timeout, 429, 5xx, rate-limit codes)
    FAILED = "failed"  # retrying cannot help (bad token, bad signature, 4xx)


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    http_status: int | None = None
    detail: str = ""
    retry_after: float | None = None  # seconds, when the server said so

    @property
    def ok(self) -> bool:
        return self.status is DeliveryStatus.DELIVERED

    @property
    def retryable(self) -> bool:
        return self.status is DeliveryStatus.RETRYABLE


# Looks at a 2xx response body; returns a non-OK result to override "delivered", else None.
BodyCheck = Callable[[httpx.Response], DeliveryResult | None]


def encode_json(body: Any) -> bytes:
    # Compact and UTF-8 (not \\uXXXX escapes): Chinese text stays readable and byte-stable.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_request(url: str, body: Any, headers: Mapping[str, str] | None = None) -> HttpRequest:
    return encoded_request("POST", url, encode_json(body), headers)


def encoded_request(
    method: str, url: str, content: bytes, headers: Mapping[str, str] | None = None
) -> HttpRequest:
    """A request whose JSON body is already encoded (when a signature covers the exact bytes)."""
    all_headers = {"User-Agent": USER_AGENT}
    if content:
        all_headers["Content-Type"] = JSON_CONTENT_TYPE
    all_headers.update(headers or {})
    return HttpRequest(method, url, all_headers, content)


def require_str(config: Mapping[str, Any], key: str, channel: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ChannelConfigError(f"{channel}.{key}: required")
    return value


def optional_str(config: Mapping[str, Any], key: str, channel: str) -> str:
    value = config.get(key, "")
    if not isinstance(value, str):
        raise ChannelConfigError(f"{channel}.{key}: must be a string")
    return value


def deliver(
    request: HttpRequest,
    client: httpx.Client,
    check_body: BodyCheck | None = None,
) -> DeliveryResult:
    """Perform the request and classify the outcome; never raises for network trouble."""
    try:
        response = client.request(
            request.method, request.url, headers=dict(request.headers), content=request.content
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # a config error: permanent
        return DeliveryResult(DeliveryStatus.FAILED, detail=f"bad url: {exc}")
    except httpx.TimeoutException as exc:
        return DeliveryResult(DeliveryStatus.RETRYABLE, detail=f"timeout: {exc!r}")
    except httpx.TransportError as exc:  # connection refused, DNS, TLS, reset …
        return DeliveryResult(DeliveryStatus.RETRYABLE, detail=f"network error: {exc!r}")
    return classify(response, check_body)


def classify(response: httpx.Response, check_body: BodyCheck | None = None) -> DeliveryResult:
    code = response.status_code
    if 200 <= code < 300:
        overridden = check_body(response) if check_body else None
        return overridden or DeliveryResult(DeliveryStatus.DELIVERED, code, _snippet(response))
    if code in (408, 425, 429) or code >= 500:
        return DeliveryResult(
            DeliveryStatus.RETRYABLE, code, _snippet(response), _retry_after(response)
        )
    return DeliveryResult(DeliveryStatus.FAILED, code, _snippet(response))


def check_error_code(
    response: httpx.Response,
    code_fields: tuple[str, ...],
    message_fields: tuple[str, ...],
    retry_codes: frozenset[int],
) -> DeliveryResult | None:
    """For robots that answer HTTP 200 with ``{"errcode": n, "errmsg": …}``: n != 0 is a failure,
    retryable only for the known rate-limit / busy codes."""
    try:
        body = response.json()
    except ValueError:
        return DeliveryResult(DeliveryStatus.FAILED, response.status_code, "response is not JSON")
    if not isinstance(body, dict):
        return DeliveryResult(DeliveryStatus.FAILED, response.status_code, "unexpected response")
    code = next((body[f] for f in code_fields if f in body), None)
    if code in (0, "0"):
        return None
    message = next((str(body[f]) for f in message_fields if f in body), "")
    status = DeliveryStatus.RETRYABLE if _as_int(code) in retry_codes else DeliveryStatus.FAILED
    return DeliveryResult(status, response.status_code, f"error code {code}: {message}")


def int_codes(config: Mapping[str, Any], default: frozenset[int], channel: str) -> frozenset[int]:
    """Retryable error codes, overridable by the admin (``retry_codes``) as vendors add codes."""
    value = config.get("retry_codes")
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(c, int) for c in value):
        raise ChannelConfigError(f"{channel}.retry_codes: must be a list of integers")
    return frozenset(value)


def _as_int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    # The HTTP-date form: measure it against the server's own Date header, not our clock.
    try:
        when = email.utils.parsedate_to_datetime(value)
        sent = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - sent).total_seconds())


def _snippet(response: httpx.Response) -> str:
    return response.text[:300]
