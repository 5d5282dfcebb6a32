"""Admin pages for SLA policies and business calendars (the admin's extra holidays and working
days). Every change goes through ``kesu.sla.admin`` (validated, versioned, audited)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import chinese_calendar
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.views import AdminR, AdminW
from kesu.errors import InvalidInput, KesuError
from kesu.routing import editor
from kesu.sla import admin
from kesu.sla.calendar import WEEKDAYS, BusinessCalendar, CalendarConfigError
from kesu.sla.config import MAX_MINUTES
from kesu.sla.milestones import MILESTONES, POLICY_MILESTONES
from kesu.sla.models import SlaCalendar, SlaPolicy
from kesu.web import i18n
from kesu.web.csrf import CheckedForm, text, version
from kesu.web.deps import ClockDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import N_, locale_dependency
from kesu.web.i18n import gettext as _
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
PolicyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CalendarCode = Annotated[str, Path(max_length=64)]

UNITS = {"minutes": N_("分钟"), "hours": N_("小时"), "working_days": N_("个工作日")}
WEEKDAY_LABELS = dict(
    zip(
        WEEKDAYS,
        (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日")),
        strict=True,
    )
)
FIELD_LABELS = {
    "position": N_("顺序"),
    "warn_percent": N_("预警百分比"),
    "level2": N_("二级升级百分比"),
    "level3": N_("三级升级百分比"),
}
POLICY_TEXT: tuple[str, ...] = (
    *("code", "name", "name_en", "description", "conditions", "calendar_code"),
    *("notify_calendar_code", "position", "warn_percent", "level2", "level3"),
)


def milestone_label(code: str) -> str:
    return MILESTONES[code].name_en if i18n.current_locale() == "en" else MILESTONES[code].name


# ---- reading a policy form ------------------------------------------------------------------


def _int(value: str, field: str, low: int, high: int, label: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) < 10 and low <= int(value) <= high):
        raise InvalidInput(
            _("「%(label)s」必须是 %(low)d–%(high)d 的整数")
            % {"label": label, "low": low, "high": high},
            field=field,
        )
    return int(value)


def _conditions(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        line, col = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else (1, 1)
        raise InvalidInput(
            _("条件不是有效的 JSON（第 %(line)d 行第 %(col)d 列）") % {"line": line, "col": col},
            field="conditions",
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidInput(_("条件必须是 JSON 对象"), field="conditions")
    return parsed


def _targets(form: FormData, current: SlaPolicy | None) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for code in POLICY_MILESTONES:
        amount, unit = text(form, f"t_{code}"), text(form, f"u_{code}")
        if not amount:
            continue
        label = milestone_label(code)
        if unit == "working_days":
            target: dict[str, Any] = {"working_days": _int(amount, f"t_{code}", 1, 60, label)}
        elif unit == "hours":
            target = {"minutes": 60 * _int(amount, f"t_{code}", 1, MAX_MINUTES // 60, label)}
        elif unit == "minutes":
            target = {"minutes": _int(amount, f"t_{code}", 1, MAX_MINUTES, label)}
        else:
            raise InvalidInput(_("请选择时限单位"), field=f"u_{code}")
        until = ((current.targets if current else {}).get(code) or {}).get("until_stage")
        if until:
            target["until_stage"] = until  # set through the API; the form keeps it
        targets[code] = target
    if not targets:
        raise InvalidInput(_("至少需要一个时限目标"), field=f"t_{POLICY_MILESTONES[0]}")
    return targets


def policy_fields(form: FormData, current: SlaPolicy | None) -> dict[str, Any]:
    """The service's fields from the submitted form; a bad number names its field."""
    values = {k: text(form, k) for k in POLICY_TEXT}
    fields: dict[str, Any] = {
        "name": values["name"][:200],
        "name_en": values["name_en"][:128],
        "description": values["description"][:2000],
        "position": _int(values["position"], "position", 0, 1_000_000, _(FIELD_LABELS["position"])),
        "is_active": form.get("is_active") == "1",
        "stage_limits": form.get("stage_limits") == "1",
        "conditions": (
            editor.conditions_from_rows(form)
            if editor.uses_rows(form)  # the structured editor's rows (kesu/routing/editor.py)
            else _conditions(str(form.get("conditions") or "").strip())
        ),
        "targets": _targets(form, current),
        "calendar_code": values["calendar_code"][:64],
        "notify_calendar_code": values["notify_calendar_code"][:64],
        "warn_percent": _int(
            values["warn_percent"], "warn_percent", 1, 99, _(FIELD_LABELS["warn_percent"])
        ),
        "level_percents": [
            _int(values["level2"], "level2", 101, 1000, _(FIELD_LABELS["level2"])),
            _int(values["level3"], "level3", 101, 1000, _(FIELD_LABELS["level3"])),
        ],
    }
    if current is None:
        fields["code"] = values["code"]
    return fields


