"""Reading complaints: the filtered list with keyset pagination, the timeline, the output shape."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.complaints.access import scope_branches, scope_filter
from kesu.complaints.models import Complaint, ComplaintEvent, Customer, Stage
from kesu.errors import InvalidInput
from kesu.privacy.masking import mask_json
from kesu.privacy.masking import mask_phone as mask_phone  # the workbench masks with it
from kesu.privacy.service import contact_out, shown_text
from kesu.search.matching import newest_ids
from kesu.search.query import list_plan, search_condition
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import Category
from kesu.web.i18n import gettext as _

CURSOR_ID_MAX = 2**63 - 1  # complaint ids are 64-bit; the same bound for team and user ids


@dataclass
class ComplaintFilters:
    stage: str | None = None
    team: str | None = None
    assignee: str | None = None
    severity: str | None = None
    q: str | None = None
    overdue: bool | None = None
    open: bool | None = None
    channel: str | None = None
    customer_id: int | None = None
    # The team queue: the user's team, the unassigned pool and their own, whatever their role.
    team_queue: bool = False
    # Escalated: an alert of level 1 or more (a breach, level 2 or 3, or a risk escalation).
    escalated: bool = False
    # The dashboard's drill-down (kesu.analytics): a category with its descendants, the
    # received time in [received_from, received_to), the product line, the customer's region.
    category_id: int | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    product: str | None = None
    region: str | None = None


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _bad_cursor() -> InvalidInput:
    return InvalidInput(_("分页游标无效，请从第一页重新开始"), field="cursor")


def _decode_cursor(cursor: str) -> list[Any]:
    """The key values of a cursor, strictly: a JSON list of bounded ints (and, for the overdue
    order, a timezone-aware ISO datetime first); anything else is InvalidInput("cursor")."""

    def refuse(constant: str) -> Any:  # NaN, Infinity, 1e999 → inf
        raise ValueError(constant)

    try:
        if len(cursor) > 200:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        values = json.loads(raw, parse_constant=refuse, parse_float=refuse)
    except (ValueError, UnicodeError, binascii.Error):
        raise _bad_cursor() from None
    if not isinstance(values, list) or not 1 <= len(values) <= 2:
        raise _bad_cursor()
    return values


def _cursor_id(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= CURSOR_ID_MAX:
        raise _bad_cursor()
    return value


def _cursor_time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _bad_cursor()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_cursor() from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _bad_cursor()
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise _bad_cursor() from None


def list_complaints(
    session: Session,
    user: User,
    filters: ComplaintFilters,
    now: datetime,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Complaint], str | None]:
    """A page of complaints, newest first (or most overdue first), with an opaque next cursor.

    Keyset pagination: the cost of a page does not grow with the number of complaints.
    """
    by_due = bool(filters.overdue)
    order = (Complaint.due_at.asc(), Complaint.id.asc()) if by_due else (Complaint.id.desc(),)
    after = _after_cursor(_decode_cursor(cursor), by_due) if cursor else None
    branches = query_branches(session, user, filters)
    if filters.q and len(branches) > 1:
        plan = list_plan(session, filters.q, scope_filter(user))
        if plan.kind == "few":
            branches = [or_(*branches)]  # a few index look-ups: one pass over their rows
        elif plan.kind == "walk" and not by_due:
            below = _cursor_id(_decode_cursor(cursor)[0]) if cursor else None
            rows = _newest_matches(session, user, filters, plan.tokens, branches, now, below, limit)
            return _page(rows, limit, by_due)

    def page_of(columns: Any, branch: ColumnElement[bool]) -> Any:  # Select of any columns
        stmt = _apply_filters(session, columns, filters, now, user).where(branch)
        if after is not None:
            stmt = stmt.where(after)
        return stmt.order_by(*order).limit(limit + 1)

    if len(branches) == 1:
        rows = list(session.scalars(page_of(select(Complaint), branches[0])).unique())
    else:
        rows = _merged(
            session,
            [page_of(select(Complaint.id, Complaint.due_at), b) for b in branches],
            by_due,
            limit,
        )
    return _page(rows, limit, by_due)


def _page(rows: list[Complaint], limit: int, by_due: bool) -> tuple[list[Complaint], str | None]:
    """The first ``limit`` rows and the cursor after them (None: no more)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, _encode_cursor(
        [last.due_at.isoformat(), last.id] if by_due and last.due_at else [last.id]
    )


