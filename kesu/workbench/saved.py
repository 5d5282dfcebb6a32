"""Saved views: a user names the workbench's current filters and sort, and finds them again as
a tab. Private to the owner; an admin may share one with a team or with everyone.

A view another user may not see does not exist for them (404), as with complaints.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import Team, User
from kesu.accounts.roles import Role
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import Conflict, Forbidden, InvalidInput, NotFound
from kesu.web.i18n import gettext as _
from kesu.workbench.models import SavedView

VISIBILITIES = ("private", "team", "all")
# The workbench's query parameters a view keeps (never a cursor).
QUERY_KEYS = ("tab", "stage", "severity", "channel", "overdue", "q", "unassigned", "status", "sort")
MAX_VIEWS = 50


def clean_query(query: dict[str, Any]) -> dict[str, str]:
    """Only the workbench's own parameters, as short strings; empty ones dropped."""
    unknown = sorted(set(query) - set(QUERY_KEYS))
    if unknown:
        raise InvalidInput(_("视图不能保存参数 %(name)s") % {"name": unknown[0]}, field="query")
    kept: dict[str, str] = {}
    for key in QUERY_KEYS:
        value = query.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str | int | bool) or len(str(value)) > 200:
            raise InvalidInput(_("视图参数无效：%(name)s") % {"name": key}, field="query")
        kept[key] = str(value)
    return kept


def visible_views(session: Session, user: User) -> list[SavedView]:
    """The user's own views, then those shared with their team or with everyone."""
    shared = [SavedView.visibility == "all"]
    if user.team_id is not None:
        shared.append((SavedView.visibility == "team") & (SavedView.team_id == user.team_id))
    stmt = (
        select(SavedView)
        .where(or_(SavedView.owner_id == user.id, *shared))
        .order_by(SavedView.owner_id != user.id, SavedView.name, SavedView.id)
        .limit(200)
    )
    return list(session.scalars(stmt))


def get_view(session: Session, user: User, view_id: int) -> SavedView:
    """A view the user may see; 404 otherwise."""
    view = session.get(SavedView, view_id) if 0 < view_id < 2**31 else None
    if view is None or view not in visible_views(session, user):
        raise NotFound(_("没有这个视图"), field="id")
    return view


def _owned(session: Session, user: User, view_id: int) -> SavedView:
    """A view the user may change: their own, or any view for an admin."""
    view = get_view(session, user, view_id)
    if view.owner_id != user.id and user.role != Role.admin:
        raise Forbidden(_("只能修改自己的视图"))
    return view


def _sharing(
    session: Session, user: User, visibility: str, team_id: int | None
) -> tuple[str, int | None]:
    if visibility not in VISIBILITIES:
        raise InvalidInput(_("共享范围无效"), field="visibility")
    if visibility != "private" and user.role != Role.admin:
        raise Forbidden(_("只有管理员可以共享视图"))
    if visibility != "team":
        return visibility, None
    team = session.get(Team, team_id) if team_id and 0 < team_id < 2**31 else None
    if team is None:
        raise InvalidInput(_("请选择要共享的团队"), field="team_id")
    return visibility, team.id


def _name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(_("请填写视图名称"), field="name")
    if len(name) > 64:
        raise InvalidInput(_("视图名称太长（最多 64 字）"), field="name")
    return name


def create_view(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    name: str,
    query: dict[str, Any],
    visibility: str = "private",
    team_id: int | None = None,
) -> SavedView:
    name = _name(name)
    visibility, team_id = _sharing(session, user, visibility, team_id)
    count = len(session.scalars(select(SavedView.id).where(SavedView.owner_id == user.id)).all())
    if count >= MAX_VIEWS:
        raise InvalidInput(_("最多保存 %(n)d 个视图") % {"n": MAX_VIEWS}, field="name")
    _unique(session, user.id, name, None)
    now = clock.now()
    view = SavedView(
        owner_id=user.id,
        name=name,
        query=clean_query(query),
        visibility=visibility,
        team_id=team_id,
        created_at=now,
        updated_at=now,
    )
    session.add(view)
    session.flush()
    record_audit(session, clock, actor, "view.create", "saved_view", view.id, {"name": name})
    return view


def _unique(session: Session, owner_id: int, name: str, view_id: int | None) -> None:
    same = session.scalar(
        select(SavedView.id).where(SavedView.owner_id == owner_id, SavedView.name == name)
    )
    if same is not None and same != view_id:
        raise Conflict(_("已有同名视图：%(name)s") % {"name": name}, field="name")


def rename_view(
    session: Session, clock: Clock, actor: Actor, user: User, view_id: int, name: str
) -> SavedView:
    view = _owned(session, user, view_id)
    name = _name(name)
    _unique(session, view.owner_id, name, view.id)
    old, view.name, view.updated_at = view.name, name, clock.now()
    try:
        session.flush()
    except IntegrityError:  # a concurrent rename took the name
        raise Conflict(_("已有同名视图：%(name)s") % {"name": name}, field="name") from None
    record_audit(session, clock, actor, "view.rename", "saved_view", view.id, {"name": [old, name]})
    return view


def delete_view(session: Session, clock: Clock, actor: Actor, user: User, view_id: int) -> None:
    view = _owned(session, user, view_id)
    record_audit(session, clock, actor, "view.delete", "saved_view", view.id, {"name": view.name})
    session.delete(view)


def url_of(view: SavedView) -> str:
    """The workbench with the view's filters and sort, and the view's tab marked."""
    return "/?" + urlencode({**view.query, "view": str(view.id)})
