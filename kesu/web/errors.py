"""Turns errors into clear 4xx answers naming the problem; never a 500 for bad input.

Every error the JSON API answers has one shape, ``ErrorBody``: ``detail`` (a sentence in the
caller's language), ``code`` (stable, for machines), ``field`` (where, when one field is at
fault) and ``errors`` (every problem of a validation error). ``ERROR_RESPONSES`` documents it
in the OpenAPI for every error status; the app factory passes it to ``FastAPI(responses=…)``,
so every route, those added later included, declares it.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kesu.errors import (
    Conflict,
    InvalidInput,
    KesuError,
    NotAuthenticated,
    ServiceBusy,
    StaleVersion,
)
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

log = logging.getLogger(__name__)


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """What every 4xx/5xx answer of the API carries."""

    detail: str
    code: str
    field: str | None = None
    errors: list[ErrorItem] | None = None


_DESCRIPTIONS = {
    400: "请求有误",
    401: "未登录或令牌无效",
    403: "没有权限",
    404: "没有找到",
    405: "不支持的方法",
    409: "数据冲突",
    413: "请求体过大",
    422: "输入无效（field 指明哪一项）",
    429: "请求过于频繁（见 Retry-After）",
    503: "服务繁忙（见 Retry-After）",
}
# Documented on every operation (a route's own entries win).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "service_busy",
}
_HTTP_MESSAGES = {
    400: N_("请求有误"),
    401: N_("请先登录"),
    403: N_("没有权限"),
    404: N_("没有这个页面或接口"),
    405: N_("不支持这个请求方法"),
    409: N_("数据冲突"),
    413: N_("请求体过大"),
    415: N_("不支持这种内容类型"),
    422: N_("输入无效"),
    429: N_("请求过于频繁，请稍后再试"),
    503: N_("服务繁忙，请稍后再试"),
}
# pydantic's error types, said in the caller's language; anything else keeps pydantic's text.
_VALIDATION_MESSAGES = {
    "missing": N_("必填"),
    "int_parsing": N_("应为整数"),
    "int_type": N_("应为整数"),
    "int_from_float": N_("应为整数"),
    "float_parsing": N_("应为数字"),
    "float_type": N_("应为数字"),
    "finite_number": N_("应为有限的数字"),
    "bool_parsing": N_("应为 true 或 false"),
    "bool_type": N_("应为 true 或 false"),
    "string_type": N_("应为文本"),
    "string_too_long": N_("太长了"),
    "string_too_short": N_("太短了"),
    "string_pattern_mismatch": N_("格式不对"),
    "too_long": N_("项目太多"),
    "too_short": N_("项目太少"),
    "less_than_equal": N_("数值太大"),
    "less_than": N_("数值太大"),
    "greater_than_equal": N_("数值太小"),
    "greater_than": N_("数值太小"),
    "enum": N_("不是允许的取值"),
    "literal_error": N_("不是允许的取值"),
    "datetime_parsing": N_("应为日期时间"),
    "datetime_type": N_("应为日期时间"),
    "datetime_from_date_parsing": N_("应为日期时间"),
    "timezone_aware": N_("日期时间须带时区"),
    "date_parsing": N_("应为日期"),
    "date_from_datetime_parsing": N_("应为日期"),
    "dict_type": N_("应为对象"),
    "list_type": N_("应为列表"),
    "json_invalid": N_("不是有效的 JSON"),
    "model_attributes_type": N_("应为对象"),
    "extra_forbidden": N_("不认识这一项"),
    "value_error": N_("取值无效"),
    "url_parsing": N_("不是有效的网址"),
    "url_scheme": N_("不是有效的网址"),
}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _field_name(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def _problem(error: dict[str, Any]) -> str:
    message = _VALIDATION_MESSAGES.get(str(error.get("type", "")))
    if message is None:
        return str(error.get("msg", "")) or _("取值无效")
    return _(message)


def body_of(exc: KesuError) -> dict[str, Any]:
    body: dict[str, Any] = exc.to_dict()
    return body


def error_response(request: Request, exc: KesuError) -> Response:
    """The answer to a domain error: a page for a browser, ``ErrorBody`` for the API."""
    if isinstance(exc, NotAuthenticated) and _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if _wants_html(request):
        response = _html_error(request, exc.status_code, exc.message)
        response.headers.update(headers)
        return response
    return JSONResponse(body_of(exc), status_code=exc.status_code, headers=headers or None)


# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout).
_BUSY_SQLSTATES = frozenset({"55P03", "57014"})


def _is_locked(exc: OperationalError) -> bool:
    """Another writer held the database past our bounded wait (not a broken database)."""
    original = exc.orig
    if isinstance(original, sqlite3.OperationalError):
        return "locked" in str(original) or "busy" in str(original)
    return getattr(original, "sqlstate", None) in _BUSY_SQLSTATES


def install(app: FastAPI) -> None:
    @app.exception_handler(KesuError)
    async def kesu_error(request: Request, exc: KesuError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        first = errors[0] if errors else {"loc": ("body",), "type": "value_error"}
        field = _field_name(first.get("loc", ()))
        detail = [{"field": _field_name(e.get("loc", ())), "message": _problem(e)} for e in errors]
        message = _("%(field)s：%(problem)s") % {"field": field, "problem": _problem(first)}
        if _wants_html(request):
            return _html_error(request, 422, message)
        return JSONResponse(
            {"detail": message, "code": "invalid", "field": field, "errors": detail},
            status_code=422,
        )

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> Response:
        return error_response(
            request, StaleVersion(_("投诉已被他人修改，请刷新后重试"), field="version")
        )

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> Response:
        return error_response(request, Conflict(_("与现有数据冲突")))

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (out of range, NUL …) that slipped past validation.
        log.warning("database refused a value: %s", exc.orig)
        return error_response(request, InvalidInput(_("数据库无法保存这个值")))

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        return error_response(request, InvalidInput(_("数值太大")))

    @app.exception_handler(OperationalError)
    async def operational(request: Request, exc: OperationalError) -> Response:
        if _is_locked(exc):  # another process holds SQLite's lock past our wait
            return error_response(request, ServiceBusy())
        raise exc

    @app.exception_handler(PoolTimeout)
    async def pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        return error_response(request, ServiceBusy())  # every connection is in use

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else ""
        default = _HTTP_MESSAGES.get(status)
        message = _(default) if default and (not detail or detail == _phrase(status)) else detail
        if _wants_html(request):
            response = _html_error(request, status, message)
            response.headers.update(exc.headers or {})
            return response
        return JSONResponse(
            {"detail": message or str(status), "code": _HTTP_CODES.get(status, "http_error")},
            status_code=status,
            headers=exc.headers,
        )


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _html_error(request: Request, status_code: int, message: str) -> Response:
    from kesu.web.templating import render

    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        status_code=status_code,
    )
