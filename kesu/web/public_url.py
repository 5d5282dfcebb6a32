"""The public address links are made with (tracking, accept/reject, survey links).

1. ``KESU_BASE_URL`` when it is set;
2. otherwise, inside a request, the scheme, host and port the request came in on
   (``X-Forwarded-Proto``/``-Host``/``-Port`` believed only from ``KESU_TRUSTED_PROXIES``,
   as client addresses are in ``kesu.web.ratelimit``);
3. otherwise (the worker, the CLI) the last public address a staff request was served on,
   kept in the ``site_values`` row ``public_url`` by ``remember``;
4. otherwise ``FALLBACK``.

The ``RequestOrigin`` middleware makes the request's address current for the request (a
context variable: sync routes see it, the thread pool copies the context). A Host header is
the client's to choose: it is used only when it looks like a host name, and only staff
requests (signed in) are remembered for the worker, so a visitor's forged Host cannot end up
in everybody's messages.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kesu.config import Settings, get_settings
from kesu.web.ratelimit import _is_in, trusted_networks

FALLBACK = "http://127.0.0.1:8000"
KEY = "public_url"
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_REMEMBERED = "kesu_public_url_remembered"


@dataclass(frozen=True)
class Origin:
    url: str
    configured: bool  # KESU_BASE_URL, not the request's own address


_current: ContextVar[Origin | None] = ContextVar("kesu_public_origin", default=None)


def configured(settings: Settings | None = None) -> str:
    """``KESU_BASE_URL`` without its trailing slash, or ''."""
    return (settings or get_settings()).base_url.strip().rstrip("/")


def _last(request: Request, name: str) -> str:
    values = [p.strip() for h in request.headers.getlist(name) for p in h.split(",")]
    values = [v for v in values if v]
    return values[-1] if values else ""


def of_request(request: Request, settings: Settings) -> Origin:
    """Where ``request`` says we are served (``KESU_BASE_URL`` wins)."""
    base = configured(settings)
    if base:
        return Origin(base, True)
    scheme = request.url.scheme if request.url.scheme in _DEFAULT_PORTS else "http"
    host = request.headers.get("host", "")
    peer = request.client.host if request.client else ""
    trusted = _networks(settings.trusted_proxies)
    if trusted and _is_in(peer, trusted):
        proto = _last(request, "x-forwarded-proto").lower()
        scheme = proto if proto in _DEFAULT_PORTS else scheme
        host = _last(request, "x-forwarded-host") or host
        port = _last(request, "x-forwarded-port")
        if port.isdigit() and len(port) <= 5:
            host = f"{_strip_port(host)}:{port}"
    if not _HOST.match(host) or len(host) > 255:
        server = request.scope.get("server")
        if not server:
            return Origin(FALLBACK, False)
        host = f"{server[0]}:{server[1]}"
    name = _strip_port(host)
    if host != name and host[len(name) + 1 :] == _DEFAULT_PORTS[scheme]:
        host = name  # http://example.com, not http://example.com:80
    return Origin(f"{scheme}://{host}", False)


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[Any, ...]:
    return trusted_networks(spec)


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestOrigin:
    """Makes the request's public address current while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app: Any = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None) or get_settings()
        token = _current.set(of_request(Request(scope), settings))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def use(origin: Origin | None) -> Any:
    """Sets the current origin (tests, callers outside a request); returns the reset token."""
    return _current.set(origin)


def current_origin() -> Origin | None:
    return _current.get()


def stored(session: Session) -> str:
    """The last public address remembered for the workers, or ''."""
    from kesu.notify.models import SiteValue

    value = session.scalar(select(SiteValue.value).where(SiteValue.key == KEY))
    return value or ""


def base_url(session: Session | None = None, settings: Settings | None = None) -> str:
    """The address links start with, without a trailing slash (see the module's text)."""
    origin = _current.get()
    if origin is not None:
        return origin.url
    base = configured(settings)
    if base:
        return base
    if session is not None:
        found = stored(session)
        if found:
            return found
    return FALLBACK


def tracking_link(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/t/{token}"


def remember(session: Session, now: datetime) -> None:
    """Keeps the current request's address for the workers (inside the caller's write
    transaction; a no-op outside a request or when it is already the stored one)."""
    from kesu.notify.models import SiteValue

    origin = _current.get()
    if origin is None or session.info.get(_REMEMBERED) == origin.url:
        return
    session.info[_REMEMBERED] = origin.url
    if stored(session) == origin.url:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = cast(Table, SiteValue.__table__)
    stmt = dialect.insert(table).values(key=KEY, value=origin.url[:512], updated_at=now)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": origin.url[:512], "updated_at": now}
        )
    )
