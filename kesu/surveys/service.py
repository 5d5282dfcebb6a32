"""The satisfaction survey: scheduled when a complaint enters 满意度评价, sent by the worker,
answered once by the customer, and what the answer does.

- ``on_event`` (subscribed in kesu/wiring.py, inside the change's transaction, no I/O): a
  ``stage_changed`` into the first stage of category ``resolved`` schedules a survey (one per
  resolution: ``round`` = 1, 2 …); leaving that stage any other way (by hand, reopened)
  cancels an open survey and disarms a pending archive, so nothing later acts on a moved
  complaint.
- ``run_due`` (the worker): claims due ``next_at`` timers with the compare-and-set the SLA
  clocks use (``UPDATE … SET next_at = NULL WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
  RETURNING``) and sends (through notify's customer messages and the outbox), expires
  (→ 案例归档 with ``unrated``) or archives after a good answer.
- ``answer``: the customer's scores; any of the three 1–5 scores below 3 reopens the complaint
  (二次处理) and notifies the team lead; otherwise the handling agent is credited and the
  complaint archived (at once or after the admin's delay).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.roles import Role
from kesu.accounts.service import SYSTEM, Actor
from kesu.clock import Clock
from kesu.complaints import lifecycle, timeline
from kesu.complaints.enums import StageCategory
from kesu.complaints.models import Complaint, ComplaintEvent, Stage
from kesu.config import get_settings
from kesu.errors import Conflict, InvalidInput, KesuError, NotFound
from kesu.notify import customer as customer_notify
from kesu.notify import customer_texts
from kesu.notify.service import Notice, notify
from kesu.surveys.models import OPEN, Survey, SurveySetting
from kesu.taxonomy.service import active_stages
from kesu.web import public_url
from kesu.web.i18n import gettext as _

DEFAULT_DELAY_MINUTES = 24 * 60
DEFAULT_VALIDITY_DAYS = 7
DEFAULT_ARCHIVE_DELAY_MINUTES = 0
LOW = 3  # a score below this reopens the complaint
SCORES = ("timeliness", "solution", "attitude")
MAX_COMMENT = 2000


class Gone(KesuError):
    """410: the survey link expired or was closed."""

    status_code = 410
    code = "gone"


# ---- settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    delay_minutes: int
    validity_days: int
    archive_delay_minutes: int


def policy(session: Session, channel: str) -> Policy:
    """The settings in force for ``channel``: its row, else the ``*`` row, else the defaults;
    ``KESU_SURVEY_DELAY_MINUTES`` overrides the delay."""
    rows = {
        r.channel: r
        for r in session.scalars(
            select(SurveySetting).where(SurveySetting.channel.in_((channel, "*")))
        )
    }

    def pick(name: str, fallback: int) -> int:
        for key in (channel, "*"):
            row = rows.get(key)
            value = getattr(row, name) if row is not None else None
            if value is not None:
                return int(value)
        return fallback

    delay = pick("delay_minutes", DEFAULT_DELAY_MINUTES)
    override = get_settings().survey_delay_minutes
    if override is not None:
        delay = override
    return Policy(
        delay,
        pick("validity_days", DEFAULT_VALIDITY_DAYS),
        pick("archive_delay_minutes", DEFAULT_ARCHIVE_DELAY_MINUTES),
    )


def save_setting(
    session: Session,
    clock: Clock,
    actor: Actor,
    channel: str,
    delay_minutes: int | None,
    validity_days: int | None,
    archive_delay_minutes: int | None,
) -> SurveySetting:
    """Sets (or clears, with None) the channel's survey settings; audited."""
    for name, value, top in (
        ("delay_minutes", delay_minutes, 525600),
        ("validity_days", validity_days, 365),
        ("archive_delay_minutes", archive_delay_minutes, 525600),
    ):
        if value is not None and not (0 <= value <= top):
            raise InvalidInput(
                _("%(name)s 必须在 0 到 %(max)d 之间") % {"name": name, "max": top}, field=name
            )
    if validity_days == 0:
        raise InvalidInput(_("有效期至少 1 天"), field="validity_days")
    row = session.get(SurveySetting, channel)
    before = (
        None if row is None else [row.delay_minutes, row.validity_days, row.archive_delay_minutes]
    )
    if row is None:
        row = SurveySetting(channel=channel)
        session.add(row)
    row.delay_minutes = delay_minutes
    row.validity_days = validity_days
    row.archive_delay_minutes = archive_delay_minutes
    row.updated_at = clock.now()
    row.updated_by = actor.label[:128]
    record_audit(
        session,
        clock,
        actor,
        "survey.settings",
        "survey_settings",
        channel,
        {"before": before, "after": [delay_minutes, validity_days, archive_delay_minutes]},
    )
    return row


