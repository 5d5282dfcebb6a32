"""Sortable columns of the workbench: every sort, both directions, across keyset pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.models import Complaint, Stage
from kesu.complaints.schemas import ComplaintCreate
from tests.web.test_workbench import numbers

SORTS = ["received", "due", "priority", "stage", "updated"]


def _make(session: Any, clock: Any, i: int, **extra: Any) -> Complaint:
    body = {
        "channel": "web",
        "content": f"第 {i} 条投诉：耳机没有声音",
        "customer": {"name": "客户", "phone": f"1370000{i:04d}"},
        **extra,
    }
    complaint, _ = registration.create_complaint(
        session, clock, Actor("customer", None, "客户"), ComplaintCreate.model_validate(body)
    )
    return complaint


@pytest.fixture
def spread(db, clock, make_user):
    """Nine complaints whose received, deadline, priority, stage and update orders all differ
    from their id order: backdated, closed (no deadline), paused (open, no deadline), other
    teams, equal keys (ties broken by id)."""
    _, _headers = make_user("other1", "agent", "logistics")
    with db.session() as session:
        made = []
        for i in range(9):
            clock.advance(minutes=7)
            extra: dict[str, Any] = {"priority": [2, 4, 1, 3, 2, 1, 4, 2, 3][i]}
            if i in (2, 5):
                extra["received_at"] = (clock.now() - timedelta(days=3 + i)).isoformat()
            made.append(_make(session, clock, i, **extra))
        session.commit()
        ids = [c.id for c in made]
        now = clock.now()
        table = Complaint.__table__
        edits: dict[int, dict[str, Any]] = {
            ids[0]: {"stage": "investigating", "updated_at": now + timedelta(hours=5)},
            ids[1]: {"stage": "archived", "is_open": False, "due_at": None},
            ids[3]: {"due_at": None, "stage": "confirming"},  # paused: open, no deadline
            ids[4]: {"stage": "proposing", "updated_at": now - timedelta(days=2)},
            ids[6]: {"due_at": made[7].due_at},  # a tie on the deadline
            ids[8]: {"stage": "archived", "is_open": False, "due_at": None},
        }
        for complaint_id, values in edits.items():
            session.execute(update(table).where(table.c.id == complaint_id).values(**values))
        logistics = session.scalar(select(Complaint.team_id).where(Complaint.id == ids[0]))
        session.execute(update(table).where(table.c.id == ids[7]).values(team_id=logistics))
        session.commit()
    return ids


def expected(db, sort: str, keep) -> list[str]:
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    with db.session() as session:
        rows = [c for c in session.scalars(select(Complaint)).unique() if keep(c)]
        position = {s.code: s.position for s in session.scalars(select(Stage))}
        rows_key = {
            "received": lambda c: (0, c.received_at, c.id),
            "updated": lambda c: (0, c.updated_at, c.id),
            "priority": lambda c: (0, c.priority, c.id),
            "due": lambda c: (c.due_at is None, c.due_at or c.received_at, c.id),
            "stage": lambda c: (position[c.stage], c.id),
        }[key]
        if key == "due":  # without a deadline: last, whatever the direction
            with_due = sorted((c for c in rows if c.due_at), key=rows_key, reverse=desc)
            without = sorted((c for c in rows if not c.due_at), key=lambda c: c.id, reverse=desc)
            return [c.number for c in with_due + without]
        if key == "stage":
            ordered = sorted(rows, key=lambda c: (position[c.stage], -c.id if desc else c.id))
            if desc:
                ordered = sorted(rows, key=lambda c: (-position[c.stage], -c.id))
            return [c.number for c in ordered]
        return [c.number for c in sorted(rows, key=rows_key, reverse=desc)]


def walk(client, url: str) -> list[str]:
    """Every page from ``url`` on, following the 下一页 link."""
    seen: list[str] = []
    for _ in range(20):
        page = client.get(url)
        assert page.status_code == 200, page.text
        assert 'class="error"' not in page.text
        seen += numbers(page.text)
        link = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', page.text)
        if not link:
            return seen
        url = link.group(1).replace("&amp;", "&")
    raise AssertionError("too many pages")


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("kesu.complaints.views.PAGE_SIZE", 2)


@pytest.mark.parametrize("sort", SORTS + [f"-{s}" for s in SORTS])
def test_every_sort_orders_the_team_queue_across_pages(sort, db, spread, signed_in, small_pages):
    client = signed_in("agent1", "agent", "service")
    with db.session() as session:
        service_team = session.scalar(select(Complaint.team_id).where(Complaint.id == spread[2]))

    def in_queue(c: Complaint) -> bool:
        return c.is_open and c.team_id in (None, service_team)

    assert walk(client, f"/?tab=team&sort={sort}") == expected(db, sort, in_queue)


@pytest.mark.parametrize("sort", SORTS + [f"-{s}" for s in SORTS])
def test_every_sort_orders_all_complaints_open_and_closed(sort, db, spread, signed_in, small_pages):
    client = signed_in("boss", "manager", None)
    found = walk(client, f"/?tab=all&status=any&sort={sort}")
    assert found == expected(db, sort, lambda c: True)
    assert len(found) == 9


def test_sorting_keeps_the_filters_and_the_header_reverses_it(db, spread, signed_in):
    client = signed_in("boss", "manager", None)
    page = client.get("/?tab=all&status=any&severity=minor&sort=priority").text
    link = re.search(r'href="([^"]*)" data-sort="priority"', page)
    assert link
    href = link.group(1).replace("&amp;", "&")
    assert "sort=-priority" in href and "severity=minor" in href and "status=any" in href
    assert 'aria-sort="ascending"' in page
    walked = walk(client, "/?tab=all&status=closed&sort=-received")
    assert walked == expected(db, "-received", lambda c: not c.is_open)


def test_a_cursor_of_another_sort_or_forged_is_refused_naming_it(db, spread, signed_in):
    client = signed_in("boss", "manager", None)
    first = client.get("/?tab=all&status=any&sort=received").text
    assert "cursor=" not in first  # 9 rows fit on one page of 50
    for bad in (
        "WyJyZWNlaXZlZCIsIDAsICIyMDI2LTExLTIzVDAyOjAwOjAwIiwgMV0",  # a naive date
        "WyItZHVlIiwgMCwgbnVsbCwgMV0",  # another sort's cursor
        "WzFlOTk5XQ",  # [1e999]
        "%%%",
    ):
        page = client.get(f"/?tab=all&sort=received&cursor={bad}")
        assert page.status_code == 200 and 'role="alert"' in page.text
        assert numbers(page.text) == []
