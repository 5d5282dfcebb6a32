from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def new_complaint(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "api",
        "customer": {
            "name": "王女士",
            "phone": "13800138000",
            "tier": "standard",
            "region": "上海",
        },
        "content": "收到的耳机左耳没有声音，申请换货。",
        "order_no": "SO-1001",
        "product": "降噪耳机 X1",
        "remedy": "replacement",
    }
    body.update(overrides)
    response = client.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def move(
    client: TestClient, headers: dict[str, str], complaint: dict[str, Any], to: str, **outputs: Any
) -> Any:
    return client.post(
        f"/api/v1/complaints/{complaint['id']}/transitions",
        json={"to": to, "version": complaint["version"], **outputs},
        headers=headers,
    )
