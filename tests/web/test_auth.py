"""Signing in and out, and CSRF protection of every state-changing form."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.complaints.models import Complaint, ComplaintEvent
from tests.web.conftest import csrf_of, login, post_form


def test_anonymous_visitor_is_sent_to_login_and_back(browser, make_user):
    response = browser.get("/?tab=team", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/")
    make_user("agent1")
    page = browser.get("/login?next=/complaints/new").text
    response = browser.post(
        "/login",
        data={
            "csrf_token": csrf_of(page),
            "username": "agent1",
            "password": "password-123",
            "next": "/complaints/new",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/complaints/new"


def test_login_shows_the_workbench_and_logout_ends_the_session(browser, make_user):
    make_user("agent1")
    assert login(browser, "agent1").headers["location"] == "/"
    page = browser.get("/")
    assert page.status_code == 200
    assert "我的待办" in page.text and "agent1" in page.text
    response = post_form(browser, "/", "/logout", {}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_is_refused_and_the_username_kept(browser, make_user):
    make_user("agent1")
    response = login(browser, "agent1", "not-the-password")
    assert response.status_code == 400
    assert "用户名或密码不正确" in response.text
    assert 'value="agent1"' in response.text
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_login_never_redirects_to_another_site(browser, make_user):
    make_user("agent1")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        browser.cookies.clear()
        response = post_form(
            browser,
            "/login",
            "/login",
            {"username": "agent1", "password": "password-123", "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target


def _notes(db) -> int:
    with db.session(write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ComplaintEvent)
                .where(ComplaintEvent.kind == "note")
            )
            or 0
        )


def test_a_post_without_the_right_csrf_token_is_refused(signed_in, make_complaint, db, app):
    complaint = make_complaint()
    client = signed_in()
    action = f"/complaints/{complaint.number}/note"
    form = {"body": "内部备注", "public": "0", "version": str(complaint.version)}
    missing = client.post(action, data=form)
    forged = client.post(action, data={**form, "csrf_token": "forged-token"})
    assert missing.status_code == forged.status_code == 403
    assert "表单已过期" in forged.text
    # A real token, but from somebody else's session, is refused too.
    from fastapi.testclient import TestClient

    with TestClient(app) as stranger:
        theirs = csrf_of(stranger.get("/submit").text)
    assert client.post(action, data={**form, "csrf_token": theirs}).status_code == 403
    assert _notes(db) == 0
    ok = post_form(client, f"/complaints/{complaint.number}", action, form)
    assert ok.status_code == 200 and _notes(db) == 1


def test_the_public_form_needs_its_token_too(browser, db):
    response = browser.post(
        "/submit",
        data={"name": "李先生", "phone": "13900000001", "content": "坏了", "form_key": "k1"},
    )
    assert response.status_code == 403
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