def policy_values(policy: SlaPolicy | None) -> dict[str, str]:
    """The form's values for a stored policy (or the defaults of a new one)."""
    if policy is None:
        return {
            "position": "100",
            "is_active": "1",
            "stage_limits": "1",
            "conditions": '{"all": []}',
            "calendar_code": "standard",
            "notify_calendar_code": "standard",
            "warn_percent": "80",
            "level2": "150",
            "level3": "200",
            "t_first_response": "60",
            "u_first_response": "minutes",
        }
    values = {
        "code": policy.code,
        "name": policy.name,
        "name_en": policy.name_en,
        "description": policy.description,
        "position": str(policy.position),
        "is_active": "1" if policy.is_active else "",
        "stage_limits": "1" if policy.stage_limits else "",
        "conditions": json.dumps(policy.conditions or {}, ensure_ascii=False, indent=2),
        "calendar_code": policy.calendar_code,
        "notify_calendar_code": policy.notify_calendar_code,
        "warn_percent": str(policy.warn_percent),
        "level2": str(policy.level_percents[0]),
        "level3": str(policy.level_percents[1]),
        "version": str(policy.version),
    }
    for code, target in (policy.targets or {}).items():
        if "working_days" in target:
            values[f"t_{code}"], values[f"u_{code}"] = str(target["working_days"]), "working_days"
        elif target.get("minutes", 0) % 60 == 0:
            values[f"t_{code}"], values[f"u_{code}"] = str(target["minutes"] // 60), "hours"
        else:
            values[f"t_{code}"], values[f"u_{code}"] = str(target.get("minutes", "")), "minutes"
    return values


def form_values(form: FormData) -> dict[str, str]:
    """What the admin typed, to show it again beside the error."""
    keys = [*POLICY_TEXT, "is_active", "stage_limits", "version"]
    keys += [f"{p}_{code}" for code in POLICY_MILESTONES for p in ("t", "u")]
    values = {k: text(form, k) for k in keys}
    values["conditions"] = str(form.get("conditions") or "")
    values["editor"] = "rows" if editor.uses_rows(form) else "json"
    if editor.uses_rows(form):  # shown again as the rows that were sent
        values["conditions"] = json.dumps(
            editor.conditions_from_rows(form), ensure_ascii=False, indent=1
        )
    return values


# ---- what a target means, starting now -------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    label: str
    ends_at: datetime


def target_end(cal: BusinessCalendar, start: datetime, target: dict[str, Any]) -> datetime:
    if "working_days" in target:
        return cal.add_working_days(start, int(target["working_days"]))
    return cal.add_business_time(start, timedelta(minutes=int(target.get("minutes", 0))))


def target_text(target: dict[str, Any]) -> str:
    if "working_days" in target:
        return _("%(n)d 个工作日") % {"n": target["working_days"]}
    minutes = int(target.get("minutes", 0))
    if minutes % 60 == 0:
        return _("%(n)d 小时") % {"n": minutes // 60}
    return _("%(n)d 分钟") % {"n": minutes}


def policy_effects(session: Session, policy: SlaPolicy, now: datetime) -> list[Effect]:
    cal = _calendar_value(session, policy.calendar_code)
    return [
        Effect(f"{milestone_label(code)} · {target_text(target)}", target_end(cal, now, target))
        for code, target in (policy.targets or {}).items()
        if code in MILESTONES
    ]


def calendar_effects(cal: BusinessCalendar, now: datetime) -> list[Effect]:
    samples = ({"minutes": 240}, {"minutes": 48 * 60}, {"working_days": 3})
    return [
        Effect(
            _("从现在起 %(target)s 的时限") % {"target": target_text(t)}, target_end(cal, now, t)
        )
        for t in samples
    ]


def _calendar_value(session: Session, code: str) -> BusinessCalendar:
    row = session.scalar(select(SlaCalendar).where(SlaCalendar.code == code))
    try:
        return BusinessCalendar.from_config(row.config) if row else BusinessCalendar()
    except CalendarConfigError:
        return BusinessCalendar()


# ---- pages: policies -----------------------------------------------------------------------


def _calendars(session: Session) -> list[SlaCalendar]:
    return list(session.scalars(select(SlaCalendar).order_by(SlaCalendar.code)))


@router.get("/admin/sla")
def sla_page(request: Request, session: ReadSession, user: AdminR, clock: ClockDep) -> Response:
    policies = list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)))
    return render(
        request,
        "sla/policies.html",
        {
            "policies": policies,
            "calendars": _calendars(session),
            "milestone_label": milestone_label,
            "target_text": target_text,
        },
    )


