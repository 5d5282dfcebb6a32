"""The task queue page: a team's escalation and sub-tasks, claim and complete."""

from __future__ import annotations

from sqlalchemy import select

from kesu.tasks.models import Task
from tests.flows import create, events, worker
from tests.web.conftest import csrf_of

NEUTRAL = "上周的事情到现在还没有人联系我，请尽快给个答复。"


def _breached(db, settings, clock, signed_in, username="lead1", role="team_lead"):
    browser = signed_in(username, role=role, team="service")
    complaint_id = create(db, clock, content=NEUTRAL)
    clock.advance(minutes=70)
    worker(db, settings, clock).run_until_idle()
    with db.session(write=False) as session:
        task = session.scalar(select(Task).where(Task.complaint_id == complaint_id))
    assert task is not None and task.kind == "escalation" and task.level == 1
    return browser, complaint_id, task


def test_a_lead_sees_claims_and_completes_the_teams_escalation_task(db, settings, clock, signed_in):
    browser, complaint_id, task = _breached(db, settings, clock, signed_in)
    page = browser.get("/tasks")
    assert page.status_code == 200
    assert f'id="task-{task.id}"' in page.text and "一级" in page.text
    assert 'href="/tasks"' in page.text  # in the navigation
    done = browser.post(
        f"/tasks/{task.id}/done",
        data={"csrf_token": csrf_of(page.text), "back": "/tasks?status=open"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/tasks?status=open"
    with db.session(write=False) as session:
        saved = session.get(Task, task.id)
        assert saved.status == "done" and saved.done_by
    assert f'id="task-{task.id}"' not in browser.get("/tasks").text  # open only by default
    assert f'id="task-{task.id}"' in browser.get("/tasks?status=done").text
    assert "task_done" in [e.kind for e in events(db, complaint_id)]


def test_an_agent_claims_an_open_team_task(db, settings, clock, signed_in, make_user):
    make_user("lead1", "team_lead", "service")
    browser, _complaint_id, task = _breached(db, settings, clock, signed_in, "agent1", "agent")
    with db.session() as session:
        session.get(Task, task.id).assignee_id = None  # back in the team's queue
    page = browser.get("/tasks?scope=team").text
    assert f"/tasks/{task.id}/claim" in page
    browser.post(f"/tasks/{task.id}/claim", data={"csrf_token": csrf_of(page)})
    with db.session(write=False) as session:
        assert session.get(Task, task.id).assignee_id is not None
    assert f'id="task-{task.id}"' in browser.get("/tasks?scope=mine").text


def test_another_teams_agent_neither_sees_nor_completes_the_task(
    db, settings, clock, signed_in, make_user, app
):
    from fastapi.testclient import TestClient

    from tests.web.conftest import HTML, login

    _browser, _complaint_id, task = _breached(db, settings, clock, signed_in)
    make_user("eng1", "agent", "engineering")
    with TestClient(app, headers=HTML) as other:
        login(other, "eng1")
        page = other.get("/tasks").text
        assert f'id="task-{task.id}"' not in page
        refused = other.post(f"/tasks/{task.id}/done", data={"csrf_token": csrf_of(page)})
        assert refused.status_code == 404
    with db.session(write=False) as session:
        assert session.get(Task, task.id).status == "open"


def test_bad_filters_are_a_4xx_naming_the_field(signed_in):
    browser = signed_in()
    assert browser.get("/tasks?status=nope").status_code == 422
    assert browser.get("/tasks?scope=everyone").status_code == 422
    assert browser.post("/tasks/99999999999/done", data={}).status_code in (403, 422)


def test_the_bell_is_an_svg_icon_not_an_emoji(signed_in):
    page = signed_in().get("/tasks").text
    bell = page[page.index('class="bell"') :][:600]
    assert "<svg" in bell and "\U0001f514" not in page and "&#128276;" not in page
