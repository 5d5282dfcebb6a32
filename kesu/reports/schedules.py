"""Report schedules: saved by admins, sent by the worker once per schedule and period.

``run_due`` (one line in ``Worker.run_once``): for each active schedule whose day has come,
the period is the last one that ended (a monthly schedule on day 3 sends November on
3 December or any later day of December; a quarterly one sends Q4 in January). The file is
rendered outside any write transaction; then one short transaction inserts the run row
(unique on schedule and period: a second worker, or a second pass, inserts nothing) and one
outbox email per recipient with the file attached, so sending is the outbox's at-least-once
delivery with a stable Message-ID.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.numbering import LOCAL_TZ
from kesu.db import Database
from kesu.errors import InvalidInput, NotFound
from kesu.notify.models import OutboxMessage
from kesu.reports import pdf, xlsx
from kesu.reports.models import ReportRecipient, ReportRun, ReportSchedule
from kesu.reports.periods import KINDS, Period, previous
from kesu.reports.service import Report, gather, in_locale
from kesu.web import i18n
from kesu.web.i18n import gettext as _

log = logging.getLogger("kesu.reports")
FORMATS = ("pdf", "xlsx")
MAX_RECIPIENTS = 20
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EVENT = "report.scheduled"


@dataclass(frozen=True)
class ScheduleIn:
    name: str
    kind: str
    day: int
    format: str
    locale: str
    recipients: tuple[str, ...]
    team_id: int | None = None


def checked_recipients(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Normalised addresses, in order, without repeats; a bad one is a 422 naming it."""
    from email_validator import EmailNotValidError, validate_email

    seen: dict[str, None] = {}
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        try:
            address = str(validate_email(text, check_deliverability=False).normalized)
        except EmailNotValidError:
            raise InvalidInput(
                _("收件人邮箱无效：%(email)s") % {"email": text[:100]}, field="recipients"
            ) from None
        seen.setdefault(address, None)
    if not seen:
        raise InvalidInput(_("请至少填写一位收件人"), field="recipients")
    if len(seen) > MAX_RECIPIENTS:
        raise InvalidInput(_("收件人最多 %(n)d 位") % {"n": MAX_RECIPIENTS}, field="recipients")
    return tuple(seen)


def _checked(session: Session, spec: ScheduleIn) -> ScheduleIn:
    name = spec.name.strip()
    if not name or len(name) > 128:
        raise InvalidInput(_("请填写名称（最多 128 字）"), field="name")
    if spec.kind not in KINDS:
        raise InvalidInput(_("报告类型只能是 monthly 或 quarterly"), field="kind")
    if not 1 <= spec.day <= 28:
        raise InvalidInput(_("发送日应在 1 到 28 之间"), field="day")
    if spec.format not in FORMATS:
        raise InvalidInput(_("格式只能是 pdf 或 xlsx"), field="format")
    locale = i18n.normalize(spec.locale)
    if locale is None:
        raise InvalidInput(_("语言只能是 zh_CN 或 en"), field="locale")
    if spec.team_id is not None and session.get(Team, spec.team_id) is None:
        raise InvalidInput(_("团队不存在"), field="team_id")
    return ScheduleIn(
        name,
        spec.kind,
        spec.day,
        spec.format,
        locale,
        checked_recipients(spec.recipients),
        spec.team_id,
    )


def create(session: Session, clock: Clock, actor: Actor, spec: ScheduleIn) -> ReportSchedule:
    spec = _checked(session, spec)
    now = clock.now()
    schedule = ReportSchedule(
        name=spec.name,
        kind=spec.kind,
        day=spec.day,
        format=spec.format,
        locale=spec.locale,
        team_id=spec.team_id,
        is_active=True,
        created_by=actor.label[:128],
        created_at=now,
        updated_at=now,
        recipients=[ReportRecipient(email=e) for e in spec.recipients],
    )
    session.add(schedule)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "report_schedule.create",
        "report_schedules",
        schedule.id,
        {"kind": spec.kind, "day": spec.day, "format": spec.format, "recipients": spec.recipients},
    )
    return schedule