def _policy_page(
    request: Request,
    session: Session,
    now: datetime,
    policy: SlaPolicy | None,
    values: dict[str, str],
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "sla/policy.html",
        {
            "policy": policy,
            "values": values,
            "error": error,
            "calendars": _calendars(session),
            "milestones": [(code, milestone_label(code)) for code in POLICY_MILESTONES],
            "units": UNITS,
            "effects": policy_effects(session, policy, now) if policy else [],
            "catalog": editor.catalog(session),
            "now": now,
        },
        status_code,
    )


@router.get("/admin/sla/policies/new")
def new_policy_page(
    request: Request, session: ReadSession, user: AdminR, clock: ClockDep
) -> Response:
    return _policy_page(request, session, clock.now(), None, policy_values(None))


@router.post("/admin/sla/policies")
def create_policy(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: AdminW
) -> Response:
    try:
        policy = admin.create_policy(session, clock, actor_for(user), policy_fields(form, None))
        session.commit()
    except KesuError as exc:
        session.rollback()
        values = form_values(form)
        return _policy_page(request, session, clock.now(), None, values, exc, exc.status_code)
    flash(request, _("已创建时限策略「%(name)s」") % {"name": policy.name})
    return redirect(f"/admin/sla/policies/{policy.id}")


@router.get("/admin/sla/policies/{policy_id}")
def policy_page(
    request: Request, policy_id: PolicyId, session: ReadSession, user: AdminR, clock: ClockDep
) -> Response:
    policy = admin.get_policy(session, policy_id)
    return _policy_page(request, session, clock.now(), policy, policy_values(policy))


