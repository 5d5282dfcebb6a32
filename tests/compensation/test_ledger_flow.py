"""The ledger through the requests' service (contract 2 end to end): a chain's approvals are
the payout's approvers, a fast claim has none, the webhook is queued once per approval, the
paid callback turns the request ``paid``, and the similar-case words say so."""

from __future__ import annotations

from typing import Any

import pytest

from kesu.compensation import ledger
from tests.flows import outbox

# helper flow's request/approval service and its test helpers (skipped until they are merged)
flow = pytest.importorskip("tests.compensation.flow_helpers")
ask, complaint, decide, payouts, staff = (
    flow.ask,
    flow.complaint,
    flow.decide,
    flow.payouts,
    flow.staff,
)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_approvals_through_the_service_reach_the_ledger(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    answer = client.post(
        "/api/v1/notify/endpoints",
        headers=people["admin_a"],
        json={
            "code": "payments",
            "name": "支付系统",
            "kind": "webhook",
            "config": {"url": "https://pay.example.com/kesu", "secret": "s"},
            "events": ["compensation.approved"],
        },
    )
    assert answer.status_code == 201, answer.text
    client.put(
        "/api/v1/compensation/budgets",
        headers=people["fin_a"],
        json={"period": "2026-11", "team": "service", "amount": "1000.00"},
    ).raise_for_status()
    chain = ask(client, people["agent_a"], complaint(db, clock), "900.00").json()["id"]
    assert decide(client, people["lead_a"], chain).json()["status"] == "pending"
    assert decide(client, people["manager_a"], chain).json()["status"] == "approved"
    fast = ask(client, people["agent_a"], complaint(db, clock), "20.00").json()
    assert fast["status"] == "approved"
    book = client.get("/api/v1/compensation/ledger", headers=people["fin_a"]).json()
    by_request = {item["request_id"]: item for item in book["items"]}
    assert [a["label"] for a in by_request[chain]["approvers"]] == ["lead_a", "manager_a"]
    assert by_request[fast["id"]]["approvers"] == []
    assert book["totals"]["amount"] == "920.00"
    hooks = outbox(db, event="compensation.approved")
    assert sorted(m.data["request_id"] for m in hooks) == sorted([chain, fast["id"]])
    [budget] = client.get("/api/v1/compensation/budgets", headers=people["fin_a"]).json()["items"]
    assert budget["level"] == "warning" and budget["used"] == "920.00"
    paid = client.post(
        f"/api/v1/compensation/requests/{chain}/paid",
        headers=people["fin_a"],
        json={"reference": "PAY-1", "amount": "900.00"},
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    again = decide(client, people["fin_a"], chain)
    assert again.status_code in (403, 409)  # decided: nothing to approve
    [row] = payouts(db, chain)
    with db.session(write=False) as session:
        assert ledger.paid_words(session, [row.complaint_id]) == {
            row.complaint_id: "现金补偿 900.00 元（已支付）"
        }
