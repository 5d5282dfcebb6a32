"""Issue 8 (smaller): a user email of ``<not an email>`` was accepted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu.accounts.models import User
from tests.web.conftest import post_form

BAD = ["<not an email>", "a@", "two@@example.com", "x y@example.com"]


def _user(db, username: str) -> User | None:
    with db.session(write=False) as session:
        return session.scalar(select(User).where(User.username == username))


@pytest.mark.parametrize("email", BAD)
def test_the_api_refuses_a_bad_email(client, admin, db, email):
    body = {"username": "mei", "password": "password-123", "role": "agent", "email": email}
    response = client.post("/api/v1/users", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "email"
    assert _user(db, "mei") is None


def test_the_api_keeps_a_good_email_normalised(client, admin, db):
    body = {
        "username": "mei",
        "password": "password-123",
        "role": "agent",
        "email": "Mei@Example.COM",
    }
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201
    user = _user(db, "mei")
    assert user is not None and user.email == "Mei@example.com"


def test_the_admin_form_refuses_a_bad_email(signed_in, db):
    browser = signed_in("admin1", role="admin", team=None)
    response = post_form(
        browser,
        "/admin/users",
        "/admin/users",
        {"username": "mei", "password": "password-123", "role": "agent", "email": "<not an email>"},
    )
    assert response.status_code == 422
    assert "邮箱地址无效" in response.text
    assert _user(db, "mei") is None
