"""The execution hook: ``compensation.approved`` reaches a real HTTP receiver on loopback,
signed, with a delivery id that stays the same on a retry; the receiver's callback closes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kesu.notify.channels import webhook
from tests.compensation.conftest import approved, payout
from tests.flows import make_staff, outbox, worker
from tests.notify.conftest import Answer, Received, Receiver, json_answer

SECRET = "whsec-ledger-test"


def endpoint(client, admin, url: str, events: list[str]) -> None:
    answer = client.post(
        "/api/v1/notify/endpoints",
        headers=admin,
        json={
            "code": "payments",
            "name": "支付系统",
            "kind": "webhook",
            "config": {"url": url, "secret": SECRET},
            "events": events,
        },
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_approved_payout_is_a_signed_webhook_and_the_callback_marks_it_paid(
    client, admin, db, settings, clock, make_user, receiver: Receiver, http_client
):
    make_staff(db, clock)
    _, finance = make_user("fin_a", "finance_approver", None)
    answers = iter([500, 200])  # the first attempt fails: the retry keeps the delivery id
    checked: list[bool] = []

    def handle(request: Received) -> Answer:
        header = request.headers[webhook.SIGNATURE_HEADER.lower()]
        checked.append(webhook.verify(SECRET, header, request.body, datetime.now(UTC)))
        return json_answer({"ok": True}, next(answers))

    receiver.handle = handle
    endpoint(client, admin, f"{receiver.url}/kesu", ["compensation.approved"])
    request_id = approved(db, clock, "199.00", method="refund")
    run = worker(db, settings, clock, http_client)
    run.run_until_idle()
    clock.advance(minutes=5)
    run.run_until_idle()
    assert checked == [True, True]
    first, second = receiver.received
    assert first.headers["x-kesu-delivery"] == second.headers["x-kesu-delivery"]
    assert first.headers["x-kesu-event"] == "compensation.approved"
    body = second.json()
    assert isinstance(body, dict)
    assert body["event"] == "compensation.approved"
    assert body["id"] == second.headers["x-kesu-delivery"]
    data = body["data"]
    row = payout(db, request_id)
    assert data["payout_id"] == row.id and data["request_id"] == request_id
    assert data["amount"] == "199.00" and data["method"] == "refund"
    assert data["currency"] == "CNY" and data["team"] == "service"
    assert data["idempotency_key"] == f"compensation.approved:{row.id}"
    assert data["approvers"][0]["role"] == "team_lead"
    assert data["callback"]["url"].endswith(f"/api/v1/compensation/requests/{request_id}/paid")
    assert "退款" in body["title"] and "199.00" in body["title"]
    assert [m.status for m in outbox(db, event="compensation.approved")] == ["delivered"]
    # The payment system carries it out and calls back.
    path = data["callback"]["url"].removeprefix("http://testserver")
    answer = client.post(path, headers=finance, json={"reference": "PAY-9", "amount": "199.00"})
    assert answer.status_code == 200 and answer.json()["status"] == "paid"
    run.run_until_idle()
    assert len(receiver.received) == 2  # nothing sent again


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_endpoints_not_subscribed_hear_nothing(client, admin, db, settings, clock, receiver):
    make_staff(db, clock)
    endpoint(client, admin, f"{receiver.url}/kesu", ["sla_breach"])
    approved(db, clock, "10.00")
    assert outbox(db, event="compensation.approved") == []
