"""`kesu demo` shows a live dashboard: the demo's burst of 反复转接 complaints today
(kesu.demo.bring_to_life) is found as a spike against its own baseline, named down to the
leaf category, and the manager's /dashboard lists it with a link to those complaints."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.analytics import rollups, service, spikes
from kesu.clock import SystemClock
from kesu.complaints.numbering import LOCAL_TZ
from kesu.config import get_settings
from kesu.db import Database
from kesu.demo import DEMO_PASSWORD, SPIKE_CATEGORY
from kesu.taxonomy.models import Category
from kesu.web.app import create_app
from tests.test_demo_alive import demo_db
from tests.web.conftest import HTML, login

__all__ = ["demo_db"]


def test_the_demo_spike_is_on_the_dashboard(demo_db: Database) -> None:
    clock = SystemClock()
    rollups.catch_up_all(demo_db, clock)  # what the worker does (nothing if already caught up)
    today = clock.now().astimezone(LOCAL_TZ).date()
    with demo_db.session(write=False) as session:
        leaf = session.scalar(select(Category.id).where(Category.path == SPIKE_CATEGORY))
        found = spikes.find(session, today, service.Filters())
    assert leaf is not None
    spike = next(s for s in found if s.group == "category" and s.key == str(leaf))
    assert spike.current >= 7 and spike.current > spike.mean + spikes.Z * max(spike.sd, 1.0)
    with TestClient(create_app(get_settings(), db=demo_db), headers=HTML) as client:
        assert login(client, "manager", DEMO_PASSWORD).status_code == 303
        html = client.get("/dashboard").text
    section = html[html.index('id="spikes"') : html.index("</section>", html.index('id="spikes"'))]
    assert "服务态度 › 专业能力 › 反复转接" in section
    assert f"category={leaf}" in section
