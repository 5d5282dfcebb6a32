"""One complaint's contribution to the KPIs: its *fact* (docs/analytics.md defines each KPI).

A fact is a pure function of the complaint's current rows (the complaint, its customer's
region, its SLA clocks and alerts, its answered surveys, whether a later complaint repeats
it). Every KPI is a ratio of sums of these measures over the complaints *received* in the
period (a cohort by the local Asia/Shanghai day of ``received_at``), so the same function
serves the direct computation, the incremental rollups and ``kesu analytics rebuild``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.complaints.models import Complaint, Customer
from kesu.complaints.numbering import LOCAL_TZ
from kesu.sla.milestones import FIRST_RESPONSE, STAGE
from kesu.sla.models import SlaAlert, SlaClock
from kesu.surveys.models import Survey

# The dimensions of a fact; a missing value is stored as 0 / "" so unique keys work on both
# databases (NULLs are distinct in a PostgreSQL unique constraint).
DIMS: tuple[str, ...] = ("category_id", "channel", "region", "team_id", "handler_id", "product")
INT_DIMS = frozenset({"category_id", "team_id", "handler_id"})

# Handling-time histogram: bucket i holds handling times in (EDGES[i-1], EDGES[i]] hours; the
# last bucket is open (> 720 h).
EDGES_HOURS: tuple[int, ...] = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 720)
EDGES_MINUTES: tuple[int, ...] = tuple(h * 60 for h in EDGES_HOURS)
BUCKETS = len(EDGES_HOURS) + 1
HIST: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(BUCKETS))

COUNTS: tuple[str, ...] = (
    "complaints",  # received (merged ones left out)
    "response_due",  # first-response milestone decided: met, or breached
    "response_met",  # … met by its deadline
    "resolved",  # resolved_at set (now resolved or closed)
    "resolved_ever",  # resolved at least once (resolved now, or reopened since)
    "handling_minutes",  # Σ (resolved_at − received_at), calendar minutes, of the resolved
    "fcr",  # resolved, never reopened, no later complaint repeats it
    "reopened",  # reopen_count > 0
    "escalated",  # an escalation beyond the breach: level 2/3 or a rule's
    "sla_tracked",  # has an SLA clock (stage time limits aside)
    "breached",  # … and one of them breached
    "repeats",  # repeat_of_id set (kesu.complaints.repeats)
    "survey_answers",  # answered surveys (every round)
    "survey_score_sum",  # Σ timeliness + solution + attitude (1–5 each)
    "nps_answers",
    "nps_promoters",  # 9–10
    "nps_detractors",  # 0–6
)
MEASURES: tuple[str, ...] = COUNTS + HIST
INDEX = {name: i for i, name in enumerate(MEASURES)}
BATCH = 2000


@dataclass(frozen=True)
class Fact:
    complaint_id: int
    day: date
    dims: tuple[Any, ...]  # in DIMS order
    measures: tuple[int, ...]  # in MEASURES order

    def dim(self, name: str) -> Any:
        return self.dims[DIMS.index(name)]


def local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).date()


def local_start(day: date) -> datetime:
    """The UTC moment the local day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(UTC)


def bucket_of(minutes: int) -> int:
    return bisect_left(EDGES_MINUTES, minutes)


def compute(session: Session, complaint_ids: Iterable[int]) -> dict[int, Fact | None]:
    """The facts of these complaints now; None for a merged or missing complaint."""
    ids = sorted(set(complaint_ids))
    out: dict[int, Fact | None] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        out.update(_compute(session, chunk))
    return out


