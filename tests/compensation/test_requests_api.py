"""Requests through the API against the seeded standards: deviations need a reason, the
request keeps the recommendation's rule and version, bad amounts and methods are refused and
write nothing, the lists, the bell."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kesu.compensation.models import CompensationRequest
from kesu.complaints.models import Complaint
from kesu.notify.models import Notification
from tests.compensation.flow_helpers import ask, decide, payouts, staff
from tests.flows import assign, create

QUALITY = {"category": "产品质量/功能故障/无法开机", "order_value": "199.90"}
LATE = {"category": "物流服务/配送延误/超时未送达", "order_value": "399.90"}
DISCOMFORT = {"category": "产品质量/食用不适/肠胃不适"}


def made(db: Any, clock: Any, **facts: Any) -> int:
    cid = create(db, clock, **facts)
    assign(db, clock, cid, "agent_a")
    return cid


def count(db: Any) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(CompensationRequest)) or 0)


def test_deviation_needs_a_reason(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a", "lead_a")
    agent = people["agent_a"]
    # in line with the recommendation (refund or replacement up to 199.90): no reason needed
    r = ask(client, agent, made(db, clock, **QUALITY), "199.90", "refund", reason=None)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["deviation"] is False and body["standard_version"] == 1
    assert body["rule"]["name"].startswith("产品质量问题")
    assert body["recommended"] == {"method": "refund", "amount": "199.90"}
    assert (
        ask(client, agent, made(db, clock, **QUALITY), "150.00", "replacement", None).json()[
            "deviation"
        ]
        is False
    )
    # another method, or more than recommended: refused without a reason, nothing written
    before = count(db)
    for method, amount in (("cash", "100.00"), ("refund", "199.91")):
        cid = made(db, clock, **QUALITY)
        refused = ask(client, agent, cid, amount, method, reason=None)
        assert refused.status_code == 422 and refused.json()["field"] == "reason", refused.text
        assert ask(client, agent, cid, amount, method, reason="   ").status_code == 422
        assert count(db) == before
        ok = ask(client, agent, cid, amount, method, reason="客户坚持要现金")
        assert ok.status_code == 201 and ok.json()["deviation"] is True
        assert ok.json()["reason"] == "客户坚持要现金"
        before += 1
    # case by case with a cap: anything up to the cap is in line
    assert (
        ask(client, agent, made(db, clock, **DISCOMFORT), "5000.00", "refund", None).status_code
        == 201
    )
    assert (
        ask(client, agent, made(db, clock, **DISCOMFORT), "5000.01", "refund", None).status_code
        == 422
    )


def test_a_fast_claim_by_the_standard(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a")
    cid = made(db, clock, **LATE)
    r = ask(client, people["agent_a"], cid, "20.00", "cash", reason=None)
    assert r.status_code == 201 and r.json()["status"] == "approved"
    assert r.json()["chain"] == "fast" and len(payouts(db, r.json()["id"])) == 1
    listed = client.get(f"/api/v1/complaints/{cid}/compensation", headers=people["agent_a"])
    assert [x["status"] for x in listed.json()] == ["approved"]
    with db.session(write=False) as session:
        assert session.get(Complaint, cid).outputs["compensation"] == "现金补偿 20.00 元"


BAD = [
    ({"method": "gold", "amount": "10.00"}, "method"),
    ({"method": "cash", "amount": "-5.00"}, "amount"),
    ({"method": "cash", "amount": "0"}, "amount"),
    ({"method": "cash", "amount": "0.00"}, "amount"),
    ({"method": "cash", "amount": "12.345"}, "amount"),
    ({"method": "cash", "amount": "1e3"}, "amount"),
    ({"method": "cash", "amount": "NaN"}, "amount"),
    ({"method": "cash", "amount": "99999999"}, "amount"),
    ({"method": "cash", "amount": 12.5}, "amount"),
    ({"method": "cash", "amount": True}, "amount"),
    ({"method": "cash", "amount": "10", "extra": 1}, "extra"),
]


def test_bad_input_is_refused_and_writes_nothing(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a")
    cid = made(db, clock, **LATE)
    for body, field in BAD:
        r = client.post(
            f"/api/v1/complaints/{cid}/compensation",
            json={**body, "reason": "测试"},
            headers=people["agent_a"],
        )
        assert r.status_code == 422, (body, r.text)
        assert field in (r.json().get("field") or "") + str(r.json().get("errors") or ""), body
    assert count(db) == 0


def test_lists_and_the_bell(client: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock)
    cid = made(db, clock, **LATE)
    rid = ask(client, people["agent_a"], cid, "900.00").json()["id"]
    with db.session(write=False) as session:
        bell = {
            n.user.username if hasattr(n, "user") else n.user_id
            for n in session.scalars(
                select(Notification).where(Notification.event == "compensation_pending")
            )
        }
    assert len(bell) == 1  # lead_a only: the lead of the complaint's team
    queue = client.get("/api/v1/compensation/requests", headers=people["lead_a"]).json()
    assert [q["id"] for q in queue] == [rid]
    assert client.get("/api/v1/compensation/requests", headers=people["manager_a"]).json()
    assert client.get("/api/v1/compensation/requests", headers=people["lead_x"]).json() == []
    mine = client.get("/api/v1/compensation/requests?mine=true", headers=people["agent_a"])
    assert [q["id"] for q in mine.json()] == [rid]
    assert client.get("/api/v1/compensation/requests", headers=people["agent_a"]).json() == []
    assert decide(client, people["lead_a"], rid).status_code == 200
    with db.session(write=False) as session:
        pending = list(
            session.scalars(
                select(Notification.user_id).where(Notification.event == "compensation_pending")
            )
        )
    assert len(pending) == 2  # then the manager
    one = client.get(f"/api/v1/compensation/requests/{rid}", headers=people["manager_a"])
    assert one.status_code == 200 and one.json()["approvals"][0]["decision"] == "approved"
    assert (
        client.get("/api/v1/compensation/requests?status=pending", headers=people["fin_a"]).json()
        != []
    )  # finance reads the ledger: every request


def test_a_new_standard_version_does_not_change_an_earlier_decision(
    client: Any, db: Any, clock: Any
) -> None:
    from kesu.accounts.service import SYSTEM
    from kesu.compensation import standards
    from kesu.compensation.models import StandardRule
    from tests.compensation.std_helpers import current_rules

    people = staff(db, clock, "agent_a", "lead_a")
    cid = made(db, clock, **QUALITY)
    rid = ask(client, people["agent_a"], cid, "199.90", "refund", None).json()["id"]
    assert decide(client, people["lead_a"], rid).json()["status"] == "approved"
    number, rows = current_rules(db)
    for row in rows:
        if row["name"].startswith("产品质量问题"):
            row["amount_rule"] = {"kind": "percent", "percent": "50"}
    with db.session() as session:
        standards.publish(
            session, clock, SYSTEM, standards.validate_rules(rows), base_version=number
        )
    earlier = client.get(f"/api/v1/compensation/requests/{rid}", headers=people["lead_a"]).json()
    assert earlier["standard_version"] == 1 and earlier["amount"] == "199.90"
    assert earlier["status"] == "approved" and earlier["recommended"]["amount"] == "199.90"
    with db.session(write=False) as session:
        rule = session.get(StandardRule, earlier["rule"]["id"])
        assert rule is not None and "100%" in standards.rule_in_words(rule, "zh_CN")
    # a new complaint with the same facts is measured against version 2: 199.90 now deviates
    later = made(db, clock, **QUALITY)
    refused = ask(client, people["agent_a"], later, "199.90", "refund", None)
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    ok = ask(client, people["agent_a"], later, "99.95", "refund", None).json()
    assert ok["standard_version"] == 2 and ok["deviation"] is False
