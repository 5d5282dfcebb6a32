"""Channel health: /admin/channels and GET /api/v1/channels/health (admins)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from kesu.notify.models import OutboxMessage
from tests.web.conftest import HTML, login


def _create(client, headers, channel: str, phone: str) -> None:
    body = {
        "channel": channel,
        "customer": {"name": "客户", "phone": phone},
        "content": f"{channel} 渠道的投诉：收到的商品有划痕",
    }
    response = client.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text


def _rows(client, admin) -> dict[str, dict]:
    response = client.get("/api/v1/channels/health", headers=admin)
    assert response.status_code == 200, response.text
    return {r["channel"]: r for r in response.json()["channels"] if not r["source"]}


def test_counts_today_move_with_the_clock(client, agent, admin, clock):
    assert _rows(client, admin) == {}
    _create(client, agent, "phone", "13900000001")
    _create(client, agent, "phone", "13900000002")
    _create(client, agent, "email", "13900000003")
    rows = _rows(client, admin)
    assert rows["phone"]["received_today"] == 2 and rows["email"]["received_today"] == 1
    assert rows["phone"]["last_seen_at"] is not None and "web" not in rows
    # START is 10:00 in Shanghai: 13 hours later is still today there, 15 hours is tomorrow.
    clock.advance(timedelta(hours=13))
    assert _rows(client, admin)["phone"]["received_today"] == 2
    clock.advance(timedelta(hours=2))
    rows = _rows(client, admin)
    assert rows["phone"]["received_today"] == 0 and rows["phone"]["last_seen_at"] is not None
    _create(client, agent, "phone", "13900000004")
    assert _rows(client, admin)["phone"]["received_today"] == 1


def test_failed_customer_messages_are_counted(client, admin, db, clock):
    with db.session() as session:
        cases = (("email", "customer.ack"), ("sms", "customer.message"), ("email", "breach"))
        for index, (channel, event) in enumerate(cases):
            session.add(
                OutboxMessage(
                    dedup_key=f"customer-test-{index}",
                    channel=channel,
                    recipient="c@example.com",
                    event=event,
                    title="t",
                    status="failed",
                    attempts=5,
                    available_at=clock.now(),
                    created_at=clock.now(),
                )
            )
    body = client.get("/api/v1/channels/health", headers=admin).json()
    assert body["customer_outbox"] == {
        "email": {"failed": 1, "failed_today": 1},
        "sms": {"failed": 1, "failed_today": 1},
    }
    clock.advance(days=1)
    body = client.get("/api/v1/channels/health", headers=admin).json()
    assert body["customer_outbox"]["email"] == {"failed": 1, "failed_today": 0}


def test_admins_only(client, agent, lead, app, make_user):
    assert client.get("/api/v1/channels/health", headers=agent).status_code == 403
    assert client.get("/api/v1/channels/health", headers=lead).status_code == 403
    assert client.get("/api/v1/channels/health").status_code == 401
    make_user("mgr", "manager", None)
    with TestClient(app, headers=HTML) as browser:
        assert login(browser, "mgr").status_code == 303
        assert browser.get("/admin/channels").status_code == 403


def test_the_page(client, agent, app, make_user):
    _create(client, agent, "phone", "13900000001")
    make_user("boss", "admin", None)
    with TestClient(app, headers=HTML) as browser:
        assert login(browser, "boss").status_code == 303
        page = browser.get("/admin/channels")
        assert page.status_code == 200
        assert "渠道状态" in page.text and 'id="channel-phone"' in page.text
        assert '<td data-label="今天收到" class="num received-today">1</td>' in page.text
        assert 'href="/admin/channels"' in browser.get("/admin/users").text
        browser.get("/lang/en")
        english = browser.get("/admin/channels").text
        assert "Channel health" in english and "Received today" in english