def delete(session: Session, clock: Clock, actor: Actor, schedule_id: int) -> None:
    schedule = session.get(ReportSchedule, schedule_id)
    if schedule is None:
        raise NotFound(_("报告计划不存在"))
    record_audit(
        session,
        clock,
        actor,
        "report_schedule.delete",
        "report_schedules",
        schedule.id,
        {"name": schedule.name, "recipients": [r.email for r in schedule.recipients]},
    )
    session.delete(schedule)


def listed(session: Session) -> list[ReportSchedule]:
    return list(session.scalars(select(ReportSchedule).order_by(ReportSchedule.id)))


def last_runs(session: Session, ids: list[int]) -> dict[int, ReportRun]:
    runs: dict[int, ReportRun] = {}
    for run in session.scalars(
        select(ReportRun).where(ReportRun.schedule_id.in_(ids)).order_by(ReportRun.id)
    ):
        runs[run.schedule_id] = run
    return runs


def due_period(schedule: ReportSchedule, today: date) -> Period | None:
    """The period this schedule should have sent by ``today`` (local), or None before its day."""
    if today.day < schedule.day:
        return None
    period = previous(schedule.kind, today)
    # A quarterly report goes out in the month right after its quarter, not two months later.
    if schedule.kind == "quarterly" and (today.year, today.month) != (
        period.end.year,
        period.end.month,
    ):
        return None
    return period


def render(report: Report, fmt: str) -> bytes:
    return pdf.render(report) if fmt == "pdf" else xlsx.render(report)


def filename(report: Report, fmt: str) -> str:
    return f"{report.filename_stem}.{fmt}"


def run_due(db: Database, clock: Clock) -> int:
    """Sends every due, not yet sent schedule; returns how many runs were written."""
    now = clock.now()
    today = now.astimezone(LOCAL_TZ).date()
    with db.session(write=False) as session:
        schedules = [s for s in listed(session) if s.is_active]
        sent = {
            (r.schedule_id, r.period)
            for r in session.scalars(
                select(ReportRun).where(ReportRun.schedule_id.in_([s.id for s in schedules]))
            )
        }
        due = [
            (s.id, period)
            for s in schedules
            if (period := due_period(s, today)) is not None and (s.id, period.code) not in sent
        ]
    made = 0
    for schedule_id, period in due:
        try:
            made += _send(db, clock, schedule_id, period, now)
        except Exception:  # one broken schedule must not stop the others; next pass retries
            log.exception("report schedule %s, period %s failed", schedule_id, period.code)
    return made


def _send(db: Database, clock: Clock, schedule_id: int, period: Period, now: datetime) -> int:
    with db.session(write=False) as session:
        schedule = session.get(ReportSchedule, schedule_id)
        if schedule is None or not schedule.is_active:
            return 0
        report = gather(session, period, locale=schedule.locale, now=now, team_id=schedule.team_id)
        fmt, name = schedule.format, schedule.name
        recipients = [r.email for r in schedule.recipients]
    data = render(report, fmt)  # no transaction open while WeasyPrint works
    attachment = {
        "filename": filename(report, fmt),
        "content_type": CONTENT_TYPES[fmt],
        "content_b64": base64.b64encode(data).decode("ascii"),
    }
    with in_locale(report.locale):
        subject = f"{report.title} {period.code} · {name}"[:200]
        body = _(
            "您好，附件是 %(period)s 的%(title)s（%(scope)s）。此邮件由 kesu 按计划自动发送。"
        ) % {
            "period": period.code,
            "title": report.title,
            "scope": report.scope,
        }
    try:
        with db.session() as session:
            run = ReportRun(
                schedule_id=schedule_id,
                period=period.code,
                filename=attachment["filename"],
                size=len(data),
                emails=len(recipients),
                created_at=now,
            )
            session.add(run)
            session.flush()  # the unique (schedule, period) key: a second sender stops here
            for address in recipients:
                session.add(
                    OutboxMessage(
                        dedup_key=f"report:{run.id}:{address}"[:255],
                        channel="email",
                        recipient=address,
                        event=EVENT,
                        title=subject,
                        body=body,
                        data={"report_run": run.id, "attachments": [attachment]},
                        status="pending",
                        attempts=0,
                        available_at=now,
                        last_error="",
                        created_at=now,
                    )
                )
    except IntegrityError:
        return 0  # another worker sent this period first
    return 1
