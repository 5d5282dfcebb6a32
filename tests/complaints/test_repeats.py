"""重复投诉: the same customer, a similar text, within the window (kesu.complaints.repeats)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.complaints import repeat_demo, repeats
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.web.conftest import HTML, login, post_form

PHONE = "13900000001"


def _create(client, headers, content: str, customer: dict[str, Any] | None = None, **extra):
    body = {
        "channel": "phone",
        "customer": customer or {"name": "李先生", "phone": PHONE},
        "content": content,
        **extra,
    }
    response = client.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


FIRST = "扫地机器人 R7 用了三天就无法开机，按电源键完全没反应"
AGAIN = "上次反映的问题还没解决，扫地机器人 R7 还是无法开机，电源键按了没反应"
OTHER_TOPIC = "快递员态度恶劣，打电话骂人"


def test_similar_text_within_window_is_linked(client, agent, admin, clock, db):
    first = _create(client, agent, FIRST)
    assert first["is_repeat"] is False
    clock.advance(days=10)
    again = _create(client, agent, AGAIN)
    assert again["repeat_of"] == first["id"] and again["is_repeat"] is True
    fetched = client.get(f"/api/v1/complaints/{again['id']}", headers=admin).json()
    assert fetched["is_repeat"] is True and fetched["repeat_of"] == first["id"]
    with db.session(write=False) as session:
        event = session.scalar(
            select(ComplaintEvent).where(
                ComplaintEvent.complaint_id == again["id"],
                ComplaintEvent.kind == "repeat_detected",
            )
        )
        assert event is not None
        assert event.data["reason"] == "text" and event.data["repeat_of"] == first["number"]
        assert event.data["similarity"] >= repeats.DEFAULT_THRESHOLD


def test_not_linked_after_the_window(client, agent, clock):
    _create(client, agent, FIRST)
    clock.advance(days=31)
    assert _create(client, agent, AGAIN)["repeat_of"] is None


def test_not_linked_for_another_topic(client, agent, clock):
    _create(client, agent, FIRST)
    clock.advance(days=1)
    assert _create(client, agent, OTHER_TOPIC)["repeat_of"] is None


def test_not_linked_for_another_customer_with_the_same_text(client, agent):
    _create(client, agent, FIRST)
    other = _create(client, agent, FIRST, {"name": "王女士", "phone": "13700000009"})
    assert other["repeat_of"] is None


def test_not_linked_for_two_different_orders(client, agent):
    _create(client, agent, FIRST, order_no="SO-1")
    assert _create(client, agent, FIRST, order_no="SO-2")["repeat_of"] is None


def test_another_customer_record_with_the_same_contact_is_the_same_customer(client, agent, clock):
    # Record A: wrote by email only. Record B: called from the phone about something else.
    first = _create(client, agent, FIRST, {"name": "李先生", "email": "li@example.com"})
    call = _create(client, agent, OTHER_TOPIC, {"name": "李先生", "phone": PHONE})
    assert call["repeat_of"] is None
    clock.advance(days=3)
    # Both identifiers: links to record B (phone is stronger), and still finds A's complaint.
    again = _create(
        client, agent, AGAIN, {"name": "李先生", "phone": PHONE, "email": "li@example.com"}
    )
    assert again["repeat_of"] == first["id"]


def test_flag_shown_on_the_page_and_the_workbench(client, agent, app, make_user):
    first = _create(client, agent, FIRST)
    again = _create(client, agent, AGAIN)
    assert again["repeat_of"] == first["id"]
    make_user("managerpage", "manager", None)
    with TestClient(app, headers=HTML) as browser:
        assert login(browser, "managerpage").status_code == 303
        page = browser.get(f"/complaints/{again['number']}")
        assert page.status_code == 200
        assert "重复投诉，关联" in page.text and f"/complaints/{first['number']}" in page.text
        workbench = browser.get("/?tab=all")
        assert 'class="badge sev-moderate repeat">重复投诉<' in workbench.text
        browser.get("/lang/en")
        english = browser.get(f"/complaints/{again['number']}")
        assert "Repeat complaint" in english.text and "重复投诉" not in english.text
        assert 'badge sev-moderate repeat">Repeat complaint<' in browser.get("/?tab=all").text


def test_admin_changes_the_window(client, agent, admin, clock):
    assert client.get("/api/v1/repeats/settings", headers=admin).json()["window_days"] == 30
    assert client.get("/api/v1/repeats/settings", headers=agent).status_code == 403
    denied = client.put(
        "/api/v1/repeats/settings", json={"window_days": 5, "threshold": 0.2}, headers=agent
    )
    assert denied.status_code == 403
    bad = client.put(
        "/api/v1/repeats/settings", json={"window_days": 0, "threshold": 0.2}, headers=admin
    )
    assert bad.status_code == 422
    saved = client.put(
        "/api/v1/repeats/settings", json={"window_days": 5, "threshold": 0.2}, headers=admin
    )
    assert saved.status_code == 200 and saved.json()["saved"] is True
    _create(client, agent, FIRST)
    clock.advance(days=6)
    assert _create(client, agent, AGAIN)["repeat_of"] is None  # past the 5-day window
    clock.advance(days=2)
    assert _create(client, agent, AGAIN)["repeat_of"] is not None  # the previous one


def test_repeat_rate(client, agent, admin, clock, db):
    _create(client, agent, FIRST)
    _create(client, agent, AGAIN)
    _create(client, agent, OTHER_TOPIC, {"name": "张", "phone": "13600000000"})
    rate = client.get("/api/v1/repeats/rate?days=7", headers=admin).json()
    assert rate["complaints"] == 3 and rate["repeats"] == 1 and abs(rate["rate"] - 1 / 3) < 0.01
    assert client.get("/api/v1/repeats/rate", headers=agent).status_code == 403
    assert client.get("/api/v1/repeats/rate?days=0", headers=admin).status_code == 422
    clock.advance(timedelta(days=8))
    assert client.get("/api/v1/repeats/rate?days=7", headers=admin).json()["rate"] is None


def test_similarity_basics():
    a = repeats.features(FIRST)
    assert repeats.similarity(a, a) > 0.99
    assert repeats.similarity(a, repeats.features(OTHER_TOPIC)) < repeats.DEFAULT_THRESHOLD
    assert repeats.similarity(a, repeats.features(AGAIN)) >= repeats.DEFAULT_THRESHOLD
    assert repeats.similarity({}, a) == 0.0


def test_admin_page_saves_the_window(app, make_user, client, admin):
    make_user("boss", "admin", None)
    make_user("agentx", "agent", "service")
    with TestClient(app, headers=HTML) as browser:
        assert login(browser, "agentx").status_code == 303
        assert browser.get("/admin/repeats").status_code == 403
    with TestClient(app, headers=HTML) as browser:
        assert login(browser, "boss").status_code == 303
        page = browser.get("/admin/repeats")
        assert page.status_code == 200 and 'name="window_days"' in page.text
        assert 'href="/admin/repeats"' in page.text  # in the admin tabs
        ok = post_form(
            browser, "/admin/repeats", "/admin/repeats", {"window_days": "7", "threshold": "0.3"}
        )
        assert ok.status_code == 200 and "已保存" in ok.text
        bad = post_form(
            browser, "/admin/repeats", "/admin/repeats", {"window_days": "七", "threshold": "0.3"}
        )
        assert bad.status_code == 200 and "请输入数字" in bad.text
        nan = post_form(
            browser, "/admin/repeats", "/admin/repeats", {"window_days": "7", "threshold": "nan"}
        )
        assert "相似度阈值须在 0.05 到 1 之间" in nan.text
    saved = client.get("/api/v1/repeats/settings", headers=admin).json()
    assert saved["window_days"] == 7 and saved["threshold"] == 0.3


def test_demo_repeats_are_linked(db, clock):
    with db.session() as session:
        made = repeat_demo.make(session, clock)
        session.flush()
        assert [c.repeat_of_id is not None for c in made] == [True, True, True]


def test_a_complaint_whose_contact_snapshot_has_the_phone_counts(client, agent, admin, db, clock):
    # Staff changed the record's phone since; the old complaint still says PHONE.
    first = _create(client, agent, FIRST)
    with db.session(write=False) as session:
        customer_id = session.get(Complaint, first["id"]).customer_id
    edited = client.patch(
        f"/api/v1/customers/{customer_id}", json={"phone": "13911119999"}, headers=admin
    )
    assert edited.status_code == 200, edited.text
    clock.advance(days=2)
    again = _create(client, agent, AGAIN)  # PHONE again: a new customer record
    with db.session(write=False) as session:
        assert session.get(Complaint, again["id"]).customer_id != customer_id
    assert again["repeat_of"] == first["id"]
