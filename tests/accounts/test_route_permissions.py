"""Finding 7: every route declares its permission, and each role × route gets what the role
table says. Generic over the route table: routes added later are checked too.

The matrix calls each permission-protected route as each role with a minimal request (ids in
the path that name nothing, no body, a valid CSRF token for forms). A role without the
permission must get 403 (or 404); a role with it must get past the check: anything but
401/403 (a 404 for the missing object or a 422 for the missing body count as "let through").
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from kesu.accounts.permissions import PUBLIC_MARK, declared
from kesu.accounts.roles import Permission, Role, can
from tests.web.conftest import csrf_of

# Served by the framework itself (the OpenAPI document).
FRAMEWORK_PATHS = {"/openapi.json"}
MISSING_ID = "999999"


def routes(app: Any) -> list[Any]:
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount) or route.path in FRAMEWORK_PATHS:
            continue  # static files and the docs' assets: public by nature
        found.append(route)
    return found


def _label(route: Any) -> str:
    methods = ",".join(sorted((route.methods or set()) - {"HEAD"}))
    endpoint = route.endpoint
    where = f"{endpoint.__module__}.{endpoint.__name__}" if endpoint else "?"
    return f"{methods} {route.path}  ({where})"


def test_every_route_declares_a_permission_or_is_public(app):
    offenders = [_label(r) for r in routes(app) if not declared(r)]
    assert not offenders, (
        "routes that declare no permission (use kesu.accounts.permissions: Needs/PageNeeds… "
        "or dependencies=[PUBLIC]):\n  " + "\n  ".join(offenders)
    )


def test_creating_a_complaint_has_its_own_permission(app):
    wanted = {
        ("POST", "/api/v1/complaints"),
        ("GET", "/complaints/new"),
        ("POST", "/complaints/new"),
    }
    seen = {
        (method, r.path): declared(r)
        for r in routes(app)
        for method in (r.methods or ())
        if (method, r.path) in wanted
    }
    assert set(seen) == wanted
    for key, permissions in seen.items():
        assert Permission.complaint_create in permissions, key
    for role in (Role.auditor, Role.finance_approver):
        assert not can(role, Permission.complaint_create)
    for role in (Role.agent, Role.team_lead, Role.manager, Role.executive, Role.admin):
        assert can(role, Permission.complaint_create)


def _protected(app: Any) -> list[tuple[str, str, frozenset[Permission]]]:
    cases = []
    for route in routes(app):
        marks = declared(route)
        permissions = frozenset(m for m in marks if isinstance(m, Permission))
        if not permissions or PUBLIC_MARK in marks:
            continue
        path = re.sub(r"\{[^}]+\}", MISSING_ID, route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            cases.append((method, path, permissions))
    return cases


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_gets_what_the_role_table_says_on_every_route(app, client, make_user, role):
    _, headers = make_user(f"matrix-{role}", role, "service")
    token = csrf_of(client.get("/submit", headers={"Accept": "text/html"}).text)
    wrong: list[str] = []
    for method, path, permissions in _protected(app):
        allowed = all(can(role, p) for p in permissions)
        kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
        if method != "GET" and not path.startswith("/api/"):
            kwargs["data"] = {"csrf_token": token}
        response = client.request(method, path, **kwargs)
        status = response.status_code
        if allowed and status in (401, 403):
            wrong.append(f"{method} {path}: {status} for {role}, who has {sorted(permissions)}")
        elif not allowed and status not in (403, 404):
            wrong.append(f"{method} {path}: {status} for {role}, who lacks {sorted(permissions)}")
        elif status >= 500:
            wrong.append(f"{method} {path}: {status} for {role}")
    assert not wrong, "\n".join(wrong)


def test_read_only_roles_cannot_register_a_complaint(client, make_user, signed_in, db):
    from sqlalchemy import func, select

    from kesu.complaints.models import Complaint

    body = {
        "channel": "phone",
        "customer": {"name": "李先生", "phone": "13900000001"},
        "content": "扫地机器人用了三天就无法开机",
    }
    for role in ("auditor", "finance_approver"):
        _, headers = make_user(f"ro-{role}", role, None)
        assert client.post("/api/v1/complaints", json=body, headers=headers).status_code == 403
    browser = signed_in("ro-page", role="auditor", team=None)
    assert browser.get("/complaints/new").status_code == 403
    page_token = csrf_of(browser.get("/").text)
    refused = browser.post(
        "/complaints/new", data={"csrf_token": page_token, "content": "x", "name": "王"}
    )
    assert refused.status_code == 403
    _, agent = make_user("agent-ok", "agent", "service")
    assert client.post("/api/v1/complaints", json=body, headers=agent).status_code == 201
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