def _compute(session: Session, ids: Sequence[int]) -> dict[int, Fact | None]:
    out: dict[int, Fact | None] = dict.fromkeys(ids)
    rows = session.execute(
        select(
            Complaint.id,
            Complaint.received_at,
            Complaint.category_id,
            Complaint.channel,
            Customer.region,
            Complaint.team_id,
            Complaint.assignee_id,
            Complaint.product,
            Complaint.resolved_at,
            Complaint.reopen_count,
            Complaint.repeat_of_id,
            Complaint.merged_into_id,
        )
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(Complaint.id.in_(ids))
    ).all()
    if not rows:
        return out
    clocks: dict[int, list[Any]] = {}
    for clock in session.execute(
        select(
            SlaClock.complaint_id,
            SlaClock.milestone,
            SlaClock.cycle,
            SlaClock.status,
            SlaClock.met_at,
            SlaClock.due_at,
            SlaClock.breached,
        ).where(SlaClock.complaint_id.in_(ids), SlaClock.milestone != STAGE)
    ):
        clocks.setdefault(clock.complaint_id, []).append(clock)
    escalated = set(
        session.scalars(
            select(SlaAlert.complaint_id).where(
                SlaAlert.complaint_id.in_(ids),
                SlaAlert.level >= 1,
                SlaAlert.kind.not_like("breach:%"),
                SlaAlert.kind.not_like("warning:%"),
            )
        )
    )
    surveys: dict[int, list[Any]] = {}
    for survey in session.execute(
        select(
            Survey.complaint_id,
            Survey.timeliness,
            Survey.solution,
            Survey.attitude,
            Survey.nps,
        ).where(Survey.complaint_id.in_(ids), Survey.answered_at.is_not(None))
    ):
        surveys.setdefault(survey.complaint_id, []).append(survey)
    repeated = set(
        session.scalars(
            select(Complaint.repeat_of_id).where(
                Complaint.repeat_of_id.in_(ids), Complaint.merged_into_id.is_(None)
            )
        )
    )
    for row in rows:
        if row.merged_into_id is not None:
            continue
        out[row.id] = _fact(
            row,
            clocks.get(row.id, []),
            row.id in escalated,
            surveys.get(row.id, []),
            row.id in repeated,
        )
    return out


def _fact(row: Any, clocks: list[Any], escalated: bool, surveys: list[Any], repeated: bool) -> Fact:
    m = [0] * len(MEASURES)

    def put(name: str, value: int | bool) -> None:
        m[INDEX[name]] += int(value)

    put("complaints", 1)
    first = [c for c in clocks if c.milestone == FIRST_RESPONSE and c.cycle == 0]
    for clock in first[:1]:
        late = clock.breached or (
            clock.met_at is not None and clock.due_at is not None and clock.met_at > clock.due_at
        )
        if clock.status != "cancelled" and (clock.met_at is not None or late):
            put("response_due", 1)
            put("response_met", clock.met_at is not None and not late)
    live = [c for c in clocks if c.status != "cancelled" or c.breached]
    put("sla_tracked", bool(live))
    put("breached", any(c.breached for c in live))
    resolved = row.resolved_at is not None
    put("resolved", resolved)
    put("resolved_ever", resolved or row.reopen_count > 0)
    put("reopened", row.reopen_count > 0)
    if resolved:
        minutes = max(0, int((row.resolved_at - row.received_at).total_seconds() // 60))
        put("handling_minutes", minutes)
        put(HIST[bucket_of(minutes)], 1)
        put("fcr", row.reopen_count == 0 and not repeated)
    put("escalated", escalated)
    put("repeats", row.repeat_of_id is not None)
    for survey in surveys:
        scores = (survey.timeliness, survey.solution, survey.attitude)
        if all(s is not None for s in scores):
            put("survey_answers", 1)
            put("survey_score_sum", sum(scores))
        if survey.nps is not None:
            put("nps_answers", 1)
            put("nps_promoters", survey.nps >= 9)
            put("nps_detractors", survey.nps <= 6)
    dims = (
        row.category_id or 0,
        row.channel or "",
        (row.region or "")[:64],
        row.team_id or 0,
        row.assignee_id or 0,
        (row.product or "").strip()[:128],
    )
    return Fact(row.id, local_day(row.received_at), dims, tuple(m))
