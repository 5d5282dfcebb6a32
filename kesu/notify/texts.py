"""Notification texts in Chinese and English (``data/templates.toml``), filled from a complaint.

Placeholders are plain ``{name}`` replaced by a regular expression, never ``str.format``: a
template can only insert values, not reach into objects.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.taxonomy.enums import SEVERITY_LABELS, Severity

LOCALES = ("zh_CN", "en")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@lru_cache(maxsize=1)
def templates() -> dict[str, dict[str, dict[str, str]]]:
    text = resources.files("kesu.notify.data").joinpath("templates.toml").read_text("utf-8")
    return tomllib.loads(text)


def events() -> list[str]:
    return sorted(templates())


def locale_of(value: str | None) -> str:
    return "en" if (value or "").lower().startswith("en") else "zh_CN"


def render(event: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of ``event`` in ``locale`` (Chinese when the language is missing)."""
    by_locale = templates().get(event) or templates()["rule_notice"]
    spec = by_locale.get(locale_of(locale)) or by_locale["zh_CN"]
    values = context.get(locale_of(locale), context)

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: str(values.get(m[1], m[0])), text)

    return fill(spec["title"])[:200], fill(spec["body"])


def mask_name(name: str) -> str:
    """王小明 → 王**: chat groups and mailboxes are not the place for customers' names."""
    return name[:1] + "*" * max(1, min(2, len(name) - 1)) if name else ""


def complaint_context(
    complaint: Complaint, base_url: str, extra: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The placeholder values for a complaint, per language."""
    common: dict[str, Any] = {
        "number": complaint.number,
        "title": complaint.title,
        "category": complaint.category.path if complaint.category else "-",
        "team": complaint.team.name if complaint.team else "-",
        "assignee": complaint.assignee.label if complaint.assignee else "-",
        "customer": mask_name(complaint.customer.name),
        "link": f"{base_url.rstrip('/')}/complaints/{complaint.number}",
    }
    severity = Severity(complaint.severity)
    out: dict[str, dict[str, Any]] = {}
    for locale in LOCALES:
        values = dict(common, severity=SEVERITY_LABELS[severity] if locale == "zh_CN" else severity)
        for key, value in (extra or {}).items():
            values[key] = value.get(locale, "") if isinstance(value, dict) else value
        out[locale] = values
    return out


def local_time(value: Any) -> str:
    """A UTC instant as Beijing time, the way people read deadlines."""
    if value is None:
        return "-"
    return str(value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))