# ---- the listener -----------------------------------------------------------------------


def rating_stage(session: Session) -> Stage | None:
    """满意度评价: the first active stage of category ``resolved``."""
    return next((s for s in active_stages(session) if s.category == StageCategory.resolved), None)


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    if event.kind not in ("stage_changed", "reopened"):
        return
    rating = rating_stage(session)
    if rating is None:
        return
    data = event.data or {}
    if event.kind == "stage_changed" and data.get("to") == rating.code:
        schedule(session, clock, complaint)
    elif data.get("from") == rating.code:
        _disarm(session, complaint)


def schedule(session: Session, clock: Clock, complaint: Complaint) -> Survey:
    """A new survey for this resolution (the earlier ones stay on record)."""
    if complaint.id is None:
        session.flush()
    _disarm(session, complaint)
    rounds = session.scalar(
        select(func.coalesce(func.max(Survey.round), 0)).where(Survey.complaint_id == complaint.id)
    )
    rule = policy(session, complaint.channel)
    now = clock.now()
    send_at = now + timedelta(minutes=rule.delay_minutes)
    survey = Survey(
        complaint_id=complaint.id,
        round=int(rounds or 0) + 1,
        token=secrets.token_urlsafe(24),
        status="scheduled",
        locale=customer_texts.locale_of(complaint.locale),
        agent_id=complaint.assignee_id,
        created_at=now,
        send_at=send_at,
        expires_at=send_at + timedelta(days=rule.validity_days),
        next_at=send_at,
        sent_at=None,
        sends=0,
        channel="",
        comment="",
        points=0,
        outcome="",
    )
    session.add(survey)
    session.flush()
    return survey


def _disarm(session: Session, complaint: Complaint) -> None:
    """The complaint left 满意度评价: open surveys are cancelled, pending archives dropped."""
    if complaint.id is None:
        return
    session.execute(
        update(Survey)
        .where(Survey.complaint_id == complaint.id, Survey.status.in_(OPEN))
        .values(status="cancelled", next_at=None)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(Survey)
        .where(Survey.complaint_id == complaint.id, Survey.next_at.is_not(None))
        .values(next_at=None)
        .execution_options(synchronize_session="fetch")
    )


# ---- links ------------------------------------------------------------------------------


def link(session: Session, survey: Survey) -> str:
    return f"{public_url.base_url(session).rstrip('/')}/s/{survey.token}"


def by_token(session: Session, token: str) -> Survey:
    survey = (
        session.scalar(select(Survey).where(Survey.token == token))
        if 0 < len(token) <= 64
        else None
    )
    if survey is None:
        raise NotFound(_("没有找到这份评价，请检查链接是否完整。"), field="token")
    return survey


def is_open(survey: Survey, now: datetime) -> bool:
    return survey.status in OPEN and now < survey.expires_at


def open_survey(session: Session, complaint: Complaint, now: datetime) -> Survey | None:
    """The survey the customer may answer now (for the tracking page), if any."""
    survey = session.scalar(
        select(Survey)
        .where(Survey.complaint_id == complaint.id, Survey.status.in_(OPEN))
        .order_by(Survey.round.desc())
        .limit(1)
    )
    return survey if survey is not None and is_open(survey, now) else None


def check_open(survey: Survey, now: datetime) -> None:
    """409 when already answered, 410 when expired or closed, each in words."""
    if survey.status == "answered":
        raise Conflict(_("这份评价已经提交过了，感谢您的反馈。"), code="survey_answered")
    if survey.status == "expired" or (survey.status in OPEN and now >= survey.expires_at):
        raise Gone(_("这份评价的链接已过期，无法再提交。"), code="survey_expired")
    if survey.status == "cancelled":
        raise Gone(_("这份评价已关闭：投诉已在继续处理中。"), code="survey_closed")


# ---- sending ----------------------------------------------------------------------------


def send(session: Session, clock: Clock, survey: Survey) -> bool:
    """Queues the customer's survey message (first send or a resend); False: nobody to reach
    (or opted out); the survey stays open on the tracking page either way."""
    complaint = survey.complaint
    now = clock.now()
    if survey.status == "scheduled":
        rule = policy(session, complaint.channel)
        survey.status = "sent"
        survey.sent_at = now
        survey.expires_at = now + timedelta(days=rule.validity_days)
        survey.next_at = survey.expires_at
    survey.sends += 1
    customer = complaint.customer
    if customer.anonymized_at is not None or customer.notify_opt_out_at is not None:
        return False
    target = customer_notify.route(session, complaint)
    expires = _local(survey.expires_at)
    queued = customer_notify.enqueue(
        session,
        clock,
        complaint,
        "survey",
        {"survey_link": link(session, survey), "expires": expires},
        f"cust:{complaint.id}:survey{survey.id}:{survey.sends}",
    )
    if queued and target is not None:
        survey.channel = target.channel
    return queued


