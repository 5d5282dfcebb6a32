"""Turns errors into clear 4xx answers naming the problem; never a 500 for bad input."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kesu.errors import KesuError, NotAuthenticated


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _field_name(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(KesuError)
    async def kesu_error(request: Request, exc: KesuError) -> Response:
        if isinstance(exc, NotAuthenticated) and _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        if _wants_html(request):
            return _html_error(request, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid"}
        field = _field_name(first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid')}"
        detail = [
            {"field": _field_name(e.get("loc", ())), "message": e.get("msg", "")} for e in errors
        ]
        return JSONResponse(
            {"detail": message, "code": "invalid", "field": field, "errors": detail},
            status_code=422,
        )

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> Response:
        return JSONResponse(
            {
                "detail": "投诉已被他人修改，请刷新后重试 (concurrent update; retry)",
                "code": "stale_version",
                "field": "version",
            },
            status_code=409,
        )

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> Response:
        return JSONResponse(
            {"detail": "与现有数据冲突 (conflicts with existing data)", "code": "conflict"},
            status_code=409,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request):
            return _html_error(request, exc.status_code, str(exc.detail))
        return JSONResponse(
            {"detail": exc.detail, "code": "http_error"},
            status_code=exc.status_code,
            headers=exc.headers,
        )


def _html_error(request: Request, status_code: int, message: str) -> Response:
    from kesu.web.templating import render

    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        status_code=status_code,
    )