@router.post("/admin/sla/policies/{policy_id}")
def update_policy(
    request: Request,
    policy_id: PolicyId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    policy = admin.get_policy(session, policy_id)
    try:
        seen = version(form)
        admin.update_policy(
            session, clock, actor_for(user), policy, seen, policy_fields(form, policy)
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        policy = admin.get_policy(session, policy_id)
        values = {**form_values(form), "code": policy.code, "version": str(policy.version)}
        return _policy_page(request, session, clock.now(), policy, values, exc, exc.status_code)
    flash(request, _("已保存时限策略「%(name)s」") % {"name": policy.name})
    return redirect(f"/admin/sla/policies/{policy.id}")


@router.post("/admin/sla/policies/{policy_id}/active")
def toggle_policy(
    request: Request,
    policy_id: PolicyId,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    policy = admin.get_policy(session, policy_id)
    try:
        active = text(form, "active") == "1"
        admin.update_policy(
            session, clock, actor_for(user), policy, version(form), {"is_active": active}
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        flash(request, exc.message, "error")
        return redirect("/admin/sla")
    message = _("已启用时限策略「%(name)s」") if active else _("已停用时限策略「%(name)s」")
    flash(request, message % {"name": policy.name})
    return redirect("/admin/sla")


# ---- pages: calendars ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatutoryDay:
    day: date
    name: str
    is_holiday: bool


def _holiday_name(english: str) -> str:
    if i18n.current_locale() == "en":
        return english
    found = next((h for h in chinese_calendar.Holiday if h.value == english), None)
    return str(getattr(found, "chinese", english)) if found else english


def statutory_days(year: int) -> list[StatutoryDay]:
    """The statutory holidays and 调休 working days of ``year`` known to chinese_calendar."""
    days = [
        StatutoryDay(d, _holiday_name(str(name)), True)
        for d, name in chinese_calendar.holidays.items()
        if d.year == year
    ]
    days += [
        StatutoryDay(d, _holiday_name(str(name)), False)
        for d, name in chinese_calendar.workdays.items()
        if d.year == year
    ]
    return sorted(days, key=lambda s: s.day)


def _calendar_page(
    request: Request,
    session: Session,
    row: SlaCalendar,
    now: datetime,
    error: KesuError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    cal = _calendar_value(session, row.code)
    config = cal.to_config()
    extra = [(d, "holiday") for d in config["holidays"]] + [
        (d, "workday") for d in config["workdays"]
    ]
    years = [now.year, now.year + 1]
    return render(
        request,
        "sla/calendar.html",
        {
            "row": row,
            "cal": cal,
            "hours": [
                (_(WEEKDAY_LABELS[name]), config["hours"].get(name, [])) for name in WEEKDAYS
            ],
            "workday_hours": config["workday_hours"],
            "extra": sorted(extra),
            "notes": row.day_notes or {},
            "statutory": [(y, statutory_days(y)) for y in years],
            "effects": calendar_effects(cal, now),
            "now": now,
            "error": error,
            "values": values or {"kind": "holiday"},
        },
        status_code,
    )


@router.get("/admin/sla/calendars/{code}")
def calendar_page(
    request: Request, code: CalendarCode, session: ReadSession, user: AdminR, clock: ClockDep
) -> Response:
    return _calendar_page(request, session, admin.get_calendar(session, code), clock.now())


@router.post("/admin/sla/calendars/{code}/days")
def add_day(
    request: Request,
    code: CalendarCode,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    values = {"day": text(form, "day", 32), "kind": text(form, "kind"), "note": text(form, "note")}
    row = admin.get_calendar(session, code)
    try:
        day = admin.add_calendar_day(
            session, clock, actor_for(user), row, values["day"], values["kind"], values["note"]
        )
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = admin.get_calendar(session, code)
        return _calendar_page(request, session, row, clock.now(), exc, values, exc.status_code)
    message = (
        _("已将 %(day)s 设为节假日")
        if values["kind"] == "holiday"
        else _("已将 %(day)s 设为工作日")
    )
    flash(request, message % {"day": day.isoformat()})
    return redirect(f"/admin/sla/calendars/{code}")


@router.post("/admin/sla/calendars/{code}/days/remove")
def remove_day(
    request: Request,
    code: CalendarCode,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: AdminW,
) -> Response:
    row = admin.get_calendar(session, code)
    day = text(form, "day", 32)
    try:
        admin.remove_calendar_day(session, clock, actor_for(user), row, day)
        session.commit()
    except KesuError as exc:
        session.rollback()
        row = admin.get_calendar(session, code)
        return _calendar_page(request, session, row, clock.now(), exc, None, exc.status_code)
    flash(request, _("已移除 %(day)s 的额外设置") % {"day": day})
    return redirect(f"/admin/sla/calendars/{code}")
