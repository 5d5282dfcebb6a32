"""Incident pages: the list, one incident with its complaints, closing it with a note."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.incidents.models import Incident
from tests.flows import create
from tests.web.conftest import csrf_of

CATEGORY = "服务态度/客服态度/推诿敷衍"


def _incident(db, clock) -> tuple[Incident, list[int]]:
    ids = [create(db, clock, category=CATEGORY) for _ in range(6)]
    with db.session(write=False) as session:
        (incident,) = session.scalars(select(Incident))
    return incident, ids


def test_a_manager_finds_the_incident_its_complaints_and_closes_it(db, clock, signed_in):
    browser = signed_in("boss", role="manager", team=None)
    incident, ids = _incident(db, clock)
    listing = browser.get("/incidents")
    assert listing.status_code == 200
    assert f'href="/incidents/{incident.id}"' in listing.text
    assert 'href="/incidents"' in listing.text  # in the navigation
    page = browser.get(f"/incidents/{incident.id}")
    assert page.status_code == 200 and incident.title in page.text
    with db.session(write=False) as session:
        from kesu.complaints.models import Complaint

        numbers = list(session.scalars(select(Complaint.number).where(Complaint.id.in_(ids))))
    assert all(f'href="/complaints/{n}"' in page.text for n in numbers)

    empty = browser.post(
        f"/incidents/{incident.id}/close", data={"csrf_token": csrf_of(page.text), "note": " "}
    )
    assert empty.status_code == 422 and "请填写关闭说明" in empty.text
    closed = browser.post(
        f"/incidents/{incident.id}/close",
        data={"csrf_token": csrf_of(page.text), "note": "已召回批次并统一回访"},
    )
    assert closed.status_code == 200 and "已召回批次并统一回访" in closed.text
    with db.session(write=False) as session:
        saved = session.get(Incident, incident.id)
        assert saved.status == "closed" and saved.closed_at == clock.now()
        assert saved.close_note == "已召回批次并统一回访" and saved.closed_by
        assert session.scalar(select(AuditLog).where(AuditLog.action == "incident.closed"))
    assert f'href="/incidents/{incident.id}"' not in browser.get("/incidents").text
    assert f'href="/incidents/{incident.id}"' in browser.get("/incidents?status=closed").text
    again = browser.post(
        f"/incidents/{incident.id}/close",
        data={"csrf_token": csrf_of(page.text), "note": "再关一次"},
    )
    assert again.status_code == 409


def test_agents_do_not_get_the_incident_pages(db, clock, signed_in):
    browser = signed_in()
    incident, _ids = _incident(db, clock)
    assert browser.get("/incidents").status_code == 403
    assert browser.get(f"/incidents/{incident.id}").status_code == 403
    assert 'href="/incidents"' not in browser.get("/tasks").text


def test_an_unknown_incident_is_a_404_and_a_bad_id_a_422(signed_in):
    browser = signed_in("boss", role="manager", team=None)
    assert browser.get("/incidents/424242").status_code == 404
    assert browser.get("/incidents/abc").status_code == 422
    assert browser.get("/incidents?status=maybe").status_code == 422


def test_the_incident_page_speaks_english_to_an_english_reader(db, clock, signed_in):
    browser = signed_in("boss", role="manager", team=None)
    incident, _ids = _incident(db, clock)
    browser.cookies.set("lang", "en")
    page = browser.get(f"/incidents/{incident.id}").text
    heading = page[page.index("<h1>") : page.index("</h1>")]
    assert heading.startswith("<h1>Complaint spike: ") and "批量投诉" not in heading
    assert "Linked complaints" in page and "Close the incident" in page
