"""Finding 9 (PIPL): a customer's data erased on request or after the retention period; the
complaints' statistics kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint, ComplaintEvent, Customer
from kesu.config import Settings, get_settings
from kesu.triage.models import SimilarTerm, TriageResult
from kesu.worker import Worker

PHONE, EMAIL = "13800138000", "wang@example.com"
TEXT = f"我是王女士，电话 {PHONE}，邮箱 {EMAIL}。耳机左耳没有声音，申请换货，金额 199 元。"


def _create(client: Any, headers: dict[str, str], text: str = TEXT) -> dict[str, Any]:
    body = {
        "channel": "api",
        "content": text,
        "category": "产品质量",
        "severity": "moderate",
        "customer": {"name": "王女士", "phone": PHONE, "email": EMAIL, "external_id": "CRM-7"},
    }
    response = client.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _everything_about(db: Any, customer_id: int) -> str:
    with db.session(write=False) as session:
        customer = session.get(Customer, customer_id)
        complaints = list(
            session.scalars(select(Complaint).where(Complaint.customer_id == customer_id))
        )
        ids = [c.id for c in complaints]
        events = list(
            session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(ids)))
        )
        audit = list(session.scalars(select(AuditLog)))
        triage = [session.get(TriageResult, i) for i in ids]
        terms = list(session.scalars(select(SimilarTerm.term)))
        return repr(
            [
                (customer.name, customer.phone, customer.email, customer.external_id)
                if customer
                else None,
                [
                    (
                        c.title,
                        c.content,
                        c.contact_name,
                        c.contact_phone,
                        c.contact_email,
                        c.outputs,
                    )
                    for c in complaints
                ],
                [(e.body, e.data, e.actor_label) for e in events],
                [(a.changes, a.entity_id) for a in audit],
                [t.keywords for t in triage if t is not None],
                terms,
            ]
        )


def test_an_admin_anonymizes_a_customer_on_request(client, db, admin, agent, make_user):
    created = _create(client, admin)
    customer_id = created["customer"]["id"]
    note = client.post(
        f"/api/v1/complaints/{created['id']}/notes",
        json={"body": f"已致电 {PHONE} 确认", "version": created["version"]},
        headers=admin,
    )
    assert note.status_code == 201, note.text
    _, manager = make_user("manager1", "manager", None)
    url = f"/api/v1/customers/{customer_id}/anonymize"
    assert client.post(url, json={"reason": "客户申请删除"}, headers=manager).status_code == 403
    assert client.post(url, json={}, headers=admin).status_code == 422

    with db.session(write=False) as session:
        before = session.get(TriageResult, created["id"])
        assert before is not None and PHONE in str(before.keywords)  # jieba kept the number
    response = client.post(url, json={"reason": "客户申请删除 #42"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["complaints"] == 1

    everything = _everything_about(db, customer_id)
    for secret in (PHONE, EMAIL, "王女士", "CRM-7", "'wang'"):
        assert secret not in everything
    after = client.get(f"/api/v1/complaints/{created['id']}", headers=admin).json()
    for field in ("number", "category", "severity", "stage", "received_at", "channel"):
        assert after[field] == created[field]
    assert "199 元" in after["content"] and after["customer"]["anonymized"] is True
    with db.session(write=False) as session:
        [row] = session.scalars(select(AuditLog).where(AuditLog.action == "customer.anonymize"))
        assert row.changes == {"reason": "客户申请删除 #42", "complaints": 1}
    again = client.post(url, json={"reason": "again"}, headers=admin)
    assert again.status_code == 409

    # The same phone later is a new customer: nothing links back to the erased one.
    fresh = _create(client, agent, "又有问题了")
    assert fresh["customer"]["id"] != customer_id


def _close(db: Any, number: str, when: Any) -> None:
    with db.session() as session:
        session.execute(
            update(Complaint)
            .where(Complaint.number == number)
            .values(is_open=False, closed_at=when, stage="archived")
        )
        session.commit()


@pytest.fixture
def retention_settings(db: Any) -> Settings:
    return Settings(database_url=db.url, environment="test", retention_years=3)


def test_the_worker_anonymizes_customers_past_the_retention_period(
    client, db, clock, admin, retention_settings
):
    old = _create(client, admin)
    _close(db, old["number"], clock.now())
    still_open = client.post(
        "/api/v1/complaints",
        json={
            "channel": "api",
            "content": "还在处理中",
            "customer": {"name": "李先生", "phone": "13900000009"},
        },
        headers=admin,
    ).json()
    worker = Worker(db, retention_settings, clock=clock)

    clock.advance(timedelta(days=365 * 3 - 2))
    assert worker.retention() == 0  # not yet three years
    clock.advance(timedelta(days=3))
    assert worker.retention() == 0  # at most once an hour
    clock.advance(timedelta(hours=1))
    assert worker.retention() == 1
    with db.session(write=False) as session:
        anonymized = session.get(Customer, old["customer"]["id"])
        kept = session.get(Customer, still_open["customer"]["id"])
        assert anonymized is not None and anonymized.anonymized_at is not None
        assert kept is not None and kept.anonymized_at is None and kept.phone == "13900000009"


def test_the_cli_lists_then_anonymizes_expired_customers(client, db, clock, admin, monkeypatch):
    from kesu.cli import app as cli

    old = _create(client, admin)
    _close(db, old["number"], clock.now() - timedelta(days=365 * 6))
    monkeypatch.setenv("KESU_DATABASE_URL", db.url)
    monkeypatch.setenv("KESU_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        dry = runner.invoke(cli, ["privacy", "anonymize-expired", "--dry-run", "--years", "5"])
        assert dry.exit_code == 0, dry.output
        assert f"would anonymise 1 customers: {old['customer']['id']}" in dry.output
        with db.session(write=False) as session:
            assert session.get(Customer, old["customer"]["id"]).anonymized_at is None
        done = runner.invoke(cli, ["privacy", "anonymize-expired", "--years", "5"])
        assert done.exit_code == 0 and "anonymised 1 customers" in done.output
        with db.session(write=False) as session:
            assert session.get(Customer, old["customer"]["id"]).phone is None
        off = runner.invoke(cli, ["privacy", "anonymize-expired"])
        assert off.exit_code == 2
    finally:
        get_settings.cache_clear()
