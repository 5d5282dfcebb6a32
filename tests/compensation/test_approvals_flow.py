"""Approval chains: each threshold routes to the right approvers, fast claims, joint review,
self-approval, rejection, decided requests, stale versions, exact decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kesu.compensation.models import CompensationPayout
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.compensation.flow_helpers import ask, complaint, decide, payouts, staff, stored


def steps(body: dict[str, Any]) -> list[tuple[int, str, str | None, str]]:
    return [(a["step"], a["role"], a["team"], a["decision"]) for a in body["approvals"]]


def test_fast_claim_is_approved_at_once_by_rule(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a")
    cid = complaint(db, clock)
    r = ask(client, people["agent_a"], cid, "50.00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "approved" and body["chain"] == "fast"
    assert steps(body) == [(1, "system", None, "approved")]
    assert body["decided_at"] is not None
    [payout] = payouts(db, body["id"])
    assert payout.amount == Decimal("50.00")
    with db.session(write=False) as session:
        c = session.get(Complaint, cid)
        assert c.outputs["compensation"] == "现金补偿 50.00 元"
        kinds = list(
            session.scalars(select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == cid))
        )
    assert "compensation_requested" in kinds and "compensation_decided" in kinds


def test_each_threshold_routes_to_its_chain(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    expected = {
        "50.01": [(1, "team_lead", "service", "pending")],
        "500.00": [(1, "team_lead", "service", "pending")],
        "500.01": [(1, "team_lead", "service", "pending"), (2, "manager", None, "pending")],
        "10000.00": [
            (1, "team_lead", "service", "pending"),
            (2, "manager", None, "pending"),
            (3, "finance_approver", None, "pending"),
        ],
        "10000.01": [
            (1, "team_lead", "quality", "pending"),
            (1, "team_lead", "logistics", "pending"),
            (1, "team_lead", "finance", "pending"),
        ],
    }
    for value, chain in expected.items():
        cid = complaint(db, clock)
        r = ask(client, people["agent_a"], cid, value)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "pending"
        assert sorted(steps(r.json())) == sorted(chain), value


def test_chain_goes_step_by_step_and_pays_once(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    cid = complaint(db, clock)
    rid = ask(client, people["agent_a"], cid, "9999.99").json()["id"]
    # not the manager's turn yet; another team's lead is not this complaint's lead
    assert decide(client, people["manager_a"], rid).status_code == 403
    assert decide(client, people["lead_x"], rid).status_code == 403
    assert decide(client, people["lead_a"], rid).json()["status"] == "pending"
    assert decide(client, people["fin_a"], rid).status_code == 403
    assert decide(client, people["manager_a"], rid).json()["status"] == "pending"
    assert payouts(db, rid) == []
    done = decide(client, people["fin_a"], rid)
    assert done.status_code == 200 and done.json()["status"] == "approved"
    [payout] = payouts(db, rid)
    assert isinstance(payout.amount, Decimal) and payout.amount == Decimal("9999.99")
    assert decide(client, people["fin_a"], rid).status_code == 409  # decided


def test_joint_review_needs_every_department(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    cid = complaint(db, clock)
    rid = ask(client, people["agent_a"], cid, "20000.00").json()["id"]
    assert decide(client, people["lead_a"], rid).status_code == 403  # not a named department
    assert decide(client, people["lead_q"], rid).json()["status"] == "pending"
    assert decide(client, people["lead_q"], rid).status_code == 403  # once per person
    assert decide(client, people["lead_f"], rid).json()["status"] == "pending"
    assert payouts(db, rid) == []
    assert decide(client, people["lead_l"], rid).json()["status"] == "approved"
    assert len(payouts(db, rid)) == 1


def test_self_approval_is_refused(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a", "lead_a")
    cid = complaint(db, clock)
    # a team lead requests on a complaint of their own team: they may not approve it
    rid = ask(client, people["lead_a"], cid, "300.00").json()["id"]
    r = decide(client, people["lead_a"], rid)
    assert r.status_code == 403 and r.json()["code"] == "own_request"
    assert stored(db, rid).status == "pending"


def test_rejection_needs_a_reason_and_ends_the_request(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    cid = complaint(db, clock)
    rid = ask(client, people["agent_a"], cid, "800.00").json()["id"]
    r = decide(client, people["lead_a"], rid, "reject")
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = decide(client, people["lead_a"], rid, "reject", reason="   ")
    assert r.status_code == 422
    r = decide(client, people["lead_a"], rid, "reject", reason="金额过高，请按标准")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "rejected"
    assert steps(body) == [(1, "team_lead", "service", "rejected"), (2, "manager", None, "skipped")]
    assert decide(client, people["manager_a"], rid).status_code == 409
    assert payouts(db, rid) == []
    # a new request is possible once the last one is decided
    assert ask(client, people["agent_a"], cid, "400.00").status_code == 201


def test_stale_version_and_one_open_request(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    cid = complaint(db, clock)
    first = ask(client, people["agent_a"], cid, "800.00").json()
    assert ask(client, people["agent_b"], cid, "100.00").status_code == 409
    ok = decide(client, people["lead_a"], first["id"], version=first["version"])
    assert ok.status_code == 200 and ok.json()["version"] == first["version"] + 1
    stale = decide(client, people["manager_a"], first["id"], version=first["version"])
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert stored(db, first["id"]).status == "pending"


def test_payout_written_once_with_the_request(db: Any, clock: Any, client: Any) -> None:
    people = staff(db, clock)
    cid = complaint(db, clock)
    rid = ask(client, people["agent_a"], cid, "120.50").json()["id"]
    decide(client, people["lead_a"], rid)
    with db.session(write=False) as session:
        rows = session.query(CompensationPayout).all()
        assert [(p.request_id, p.amount, p.method) for p in rows] == [
            (rid, Decimal("120.50"), "cash")
        ]


def test_the_requester_withdraws_a_pending_request(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a", "agent_b", "lead_a")
    cid = complaint(db, clock)
    rid = ask(client, people["agent_a"], cid, "300.00").json()["id"]
    url = f"/api/v1/compensation/requests/{rid}/cancel"
    other = client.post(url, json={"reason": "不是我的"}, headers=people["agent_b"])
    assert other.status_code == 403
    done = client.post(url, json={"reason": "金额填错了"}, headers=people["agent_a"])
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert steps(done.json()) == [(1, "team_lead", "service", "skipped")]
    assert client.post(url, json={}, headers=people["agent_a"]).status_code == 409
    assert decide(client, people["lead_a"], rid).status_code == 409
    assert payouts(db, rid) == []
    assert ask(client, people["agent_a"], cid, "200.00").status_code == 201


def test_a_department_lead_reads_the_complaint_while_it_waits_for_them(
    client: Any, db: Any, clock: Any
) -> None:
    """A joint review's department lead, outside the complaint's team, may read it (not
    handle it) while their decision is pending, and no longer once they have decided."""
    people = staff(db, clock, "agent_a", "lead_q", "lead_l", "lead_f")
    cid = complaint(db, clock)
    url = f"/api/v1/complaints/{cid}"
    assert client.get(url, headers=people["lead_l"]).status_code == 404
    rid = ask(client, people["agent_a"], cid, "20000.00").json()["id"]
    assert client.get(url, headers=people["lead_l"]).status_code == 200
    note = {"body": "我来处理"}
    assert client.post(f"{url}/notes", json=note, headers=people["lead_l"]).status_code == 404
    assert decide(client, people["lead_l"], rid).json()["status"] == "pending"
    assert client.get(url, headers=people["lead_l"]).status_code == 404
    assert client.get(url, headers=people["lead_q"]).status_code == 200
