"""ASGI middleware: the request's language for every route; refuse oversize bodies before
reading them; refuse NUL characters anywhere in a request (path, query, bodies)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kesu.web.i18n import gettext as _
from kesu.web.i18n import use_locale


class RequestLocale:
    """Makes the caller's language current for every request, the JSON API included, so an
    error or message is written in the caller's language only (``Accept-Language`` or the
    ``lang`` cookie; Chinese by default). Sync routes see it: the thread pool copies the
    context."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            use_locale(Request(scope))
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 when a request body exceeds ``max_bytes`` (by header or while streaming);
    the file-upload paths in ``upload_paths`` may send up to ``max_upload_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_upload_bytes: int = 0,
        upload_paths: tuple[str, ...] = (),
        upload_patterns: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max(max_upload_bytes, max_bytes)
        self.upload_paths = frozenset(upload_paths)
        self.upload_pattern = (
            re.compile("|".join(f"(?:{p})" for p in upload_patterns)) if upload_patterns else None
        )

    def _is_upload(self, path: str) -> bool:
        if path in self.upload_paths:
            return True
        return self.upload_pattern is not None and self.upload_pattern.fullmatch(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if self._is_upload(scope["path"]) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        body: dict[str, Any] = {
            "detail": _("请求体过大，最多 %(limit)s 字节") % {"limit": limit},
            "code": "body_too_large",
        }
        payload = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# ---- NUL characters ------------------------------------------------------------------------
# PostgreSQL text cannot hold U+0000 and no form or API field needs it: a request carrying one
# (raw, %00 or \u0000) is refused at the edge with a 422 naming where it was, for every route.

_CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def _nul_in_query(query: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    return None


def _nul_in_json(value: Any, path: tuple[str, ...] = ()) -> str | None:
    if isinstance(value, str):
        return ".".join(path) or "body" if "\x00" in value else None
    items: Iterator[tuple[str, Any]]
    if isinstance(value, dict):
        for key in value:
            if "\x00" in key:
                return ".".join(path) or "body"
        items = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _nul_in_json(item, (*path, key))
        if found:
            return found
    return None


def _nul_in_multipart(body: bytes, content_type: str) -> str | None:
    """The name of a text field (not a file: files are data) holding a NUL byte."""
    boundary = ""
    for param in content_type.split(";")[1:]:
        name, _sep, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return None
    for part in body.split(b"--" + boundary.encode("latin-1")):
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep or b"\x00" not in content.removesuffix(b"\r\n"):
            continue
        disposition = head.decode("utf-8", "replace").lower()
        if "filename=" in disposition:
            continue
        name = "body"
        for piece in head.decode("utf-8", "replace").split(";"):
            key, _sep, value = piece.strip().partition("=")
            if key == "name":
                name = value.strip('"') or "body"
        return name
    return None


def nul_field(content_type: str, body: bytes) -> str | None:
    """Where a request body carries a NUL character, or None."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        if b"\x00" not in body and b"\\u0000" not in body:
            return None
        try:
            return _nul_in_json(json.loads(body))
        except ValueError:
            return "body" if b"\x00" in body else None
    if kind == "application/x-www-form-urlencoded":
        if b"\x00" not in body and b"%00" not in body:
            return None
        return _nul_in_query(body.decode("utf-8", "replace")) or (
            "body" if b"\x00" in body else None
        )
    if kind == "multipart/form-data" and b"\x00" in body:
        return _nul_in_multipart(body, content_type)
    return None


class RefuseNul:
    """Answers 422 (``code: invalid``, ``field`` naming where) when the path, the query string
    or a JSON, urlencoded or multipart text body carries a NUL character. Bodies of those types
    are read whole here (``BodySizeLimit`` runs first and caps them) and replayed to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = self._in_url(scope)
        if field is None:
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if content_type.split(";")[0].strip().lower().startswith(_CHECKED_BODIES):
                body, receive = await _buffer(receive)
                field = nul_field(content_type, body)
        if field is None:
            await self.app(scope, receive, send)
            return
        from kesu.errors import InvalidInput
        from kesu.web.errors import error_response

        exc = InvalidInput(_("%(field)s 不能包含空字符 (U+0000)") % {"field": field}, field=field)
        response = error_response(Request(scope, receive), exc)
        await response(scope, receive, send)

    @staticmethod
    def _in_url(scope: Scope) -> str | None:
        raw_path = scope.get("raw_path") or b""
        if "\x00" in scope["path"] or b"%00" in raw_path or b"\x00" in raw_path:
            return "path"
        query: bytes = scope.get("query_string", b"")
        if b"\x00" in query or b"%00" in query:
            return _nul_in_query(query.decode("latin-1")) or "query"
        return None


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class RetryAfterOnBusy:
    """Every 503 tells the client when to come back: a page that shows a form again with the
    "busy" message (its own status, not the error handler's) gets ``Retry-After`` too."""

    def __init__(self, app: ASGIApp, seconds: int = 5) -> None:
        self.app = app
        self.seconds = str(seconds).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _value in headers):
                    headers.append((b"retry-after", self.seconds))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)
