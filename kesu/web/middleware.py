"""ASGI middleware: the request's language for every route; refuse oversize bodies before reading them."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max(max_upload_bytes, max_bytes)
        self.upload_paths = frozenset(upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"] in self.upload_paths else self.max_bytes
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
            "detail": f"请求体过大，最多 {limit} 字节 (request body too large)",
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
