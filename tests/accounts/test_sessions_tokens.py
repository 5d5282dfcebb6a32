"""Finding 8: sessions are rows (logout ends them), tokens expire and can be listed and
revoked (API, page, CLI), minting needs the password again (or an admin), a cap on live
tokens, and deactivation takes effect at once on every process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from kesu.accounts.models import ApiToken, AuditLog, User, UserSession
from tests.web.conftest import csrf_of, login, post_form

PASSWORD = "password-123"


def test_logout_ends_the_session_even_for_a_kept_cookie(browser, make_user, db):
    make_user("agent1")
    assert login(browser, "agent1").status_code == 303
    kept = browser.cookies.get("kesu")
    assert browser.get("/api/v1/me").status_code == 200
    assert post_form(browser, "/", "/logout", {}, follow_redirects=False).status_code == 303
    browser.cookies.set("kesu", kept)  # an attacker who copied the cookie before logout
    assert browser.get("/api/v1/me").status_code == 401
    assert browser.get("/", follow_redirects=False).status_code == 303
    with db.session(write=False) as session:
        row = session.scalar(select(UserSession))
        assert row is not None and row.revoked_at is not None


def test_a_session_expires_on_the_server(browser, make_user, clock):
    make_user("agent1")
    login(browser, "agent1")
    assert browser.get("/api/v1/me").status_code == 200
    clock.advance(hours=12, seconds=1)
    assert browser.get("/api/v1/me").status_code == 401


def test_deactivation_ends_sessions_and_tokens_on_every_process(
    client, browser, make_user, admin, db
):
    user, headers = make_user("agent1")
    login(browser, "agent1")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert browser.get("/api/v1/me").status_code == 200
    # Another process deactivates the user: nothing in this process is told.
    with db.session() as session:
        session.execute(update(User).where(User.id == user.id).values(is_active=False))
        session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert browser.get("/api/v1/me").status_code == 401


def test_deactivating_revokes_every_session_and_token(signed_in, make_user, db):
    target, _ = make_user("agent2")
    admin_browser = signed_in("boss", role="admin", team=None)
    response = post_form(admin_browser, "/admin/users", f"/admin/users/{target.id}/deactivate", {})
    assert response.status_code == 200
    with db.session(write=False) as session:
        tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == target.id)))
        assert tokens and all(t.revoked_at is not None for t in tokens)


def test_minting_needs_the_password_again(client, make_user, clock):
    _, headers = make_user("agent1")
    missing = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers)
    assert missing.status_code == 422 and missing.json()["field"] == "password"
    wrong = client.post("/api/v1/tokens", json={"password": "not-it-at-all"}, headers=headers)
    assert wrong.status_code == 403 and wrong.json()["field"] == "password"
    clock.advance(seconds=1)  # a wrong password delays the next try (the sign-in throttle)
    ok = client.post("/api/v1/tokens", json={"name": "ci", "password": PASSWORD}, headers=headers)
    assert ok.status_code == 201
    body = ok.json()
    assert body["token"].startswith("kesu_") and body["expires_at"] and body["user"] == "agent1"
    new = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/me", headers=new).json()["username"] == "agent1"


def test_an_admin_mints_for_someone_else_without_a_password(client, make_user, admin):
    _, agent_headers = make_user("agent1")
    minted = client.post("/api/v1/tokens", json={"username": "agent1", "days": 7}, headers=admin)
    assert minted.status_code == 201 and minted.json()["user"] == "agent1"
    # …but an agent may not mint for another user.
    make_user("agent2")
    refused = client.post(
        "/api/v1/tokens", json={"username": "agent2", "password": PASSWORD}, headers=agent_headers
    )
    assert refused.status_code == 403


def test_read_only_roles_cannot_mint_tokens(client, make_user):
    for role in ("auditor", "finance_approver"):
        _, headers = make_user(f"ro-{role}", role, None)
        response = client.post("/api/v1/tokens", json={"password": PASSWORD}, headers=headers)
        assert response.status_code == 403, role


def test_tokens_expire(client, make_user, clock):
    _, headers = make_user("agent1")
    body = {"password": PASSWORD, "days": 1}
    token = client.post("/api/v1/tokens", json=body, headers=headers).json()["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=mine).status_code == 200
    clock.advance(days=1, seconds=1)
    assert client.get("/api/v1/me", headers=mine).status_code == 401
    too_long = client.post("/api/v1/tokens", json={**body, "days": 3000}, headers=headers)
    assert too_long.status_code == 422 and too_long.json()["field"] == "days"


def test_tokens_are_listed_and_revoked_at_once(client, make_user, clock):
    _, headers = make_user("agent1")
    made = client.post("/api/v1/tokens", json={"password": PASSWORD}, headers=headers).json()
    mine = {"Authorization": f"Bearer {made['token']}"}
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert {t["id"] for t in listed} >= {made["id"]}
    assert all("token" not in t for t in listed)
    assert {t["state"] for t in listed} == {"active"}
    revoked = client.delete(f"/api/v1/tokens/{made['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.get("/api/v1/me", headers=mine).status_code == 401
    # Someone else's token is not there for another agent (404, not 403: no leaks).
    _, other = make_user("agent2")
    assert client.delete(f"/api/v1/tokens/{listed[-1]['id']}", headers=other).status_code == 404


def test_a_user_holds_only_a_few_live_tokens(client, make_user, settings, clock):
    _, headers = make_user("agent1")  # the fixture minted one already
    for _ in range(settings.tokens_per_user_max - 1):
        made = client.post("/api/v1/tokens", json={"password": PASSWORD}, headers=headers)
        assert made.status_code == 201
    refused = client.post("/api/v1/tokens", json={"password": PASSWORD}, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "too_many_tokens"


def test_the_profile_page_lists_creates_and_revokes_tokens(signed_in, db):
    browser = signed_in("agent1")
    page = browser.get("/me/tokens")
    assert page.status_code == 200 and "我的 API token" in page.text
    created = browser.post(
        "/me/tokens",
        data={"csrf_token": csrf_of(page.text), "name": "集成", "days": "30", "password": PASSWORD},
    )
    assert created.status_code == 201 and "只显示这一次" in created.text
    wrong = browser.post(
        "/me/tokens",
        data={"csrf_token": csrf_of(page.text), "name": "x", "password": "wrong-one"},
    )
    assert wrong.status_code == 403 and "密码不正确" in wrong.text
    with db.session(write=False) as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "集成"))
        assert token is not None
    revoked = post_form(browser, "/me/tokens", f"/me/tokens/{token.id}/revoke", {})
    assert revoked.status_code == 200 and "已吊销" in revoked.text
    with db.session(write=False) as session:
        assert session.get(ApiToken, token.id).revoked_at is not None
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"token.create", "token.revoke"} <= actions


def test_cli_lists_and_revokes_tokens(make_user, db, backend, monkeypatch):
    from typer.testing import CliRunner

    from kesu import cli, config

    make_user("agent1")
    monkeypatch.setenv("KESU_DATABASE_URL", db.url)
    config.get_settings.cache_clear()
    try:
        runner = CliRunner()
        made = runner.invoke(cli.app, ["token", "create", "--user", "agent1", "--days", "5"])
        assert made.exit_code == 0, made.output
        listed = runner.invoke(cli.app, ["token", "list", "--user", "agent1"])
        assert listed.exit_code == 0 and listed.output.count("active") == 2
        token_id = listed.output.split("\t", 1)[0]
        revoked = runner.invoke(cli.app, ["token", "revoke", token_id])
        assert revoked.exit_code == 0, revoked.output
        after = runner.invoke(cli.app, ["token", "list", "--user", "agent1"])
        assert "revoked" in after.output
    finally:
        config.get_settings.cache_clear()
    with db.session(write=False) as session:
        row = session.get(ApiToken, int(token_id))
        assert row is not None and row.revoked_at is not None
        assert row.expires_at is not None and row.expires_at - row.created_at == timedelta(days=5)
