"""Issue 8, finding 1: a received_at in year 1 made the SLA calendar walk every day since then
while the write lock was held (12-40 s); with +14:00 it was a 500. Now the edge bounds it and
the calendar's work stays a handful of steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.config import get_settings
from kesu.sla.calendar import walk_steps

BODY = {
    "channel": "app",
    "customer": {"name": "李先生", "phone": "13900000001"},
    "content": "扫地机器人用了三天就无法开机",
}


def _count(db) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("offset", ["+00:00", "+14:00", "-12:00"])
def test_received_at_in_year_one_is_refused_at_once(client, agent, db, offset):
    before_steps = walk_steps()
    response = client.post(
        "/api/v1/complaints",
        json={**BODY, "received_at": f"0001-01-01T00:00:00{offset}"},
        headers=agent,
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "received_at"
    assert walk_steps() - before_steps == 0  # no calendar work at all
    assert _count(db) == 0


def test_received_at_far_future_overflowing_utc_is_a_422(client, agent):
    response = client.post(
        "/api/v1/complaints",
        json={**BODY, "received_at": "9999-12-31T23:00:00-14:00"},
        headers=agent,
    )
    assert response.status_code == 422 and response.json()["field"] == "received_at"


def test_received_at_bounds_around_now(client, agent, clock, db):
    now = clock.now()
    too_old = (now - timedelta(days=366)).isoformat()
    future = (now + timedelta(minutes=10)).isoformat()
    for value in (too_old, future):
        response = client.post(
            "/api/v1/complaints", json={**BODY, "received_at": value}, headers=agent
        )
        assert response.status_code == 422 and response.json()["field"] == "received_at"
    assert _count(db) == 0
    before_steps = walk_steps()
    ok = client.post(
        "/api/v1/complaints",
        json={**BODY, "received_at": (now - timedelta(days=360)).isoformat()},
        headers=agent,
    )
    assert ok.status_code == 201, ok.text
    # A year of calendar: whole weeks jumped, holiday weeks walked: a few hundred steps, not
    # 360 days for each of the complaint's clocks.
    assert walk_steps() - before_steps < 2000
    assert ok.json()["received_at"].startswith((now - timedelta(days=360)).date().isoformat())


def test_the_age_limit_is_a_setting(client, agent, clock, monkeypatch, fresh_settings):
    monkeypatch.setenv("KESU_RECEIVED_AT_MAX_AGE_DAYS", "30")
    get_settings.cache_clear()
    value = (clock.now() - timedelta(days=31)).isoformat()
    response = client.post("/api/v1/complaints", json={**BODY, "received_at": value}, headers=agent)
    assert response.status_code == 422 and response.json()["field"] == "received_at"
    assert "30" in response.json()["detail"]
