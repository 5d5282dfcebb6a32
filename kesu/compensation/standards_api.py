"""JSON routes: the compensation standards (read by staff, published by admins) and the
recommendation for a complaint.

- ``GET /api/v1/compensation/standards`` (``?version=N`` an old one): the version, its rows
  (each with its rule in words), the principles, the method and amount-rule catalogs.
- ``GET /api/v1/compensation/standards/versions``: newest first.
- ``PUT /api/v1/compensation/standards`` (admin): the whole list of rows + ``base_version`` (the
  version edited); a new version, 201. Not current → 409 ``stale_version``; a bad row → 422
  naming it (``rules[2].amount_rule.cap``); nothing is written either way.
- ``GET /api/v1/complaints/{id}/compensation/recommendation`` (``?version=N``): out of scope
  → 404 ``not_found``; no row of the standard applies → 404 ``no_recommendation``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.compensation import standards
from kesu.compensation.methods import METHODS
from kesu.compensation.recommend import Recommendation, recommend
from kesu.complaints.access import get_complaint_for_user
from kesu.errors import NotFound
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef

router = APIRouter(tags=["compensation"])
API = "/api/v1/compensation/standards"
VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000)]
# A decimal string ("19.90"), an integer or a JSON number (read through its shortest text, which
# is exact for amounts of this size); checked and quantised by standards.money.
Money = (
    Annotated[str, Field(min_length=1, max_length=20)]
    | Annotated[int, Field(ge=-(10**12), le=10**12)]
    | Annotated[float, Field(allow_inf_nan=False)]
)

Reader = Annotated[User, Needs(Permission.complaint_read)]
AdminW = Annotated[User, NeedsW(Permission.admin)]


class AmountRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=32)
    amount: Money | None = None
    percent: Money | None = None
    min: Money | None = None
    max: Money | None = None
    cap: Money | None = None


class RuleIn(BaseModel):
    """A row; ``id``, ``position`` and ``words`` (as GET returns them) are accepted and ignored,
    so a client may send back what it read: the order of the list is the order of the rows."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    position: int | None = Field(default=None, ge=0, le=2**31 - 1)
    words: str | None = Field(default=None, max_length=2000)
    name: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=128)
    conditions: dict[str, Any] = Field(default_factory=dict)
    methods: list[Annotated[str, Field(max_length=32)]] = Field(min_length=1, max_length=6)
    amount_rule: AmountRuleIn


class StandardsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_version: int = Field(ge=1, le=1_000_000)
    note: str = Field(default="", max_length=2000)
    rules: list[RuleIn] = Field(min_length=1, max_length=standards.MAX_RULES)


class RuleOut(BaseModel):
    id: int
    position: int
    name: str
    name_en: str
    conditions: dict[str, Any]
    methods: list[str]
    amount_rule: dict[str, Any]
    words: str


class VersionOut(BaseModel):
    number: int
    created_at: str
    created_by: str
    note: str


class VersionListItem(VersionOut):
    rules: int
    current: bool


class Principle(BaseModel):
    code: str
    name: str
    text: str


class StandardsOut(BaseModel):
    version: VersionOut
    current: bool
    rules: list[RuleOut]
    principles: list[Principle]
    methods: dict[str, str]
    kinds: dict[str, str]


class RuleRef(BaseModel):
    id: int
    name: str


class ChoiceOut(BaseModel):
    method: str
    label: str
    amount: str
    amount_max: str | None


class RecommendationOut(BaseModel):
    method: str
    amount: str
    currency: str
    rule: RuleRef
    standard_version: int
    why: str
    choices: list[ChoiceOut]
    amount_max: str | None
    case_by_case: bool


def standards_out(session: ReadSession, version: Any) -> dict[str, Any]:
    latest = standards.current_version(session)
    return {
        "version": standards.version_to_json(version),
        "current": version.number == latest.number,
        "rules": [standards.rule_to_json(r) for r in standards.rules_of(session, version)],
        "principles": standards.principles(),
        "methods": {code: _(label) for code, label in METHODS.items()},
        "kinds": {code: _(label) for code, label in standards.KINDS.items()},
    }


def recommendation_out(rec: Recommendation) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return None if value is None else f"{value:.2f}"

    return {
        "method": rec.method,
        "amount": f"{rec.amount:.2f}",
        "currency": rec.currency,
        "rule": {"id": rec.rule_id, "name": rec.rule_name},
        "standard_version": rec.standard_version,
        "why": rec.why,
        "choices": [
            {
                "method": c.method,
                "label": standards.method_label(c.method),
                "amount": f"{c.amount:.2f}",
                "amount_max": text(c.amount_max),
            }
            for c in rec.choices
        ],
        "amount_max": text(rec.amount_max),
        "case_by_case": rec.case_by_case,
    }


@router.get(API, response_model=StandardsOut)
def get_standards(
    session: ReadSession, user: Reader, version: VersionQuery = None
) -> dict[str, Any]:
    chosen = (
        standards.get_version(session, version)
        if version is not None
        else standards.current_version(session)
    )
    return standards_out(session, chosen)


@router.get(API + "/versions", response_model=list[VersionListItem])
def list_versions(session: ReadSession, user: Reader) -> list[dict[str, Any]]:
    rows = standards.versions(session)
    latest = rows[0][0].number if rows else None
    return [
        {**standards.version_to_json(v), "rules": n, "current": v.number == latest} for v, n in rows
    ]


@router.put(API, response_model=StandardsOut, status_code=status.HTTP_201_CREATED)
def put_standards(
    body: StandardsIn, db: DatabaseDep, clock: ClockDep, user: AdminW
) -> dict[str, Any]:
    rules = standards.validate_rules(
        [r.model_dump(exclude_none=True, exclude={"id", "position", "words"}) for r in body.rules]
    )
    with db.session() as session:
        version = standards.publish(
            session, clock, actor_for(user), rules, base_version=body.base_version, note=body.note
        )
        session.commit()
        return standards_out(session, version)


@router.get(
    "/api/v1/complaints/{ref}/compensation/recommendation", response_model=RecommendationOut
)
def get_recommendation(
    ref: ComplaintRef, session: ReadSession, user: Reader, version: VersionQuery = None
) -> dict[str, Any]:
    complaint = get_complaint_for_user(session, user, ref)
    if version is not None:
        standards.get_version(session, version)  # 404 naming ``version`` when unknown
    rec = recommend(session, complaint, version=version)
    if rec is None:
        raise NotFound(_("赔付标准中没有适用于这个投诉的条目"), code="no_recommendation")
    return recommendation_out(rec)
