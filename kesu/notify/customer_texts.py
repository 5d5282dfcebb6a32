"""The texts of customer messages: defaults (data/customer_templates.toml), admins' overrides
(``customer_templates``), placeholder checks and rendering.

Placeholders are ``{name}`` replaced by a regular expression (never ``str.format``); a
template naming a placeholder its event does not have is refused (``InvalidInput``, 422).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import InvalidInput, NotFound
from kesu.notify.models import CustomerTemplate
from kesu.taxonomy import cache as config_cache
from kesu.web.i18n import gettext as _

LOCALES = ("zh_CN", "en")
EVENTS = ("ack", "message", "confirm", "result", "reopen", "survey")
PARTS = ("title", "body", "sms")
COMMON = ("number", "title", "name", "stage", "link", "optout_link")
VARIABLES: dict[str, tuple[str, ...]] = {
    "ack": COMMON,
    "message": (*COMMON, "message"),
    "confirm": (*COMMON, "solution", "accept_link", "reject_link"),
    "result": (*COMMON, "result"),
    "reopen": (*COMMON, "reason"),
    "survey": (*COMMON, "survey_link", "expires"),  # kesu.surveys
}
MAX_LENGTH = {"title": 200, "body": 10000, "sms": 1000}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Template:
    event: str
    locale: str
    title: str
    body: str
    sms: str
    custom: bool = False  # an admin's override, not the default


@lru_cache(maxsize=1)
def defaults() -> dict[str, dict[str, dict[str, str]]]:
    path = resources.files("kesu.notify.data").joinpath("customer_templates.toml")
    return tomllib.loads(path.read_text("utf-8"))


def locale_of(value: str | None) -> str:
    return "en" if (value or "").lower().startswith("en") else "zh_CN"


def check_key(event: str, locale: str) -> None:
    if event not in EVENTS:
        raise NotFound(_("没有这个客户通知：%(event)s") % {"event": event}, field="event")
    if locale not in LOCALES:
        raise NotFound(_("不支持的语言：%(locale)s") % {"locale": locale}, field="locale")


def default(event: str, locale: str) -> Template:
    spec = defaults()[event][locale]
    return Template(event, locale, spec["title"], spec["body"], spec["sms"])


def get(session: Session, event: str, locale: str) -> Template:
    """The template in force: the admin's, else the default (admins' rows are cached per
    process for a few seconds, cleared at once by edits in this process)."""
    check_key(event, locale)
    found = _overrides(session).get((event, locale))
    return found if found is not None else default(event, locale)


def _overrides(session: Session) -> dict[tuple[str, str], Template]:
    def load() -> dict[tuple[str, str], Template]:
        return {
            (r.event, r.locale): Template(r.event, r.locale, r.title, r.body, r.sms, custom=True)
            for r in session.scalars(select(CustomerTemplate))
        }

    return config_cache.cached(session, "customer_templates", load)


def all_templates(session: Session) -> list[Template]:
    rows = {(r.event, r.locale): r for r in session.scalars(select(CustomerTemplate))}
    out = []
    for event in EVENTS:
        for locale in LOCALES:
            row = rows.get((event, locale))
            out.append(
                Template(event, locale, row.title, row.body, row.sms, custom=True)
                if row is not None
                else default(event, locale)
            )
    return out


def validate(event: str, parts: dict[str, str]) -> dict[str, str]:
    """Each part present, within its length, naming only its event's placeholders."""
    allowed = VARIABLES[event]
    clean: dict[str, str] = {}
    for part in PARTS:
        value = parts.get(part)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(_("模板的 %(part)s 不能为空") % {"part": part}, field=part)
        if len(value) > MAX_LENGTH[part]:
            raise InvalidInput(
                _("模板的 %(part)s 太长，最多 %(max)d 字")
                % {"part": part, "max": MAX_LENGTH[part]},
                field=part,
            )
        for name in _PLACEHOLDER.findall(value):
            if name not in allowed:
                raise InvalidInput(
                    _("未知的占位符 {%(name)s}；可用：%(allowed)s")
                    % {"name": name, "allowed": " ".join("{" + a + "}" for a in allowed)},
                    field=part,
                    code="unknown_placeholder",
                )
        if part == "title" and "\n" in value:
            raise InvalidInput(_("邮件标题不能换行"), field=part)
        clean[part] = value.strip() if part == "title" else value
    return clean


def save(
    session: Session, clock: Clock, actor: Actor, event: str, locale: str, parts: dict[str, str]
) -> Template:
    check_key(event, locale)
    clean = validate(event, parts)
    row = session.get(CustomerTemplate, (event, locale))
    before = None if row is None else {p: getattr(row, p) for p in PARTS}
    if row is None:
        row = CustomerTemplate(event=event, locale=locale, **clean)
        session.add(row)
    else:
        for part, value in clean.items():
            setattr(row, part, value)
    row.updated_at = clock.now()
    row.updated_by = actor.label[:128]
    session.flush()
    config_cache.clear()
    record_audit(
        session,
        clock,
        actor,
        "notify.customer_template.save",
        "customer_template",
        f"{event}.{locale}",
        {"before": before, "after": clean},
    )
    return Template(event, locale, row.title, row.body, row.sms, custom=True)


def reset(session: Session, clock: Clock, actor: Actor, event: str, locale: str) -> Template:
    """Back to the default (the admin's version is removed, audited)."""
    check_key(event, locale)
    row = session.get(CustomerTemplate, (event, locale))
    if row is not None:
        before = {p: getattr(row, p) for p in PARTS}
        session.delete(row)
        session.flush()
        config_cache.clear()
        record_audit(
            session,
            clock,
            actor,
            "notify.customer_template.reset",
            "customer_template",
            f"{event}.{locale}",
            {"before": before},
        )
    return default(event, locale)


def fill(text: str, values: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values.get(m[1], m[0])), text)


def render(template: Template, values: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, email body, SMS text); the subject always carries ``[number]``."""
    title = " ".join(fill(template.title, values).split())
    number = str(values.get("number", ""))
    if number and f"[{number}]" not in title:
        title = f"[{number}] {title}"
    return title[:200], fill(template.body, values), fill(template.sms, values)


def sample_values(event: str, locale: str) -> dict[str, str]:
    """What a preview fills in."""
    base = "https://kesu.example.com/t/SAMPLE"
    english = locale == "en"
    values = {
        "number": "TS20261202-000001",
        "title": "Headphones: no sound on the left" if english else "耳机左耳没有声音",
        "name": "Alex Wang" if english else "王小明",
        "stage": "Being investigated" if english else "调查核实中",
        "link": base,
        "optout_link": base + "#notify",
        "message": "We are looking into it." if english else "我们正在核实，请稍候。",
        "solution": "A replacement pair." if english else "为您更换一副新耳机。",
        "accept_link": base + "?decision=accept#respond",
        "reject_link": base + "?decision=reject#respond",
        "result": "Replaced on 2 December." if english else "已于12月2日为您换货。",
        "reason": "The problem came back." if english else "问题再次出现。",
        "survey_link": "https://kesu.example.com/s/SAMPLE",
        "expires": "2026-12-09 18:00",
    }
    return {k: v for k, v in values.items() if k in VARIABLES[event]}
