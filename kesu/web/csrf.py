"""CSRF protection for the HTML forms: a random token kept in the (signed) session cookie.

Every form carries the token in a hidden ``csrf_token`` field; every state-changing HTML POST
reads its form through ``CheckedForm``, which refuses a missing or wrong token with 403.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from kesu.errors import Forbidden, InvalidInput
from kesu.web.i18n import gettext as _

SESSION_KEY = "csrf"
FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def rotate(request: Request) -> str:
    """A fresh token (after login, so a token seen before login is worthless after it)."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(request.session[SESSION_KEY])


def is_valid(request: Request, sent: object) -> bool:
    expected = request.session.get(SESSION_KEY) if "session" in request.scope else None
    return (
        isinstance(sent, str)
        and isinstance(expected, str)
        and bool(expected)
        and hmac.compare_digest(sent.encode(), expected.encode())
    )


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token has been checked."""
    form = await request.form()
    if not is_valid(request, form.get(FIELD)):
        raise Forbidden(_("表单已过期或来源不明，请刷新页面后重试。"), code="csrf")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def text(form: FormData, name: str, limit: int | None = None) -> str:
    """A submitted text field, stripped ("" when absent); cut to ``limit`` characters."""
    value = form.get(name)
    result = value.strip() if isinstance(value, str) else ""
    return result[:limit] if limit else result


def version(form: FormData) -> int:
    """The ``version`` a form was rendered with (optimistic concurrency); 422 if it is missing."""
    value = text(form, "version")
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise InvalidInput(_("缺少版本号，请刷新页面后重试"), field="version")
    return int(value)
