"""The webhook over real HTTP: a uvicorn server on 127.0.0.1 and a sender signing its raw
bytes as a monitoring service would (both databases)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.config import Settings
from kesu.intake.social.models import SocialMention
from kesu.intake.social.service import sign
from kesu.web.app import create_app
from tests.intake.social.conftest import CHATTER, COMPLAINT, WEIBO_MAPPING, weibo_post

# httpx's default 5 s read timeout is shorter than a loaded CI machine may take to answer the
# first complaint of a process (imports, the segmenter's dictionary): the test then failed
# with ReadTimeout in a parallel run and passed alone. The bound is for a hung server only.
HTTP = {"timeout": 60.0, "trust_env": False}


@pytest.fixture
def live(db: Any, clock: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue in the backlog until uvicorn accepts them: no waiting
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(database_url=db.url, environment="test", base_url=url)
    app = create_app(settings, clock=clock, db=db)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _send(url: str, code: str, secret: str, payload: Any, now: int) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Kesu-Timestamp": str(now),
        "X-Kesu-Signature": sign(secret, str(now), body),
    }
    return httpx.post(f"{url}/api/v1/intake/social/{code}", content=body, headers=headers, **HTTP)


def test_signed_posts_over_loopback(live, db, clock, admin):
    source = httpx.post(
        f"{live}/api/v1/intake/social/sources",
        json={"code": "weibo", "name": "微博", "platform": "weibo", "mapping": WEIBO_MAPPING},
        headers=admin,
        **HTTP,
    )
    assert source.status_code == 201, source.text
    secret = source.json()["secret"]
    assert source.json()["webhook_url"] == f"{live}/api/v1/intake/social/weibo"
    now = int(clock.now().timestamp())
    complaint = _send(live, "weibo", secret, weibo_post(COMPLAINT, "L1"), now)
    assert complaint.status_code == 201 and complaint.json()["result"] == "complaint"
    mention = _send(live, "weibo", secret, weibo_post(CHATTER, "L2"), now)
    assert mention.status_code == 201 and mention.json()["result"] == "mention"
    replay = _send(live, "weibo", secret, weibo_post(COMPLAINT, "L1"), now)
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    stale = _send(live, "weibo", secret, weibo_post(COMPLAINT, "L3"), now - 600)
    assert stale.status_code == 401
    forged = _send(live, "weibo", "guessed", weibo_post(COMPLAINT, "L4"), now)
    assert forged.status_code == 401
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        assert session.scalar(select(func.count()).select_from(SocialMention)) == 2
