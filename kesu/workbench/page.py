"""What the workbench page shows besides the list: the sort links of the column headers, the
saved views as tabs, and the choices of the bulk-action bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team, User
from kesu.accounts.roles import Permission, can
from kesu.complaints.sorting import SORT_COLUMNS, Sort
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.service import category_tree
from kesu.workbench import saved

# The first click on a header: newest / most urgent first.
FIRST_DESC = {"received": True, "due": False, "priority": False, "stage": False, "updated": True}


@dataclass(frozen=True)
class CategoryChoice:
    """A category as the pickers show it (the bulk bar, the complaint page's edit form)."""

    id: int
    path: str


def category_choices(session: Session) -> tuple[CategoryChoice, ...]:
    """The active categories in path order, kept per process for a few seconds like the
    stages (kesu.taxonomy.cache): a hundred rows every workbench and complaint page read."""
    return config_cache.cached(
        session,
        "category_choices",
        lambda: tuple(CategoryChoice(c.id, c.path) for c in category_tree(session)),
    )


def sort_links(params: dict[str, Any], current: Sort | None) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (or reverses it) keeping the
    filters, and its ``aria-sort`` state."""
    links: dict[str, dict[str, str]] = {}
    kept = {k: v for k, v in params.items() if v not in ("", None) and k != "sort"}
    for key in SORT_COLUMNS:
        on = current is not None and current.key == key
        desc = (not current.desc) if on and current else FIRST_DESC[key]
        target = Sort(key, desc)
        state = ("descending" if current.desc else "ascending") if on and current else "none"
        links[key] = {"href": "/?" + urlencode({**kept, "sort": target.code}), "state": state}
    return links


def workbench_extras(
    request: Request, session: Session, user: User, params: dict[str, Any]
) -> dict[str, Any]:
    may_assign = can(user.role, Permission.complaint_assign)
    may_handle = can(user.role, Permission.complaint_handle)
    active = str(params.get("view") or "")
    view_query = {k: v for k, v in params.items() if k != "view" and v not in ("", None)}
    return {
        "views": saved.visible_views(session, user),
        "active_view": int(active) if active.isdigit() and len(active) < 10 else None,
        "view_query": view_query,
        "view_url": saved.url_of,
        "may_share": user.role == "admin",
        "may_bulk_assign": may_assign,
        "may_bulk_edit": may_handle,
        "bulk_teams": list(session.scalars(select(Team).where(Team.is_active).order_by(Team.id)))
        if may_assign or may_handle
        else [],
        "bulk_users": list(
            session.scalars(select(User).where(User.is_active).order_by(User.username))
        )
        if may_assign
        else [],
        "bulk_categories": category_choices(session) if may_handle else (),
        "back": request.url.path + ("?" + request.url.query if request.url.query else ""),
    }