WALK_CHUNK = 2000  # matches read per step; a step checks them with the scope and filters
WALK_CHUNK_MAX = 16000  # the step grows while a scope finds few of them (bound parameters)


def _newest_matches(
    session: Session,
    user: User,
    filters: ComplaintFilters,
    tokens: tuple[str, ...],
    branches: list[ColumnElement[bool]],
    now: datetime,
    below: int | None,
    limit: int,
) -> list[Complaint]:
    """The first ``limit + 1`` complaints, newest first, below id ``below``, that match every
    one of the common ``tokens`` and are in one of ``branches`` with every other filter.

    Reads the matches newest first from the full-text index a chunk at a time and keeps those
    in scope (kesu.search.matching.walks_common says why); the cost is bounded by the
    matches read, and a step ends the walk as soon as the page is full."""
    others = replace(filters, q=None)
    scope = or_(*branches)
    rows: list[Complaint] = []
    size = WALK_CHUNK
    while len(rows) <= limit:
        ids = newest_ids(session, tokens, below, size)
        if not ids:
            break
        stmt = (
            _apply_filters(session, select(Complaint), others, now, user)
            .where(scope, Complaint.id.in_(ids))
            .order_by(Complaint.id.desc())
            .limit(limit + 1 - len(rows))
        )
        rows += list(session.scalars(stmt).unique())
        if len(ids) < size:
            break
        below = ids[-1]
        size = min(size * 2, WALK_CHUNK_MAX)
    return rows


def _merged(
    session: Session, pages: list[Select[Any]], by_due: bool, limit: int
) -> list[Complaint]:
    """The first ``limit + 1`` complaints of several branch queries, in list order.

    Each branch reads only ``(id, due_at)`` (from its index); the rows that make the page are
    then loaded in one statement, so an agent's three branches load 51 complaints, not 153.
    """
    keys: dict[int, tuple[Any, ...]] = {}
    for page in pages:
        for complaint_id, due_at in session.execute(page):
            keys[complaint_id] = (due_at, complaint_id) if by_due else (-complaint_id,)
    chosen = sorted(keys, key=keys.__getitem__)[: limit + 1]
    if not chosen:
        return []
    loaded = {
        c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(chosen))).unique()
    }
    return [loaded[i] for i in chosen if i in loaded]


def _after_cursor(values: list[Any], by_due: bool) -> ColumnElement[bool]:
    if by_due:
        if len(values) != 2:
            raise _bad_cursor()
        due, last_id = _cursor_time(values[0]), _cursor_id(values[1])
        return or_(
            Complaint.due_at > due,
            and_(Complaint.due_at == due, Complaint.id > last_id),
        )
    if len(values) != 1:
        raise _bad_cursor()
    return Complaint.id < _cursor_id(values[0])


def _ref_id(ref: str, field: str) -> int:
    """A team or user given by id: ASCII digits (not ``²``) within the id range."""
    if not (ref.isascii() and len(ref) <= 10 and int(ref) <= CURSOR_ID_MAX):
        raise InvalidInput(_("%(field)s 应为编号或代码") % {"field": field}, field=field)
    return int(ref)


class _NoOne:
    """The filter value "none": no team, or nobody assigned."""

    def __repr__(self) -> str:
        return "NO_ONE"


NO_ONE = _NoOne()
Ref = int | _NoOne | None  # an id, "none", or no filter


def _team_ref(session: Session, f: ComplaintFilters) -> Ref:
    if not f.team:
        return None
    if f.team == "none":
        return NO_ONE
    team_id = (
        _ref_id(f.team, "team")
        if f.team.isdigit()
        else session.scalar(select(Team.id).where(Team.code == f.team))
    )
    if team_id is None:
        raise InvalidInput(_("没有这个团队：%(team)s") % {"team": f.team}, field="team")
    return team_id


def _assignee_ref(session: Session, f: ComplaintFilters, user: User) -> Ref:
    ref = f.assignee
    if not ref:
        return None
    if ref == "none":
        return NO_ONE
    user_id = (
        user.id
        if ref == "me"
        else (
            _ref_id(ref, "assignee")
            if ref.isdigit()
            else session.scalar(select(User.id).where(User.username == ref))
        )
    )
    if user_id is None:
        raise InvalidInput(_("没有这个用户：%(user)s") % {"user": ref}, field="assignee")
    return user_id


