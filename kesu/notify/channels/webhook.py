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

Delivery is *at least once*: a worker killed after the receiver answered but before it recorded
the answer sends that delivery again (same ``X-Kesu-Delivery``, fresh signature). A receiver
that must act once keeps the ids it has processed, e.g. with a unique key::

    # CREATE TABLE kesu_deliveries (id TEXT PRIMARY KEY, received_at TIMESTAMP)
    inserted = db.execute(
        "INSERT INTO kesu_deliveries VALUES (?, CURRENT_TIMESTAMP) ON CONFLICT DO NOTHING",
        (request.headers["X-Kesu-Delivery"],),
    ).rowcount
    if inserted:
        handle(event)  # in the same transaction as the insert
    return 200         # a repeat is answered 2xx too, so kesu stops retrying

Targets: a webhook (any endpoint URL) may not point at loopback, private, link-local or other
non-public addresses (``TargetPolicy``): the host is resolved and *every* address checked when
the endpoint is saved and again before each send, so a name that later resolves inwards is
refused too. ``KESU_WEBHOOK_ALLOWED_HOSTS`` (host names, addresses or networks) or
``KESU_WEBHOOK_ALLOW_PRIVATE=true`` let an admin deliberately allow internal receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from kesu.config import Settings, get_settings
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


def refused_target(url: str, policy: TargetPolicy | None = None) -> DeliveryResult | None:
    """The send-time check (``channels.dispatch`` runs it for every channel's URL): ``None``
    when the URL may be reached now, else the failed (or, unresolvable, retryable) result."""
    try:
        (policy or TargetPolicy.from_settings(get_settings())).check(url)
    except TargetUnresolved as exc:
        return DeliveryResult(DeliveryStatus.RETRYABLE, detail=str(exc))
    except TargetRefused as exc:
        return DeliveryResult(DeliveryStatus.FAILED, detail=str(exc))
    return None


# -- where webhooks may go ----------------------------------------------------------------------

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Iterable[str]]


class TargetRefused(ChannelConfigError):
    """The URL points at an address webhooks may not reach."""


class TargetUnresolved(TargetRefused):
    """The host name does not resolve (now): cannot be checked, so not sent."""


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(f"{host}: does not resolve ({exc})") from None
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class TargetPolicy:
    """Which hosts an endpoint URL may name: public addresses, plus the admin's exceptions."""

    allow_private: bool = False
    allowed_names: frozenset[str] = frozenset()
    allowed_networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetPolicy:
        names: set[str] = set()
        networks: list[IpNetwork] = []
        for part in settings.webhook_allowed_hosts.split(","):
            item = part.strip().lower().strip("[]")
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.rstrip("."))
        return cls(settings.webhook_allow_private, frozenset(names), tuple(networks))

    def check(self, url: str, resolver: Resolver = resolve) -> None:
        """Raises ``TargetRefused`` unless every address of the URL's host may be reached."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise TargetRefused(f"{url!r}: not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not host:
            raise TargetRefused(f"{url!r}: needs an http(s) URL with a host")
        if self.allow_private or host in self.allowed_names:
            return
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a) for a in resolver(host, port)]
        if not addresses:
            raise TargetUnresolved(f"{host}: does not resolve")
        for address in addresses:
            if any(address in network for network in self.allowed_networks):
                continue
            if not is_public(address):
                raise TargetRefused(
                    f"{host} resolves to {address}, a loopback, private or other non-public "
                    "address; allow it with KESU_WEBHOOK_ALLOWED_HOSTS"
                )


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
