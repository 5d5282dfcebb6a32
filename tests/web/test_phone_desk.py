"""The entry form at the phone and the desk: the call summary, the caller look-up's hooks, and
the confirmation when a routing rule sends the complaint to another team."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.complaints.models import Complaint, ComplaintEvent
from tests.web.conftest import csrf_of, hidden
from tests.web.test_new_complaint import FORM


def _form(client: Any, **extra: str) -> dict[str, str]:
    page = client.get("/complaints/new").text
    return {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM, **extra}


def test_a_region_rule_routes_it_to_another_team_and_the_agent_still_gets_the_number(
    signed_in: Any, browser: Any, make_user: Any, db: Any, clock: Any
) -> None:
    """The 华南 rule (off by default) assigns a complaint from 广州 to the south team's agent:
    the author, a service agent, no longer sees it, yet ends on the confirmation with the
    number, the tracking link and where it went (not a 404), and learns nothing else."""
    from tests.flows import make_staff

    _, admin = make_user("admin1", "admin", None)
    created = browser.post(
        "/api/v1/teams", json={"code": "south", "name": "华南服务组"}, headers=admin
    )
    assert created.status_code == 201, created.text
    make_staff(db, clock, {"south_1": ("agent", "south")})
    rule = next(
        r for r in browser.get("/api/v1/routing/rules", headers=admin).json() if "华南" in r["name"]
    )
    switched = browser.patch(
        f"/api/v1/routing/rules/{rule['id']}",
        json={"version": rule["version"], "is_active": True},
        headers=admin,
    )
    assert switched.status_code == 200, switched.text
    client = signed_in()
    sent = client.post("/complaints/new", data=_form(client, region="广州"), follow_redirects=False)
    assert sent.status_code == 303
    shown = client.get(sent.headers["location"])
    assert shown.status_code == 200, shown.text
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.team is not None and complaint.team.code == "south"
        assert complaint.assignee is not None and complaint.assignee.username == "south_1"
        number, token = complaint.number, complaint.tracking_token
    assert number in shown.text and f"/t/{token}" in shown.text and "华南服务组" in shown.text
    assert f'href="/complaints/{number}"' not in shown.text
    assert "south_1" not in shown.text and FORM["content"] not in shown.text
    assert client.get(f"/complaints/{number}").status_code == 404


def test_the_call_summary_is_the_first_internal_note(signed_in: Any, db: Any) -> None:
    client = signed_in()
    data = _form(client, call_summary="客户来电语气激动，要求今天回电；已安抚。")
    first = client.post("/complaints/new", data=data, follow_redirects=False)
    again = client.post("/complaints/new", data=data, follow_redirects=False)  # a double click
    assert first.status_code == again.status_code == 303
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
        notes = session.scalars(
            select(ComplaintEvent).where(
                ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == "note"
            )
        ).all()
        assert [(n.body, n.visibility, n.data) for n in notes] == [
            ("客户来电语气激动，要求今天回电；已安抚。", "internal", {"call_summary": True})
        ]
        assert complaint.channel == "phone"
        token = complaint.tracking_token
    assert "要求今天回电" not in client.get(f"/t/{token}").text  # never on the tracking page


def test_a_desk_complaint_without_a_summary_has_no_note(signed_in: Any, db: Any) -> None:
    client = signed_in()
    client.post("/complaints/new", data=_form(client, channel="desk"))
    with db.session(write=False) as session:
        [complaint] = session.scalars(select(Complaint)).all()
        assert complaint.channel == "desk"
        assert (
            session.scalars(select(ComplaintEvent).where(ComplaintEvent.kind == "note")).all() == []
        )


def test_a_too_long_summary_is_refused_and_nothing_is_written(signed_in: Any, db: Any) -> None:
    client = signed_in()
    refused = client.post("/complaints/new", data=_form(client, call_summary="长" * 5001))
    assert refused.status_code == 422
    assert "通话摘要" in refused.text and FORM["content"] in refused.text  # the form is kept
    with db.session(write=False) as session:
        assert session.scalars(select(Complaint)).all() == []


def test_the_form_offers_the_look_up_in_both_languages(signed_in: Any) -> None:
    client = signed_in()
    page = client.get("/complaints/new").text
    assert 'data-lookup="/api/v1/customers/lookup"' in page
    assert '<script src="/static/kesu-lookup.js" defer></script>' in page
    assert "通话摘要" in page and "以往投诉" in page
    client.get("/lang/en")
    english = client.get("/complaints/new").text
    assert "Call summary" in english and "Earlier complaints" in english
    assert client.get("/static/kesu-lookup.js").status_code == 200