def _local(at: datetime) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def resend(session: Session, clock: Clock, actor: Actor, survey: Survey) -> bool:
    check_open(survey, clock.now())
    queued = send(session, clock, survey)
    record_audit(
        session,
        clock,
        actor,
        "survey.resend",
        "survey",
        str(survey.id),
        {"complaint": survey.complaint.number, "queued": queued},
    )
    return queued


# ---- the worker -------------------------------------------------------------------------


def claim_due(session: Session, now: datetime, limit: int) -> list[int]:
    table = cast(Table, Survey.__table__)
    due = select(table.c.id).where(table.c.next_at <= now).order_by(table.c.next_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()), table.c.next_at <= now)
        .values(next_at=None)
        .returning(table.c.id)
    )
    return [row.id for row in session.execute(stmt)]


def run_due(session: Session, clock: Clock, limit: int = 200) -> int:
    """One batch of due survey timers (send, expire, archive); returns how many acted."""
    now = clock.now()
    ids = claim_due(session, now, limit)
    done = 0
    for survey_id in ids:
        survey = session.get(Survey, survey_id)
        if survey is None:
            continue
        try:
            with session.begin_nested():
                if act(session, clock, survey, now):
                    done += 1
        except KesuError:  # e.g. the stages were reconfigured: leave the complaint alone
            continue
    return done


def _at_rating(session: Session, survey: Survey) -> bool:
    rating = rating_stage(session)
    return rating is not None and survey.complaint.stage == rating.code


def act(session: Session, clock: Clock, survey: Survey, now: datetime) -> bool:
    """What a due survey timer does: send, expire (unrated, archive) or archive."""
    if not _at_rating(session, survey):  # moved by hand meanwhile: act on nothing
        if survey.status in OPEN:
            survey.status = "cancelled"
        return False
    if survey.status in OPEN and now >= survey.expires_at:
        survey.status = "expired"
        survey.outcome = "unrated"
        complaint = survey.complaint
        timeline.record(
            session,
            clock,
            SYSTEM,
            complaint,
            "survey_unrated",
            body="满意度评价未在有效期内提交：unrated",
            data={"survey": survey.id, "round": survey.round, "outcome": "unrated"},
            audit={"survey": survey.id, "outcome": "unrated"},
        )
        _archive(session, clock, complaint)
        return True
    if survey.status == "scheduled":
        send(session, clock, survey)
        timeline.record(
            session,
            clock,
            SYSTEM,
            survey.complaint,
            "survey_sent",
            body="满意度评价已发送",
            data={"survey": survey.id, "round": survey.round, "channel": survey.channel},
        )
        return True
    if survey.status == "answered" and survey.outcome == "good":
        _archive(session, clock, survey.complaint)
        return True
    return False


def _archive(session: Session, clock: Clock, complaint: Complaint) -> None:
    rating = rating_stage(session)
    if rating is None:
        return
    following = lifecycle.next_stage(active_stages(session), rating.code)
    if following is None:
        return
    lifecycle.transition(session, clock, SYSTEM, complaint, following.code, None, {})


# ---- the answer -------------------------------------------------------------------------


def _score(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            _("%(name)s 必须是 %(low)d 到 %(high)d 的整数")
            % {"name": name, "low": low, "high": high},
            field=name,
        )
    return value


def points_for(scores: dict[str, int], nps: int) -> int:
    """What a good answer credits the handling agent: 1 per score point above 3 (0–6), and
    1 more for a promoter (NPS 9–10)."""
    return sum(max(0, s - LOW) for s in scores.values()) + (1 if nps >= 9 else 0)


