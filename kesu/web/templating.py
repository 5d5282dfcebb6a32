"""Jinja2 templates: one environment for every domain's ``templates/`` folder.

The environment is shared by all threads, so translations are not installed per request:
``_``/``gettext`` in a template call ``kesu.web.i18n.gettext``, which reads the locale of the
current request from a context variable that ``render`` sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from kesu.accounts.roles import ROLE_LABELS, Role
from kesu.complaints.enums import CHANNEL_LABELS, REMEDY_LABELS, TIER_LABELS, Remedy, Tier
from kesu.complaints.numbering import LOCAL_TZ
from kesu.taxonomy.enums import PRIORITY_LABELS, SEVERITY_LABELS, Severity
from kesu.web import i18n
from kesu.web.csrf import csrf_token
from kesu.web.i18n import gettext as _

KESU_DIR = Path(__file__).resolve().parent.parent
# The layout and error page first, then every domain's templates/<domain>/… folder.
TEMPLATE_DIRS = [
    str(KESU_DIR / "web" / "templates"),
    *sorted(str(p) for p in KESU_DIR.glob("*/templates") if p.parent.name != "web"),
]
SOON_MINUTES = 60
# Our pages load only our own files: even if some text slipped past escaping, no script from
# elsewhere (or inline) would run, and no other site may frame the forms.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class NavUser:
    """A plain copy of the signed-in user for the layout (safe after a rollback)."""

    id: int
    name: str
    role: str
    is_admin: bool


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIRS),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = localtime
    env.globals.update(
        label=label,
        loc=loc,
        deadline=deadline,
        countdown_formats=countdown_formats,
        SEVERITIES=list(Severity),
        PRIORITIES=sorted(PRIORITY_LABELS),
        ROLES=list(Role),
        REMEDIES=list(Remedy),
        TIERS=list(Tier),
        attachment_limits=_attachment_limits,
    )
    return env


def _attachment_limits() -> dict[str, Any]:
    from kesu.attachments.pages import limits

    return limits()


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    locale = i18n.use_locale(request)
    query = request.url.query
    base = {
        "locale": locale,
        "csrf_token": csrf_token(request),
        "nav": getattr(request.state, "nav", None),
        "flashes": request.session.pop("flash", []) if "session" in request.scope else [],
        "here": request.url.path + (f"?{query}" if query else ""),
    }
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown on the next page rendered (after a POST-redirect-GET)."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: ``//evil.example`` or ``https://…`` would be an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


# ---- helpers available in every template ------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {
    "channel": {k.value: v for k, v in CHANNEL_LABELS.items()},
    "remedy": {k.value: v for k, v in REMEDY_LABELS.items()},
    "tier": {k.value: v for k, v in TIER_LABELS.items()},
    "severity": {k.value: v for k, v in SEVERITY_LABELS.items()},
    "role": {k.value: v for k, v in ROLE_LABELS.items()},
    "priority": {str(k): v for k, v in PRIORITY_LABELS.items()},
}


def label(kind: str, code: object) -> str:
    """The translated label of a code (``label("severity", "minor")`` → 一般 / minor)."""
    if code is None or code == "":
        return ""
    text = _LABELS.get(kind, {}).get(str(code))
    return _(text) if text else str(code)


def loc(obj: Any, attr: str = "name") -> str:
    """A configured name in the UI language: ``name_en`` in English when it is filled in.

    Works on rows and on dicts (a stage's required outputs: ``label`` / ``label_en``)."""

    def read(key: str) -> str:
        found = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, "")
        return str(found or "")

    value = read(attr)
    if i18n.current_locale() == "en" and value:
        # seeded names without an English column (stage public names) are in the catalog
        return read(f"{attr}_en") or _(value)
    return value


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


def duration_text(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d天%(h)d小时") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d小时%(m)d分") % {"h": hours, "m": mins}
    return _("%(m)d分钟") % {"m": mins}


def countdown_formats() -> dict[str, str]:
    """The countdown texts for kesu.js, with ``{d}``-style placeholders."""
    pairs = {
        "days": _("%(d)d天%(h)d小时"),
        "hours": _("%(h)d小时%(m)d分"),
        "minutes": _("%(m)d分钟"),
        "left": _("剩余 %(t)s"),
        "over": _("已超时 %(t)s"),
    }
    return {
        k: v.replace("%(d)d", "{d}")
        .replace("%(h)d", "{h}")
        .replace("%(m)d", "{m}")
        .replace("%(t)s", "{t}")
        for k, v in pairs.items()
    }


def deadline(due_at: datetime | None, now: datetime, is_open: bool = True) -> dict[str, str]:
    """The deadline as a countdown: state ``overdue`` / ``soon`` / ``ok`` / ``none`` and text."""
    if due_at is None or not is_open:
        return {"state": "none", "text": "—", "due": ""}
    left = int((due_at - now).total_seconds() // 60)
    if left < 0:
        return {
            "state": "overdue",
            "due": due_at.isoformat(),
            "text": _("已超时 %(t)s") % {"t": duration_text(-left)},
        }
    state = "soon" if left < SOON_MINUTES else "ok"
    return {
        "state": state,
        "due": due_at.isoformat(),
        "text": _("剩余 %(t)s") % {"t": duration_text(left)},
    }


# Built last: the environment refers to the helpers above.
templates = Jinja2Templates(env=_environment())