def query_branches(
    session: Session, user: User, filters: ComplaintFilters
) -> list[ColumnElement[bool]]:
    """The scope branches a list runs one keyset query for, without those the filters' team
    and assignee leave empty or that another branch already covers.

    The scope of an agent (and any team queue) is three branches: the unassigned pool (no
    team), their own complaints and their team's. A filter on a team or an assignee makes
    some of them contradictory (``team_id IS NULL AND team_id = 3``) and some redundant;
    the database does not see that and walks the whole index of the branch looking for a
    row that cannot exist (issue 13: an agent's ``team=`` took 331 ms at 1,000,000). An
    empty list means nothing can match.
    """
    team, assignee = _team_ref(session, filters), _assignee_ref(session, filters, user)
    if assignee == user.id:
        return [true()]  # one's own complaints are always in scope
    branches = scope_branches(user, filters.team_queue)
    if len(branches) == 1:
        return branches  # everything in scope: the filters alone decide
    my_team = user.team_id
    narrowed: list[ColumnElement[bool]] = []
    if team is None or team is NO_ONE:
        narrowed.append(Complaint.team_id.is_(None))  # the pool
    # One's own, unless the filter excludes them or the pool or team branch holds them all.
    if assignee is None and team is not NO_ONE and (team is None or team != my_team):
        narrowed.append(Complaint.assignee_id == user.id)
    if my_team is not None and team in (None, my_team):
        narrowed.append(Complaint.team_id == my_team)
    return narrowed


def _apply_filters(
    session: Session, stmt: Select[Complaint], f: ComplaintFilters, now: datetime, user: User
) -> Select[Complaint]:
    if f.stage:
        stage = session.get(Stage, f.stage)
        if stage is None:
            raise InvalidInput(_("没有这个阶段：%(stage)s") % {"stage": f.stage}, field="stage")
        stmt = stmt.where(Complaint.stage == f.stage)
        if (f.open or f.overdue) and stage.category == "closed":
            # Open complaints are never in a closed stage: answer without walking the index.
            stmt = stmt.where(false())
        elif f.open is None and not f.overdue:
            # A stage holds only open or only closed complaints (lifecycle sets is_open from
            # the stage's category, which cannot be edited): saying which lets the database
            # read the partial (team | assignee, stage, id) indexes of open complaints
            # instead of walking a whole team's or person's complaints.
            stmt = stmt.where(
                Complaint.is_open == (true() if stage.category != "closed" else false())
            )
    team = _team_ref(session, f)
    if team is NO_ONE:
        stmt = stmt.where(Complaint.team_id.is_(None))
    elif team is not None:
        stmt = stmt.where(Complaint.team_id == team)
    assignee = _assignee_ref(session, f, user)
    if assignee is NO_ONE:
        stmt = stmt.where(Complaint.assignee_id.is_(None))
    elif assignee is not None:
        stmt = stmt.where(Complaint.assignee_id == assignee)
    if f.severity:
        stmt = stmt.where(Complaint.severity == f.severity)
    if f.channel:
        stmt = stmt.where(Complaint.channel == f.channel)
    if f.customer_id:
        stmt = stmt.where(Complaint.customer_id == f.customer_id)
    if f.category_id is not None:
        stmt = stmt.where(
            Complaint.category_id.in_(category_and_descendants(session, f.category_id))
        )
    if f.received_from is not None:
        stmt = stmt.where(Complaint.received_at >= f.received_from)
    if f.received_to is not None:
        stmt = stmt.where(Complaint.received_at < f.received_to)
    if f.product:
        stmt = stmt.where(Complaint.product == f.product)
    if f.region:
        stmt = stmt.where(
            exists().where(Customer.id == Complaint.customer_id, Customer.region == f.region)
        )
    if f.open is not None:
        stmt = stmt.where(Complaint.is_open == (true() if f.open else false()))
    if f.overdue:
        # Spelled like the partial index's condition (is_open = 1) so the database uses it.
        stmt = stmt.where(
            Complaint.is_open == true(), Complaint.due_at.is_not(None), Complaint.due_at < now
        )
    elif f.overdue is False:
        stmt = stmt.where(or_(Complaint.due_at.is_(None), Complaint.due_at >= now))
    if f.escalated:
        from kesu.sla.models import SlaAlert  # sla builds on complaints: imported when used

        alert = exists().where(SlaAlert.complaint_id == Complaint.id, SlaAlert.level >= 1)
        stmt = stmt.where(alert)
    if f.q:
        stmt = stmt.where(search_condition(session, f.q, scope_filter(user)))
    return stmt


