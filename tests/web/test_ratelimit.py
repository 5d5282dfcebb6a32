"""Issue 8, finding 6: the public form took 25-50 anonymous complaints a second from one
client. Public endpoints are now limited per client address and per form session (429 with
Retry-After), counted on the app's clock; an optional challenge hook guards the form."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.config import Settings
from kesu.web.app import create_app
from kesu.web.ratelimit import MovingWindow, address_key, parse_rules
from tests.web.conftest import HTML, csrf_of, hidden

FORM = {
    "name": "李先生",
    "phone": "13900000001",
    "content": "扫地机器人用了三天就无法开机",
    "remedy": "repair",
}

Client = Callable[..., TestClient]


@pytest.fixture
def make_client(db, clock) -> Iterator[Client]:
    """A browser on an app with the given settings, from the given peer address."""
    opened: list[TestClient] = []

    def make(
        address: str = "203.0.113.7", headers: dict[str, str] | None = None, **overrides: Any
    ) -> TestClient:
        settings = Settings(
            database_url=db.url, environment="test", base_url="http://testserver", **overrides
        )
        app = create_app(settings, clock=clock, db=db)
        client = TestClient(app, headers=headers or HTML, client=(address, 40000))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _count(db) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


def _submit(browser: TestClient, **headers: str) -> Any:
    page = browser.get("/submit").text
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM}
    return browser.post("/submit", data=data, follow_redirects=False, headers=headers)


def test_the_public_form_is_limited_with_a_page_and_retry_after(make_client, db, clock):
    browser = make_client(rate_limit_public="3/minute;5/hour")
    assert [_submit(browser).status_code for _ in range(3)] == [303, 303, 303]
    refused = _submit(browser)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "请求过于频繁" in refused.text and "<html" in refused.text.lower()
    assert _count(db) == 3
    # In English for a visitor who chose English.
    browser.cookies.set("lang", "en")
    assert "Too many requests" in _submit(browser).text
    # The window moves with the app's clock: a minute later, two more (the hourly rule: 5).
    clock.advance(timedelta(seconds=61))
    assert [_submit(browser).status_code for _ in range(3)] == [303, 303, 429]
    assert _count(db) == 5
    retry = int(_submit(browser).headers["Retry-After"])
    assert 3400 < retry <= 3600


def test_one_form_session_is_limited_from_any_address(make_client, db):
    # Behind a trusted proxy, each request claims another address; reusing one session
    # (one CSRF token) still counts against the session.
    browser = make_client(
        address="10.0.0.2", rate_limit_public="2/minute", trusted_proxies="10.0.0.0/8"
    )
    page = browser.get("/submit").text
    token = csrf_of(page)
    statuses = []
    for i in range(3):
        data = {"csrf_token": token, "form_key": f"key-{i}", **FORM}
        statuses.append(
            browser.post(
                "/submit",
                data=data,
                follow_redirects=False,
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
        )
    assert statuses == [303, 303, 429]
    assert _count(db) == 2


def test_forwarded_for_counts_only_from_a_trusted_proxy(make_client):
    def lookups(browser: TestClient) -> list[int]:
        return [
            browser.get(
                "/t/no-such-token", headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(3)
        ]

    # An untrusted peer cannot pick a new address per request: one bucket.
    assert lookups(make_client(rate_limit_lookup="2/minute")) == [404, 404, 429]
    # A trusted proxy's clients are told apart by X-Forwarded-For.
    trusted = make_client(
        address="10.1.2.3", rate_limit_lookup="2/minute", trusted_proxies="10.1.2.3"
    )
    assert lookups(trusted) == [404, 404, 404]


def test_tracking_pages_are_limited_against_token_guessing(make_client, make_complaint):
    complaint = make_complaint()
    browser = make_client(rate_limit_lookup="5/minute", rate_limit_public="2/minute")
    url = f"/t/{complaint.tracking_token}"
    guesses = [browser.get(f"/t/guess-{i}").status_code for i in range(5)]
    assert guesses == [404] * 5
    assert browser.get(url).status_code == 429  # even the right token, once over the limit
    other = make_client(address="203.0.113.99", rate_limit_public="2/minute")
    page = other.get(url).text
    statuses = [
        other.post(
            f"{url}/message", data={"csrf_token": csrf_of(page), "body": "还没人联系我"}
        ).status_code
        for _ in range(3)
    ]
    assert statuses[:2] != [429, 429] and statuses[2] == 429


def test_an_api_client_gets_the_json_error(make_client):
    client = make_client(headers={"Accept": "application/json"}, rate_limit_lookup="1/minute")
    assert client.get("/t/nothing").status_code == 404
    refused = client.get("/t/nothing")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    body = refused.json()
    assert body["code"] == "rate_limited" and body["detail"]


def test_moving_window_counts_on_the_given_clock(clock):
    window = MovingWindow(parse_rules("2/second;3/minute"), clock)
    assert window.hit(["a"]) is None and window.hit(["a"]) is None
    assert window.hit(["a"]) == 1
    assert window.hit(["b"]) is None  # another key has its own count
    clock.advance(timedelta(seconds=1))
    assert window.hit(["a"]) is None
    assert window.hit(["a"]) == 59  # the minute rule: the first hit leaves after 60 s
    assert MovingWindow(parse_rules(""), clock).hit(["a"]) is None


class SumChallenge:
    """A test challenge: 3 + 4."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def widget_html(self, request: Any) -> str:
        return '<label>3 + 4 = <input name="sum" id="challenge-sum"></label>'

    def verify(self, request: Any, form: Any, client_address: str) -> bool:
        return form.get("sum") == "7" and client_address == "203.0.113.7"


def test_a_challenge_provider_plugs_into_the_form(make_client, db):
    browser = make_client(challenge="tests.web.test_ratelimit:SumChallenge")
    page = browser.get("/submit").text
    assert 'id="challenge-sum"' in page
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM}
    wrong = browser.post("/submit", data={**data, "sum": "8"}, follow_redirects=False)
    assert wrong.status_code == 422 and "人机验证" in wrong.text
    assert _count(db) == 0
    right = browser.post("/submit", data={**data, "sum": "7"}, follow_redirects=False)
    assert right.status_code == 303 and _count(db) == 1


def test_without_a_provider_the_form_has_no_widget(make_client):
    assert "challenge" not in make_client().get("/submit").text


def test_ipv6_clients_are_counted_by_their_64_prefix(make_client):
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    browser = make_client(
        address="10.0.0.1", trusted_proxies="10.0.0.1", rate_limit_lookup="2/minute"
    )

    def lookup(address: str) -> int:
        return browser.get("/t/x", headers={"X-Forwarded-For": address}).status_code

    assert [lookup(f"2001:db8:1:2::{i}") for i in range(1, 4)] == [404, 404, 429]
    assert lookup("2001:db8:1:3::1") == 404  # the next /64 is someone else
