"""The ledger: one payout per approved request, exact sums, budgets and their warnings, the
paid callback, the API and its permissions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kesu.accounts.models import AuditLog
from kesu.compensation import ledger
from kesu.compensation.models import CompensationPayout, CompensationRequest
from kesu.errors import Conflict
from kesu.notify.models import Notification
from tests.compensation.conftest import approved, payout
from tests.flows import create, events, make_staff

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PAID = "/api/v1/compensation/requests/{}/paid"


@pytest.fixture
def staff(db, clock, make_user):
    make_staff(db, clock)
    return {
        "finance": make_user("fin_a", "finance_approver", None)[1],
        "auditor": make_user("audit_a", "auditor", None)[1],
        "manager": make_user("manager_b", "manager", None)[1],
        "agent": make_user("agent_b", "agent", "service")[1],
        "lead": make_user("lead_b", "team_lead", "service")[1],
        "admin": make_user("admin_b", "admin", None)[1],
    }


def test_one_payout_per_approved_request_with_its_facts(db, clock, staff):
    request_id = approved(db, clock, "199.00")
    row = payout(db, request_id)
    assert row.amount == Decimal("199.00") and row.method == "refund"
    assert row.period == "2026-11" and row.standard_version == 1
    assert row.team_id is not None and row.paid_at is None
    assert [(a["label"], a["role"]) for a in row.approvers] == [("lead_a", "team_lead")]
    with db.session() as session:
        request = session.get(CompensationRequest, request_id)
        with pytest.raises(Conflict):
            ledger.record_payout(session, clock, request)
    with pytest.raises(IntegrityError), db.session() as session:  # the unique key, in a race
        session.add(
            CompensationPayout(
                request_id=request_id,
                complaint_id=row.complaint_id,
                method="cash",
                amount=Decimal("1.00"),
                approved_at=clock.now(),
                period="2026-11",
            )
        )
        session.flush()
    with db.session(write=False) as session:
        assert session.scalar(select(func.count(CompensationPayout.id))) == 1


def test_sums_are_exact_decimals(client, db, clock, staff):
    complaint_id = create(db, clock)
    for amount in ("0.10", "0.20", "0.30", "1234567.89", "0.01"):
        approved(db, clock, amount, complaint_id=complaint_id, approver=None)
    approved(db, clock, "5.55", method="coupon", complaint_id=complaint_id, approver=None)
    body = client.get("/api/v1/compensation/ledger", headers=staff["auditor"]).json()
    assert body["totals"] == {
        "count": 6,
        "amount": "1234574.05",
        "paid": "0.00",
        "unpaid": "1234574.05",
        "by_method": {"coupon": "5.55", "refund": "1234568.50"},
    }
    assert [i["amount"] for i in body["items"]][:2] == ["5.55", "0.01"]
    assert all(isinstance(i["amount"], str) for i in body["items"])
    page = client.get(
        "/api/v1/compensation/ledger", params={"limit": 4}, headers=staff["auditor"]
    ).json()
    assert len(page["items"]) == 4 and page["next_cursor"] == page["items"][-1]["id"]
    rest = client.get(
        "/api/v1/compensation/ledger",
        params={"limit": 4, "cursor": page["next_cursor"]},
        headers=staff["auditor"],
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    with db.session(write=False) as session:
        assert ledger.used_of(session, "2026-11", None) == Decimal("1234574.05")


def _budget_notices(db) -> list[tuple[int, str]]:
    with db.session(write=False) as session:
        return [
            (n.user_id, n.title)
            for n in session.scalars(
                select(Notification)
                .where(Notification.event == ledger.BUDGET_EVENT)
                .order_by(Notification.id)
            )
        ]


def test_budget_warnings_at_80_and_100_percent_once_each(client, db, clock, staff):
    put = client.put(
        "/api/v1/compensation/budgets",
        headers=staff["finance"],
        json={"period": "2026-11", "team": "service", "amount": "1000.00"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["level"] == "ok" and put.json()["used"] == "0.00"
    client.put(
        "/api/v1/compensation/budgets",
        headers=staff["admin"],
        json={"period": "2026-11", "team": None, "amount": "100000"},
    ).raise_for_status()
    approved(db, clock, "700.00")
    assert _budget_notices(db) == []
    approved(db, clock, "100.00")  # 800: exactly 80 %
    first = _budget_notices(db)
    # managers (manager_a, manager_b) and the finance approver, once each
    assert len(first) == 3 and all("80%" in title for _, title in first)
    approved(db, clock, "150.00")  # 950: still in the 80 % band
    assert len(_budget_notices(db)) == 3
    approved(db, clock, "50.00")  # 1000: 100 %
    approved(db, clock, "10.00")  # beyond: nothing new
    notices = _budget_notices(db)
    assert len(notices) == 6 and all("100%" in t for _, t in notices[3:])
    body = client.get(
        "/api/v1/compensation/budgets", params={"period": "2026-11"}, headers=staff["auditor"]
    ).json()
    company, team = body["items"]
    assert company["team"] is None and company["used"] == "1010.00"
    assert company["level"] == "ok" and company["remaining"] == "98990.00"
    assert team["team"]["code"] == "service" and team["level"] == "exceeded"
    assert team["used"] == "1010.00" and team["remaining"] == "-10.00"
    assert team["percent"] == "101.0"
    # Raising the budget brings it back under 80 %: crossing again warns again.
    client.put(
        "/api/v1/compensation/budgets",
        headers=staff["finance"],
        json={"period": "2026-11", "team": "service", "amount": "2000.00"},
    ).raise_for_status()
    approved(db, clock, "600.00")  # 1610 of 2000: 80.5 %
    assert len(_budget_notices(db)) == 9
    # A budget set below what is already used says so at once (the company's: 100 %).
    client.put(
        "/api/v1/compensation/budgets",
        headers=staff["admin"],
        json={"period": "2026-11", "team": None, "amount": "1500"},
    ).raise_for_status()
    notices = _budget_notices(db)
    assert len(notices) == 12 and all("100%" in t for _, t in notices[9:])


def test_budget_input_is_checked(client, db, clock, staff):
    for body, field in (
        ({"period": "2026-13", "amount": "1.00"}, "period"),
        ({"period": "2026-11", "amount": 100.5}, "amount"),
        ({"period": "2026-11", "amount": "-1"}, "amount"),
        ({"period": "2026-11", "amount": "1.001"}, "amount"),
        ({"period": "2026-11", "amount": "1.00", "team": "nope"}, "team"),
        ({"period": "2026-11", "amount": "1.00", "extra": 1}, "extra"),
    ):
        answer = client.put("/api/v1/compensation/budgets", headers=staff["admin"], json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["field"] == field, answer.json()
    assert (
        client.get(
            "/api/v1/compensation/budgets", params={"period": "1999-01"}, headers=staff["admin"]
        ).status_code
        == 422
    )


def test_the_paid_callback_is_idempotent_and_refuses_what_does_not_match(client, db, clock, staff):
    request_id = approved(db, clock, "199.00")
    clock.advance(minutes=30)
    finance = staff["finance"]
    wrong = client.post(
        PAID.format(request_id), headers=finance, json={"reference": "P1", "amount": "19.90"}
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "amount"
    assert payout(db, request_id).paid_at is None
    first = client.post(
        PAID.format(request_id),
        headers=staff["finance"],
        json={"reference": "PAY-0001", "amount": "199"},
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "paid" and first.json()["replayed"] is False
    assert first.json()["payout"]["paid_reference"] == "PAY-0001"
    again = client.post(
        PAID.format(request_id), headers=staff["admin"], json={"reference": "PAY-0001"}
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    other = client.post(PAID.format(request_id), headers=finance, json={"reference": "PAY-2"})
    assert other.status_code == 409 and other.json()["code"] == "paid_other_reference"
    row = payout(db, request_id)
    assert row.paid_reference == "PAY-0001" and row.paid_at == clock.now()
    kinds = [e.kind for e in events(db, row.complaint_id)]
    assert kinds.count("compensation_paid") == 1
    with db.session(write=False) as session:
        audits = session.scalars(
            select(AuditLog).where(AuditLog.action == "complaint.compensation_paid")
        ).all()
        assert len(audits) == 1 and audits[0].changes["reference"] == "PAY-0001"
        assert session.get(CompensationRequest, request_id).status == "paid"
    body = client.get(
        "/api/v1/compensation/ledger", params={"status": "paid"}, headers=staff["auditor"]
    ).json()
    assert body["totals"]["paid"] == "199.00" and body["items"][0]["status"] == "paid"
    unpaid = client.get(
        "/api/v1/compensation/ledger", params={"status": "unpaid"}, headers=staff["auditor"]
    ).json()
    assert unpaid["items"] == []


def test_the_paid_callback_refuses_requests_not_approved(client, db, clock, staff):
    complaint_id = create(db, clock)
    with db.session() as session:
        pending = CompensationRequest(
            complaint_id=complaint_id,
            method="cash",
            amount=Decimal("50.00"),
            status="pending",
            created_at=clock.now(),
        )
        session.add(pending)
        session.flush()
        pending_id = pending.id
    answer = client.post(PAID.format(pending_id), headers=staff["finance"], json={"reference": "X"})
    assert answer.status_code == 409 and answer.json()["code"] == "not_approved"
    missing = client.post(PAID.format(99999), headers=staff["finance"], json={"reference": "X"})
    assert missing.status_code == 404
    request_id = approved(db, clock, "10.00")
    for body, field in (
        ({"reference": ""}, "reference"),
        ({"reference": "X", "paid_at": "2026-11-23T10:00:00"}, "paid_at"),  # no zone
        ({"reference": "X", "paid_at": (clock.now() + timedelta(hours=1)).isoformat()}, "paid_at"),
        ({"reference": "X", "amount": "ten"}, "amount"),
    ):
        bad = client.post(PAID.format(request_id), headers=staff["finance"], json=body)
        assert bad.status_code == 422 and bad.json()["field"] == field, (body, bad.text)
    assert payout(db, request_id).paid_at is None


@SQLITE_ONLY
def test_permissions_per_role(client, db, clock, staff):
    request_id = approved(db, clock, "10.00")
    budget = {"period": "2026-11", "amount": "1.00"}
    expect = {
        "agent": (403, 403, 403, 403),
        "lead": (403, 403, 403, 403),
        "auditor": (200, 200, 403, 403),
        "manager": (200, 200, 403, 403),
        "finance": (200, 200, 200, 200),
        "admin": (200, 200, 200, 200),
    }
    for role, (read, export, put, pay) in expect.items():
        headers = staff[role]
        assert client.get("/api/v1/compensation/ledger", headers=headers).status_code == read
        got = client.get("/api/v1/compensation/ledger/export", headers=headers).status_code
        assert got == export, role
        got = client.put("/api/v1/compensation/budgets", headers=headers, json=budget).status_code
        assert got == put, role
        got = client.post(PAID.format(request_id), headers=headers, json={"reference": "R"})
        assert got.status_code == pay, role
    assert client.get("/api/v1/compensation/ledger").status_code == 401


@SQLITE_ONLY
def test_ledger_filters(client, db, clock, staff):
    approved(db, clock, "10.00", method="cash")
    approved(db, clock, "20.00", method="refund", assignee=None)
    clock.advance(days=10)  # 2026-12-03 in Shanghai
    approved(db, clock, "30.00", method="cash")
    get = lambda **params: client.get(  # noqa: E731
        "/api/v1/compensation/ledger", params=params, headers=staff["auditor"]
    )
    assert get(method="cash").json()["totals"]["amount"] == "40.00"
    assert get(team="service").json()["totals"]["amount"] == "40.00"
    assert get(period="2026-12").json()["totals"]["amount"] == "30.00"
    assert get(**{"from": "2026-11-23", "to": "2026-11-23"}).json()["totals"]["amount"] == "30.00"
    assert get(**{"from": "2026-12-01"}).json()["totals"]["count"] == 1
    for params, field in (
        ({"method": "gold"}, "method"),
        ({"team": "nope"}, "team"),
        ({"from": "2026-02-30"}, "from"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "9999-12-31"}, "from"),
        ({"status": "lost"}, "status"),
    ):
        answer = get(**params)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.json()