def category_and_descendants(session: Session, category_id: int) -> list[int]:
    """The category and every category below it (the taxonomy has 3 levels: a few hundred
    rows at most, read by the index on parent_id)."""
    found, frontier = [category_id], [category_id]
    for _level in range(3):
        frontier = list(
            session.scalars(select(Category.id).where(Category.parent_id.in_(frontier)))
        )
        if not frontier:
            break
        found.extend(frontier)
    return found


def timeline_of(
    session: Session, complaint: Complaint, public_only: bool = False
) -> list[ComplaintEvent]:
    """The complaint's events, oldest first, each with ``sentence``, ``kind_label`` and
    ``who`` in the current language (kesu.complaints.event_text) for the pages."""
    from kesu.complaints import event_text

    stmt = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)
    if public_only:
        stmt = stmt.where(ComplaintEvent.visibility == "public")
    found = list(session.scalars(stmt.order_by(ComplaintEvent.id)))
    ctx = event_text.context(session)
    for event in found:
        event.sentence = event_text.describe(event, ctx)  # type: ignore[attr-defined]
        event.kind_label = event_text.kind_label(event.kind)  # type: ignore[attr-defined]
        event.who = event_text.actor_label(event)  # type: ignore[attr-defined]
    return found


def stage_names(session: Session) -> dict[str, Stage]:
    """Every stage (active or not) by code; cached for a few seconds."""
    stages = config_cache.cached(
        session, "all_stages", lambda: list(session.scalars(select(Stage).order_by(Stage.position)))
    )
    return {s.code: s for s in stages}


def to_out(
    c: Complaint, stages: dict[str, Stage], base_url: str, now: datetime, masked: bool = False
) -> dict[str, Any]:
    stage = stages.get(c.stage)
    return {
        "id": c.id,
        "number": c.number,
        "title": shown_text(c.title, masked),
        "content": shown_text(c.content, masked),
        "channel": c.channel,
        "locale": c.locale or "zh_CN",  # the customer's language (kesu.notify.customer)
        "stage": c.stage,
        "stage_name": stage.name if stage else c.stage,
        "severity": c.severity,
        "priority": c.priority,
        "category": {"id": c.category.id, "path": c.category.path} if c.category else None,
        "team": {"id": c.team.id, "code": c.team.code, "name": c.team.name} if c.team else None,
        "assignee": (
            {"id": c.assignee.id, "username": c.assignee.username, "name": c.assignee.label}
            if c.assignee
            else None
        ),
        "customer": contact_out(c, masked),  # what this complaint said (kesu.privacy)
        "order_no": c.order_no,
        "product": c.product,
        "order_value": f"{c.order_value:.2f}" if c.order_value is not None else None,
        "remedy": c.remedy,
        "tags": c.tags or [],
        "custom_fields": mask_json(c.custom_fields or {}) if masked else c.custom_fields or {},
        "outputs": mask_json(c.outputs or {}) if masked else c.outputs or {},
        "tracking_url": f"{base_url.rstrip('/')}/t/{c.tracking_token}",
        "received_at": c.received_at,
        "first_response_at": c.first_response_at,
        "resolved_at": c.resolved_at,
        "closed_at": c.closed_at,
        "due_at": c.due_at,
        "overdue": bool(c.is_open and c.due_at is not None and c.due_at < now),
        "repeat_of": c.repeat_of_id,
        "is_repeat": c.repeat_of_id is not None,
        "merged_into": c.merged_into_id,
        "reopen_count": c.reopen_count,
        "version": c.version,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def event_out(e: ComplaintEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "kind": e.kind,
        "visibility": e.visibility,
        "actor_kind": e.actor_kind,
        "actor": e.actor_label,
        "body": e.body,
        "text": getattr(e, "sentence", e.body),
        "data": e.data,
    }
