"""Links that work: KESU_BASE_URL when set, else the address the request came in on (a real
uvicorn server on a free port), else in the worker the last address a staff request used."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.requests import Request

from kesu.config import Settings, get_settings
from kesu.db import Database
from kesu.notify.models import SiteValue
from kesu.web import public_url
from kesu.web.app import create_app
from tests.flows import create, outbox
from tests.web.conftest import HTML, csrf_of


@dataclass
class Live:
    url: str
    port: int


@pytest.fixture
def live(db: Database, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """kesu on a free port of 127.0.0.1, KESU_BASE_URL unset."""
    monkeypatch.delenv("KESU_BASE_URL", raising=False)
    get_settings.cache_clear()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(database_url=db.url, environment="test", base_url="")
    app = create_app(settings, clock=clock, db=db)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up only: returns as soon as it is up
    while not server.started:  # start-up only; the tests themselves never wait
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield Live(f"http://127.0.0.1:{port}", port)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    get_settings.cache_clear()


def stored(db: Database) -> str | None:
    with db.session(write=False) as session:
        return session.scalar(select(SiteValue.value).where(SiteValue.key == "public_url"))


def test_a_link_made_by_a_server_on_port_p_points_at_port_p(live: Live, db, agent):
    with httpx.Client(base_url=live.url, trust_env=False, timeout=60) as http:
        made = http.post(
            "/api/v1/complaints",
            headers=agent,
            json={
                "channel": "api",
                "customer": {"name": "王小明", "email": "xiaoming@example.com"},
                "content": "耳机左耳没有声音",
            },
        )
        assert made.status_code == 201, made.text
        body = made.json()
        tracking = body["tracking_url"]
        assert tracking.startswith(f"http://127.0.0.1:{live.port}/t/")
        (ack,) = outbox(db, complaint_id=body["id"])
        assert tracking in ack.body  # the acknowledgement's link too
        page = http.get(tracking.removeprefix(live.url), headers=HTML)
        assert f'value="{tracking}"' in page.text

        form = http.get("/submit", headers=HTML)
        sent = http.post(
            "/submit",
            data={
                "csrf_token": csrf_of(form.text),
                "form_key": "k-live",
                "name": "李华",
                "email": "lihua@example.com",
                "content": "充电盒不能充电",
            },
            headers=HTML,
            cookies=form.cookies,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"].startswith("/t/")
    rows = [r for r in outbox(db) if r.recipient == "lihua@example.com"]
    assert len(rows) == 1 and f"http://127.0.0.1:{live.port}/t/" in rows[0].body
    # a staff request was served on port P: the worker's links will use it
    assert stored(db) == live.url


def test_the_worker_uses_the_last_public_url(live: Live, db, clock, agent):
    with httpx.Client(base_url=live.url, trust_env=False, timeout=60) as http:
        made = http.post(
            "/api/v1/complaints",
            headers=agent,
            json={
                "channel": "api",
                "customer": {"name": "甲", "phone": "13800138000"},
                "content": "坏了",
            },
        )
        assert made.status_code == 201, made.text
    assert stored(db) == live.url
    # No request now (the worker, an email poller): the last public address is used.
    complaint_id = create(
        db, clock, channel="email", customer={"name": "乙", "email": "yi@example.com"}
    )
    (ack,) = outbox(db, complaint_id=complaint_id)
    assert f"{live.url}/t/" in ack.body


def test_a_visitors_forged_host_is_not_remembered(client, db, clock, monkeypatch):
    monkeypatch.delenv("KESU_BASE_URL", raising=False)
    get_settings.cache_clear()
    app = client.app
    app.state.settings.base_url = ""
    with TestClient(app, base_url="http://evil.example:666") as visitor:
        form = visitor.get("/submit", headers=HTML)
        visitor.post(
            "/submit",
            data={
                "csrf_token": csrf_of(form.text),
                "form_key": "k-evil",
                "name": "访客",
                "email": "v@example.com",
                "content": "测试",
            },
            headers=HTML,
        )
    (row,) = outbox(db)
    assert "http://evil.example:666/t/" in row.body  # their own link: their own address
    assert stored(db) is None  # …but not everybody's
    complaint_id = create(db, clock, channel="email", customer={"name": "乙", "email": "y@x.cn"})
    (ack,) = outbox(db, complaint_id=complaint_id)
    assert f"{public_url.FALLBACK}/t/" in ack.body


def test_kesu_base_url_wins_everywhere(db, clock, agent, monkeypatch):
    monkeypatch.setenv("KESU_BASE_URL", "https://kesu.example.com/")
    get_settings.cache_clear()
    try:
        settings = Settings(database_url=db.url, environment="test")
        app = create_app(settings, clock=clock, db=db)
        with TestClient(app, base_url="http://127.0.0.1:9999") as http:
            made = http.post(
                "/api/v1/complaints",
                headers=agent,
                json={
                    "channel": "api",
                    "customer": {"name": "甲", "email": "a@example.com"},
                    "content": "坏了",
                },
            )
        assert made.json()["tracking_url"].startswith("https://kesu.example.com/t/")
        assert made.json()["locale"] == "zh_CN"
        complaint_id = create(
            db, clock, channel="email", customer={"name": "乙", "email": "b@x.cn"}
        )
        (ack,) = outbox(db, complaint_id=complaint_id)
        assert "https://kesu.example.com/t/" in ack.body  # the worker too
    finally:
        get_settings.cache_clear()


def _request(headers: dict[str, str], peer: str = "10.0.0.5", scheme: str = "http") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "scheme": scheme,
            "server": ("127.0.0.1", 8000),
            "client": (peer, 40000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "query_string": b"",
        }
    )


def test_forwarded_headers_are_believed_only_from_trusted_proxies():
    trusting = Settings(environment="test", base_url="", trusted_proxies="10.0.0.0/8")
    forwarded = {
        "Host": "127.0.0.1:8000",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "kesu.example.com",
    }
    assert public_url.of_request(_request(forwarded), trusting).url == "https://kesu.example.com"
    port = {**forwarded, "X-Forwarded-Port": "8443"}
    assert public_url.of_request(_request(port), trusting).url == "https://kesu.example.com:8443"
    stranger = _request(forwarded, peer="203.0.113.9")
    assert public_url.of_request(stranger, trusting).url == "http://127.0.0.1:8000"
    plain = Settings(environment="test", base_url="")
    assert public_url.of_request(_request(forwarded), plain).url == "http://127.0.0.1:8000"
    default_port = _request({"Host": "kesu.example.com:443"}, scheme="https")
    assert public_url.of_request(default_port, plain).url == "https://kesu.example.com"
    junk = _request({"Host": "evil.com/<script>"})
    assert public_url.of_request(junk, plain).url == "http://127.0.0.1:8000"  # the socket's


def test_serve_prints_the_url_and_warns_in_production(monkeypatch, capsys):
    from kesu import cli

    monkeypatch.delenv("KESU_BASE_URL", raising=False)
    monkeypatch.setenv("KESU_ENVIRONMENT", "production")
    get_settings.cache_clear()
    try:
        cli._print_public_url("0.0.0.0", 8123)
        out = " ".join(capsys.readouterr().out.split())
        assert "http://0.0.0.0:8123" in out and "KESU_BASE_URL is not set" in out
        monkeypatch.setenv("KESU_BASE_URL", "https://kesu.example.com")
        get_settings.cache_clear()
        cli._print_public_url("0.0.0.0", 8123)
        out = " ".join(capsys.readouterr().out.split())
        assert "https://kesu.example.com" in out and "warning" not in out
    finally:
        get_settings.cache_clear()
