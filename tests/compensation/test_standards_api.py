"""The standards API: read, versions, publish (admins) with the stale-version check and
validation that writes nothing; the recommendation endpoint; order_value on complaints."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.compensation.std_helpers import complaint, current_rules, version_count

API = "/api/v1/compensation/standards"


def test_read_the_current_standard_and_its_principles(client: Any, agent: Any) -> None:
    body = client.get(API, headers=agent).json()
    assert body["version"]["number"] == 1 and body["current"] is True
    assert [p["name"] for p in body["principles"]] == ["公平", "合理", "及时", "透明"]
    first = body["rules"][0]
    assert first["position"] == 1 and first["words"].startswith(first["name"])
    assert set(body["methods"]) == {"refund", "replacement", "repair", "cash", "coupon", "points"}
    versions = client.get(API + "/versions", headers=agent).json()
    assert [(v["number"], v["current"]) for v in versions] == [(1, True)]
    assert versions[0]["rules"] == len(body["rules"])
    missing = client.get(API, params={"version": 7}, headers=agent)
    assert missing.status_code == 404 and missing.json()["field"] == "version"
    en = client.get(API, headers={**agent, "Accept-Language": "en"}).json()
    assert en["principles"][0]["name"] == "Fairness"


def test_publish_makes_a_new_version_and_keeps_the_old(db: Any, client: Any, admin: Any) -> None:
    number, rows = current_rules(db)
    rows[0]["amount_rule"] = {"kind": "case_by_case", "cap": "8000"}
    rows.append(
        {
            "name": "大额订单",
            "conditions": {"field": "order_value", "op": "gte", "value": 10000},
            "methods": ["refund", "cash"],
            "amount_rule": {"kind": "percent", "percent": "33.33", "cap": "5000.00"},
        }
    )
    made = client.put(
        API, json={"base_version": number, "rules": rows, "note": "大额"}, headers=admin
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["version"]["number"] == 2 and body["version"]["note"] == "大额"
    assert body["rules"][0]["amount_rule"] == {"kind": "case_by_case", "cap": "8000.00"}
    assert body["rules"][-1]["amount_rule"]["percent"] == "33.33"
    old = client.get(API, params={"version": 1}, headers=admin).json()
    assert old["current"] is False and old["rules"][0]["amount_rule"]["cap"] == "5000.00"
    assert len(old["rules"]) == len(rows) - 1
    assert [v["number"] for v in client.get(API + "/versions", headers=admin).json()] == [2, 1]


def test_what_get_returns_can_be_sent_back(client: Any, admin: Any) -> None:
    read = client.get(API, headers=admin).json()
    rules = list(reversed(read["rules"]))
    sent = client.put(API, json={"base_version": 1, "rules": rules}, headers=admin)
    assert sent.status_code == 201, sent.text
    assert [r["name"] for r in sent.json()["rules"]] == [r["name"] for r in rules]
    assert [r["position"] for r in sent.json()["rules"]] == list(range(1, len(rules) + 1))


def test_a_stale_edit_is_409_and_writes_nothing(db: Any, client: Any, admin: Any) -> None:
    number, rows = current_rules(db)
    assert (
        client.put(API, json={"base_version": number, "rules": rows}, headers=admin).status_code
        == 201
    )
    stale = client.put(API, json={"base_version": number, "rules": rows[:1]}, headers=admin)
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version" and stale.json()["field"] == "base_version"
    assert version_count(db) == 2


BAD_ROWS = [
    (lambda r: r[2].update(methods=["gold"]), "rules.2.methods[0]"),
    (
        lambda r: r[1].update(conditions={"field": "category", "op": "gt", "value": "x"}),
        "rules.1.conditions.op",
    ),
    (lambda r: r[0]["amount_rule"].update(cap="-5"), "rules.0.amount_rule.cap"),
    (
        lambda r: r[3].update(amount_rule={"kind": "fixed", "amount": "99999999.00"}),
        "rules.3.amount_rule.amount",
    ),
    (
        lambda r: r[3].update(amount_rule={"kind": "percent", "percent": "150"}),
        "rules.3.amount_rule.percent",
    ),
    (
        lambda r: r[6].update(amount_rule={"kind": "range", "min": "50", "max": "20"}),
        "rules.6.amount_rule.max",
    ),
    (
        lambda r: r[6].update(amount_rule={"kind": "range", "min": 10.555, "max": "20"}),
        "rules.6.amount_rule.min",
    ),
    (lambda r: r[5].update(amount_rule={"kind": "bonus"}), "rules.5.amount_rule.kind"),
    (lambda r: r[0].update(name=""), "rules.0.name"),
]


@pytest.mark.parametrize(("spoil", "field"), BAD_ROWS)
def test_a_bad_row_is_422_naming_row_and_field_and_writes_nothing(
    db: Any, client: Any, admin: Any, spoil: Any, field: str
) -> None:
    number, rows = current_rules(db)
    rows = copy.deepcopy(rows)
    spoil(rows)
    refused = client.put(API, json={"base_version": number, "rules": rows}, headers=admin)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    named = (body.get("field") or "").replace("[", ".").replace("]", "")
    assert named == field.replace("[", ".").replace("]", ""), body
    assert version_count(db) == 1


def test_only_admins_publish(db: Any, client: Any, make_user: Any) -> None:
    number, rows = current_rules(db)
    for role in ("agent", "team_lead", "manager", "finance_approver"):
        _, headers = make_user(f"u_{role}", role, None if role != "agent" else "service")
        answer = client.put(API, json={"base_version": number, "rules": rows}, headers=headers)
        assert answer.status_code == 403, role
    assert version_count(db) == 1


def test_the_recommendation_endpoint(db: Any, clock: Any, client: Any, admin: Any) -> None:
    cid = complaint(db, clock, category="产品质量/功能故障/无法开机", order_value="1299")
    answer = client.get(f"/api/v1/complaints/{cid}/compensation/recommendation", headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["method"] == "refund" and body["amount"] == "1299.00"
    assert body["currency"] == "CNY" and body["standard_version"] == 1
    assert body["rule"]["name"] == "产品质量问题：全额退款或换货"
    assert [c["method"] for c in body["choices"]] == ["refund", "replacement"]
    assert body["choices"][0]["amount"] == "1299.00" and body["amount_max"] is None
    assert body["case_by_case"] is False and "1299.00" in body["why"]
    plain = complaint(db, clock, content="想咨询一下会员怎么升级？")
    none = client.get(f"/api/v1/complaints/{plain}/compensation/recommendation", headers=admin)
    assert none.status_code == 404 and none.json()["code"] == "no_recommendation"
    gone = client.get("/api/v1/complaints/999999/compensation/recommendation", headers=admin)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    old = client.get(
        f"/api/v1/complaints/{cid}/compensation/recommendation",
        params={"version": 3},
        headers=admin,
    )
    assert old.status_code == 404 and old.json()["field"] == "version"


def test_out_of_scope_is_404(db: Any, clock: Any, client: Any, make_user: Any) -> None:
    cid = complaint(db, clock, category="产品质量/功能故障/无法开机", order_value="10")
    _, other = make_user("agent_log", "agent", "logistics")
    with db.session() as session:
        from sqlalchemy import select

        from kesu.accounts.models import Team
        from kesu.complaints.models import Complaint

        found = session.get(Complaint, cid)
        found.team_id = session.scalar(select(Team.id).where(Team.code == "quality"))
        session.commit()
    answer = client.get(f"/api/v1/complaints/{cid}/compensation/recommendation", headers=other)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


BODY = {"channel": "api", "content": "耳机坏了", "customer": {"name": "李", "phone": "13800001111"}}


@pytest.mark.parametrize(
    ("given", "stored"),
    [("199.9", "199.90"), (88, "88.00"), ("0", "0.00"), (12.5, "12.50"), (None, None)],
)
def test_order_value_on_a_new_complaint(client: Any, agent: Any, given: Any, stored: Any) -> None:
    made = client.post("/api/v1/complaints", json={**BODY, "order_value": given}, headers=agent)
    assert made.status_code == 201, made.text
    assert made.json()["order_value"] == stored
    again = client.get(f"/api/v1/complaints/{made.json()['id']}", headers=agent).json()
    assert again["order_value"] == stored


@pytest.mark.parametrize("given", ["-1", "1.999", "100000000", "NaN", "Infinity", "abc", True, [1]])
def test_a_bad_order_value_is_422_and_writes_nothing(
    client: Any, agent: Any, admin: Any, given: Any
) -> None:
    refused = client.post("/api/v1/complaints", json={**BODY, "order_value": given}, headers=agent)
    assert refused.status_code == 422, refused.text
    assert "order_value" in (refused.json().get("field") or str(refused.json()))
    assert client.get("/api/v1/complaints", headers=admin).json()["items"] == []


def test_staff_edit_the_order_value(client: Any, admin: Any) -> None:
    made = client.post("/api/v1/complaints", json=BODY, headers=admin).json()
    edited = client.patch(
        f"/api/v1/complaints/{made['id']}",
        json={"version": made["version"], "order_value": "59.5"},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["order_value"] == "59.50"
    events = client.get(f"/api/v1/complaints/{made['id']}/events", headers=admin).json()
    updated = [e for e in events if e["kind"] == "updated"]
    assert updated and "59.50" in str(updated[-1])


def test_two_admins_publishing_at_once_make_one_version(db: Any, clock: Any, backend: str) -> None:
    """PostgreSQL: both read version 1 as current; the second insert of number 2 waits for the
    first transaction and fails on the unique number: a 409, never two versions 2."""
    import threading
    import time

    from kesu.accounts.service import SYSTEM
    from kesu.compensation import standards
    from kesu.errors import StaleVersion

    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: the second one simply sees version 2")
    number, raw = current_rules(db)
    rows = standards.validate_rules(raw)
    flushed, outcome = threading.Event(), {}

    def second() -> None:
        flushed.wait(10)
        try:
            with db.session() as session:
                standards.publish(session, clock, SYSTEM, rows, base_version=number)
            outcome["second"] = "published"
        except StaleVersion:
            outcome["second"] = "stale"
        except Exception as exc:  # reported by the assertion below
            outcome["second"] = repr(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with db.session() as session:
        standards.publish(session, clock, SYSTEM, rows, base_version=number)
        flushed.set()
        waiting = 0
        # until the second waits on the uncommitted number (autocommit: a fresh view each time)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = watch.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).scalar_one()
                if waiting or not thread.is_alive():
                    break
        assert waiting == 1, f"the second publication never waited on the first: {outcome}"
    thread.join(10)
    assert outcome == {"second": "stale"}
    assert version_count(db) == 2
