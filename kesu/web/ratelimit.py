"""Rate limits for any route: one dependency, a clear 429 with ``Retry-After``.

    @router.post("/submit", dependencies=[rate_limit("public")])

counts the request against the client address and, when the visitor has a form session (the
CSRF session cookie), against that session too; beyond any rule of ``KESU_RATE_LIMIT_PUBLIC``
(``"10/minute;100/hour"``) the answer is ``RateLimited``: a page in the visitor's language for
a browser, ``{"detail", "code": "rate_limited"}`` for the API, both with ``Retry-After``.
A route-level dependency runs before the route's own parameters, so a refused request never
reads its form or takes the database's write lock.

The rules are parsed by the ``limits`` package; the counting is a moving window over the
app's injected clock (``app.state.clock``), so tests move time instead of sleeping. Counters
live in memory per process: with P web processes a client gets up to P times the limit (use
lower limits, or one process for the public site, if that matters).

The client address is the peer's, unless the peer is listed in ``KESU_TRUSTED_PROXIES``; then
the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy. IPv6 clients
are counted by their /64 prefix.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many

from kesu.clock import Clock
from kesu.config import Settings
from kesu.errors import KesuError
from kesu.web import csrf
from kesu.web.i18n import gettext as _

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_KEYS = 100_000  # beyond this many counters, idle ones are dropped


class RateLimited(KesuError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(_("请求过于频繁，请 %(seconds)d 秒后再试。") % {"seconds": retry_after})
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class _Rule:
    amount: int
    seconds: int


def parse_rules(spec: str) -> tuple[_Rule, ...]:
    """``"10/minute;100/hour"`` → rules; an empty spec means no limit."""
    if not spec.strip():
        return ()
    items: Sequence[RateLimitItem] = parse_many(spec)
    return tuple(_Rule(item.amount, item.get_expiry()) for item in items)


class MovingWindow:
    """Hits per key in a moving window, over an injected clock; thread-safe."""

    def __init__(self, rules: Sequence[_Rule], clock: Clock) -> None:
        self.rules = tuple(rules)
        self.clock = clock
        self._longest = max((r.seconds for r in self.rules), default=0)
        self._most = max((r.amount for r in self.rules), default=0)
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, keys: Iterable[str]) -> int | None:
        """Counts one request against every key; the seconds to wait when one is over a rule
        (nothing is counted then), else ``None``."""
        if not self.rules:
            return None
        now = self.clock.now().timestamp()
        keys = list(keys)
        with self._lock:
            wait = 0.0
            for key in keys:
                hits = self._hits.get(key)
                if hits is None:
                    continue
                while hits and hits[0] <= now - self._longest:
                    hits.popleft()
                for rule in self.rules:
                    in_window = [t for t in hits if t > now - rule.seconds]
                    if len(in_window) >= rule.amount:
                        # Free again when the oldest hit that keeps it full leaves the window.
                        oldest = in_window[len(in_window) - rule.amount]
                        wait = max(wait, oldest + rule.seconds - now)
            if wait > 0:
                return max(1, math.ceil(wait))
            for key in keys:
                self._hits.setdefault(key, deque(maxlen=self._most)).append(now)
            if len(self._hits) > _MAX_KEYS:
                self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self._longest]:
            del self._hits[key]


def trusted_networks(spec: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def client_address(request: Request, trusted: Sequence[Network] = ()) -> str:
    """The client's address: the peer, or what trusted proxies say in X-Forwarded-For."""
    peer = request.client.host if request.client else ""
    if not trusted or not _is_in(peer, trusted):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for address in reversed(forwarded):
        if not _is_in(address, trusted):
            return address
    return forwarded[0] if forwarded else peer


def address_key(address: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 (one subscriber's
    prefix, in which an attacker could otherwise pick a new address per request)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def _is_in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class _Limits:
    """The app's limiters by scope, built on first use from its settings and clock."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.trusted = trusted_networks(settings.trusted_proxies)
        self._windows: dict[str, MovingWindow] = {}
        self._lock = threading.Lock()

    def window(self, scope: str, setting: str) -> MovingWindow:
        with self._lock:
            window = self._windows.get(scope)
            if window is None:
                spec = str(getattr(self.settings, setting))
                window = self._windows[scope] = MovingWindow(parse_rules(spec), self.clock)
            return window


_app_lock = threading.Lock()


def limits_of(request: Request) -> _Limits:
    state = request.app.state
    found: _Limits | None = getattr(state, "rate_limits", None)
    if found is None:
        with _app_lock:
            found = getattr(state, "rate_limits", None)
            if found is None:
                found = _Limits(state.settings, state.clock)
                state.rate_limits = found
    return found


def check(request: Request, scope: str, setting: str = "rate_limit_public") -> None:
    """Counts this request in ``scope``; raises ``RateLimited`` when over the limit."""
    app_limits = limits_of(request)
    keys = [f"{scope}|addr|{address_key(client_address(request, app_limits.trusted))}"]
    session_id = _form_session(request)
    if session_id:
        keys.append(f"{scope}|session|{session_id}")
    wait = app_limits.window(scope, setting).hit(keys)
    if wait is not None:
        raise RateLimited(wait)


def _form_session(request: Request) -> str:
    if "session" not in request.scope:
        return ""
    token = request.session.get(csrf.SESSION_KEY)
    return token if isinstance(token, str) else ""


def rate_limit(scope: str, setting: str = "rate_limit_public") -> Any:
    """A route dependency (``dependencies=[rate_limit("public")]``) limiting ``scope`` by the
    rules of the ``setting`` (a ``Settings`` field such as ``rate_limit_public``)."""

    async def dependency(request: Request) -> None:
        check(request, scope, setting)

    dependency.__name__ = f"rate_limit_{scope}"
    return Depends(dependency)
