"""Finding 4: bad input at the edge is a 4xx naming the field, never a 500 — on both databases.

NUL characters anywhere (PostgreSQL text cannot hold them), Unicode digits (``²`` passes
``str.isdigit()``), integers beyond 32/64 bits, cursors that are not what we wrote, form ids
that are not integers. Every error body has the documented shape.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from tests.web.conftest import csrf_of, hidden, post_form

NEW = {
    "channel": "phone",
    "content": "耳机左耳没有声音，申请换货",
    "customer": {"name": "王女士", "phone": "13800138000"},
}


def cursor(values: Any) -> str:
    raw = values if isinstance(values, bytes) else json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_names(response: Any, field: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"detail", "code", "field", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str)
    assert body.get("field") == field, body
    return dict(body)


def count(db) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


# ---- NUL characters ---------------------------------------------------------------------


def test_nul_in_a_json_body_is_refused_naming_the_field(client, agent, db):
    before = count(db)
    body = {**NEW, "customer": {"name": "王\u0000女士", "phone": "13800138000"}}
    response = client.post("/api/v1/complaints", json=body, headers=agent)
    assert_names(response, "customer.name")
    raw = json.dumps({**NEW, "content": "a\u0000b"}).encode()  # the escaped form, \u0000
    assert b"\\u0000" in raw
    response = client.post(
        "/api/v1/complaints",
        content=raw,
        headers={**agent, "Content-Type": "application/json"},
    )
    assert_names(response, "content")
    assert count(db) == before  # nothing was written


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/complaints?q=%00", "q"),
        ("/api/v1/complaints?team=a%00b", "team"),
        ("/api/v1/complaints/TS%00", "path"),
        ("/api/v1/complaints/1/events?x=%00", "x"),
    ],
)
def test_nul_in_the_query_or_path_is_refused(client, agent, url, field):
    assert_names(client.get(url, headers=agent), field)


def test_nul_in_the_tracking_link_and_the_public_form_is_a_4xx_page(browser, db):
    tracking = browser.get("/t/abc%00def")
    assert tracking.status_code == 422 and "text/html" in tracking.headers["content-type"]
    page = browser.get("/submit").text
    data = {
        "csrf_token": csrf_of(page),
        "form_key": hidden(page, "form_key"),
        "name": "李先生",
        "phone": "13900000001",
        "content": "扫地机器人\x00无法开机",
        "remedy": "repair",
    }
    before = count(db)
    response = browser.post("/submit", data=data, follow_redirects=False)
    assert response.status_code == 422
    assert "content" in response.text
    assert count(db) == before


def test_nul_in_a_multipart_text_field_is_refused_but_not_in_a_file(client, admin):
    response = client.post(
        "/api/v1/triage/models/import",
        headers=admin,
        data={"text_column": "te\x00xt"},
        files={"file": ("history.csv", b"text,label\n\x00,1\n", "text/csv")},
    )
    assert_names(response, "text_column")


# ---- Unicode digits, huge integers ------------------------------------------------------


@pytest.mark.parametrize("param", ["team", "assignee"])
@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999999"])
def test_team_and_assignee_filters_refuse_odd_numbers(client, agent, param, value):
    response = client.get("/api/v1/complaints", params={param: value}, headers=agent)
    assert_names(response, param)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/complaints/99999999999999999999999999",
        "/api/v1/complaints/²",
        "/api/v1/tasks/incidents/99999999999",
        "/api/v1/routing/rules/18446744073709551616",
    ],
)
def test_huge_or_odd_ids_in_the_path_are_a_4xx(client, admin, url):
    response = client.get(url, headers=admin)
    assert 400 <= response.status_code < 500, response.text
    assert {"detail", "code"} <= set(response.json())


def test_huge_integers_in_bodies_name_the_field(client, admin):
    stage = client.get("/api/v1/stages", headers=admin).json()[0]["code"]
    response = client.patch(
        f"/api/v1/stages/{stage}", json={"time_limit_minutes": 10**30}, headers=admin
    )
    assert_names(response, "time_limit_minutes")
    created = client.post("/api/v1/complaints", json=NEW, headers=admin).json()
    response = client.post(
        f"/api/v1/complaints/{created['id']}/assign",
        json={"version": 2**70, "assignee_id": 1},
        headers=admin,
    )
    assert_names(response, "version")
    response = client.post("/api/v1/routing/rules/reorder", json={"ids": [2**40]}, headers=admin)
    assert_names(response, "ids.0")


# ---- cursors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ({}, b"[1e999]"),
        ({}, b"[NaN]"),
        ({}, b"[1.5]"),
        ({}, b"[true]"),
        ({}, [2**70]),
        ({}, [-1]),
        ({}, ["x"]),
        ({}, {"id": 1}),
        ({}, [1, 2, 3]),
        ({}, b"\xff\xfe"),
        ({"overdue": "true"}, ["2026-11-23T10:00:00", 5]),  # naive: which zone?
        ({"overdue": "true"}, ["9999-12-31T23:59:59-23:59", 5]),
        ({"overdue": "true"}, ["2026-11-23T10:00:00+00:00", 2**64]),
        ({"overdue": "true"}, [5]),
    ],
)
def test_a_cursor_we_did_not_write_is_refused(client, agent, query, value):
    params = {**query, "cursor": cursor(value)}
    assert_names(client.get("/api/v1/complaints", params=params, headers=agent), "cursor")


def test_a_cursor_we_wrote_still_pages(client, agent, make_complaint):
    for _ in range(3):
        make_complaint()
    first = client.get("/api/v1/complaints", params={"limit": 2}, headers=agent).json()
    assert first["next_cursor"]
    second = client.get(
        "/api/v1/complaints",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=agent,
    )
    assert second.status_code == 200 and len(second.json()["items"]) == 1


# ---- web form ids -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "abc", "99999999999999999999999", "-1"])
def test_a_form_id_that_is_not_an_integer_is_a_422_page(signed_in, make_complaint, value):
    complaint = make_complaint()
    lead = signed_in("lead1", role="team_lead")
    page = f"/complaints/{complaint.number}"
    response = post_form(
        lead,
        page,
        f"{page}/assign",
        {"version": str(complaint.version), "assignee_id": value, "team_id": "", "reason": "x"},
    )
    assert response.status_code == 422, response.text[:500]


@pytest.mark.parametrize("value", ["²", "99999999999999999999999"])
def test_admin_forms_refuse_odd_numbers(signed_in, value):
    admin = signed_in("admin1", role="admin", team=None)
    response = post_form(
        admin,
        "/admin/categories",
        "/admin/categories",
        {"name": "新分类", "name_en": "", "parent_id": value, "default_severity": ""},
    )
    assert response.status_code == 422, response.text[:500]
    response = admin.post("/admin/categories/99999999999999999999/deactivate", data={})
    assert 400 <= response.status_code < 500


# ---- one error shape ----------------------------------------------------------------------


def test_unknown_routes_and_methods_answer_the_error_shape(client, agent):
    missing = client.get("/api/v1/nothing-here", headers=agent)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = client.delete("/api/v1/complaints", headers=agent)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert "allow" in {k.lower() for k in wrong.headers}
    anonymous = client.get("/api/v1/complaints")
    assert anonymous.status_code == 401 and set(anonymous.json()) >= {"detail", "code"}


def test_error_messages_are_in_the_callers_language_only(client, agent):
    zh = client.get("/api/v1/complaints", params={"team": "nosuchteam"}, headers=agent).json()
    en = client.get(
        "/api/v1/complaints",
        params={"team": "nosuchteam"},
        headers={**agent, "Accept-Language": "en"},
    ).json()
    assert zh["field"] == en["field"] == "team"
    assert "unknown" not in zh["detail"].lower()
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en["detail"]), en["detail"]
    bad = client.get(
        "/api/v1/complaints", params={"limit": "x"}, headers={**agent, "Accept-Language": "en"}
    ).json()
    assert bad["field"] == "limit" and bad["errors"][0]["field"] == "limit"


def test_the_openapi_documents_the_error_shape_on_every_operation(client):
    spec = client.get("/openapi.json").json()
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status in ("401", "403", "404", "409", "422", "429", "503"):
                response = operation["responses"].get(status)
                assert response, f"{method.upper()} {path} does not document {status}"
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


# ---- the mechanism: every route's path and query values are bounded -----------------------


def _unbounded(field: Any) -> bool:
    import types
    import typing

    annotation = field.field_info.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    kinds = {type(m).__name__ for m in field.field_info.metadata}
    if annotation is int:
        return not kinds & {"Le", "Lt", "Interval"}
    if annotation is str:
        return not kinds & {"MaxLen", "_PydanticGeneralMetadata"}  # max_length or a pattern
    return False


def test_every_route_bounds_its_path_and_query_parameters(app):
    from fastapi.routing import iter_route_contexts

    def params(dependant: Any) -> list[Any]:
        found = [*dependant.path_params, *dependant.query_params]
        for sub in dependant.dependencies:
            found.extend(params(sub))
        return found

    unbounded = []
    checked = 0
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for field in params(dependant):
            checked += 1
            if _unbounded(field):
                unbounded.append(f"{sorted(route.methods)} {route.path}: {field.name}")
    assert checked > 50
    assert not unbounded, "use kesu.web.params types:\n" + "\n".join(unbounded)
