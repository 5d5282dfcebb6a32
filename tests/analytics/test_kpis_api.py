"""The KPI, series, complaint-rate, volume and target API: shapes, team scope, bad input."""

from __future__ import annotations

from typing import Any

from kesu.analytics import rollups
from tests.analytics.test_kpis import world

NOV = "from=2026-11-01&to=2026-12-01"


def test_kpis_shape_and_values(client: Any, db: Any, clock: Any, make_user: Any) -> None:
    world(db, clock)
    rollups.catch_up_all(db, clock)
    _, manager = make_user("boss", "manager", None)
    body = client.get(f"/api/v1/analytics/kpis?{NOV}", headers=manager).json()
    assert body["period"]["from"] == "2026-11-01" and body["period"]["to"] == "2026-12-01"
    rate = body["kpis"]["response_rate"]
    assert {"value", "numerator", "denominator", "target"} <= set(rate)
    assert (rate["numerator"], rate["denominator"], rate["target"]) == (1, 3, 0.95)
    assert rate["below_target"] is True
    assert body["kpis"]["compensation_paid"]["amount"] == "230.00"
    assert body["kpis"]["resolution_rate"]["value"] == 0.6
    english = client.get(
        f"/api/v1/analytics/kpis?{NOV}", headers=manager | {"Accept-Language": "en"}
    ).json()
    assert english["kpis"]["resolution_rate"]["name"] == "Resolution rate"


def test_a_team_lead_sees_their_team_only(client: Any, db: Any, clock: Any, make_user: Any) -> None:
    ids = world(db, clock)
    rollups.catch_up_all(db, clock)
    _, lead = make_user("lead_s", "team_lead", "service")
    body = client.get(f"/api/v1/analytics/kpis?{NOV}", headers=lead).json()
    assert body["filters"]["team"] == ids["service"]
    assert body["kpis"]["resolution_rate"]["denominator"] == 3  # c1, c2, c7
    other = client.get(f"/api/v1/analytics/kpis?{NOV}&team={ids['logistics']}", headers=lead)
    assert other.status_code == 403 and other.json()["field"] == "team"
    own = client.get(f"/api/v1/analytics/series?{NOV}&team={ids['service']}", headers=lead)
    assert own.status_code == 200
    _, agent = make_user("agent_s", "agent", "service")
    assert client.get(f"/api/v1/analytics/kpis?{NOV}", headers=agent).status_code == 403


def test_series_and_rate_shapes(client: Any, db: Any, clock: Any, make_user: Any) -> None:
    world(db, clock)
    rollups.catch_up_all(db, clock)
    _, manager = make_user("boss", "manager", None)
    body = client.get(
        f"/api/v1/analytics/series?{NOV}&metric=complaints&by=month&group=channel",
        headers=manager,
    ).json()
    assert {(p["key"], p["value"]) for p in body["points"]} == {
        ("phone", 3.0),
        ("web", 1.0),
        ("email", 1.0),
    }
    assert body["points"][0]["period"] == "2026-11-01"
    rates = client.get(f"/api/v1/analytics/complaint-rate?{NOV}", headers=manager).json()
    assert {r["key"]: r["value"] for r in rates["rates"]} == {
        "降噪耳机 X1": 1.0,
        "智能手表 S3": 0.5,
    }


def test_bad_input_is_a_422_naming_it(client: Any, make_user: Any) -> None:
    _, manager = make_user("boss", "manager", None)
    for query, field in (
        ("from=2026-13-01&to=2026-12-01", "from"),
        ("from=2026-11-01&to=nope", "to"),
        ("from=2026-12-01&to=2026-11-01", "to"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("from=1900-01-01&to=2026-01-01", "from"),
    ):
        answer = client.get(f"/api/v1/analytics/kpis?{query}", headers=manager)
        assert answer.status_code == 422 and answer.json()["field"] == field, query
    for query, field in (
        ("metric=nope", "metric"),
        ("by=year", "by"),
        ("group=colour", "group"),
        ("by=day&from=2024-01-01&to=2026-01-01", "by"),
    ):
        answer = client.get(f"/api/v1/analytics/series?{query}", headers=manager)
        assert answer.status_code == 422 and answer.json()["field"] == field, query
    assert (
        client.get("/api/v1/analytics/complaint-rate?by=team", headers=manager).status_code == 422
    )


def test_volumes_upsert_and_name_the_bad_row(client: Any, make_user: Any) -> None:
    _, manager = make_user("boss", "manager", None)
    rows = [
        {"period": "2026-11", "product": "降噪耳机 X1", "region": "上海", "orders": 1000},
        {"period": "2026-11-05", "product": "智能手表 S3", "orders": 50},
    ]
    answer = client.post("/api/v1/analytics/volumes", json=rows, headers=manager)
    assert answer.status_code == 200 and answer.json() == {"stored": 2}
    rows[0]["orders"] = 1500  # the same period, product and region: replaced
    assert client.post("/api/v1/analytics/volumes", json=rows, headers=manager).status_code == 200
    stored = client.get(f"/api/v1/analytics/volumes?{NOV}", headers=manager).json()
    assert sorted((v["period"], v["orders"]) for v in stored) == [
        ("2026-11", 1500),
        ("2026-11-05", 50),
    ]
    bad = [rows[0], {"period": "2026-99", "product": "x", "orders": 1}]
    answer = client.post("/api/v1/analytics/volumes", json=bad, headers=manager)
    assert answer.status_code == 422 and answer.json()["field"] == "1.period"
    dup = [rows[0], rows[0]]
    answer = client.post("/api/v1/analytics/volumes", json=dup, headers=manager)
    assert answer.status_code == 422 and answer.json()["field"] == "1.period"
    negative = [{"period": "2026-11", "product": "x", "orders": -1}]
    assert (
        client.post("/api/v1/analytics/volumes", json=negative, headers=manager).status_code == 422
    )
    assert client.post("/api/v1/analytics/volumes", json=[], headers=manager).status_code == 422
    _, lead = make_user("lead_s", "team_lead", "service")
    assert client.post("/api/v1/analytics/volumes", json=rows, headers=lead).status_code == 403


def test_targets_are_admins(client: Any, db: Any, clock: Any, make_user: Any, admin: Any) -> None:
    world(db, clock)
    rollups.catch_up_all(db, clock)
    answer = client.put(
        "/api/v1/analytics/targets/resolution_rate",
        json={"operator": ">=", "value": 0.5},
        headers=admin,
    )
    assert answer.status_code == 200
    target = {t["code"]: t for t in answer.json()}["resolution_rate"]
    assert (target["operator"], target["value"]) == (">=", 0.5)
    body = client.get(f"/api/v1/analytics/kpis?{NOV}", headers=admin).json()
    assert body["kpis"]["resolution_rate"]["below_target"] is False
    off = client.put("/api/v1/analytics/targets/response_rate", json={"value": None}, headers=admin)
    assert {t["code"]: t for t in off.json()}["response_rate"]["value"] is None
    bad = client.put("/api/v1/analytics/targets/nope", json={"value": 1}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    bad = client.put(
        "/api/v1/analytics/targets/csat", json={"operator": "==", "value": 1}, headers=admin
    )
    assert bad.status_code == 422
    _, manager = make_user("boss", "manager", None)
    denied = client.put("/api/v1/analytics/targets/csat", json={"value": 8}, headers=manager)
    assert denied.status_code == 403
