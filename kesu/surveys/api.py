"""JSON routes: the public survey (by token, no login) and the staff's view of a complaint's
surveys (with the link, and a resend)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from kesu.accounts.models import User
from kesu.accounts.permissions import PUBLIC, Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.accounts.service import Actor
from kesu.complaints.access import get_complaint_for_user
from kesu.errors import NotFound
from kesu.privacy.masking import mask_text
from kesu.privacy.service import sees_contact
from kesu.surveys import service
from kesu.surveys.models import Survey
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW
from kesu.web.errors import ErrorBody
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef, Id, Token
from kesu.web.ratelimit import rate_limit

router = APIRouter(tags=["surveys"])
GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorBody, "description": "The survey expired or was closed."}
}

QUESTIONS = (
    ("timeliness", N_("处理时效"), N_("我们处理您的投诉是否及时？"), 1, 5),
    ("solution", N_("方案合理性"), N_("处理方案是否合理？"), 1, 5),
    ("attitude", N_("服务态度"), N_("客服的服务态度如何？"), 1, 5),
    ("nps", N_("推荐意愿"), N_("您有多大可能向亲友推荐我们？"), 0, 10),
)


class Answer(BaseModel):
    """The customer's answer: three 1–5 scores, an NPS 0–10 and an optional comment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    timeliness: int = Field(ge=1, le=5, strict=True)
    solution: int = Field(ge=1, le=5, strict=True)
    attitude: int = Field(ge=1, le=5, strict=True)
    nps: int = Field(ge=0, le=10, strict=True)
    comment: str = Field(default="", max_length=service.MAX_COMMENT)


class Question(BaseModel):
    code: str
    label: str
    text: str
    min: int | None = None
    max: int | None = None
    kind: str = "score"  # score | text


class PublicSurvey(BaseModel):
    number: str
    status: str  # open | answered | expired | closed
    expires_at: datetime
    answered_at: datetime | None
    questions: list[Question]


class Answered(BaseModel):
    status: str
    outcome: str  # good | low
    detail: str


class SurveyOut(BaseModel):
    id: int
    status: str
    sent_at: datetime | None
    answered_at: datetime | None
    scores: dict[str, int | None]
    nps: int | None
    comment: str | None
    url: str


class Resent(BaseModel):
    queued: bool


class PointsOut(BaseModel):
    agent_id: int
    username: str
    answered: int
    good: int
    points: int
    average: float | None


def questions() -> list[Question]:
    out = [
        Question(code=c, label=_(label), text=_(text), min=lo, max=hi)
        for c, label, text, lo, hi in QUESTIONS
    ]
    out.append(
        Question(code="comment", label=_("其他意见"), text=_("还有什么想告诉我们的？"), kind="text")
    )
    return out


def public_status(survey: Survey, now: datetime) -> str:
    if survey.status == "answered":
        return "answered"
    if survey.status == "cancelled":
        return "closed"
    return "open" if service.is_open(survey, now) else "expired"


@router.get(
    "/api/v1/public/surveys/{token}",
    dependencies=[PUBLIC, rate_limit("lookup", "rate_limit_lookup")],
    response_model=PublicSurvey,
)
def get_survey(token: Token, session: ReadSession, clock: ClockDep) -> dict[str, Any]:
    """The survey behind a customer's link: its questions (in the request's language), the
    complaint's number and whether it is still open."""
    survey = service.by_token(session, token)
    return {
        "number": survey.complaint.number,
        "status": public_status(survey, clock.now()),
        "expires_at": survey.expires_at,
        "answered_at": survey.answered_at,
        "questions": questions(),
    }


@router.post(
    "/api/v1/public/surveys/{token}",
    dependencies=[PUBLIC, rate_limit("public")],
    status_code=status.HTTP_201_CREATED,
    response_model=Answered,
    responses=GONE,
)
def post_answer(token: Token, body: Answer, db: DatabaseDep, clock: ClockDep) -> dict[str, Any]:
    """Answers the survey once: 409 when it was already answered, 410 when it expired or
    the complaint is being handled again. A score below 3 reopens the complaint."""
    with db.session() as session:
        survey = service.by_token(session, token)
        service.answer(session, clock, survey, body.model_dump())
        return {"status": survey.status, "outcome": survey.outcome, "detail": thanks(survey)}


def thanks(survey: Survey) -> str:
    if survey.outcome == "low":
        return _("感谢您的评价。很抱歉没有让您满意，我们已安排专人重新处理您的投诉。")
    return _("感谢您的评价！")


@router.get(
    "/api/v1/complaints/{ref}/surveys",
    dependencies=[Needs(Permission.complaint_read)],
    response_model=list[SurveyOut],
)
def list_surveys(ref: ComplaintRef, session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    """The complaint's surveys, one per resolution, oldest first, with the answer and the
    customer's link (``url``, for staff who must resend it)."""
    complaint = get_complaint_for_user(session, user, ref)
    rows = [service.as_dict(session, s) for s in service.of_complaint(session, complaint)]
    if not sees_contact(user):  # auditors, finance: contact details in the comment masked
        for row in rows:
            row["comment"] = mask_text(row["comment"]) if row["comment"] else None
    return rows


@router.post(
    "/api/v1/complaints/{ref}/surveys/{survey_id}/resend",
    dependencies=[NeedsW(Permission.complaint_handle)],
    response_model=Resent,
    responses=GONE,
)
def resend_survey(
    ref: ComplaintRef, survey_id: Id, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Queues the survey message to the customer again (an open survey only: 409/410)."""
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref, Permission.complaint_handle)
        survey = session.get(Survey, survey_id)
        if survey is None or survey.complaint_id != complaint.id:
            raise NotFound(_("没有这份评价：%(id)s") % {"id": survey_id}, field="survey_id")
        return {"queued": service.resend(session, clock, Actor.of(user), survey)}


@router.get(
    "/api/v1/surveys/points",
    dependencies=[Needs(Permission.complaint_assign)],
    response_model=list[PointsOut],
)
def survey_points(
    session: ReadSession,
    user: UserR,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> list[dict[str, Any]]:
    """For reports: each handling agent's rated surveys over the last ``days`` (answered,
    good, points credited, mean of the three scores), most points first."""
    since = clock.now() - timedelta(days=days)
    rows = service.points_by_agent(session, since=since)
    ids = [r.agent_id for r in rows]
    names: dict[int, str] = {}
    for uid, name in session.execute(select(User.id, User.username).where(User.id.in_(ids))):
        names[int(uid)] = str(name)
    return [{**asdict(r), "username": names.get(r.agent_id, "")} for r in rows]
