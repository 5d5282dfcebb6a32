"""Helpers for the social webhook: a source made through the API, signed deliveries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kesu.intake.social.service import sign
from tests.web.conftest import browser, fresh_configuration_cache, signed_in  # noqa: F401

WEIBO_MAPPING = {
    "content": "data.post.text",
    "author": "data.user.screen_name",
    "url": "data.post.url",
    "external_id": "data.post.id",
}
COMPLAINT = "买的空调用了三天就坏了，客服一直不回复，太气愤了，我要投诉，要求退款！"
CHATTER = "今天天气不错，去公园散步，推荐大家这家店的奶茶"


def weibo_post(text: str, post_id: str = "P1001", handle: str = "小王爱吐槽") -> dict[str, Any]:
    return {
        "data": {
            "post": {"id": post_id, "text": text, "url": f"https://weibo.com/123/{post_id}"},
            "user": {"screen_name": handle},
        }
    }


@pytest.fixture
def source(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/intake/social/sources",
        json={"code": "weibo", "name": "微博", "platform": "weibo", "mapping": WEIBO_MAPPING},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def deliver(
    client: TestClient,
    code: str,
    secret: str,
    payload: Any,
    *,
    timestamp: int | None = None,
    delivery: str | None = None,
    signature: str | None = None,
    raw: bytes | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    now = int(client.app.state.clock.now().timestamp())  # type: ignore[attr-defined]
    ts = str(timestamp if timestamp is not None else now)
    headers = {
        "Content-Type": "application/json",
        "X-Kesu-Timestamp": ts,
        "X-Kesu-Signature": signature or sign(secret, ts, body),
    }
    if delivery:
        headers["X-Kesu-Delivery"] = delivery
    return client.post(f"/api/v1/intake/social/{code}", content=body, headers=headers)
