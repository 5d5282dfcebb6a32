"""Issue 8: notification messages in one language (the caller's), not "中文 (english)"."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_unknown_channel_is_said_in_one_language(client, agent):
    body = {"channels": ["pigeon"]}
    zh = client.put("/api/v1/notifications/preferences", json=body, headers=agent)
    assert zh.status_code == 422 and zh.json()["field"] == "channels"
    assert "未知渠道" in zh.json()["detail"] and "channels:" not in zh.json()["detail"]
    en = client.put(
        "/api/v1/notifications/preferences",
        json=body,
        headers={**agent, "Accept-Language": "en"},
    )
    assert en.status_code == 422 and not CJK.search(en.json()["detail"])
    assert "pigeon" in en.json()["detail"]


def test_retrying_a_missing_delivery_is_said_in_one_language(client, admin):
    en = client.post("/api/v1/outbox/999999/retry", headers={**admin, "Accept-Language": "en"})
    assert en.status_code == 404 and en.json()["detail"] == "No such delivery: 999999"
    zh = client.post("/api/v1/outbox/999999/retry", headers=admin)
    assert zh.json()["detail"] == "没有这条发送记录：999999"