def answer(session: Session, clock: Clock, survey: Survey, data: dict[str, Any]) -> Survey:
    """The customer's one answer (validated: 1–5 each, NPS 0–10, a comment up to 2000)."""
    now = clock.now()
    check_open(survey, now)
    scores = {name: _score(data, name, 1, 5) for name in SCORES}
    nps = _score(data, "nps", 0, 10)
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        raise InvalidInput(_("意见必须是文字"), field="comment")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(_("意见太长（最多 2000 字）"), field="comment")
    complaint = survey.complaint
    survey.status = "answered"
    survey.answered_at = now
    survey.next_at = None
    survey.timeliness, survey.solution, survey.attitude = (scores[n] for n in SCORES)
    survey.nps, survey.comment = nps, comment
    low = [n for n in SCORES if scores[n] < LOW]
    survey.outcome = "low" if low else "good"
    survey.points = 0 if low else points_for(scores, nps)
    customer = Actor("customer", None, complaint.customer.name)
    summary = " ".join(f"{n}={scores[n]}" for n in SCORES) + f" nps={nps}"
    timeline.record(
        session,
        clock,
        customer,
        complaint,
        "survey_answered",
        public=True,
        body=f"满意度评价：{summary}" + (f"：{comment}" if comment else ""),
        data={
            "survey": survey.id,
            "round": survey.round,
            "scores": scores,
            "nps": nps,
            "comment": comment,
            "outcome": survey.outcome,
            "points": survey.points,
        },
        audit={"survey": survey.id, "scores": scores, "nps": nps},
    )
    if not _at_rating(session, survey):
        return survey  # recorded; the complaint already moved on
    if low:
        lifecycle.reopen(
            session,
            clock,
            SYSTEM,
            complaint,
            f"满意度评价低分（{summary}）" + (f"：{comment}" if comment else ""),
            complaint.version,
        )
        _tell_leads(session, clock, survey, summary)
    else:
        delay = policy(session, complaint.channel).archive_delay_minutes
        if delay <= 0:
            _archive(session, clock, complaint)
        else:
            survey.next_at = now + timedelta(minutes=delay)
    return survey


def leads_of(session: Session, complaint: Complaint) -> list[User]:
    """The complaint's team leads (its team, else its agent's), else the managers."""
    team_id = complaint.team_id
    if team_id is None and complaint.assignee is not None:
        team_id = complaint.assignee.team_id
    people: list[User] = []
    if team_id is not None:
        people = list(
            session.scalars(
                select(User).where(
                    User.team_id == team_id, User.role == Role.team_lead, User.is_active
                )
            )
        )
    if not people:
        people = list(
            session.scalars(select(User).where(User.role == Role.manager, User.is_active))
        )
    return people


def _tell_leads(session: Session, clock: Clock, survey: Survey, summary: str) -> None:
    notice = Notice(
        event="survey_low",
        complaint=survey.complaint,
        key=f"survey_low:{survey.id}",
        extra={"scores": summary, "comment": survey.comment or "—"},
        urgent=True,
    )
    notify(session, clock, notice, leads_of(session, survey.complaint))


# ---- reads ------------------------------------------------------------------------------


def of_complaint(session: Session, complaint: Complaint) -> list[Survey]:
    return list(
        session.scalars(
            select(Survey).where(Survey.complaint_id == complaint.id).order_by(Survey.round)
        )
    )


def as_dict(session: Session, survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.id,
        "status": survey.status,
        "sent_at": survey.sent_at,
        "answered_at": survey.answered_at,
        "scores": {
            "timeliness": survey.timeliness,
            "solution": survey.solution,
            "attitude": survey.attitude,
        },
        "nps": survey.nps,
        "comment": survey.comment or None,
        "url": link(session, survey),
    }


@dataclass(frozen=True)
class AgentPoints:
    agent_id: int
    answered: int
    good: int
    points: int
    average: float | None  # the mean of the three scores over the answered surveys


def points_by_agent(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    agent_id: int | None = None,
) -> list[AgentPoints]:
    """For reports: each handling agent's answered surveys, good ones, points and mean score
    (answered in ``[since, until)``), most points first."""
    where = [Survey.status == "answered", Survey.agent_id.is_not(None)]
    if since is not None:
        where.append(Survey.answered_at >= since)
    if until is not None:
        where.append(Survey.answered_at < until)
    if agent_id is not None:
        where.append(Survey.agent_id == agent_id)
    mean = (Survey.timeliness + Survey.solution + Survey.attitude) / 3.0
    rows = session.execute(
        select(
            Survey.agent_id,
            func.count(),
            func.sum(case((Survey.outcome == "good", 1), else_=0)),
            func.sum(Survey.points),
            func.avg(mean),
        )
        .where(*where)
        .group_by(Survey.agent_id)
        .order_by(func.sum(Survey.points).desc(), Survey.agent_id)
    )
    return [
        AgentPoints(
            int(r[0]),
            int(r[1]),
            int(r[2] or 0),
            int(r[3] or 0),
            round(float(r[4]), 2) if r[4] is not None else None,
        )
        for r in rows
    ]


def points_of(session: Session, user_id: int) -> AgentPoints | None:
    """One user's survey points over all time (the profile pages)."""
    found = points_by_agent(session, agent_id=user_id)
    return found[0] if found else None
