"""Fixtures for the HTML pages: a browser-like client (it asks for text/html and keeps
cookies), signing in, reading the CSRF token and the values of a rendered form."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from kesu.taxonomy import cache as config_cache

PASSWORD = "password-123"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(autouse=True)
def fresh_configuration_cache() -> None:
    """Stages and form fields are cached per process for a few seconds; a test that edits
    them on a reused PostgreSQL database must not leak into the next test."""
    config_cache.clear()


@pytest.fixture
def browser(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers=HTML) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"the page has no field {name}"
    return found.group(1)


def post_form(
    client: TestClient, page: str, action: str, data: dict[str, str], **kwargs: Any
) -> Any:
    """GETs ``page`` (as a person would) and POSTs ``data`` to ``action`` with its token."""
    html = client.get(page).text
    return client.post(action, data={"csrf_token": csrf_of(html), **data}, **kwargs)


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return post_form(
        client,
        "/login",
        "/login",
        {"username": username, "password": password, "next": "/"},
        follow_redirects=False,
    )


@pytest.fixture
def signed_in(browser: TestClient, make_user: Any) -> Callable[..., TestClient]:
    """``signed_in("agent1", role="agent")`` creates the user and signs the browser in."""

    def sign_in(
        username: str = "agent1", role: str = "agent", team: str | None = "service"
    ) -> TestClient:
        make_user(username, role, team)
        response = login(browser, username)
        assert response.status_code == 303, response.text
        return browser

    return sign_in


@pytest.fixture
def make_complaint(db: Any, clock: Any) -> Callable[..., Complaint]:
    """A complaint registered through the service, as the public form would."""

    def make(content: str = "收到的耳机左耳没有声音，申请换货。", **overrides: Any) -> Complaint:
        body: dict[str, Any] = {
            "channel": "web",
            "content": content,
            "order_no": "SO-1001",
            "customer": {"name": "王女士", "phone": "13800138000"},
        }
        body.update(overrides)
        with db.session() as session:
            complaint, _ = registration.create_complaint(
                session,
                clock,
                Actor("customer", None, "王女士"),
                ComplaintCreate.model_validate(body),
            )
        return complaint

    return make
