"""Feishu / Lark (飞书) custom group bot.

Config: ``{"url": "https://open.feishu.cn/open-apis/bot/v2/hook/…"}`` (Lark:
``https://open.larksuite.com/…``), optional ``secret`` ("签名校验") and ``retry_codes``.

Signing differs from DingTalk: the timestamp is in *seconds*, and ``timestamp + "\\n" + secret``
is the HMAC-SHA256 *key* over an empty message; ``sign = base64(digest)``. Both go in the JSON
body, not the URL. Feishu refuses timestamps more than an hour from its clock. It answers HTTP 200
with ``{"code": 0, "msg": "success"}`` (older bots: ``StatusCode``/``StatusMessage``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from kesu.notify.channels.base import (
    DeliveryResult,
    HttpRequest,
    Message,
    check_error_code,
    deliver,
    int_codes,
    json_request,
    optional_str,
    require_str,
)

# 11232: message rate limit for the bot. Unknown codes are treated as permanent; admins can
# extend the list per channel with ``retry_codes``.
RETRY_CODES = frozenset({11232})
MAX_CLOCK_SKEW = timedelta(hours=1)


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    now: datetime,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> bool:
    """Check the ``timestamp``/``sign`` fields of a received body."""
    if not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > max_skew.total_seconds():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp)), signature)


def build_request(config: Mapping[str, Any], message: Message, now: datetime) -> HttpRequest:
    url = require_str(config, "url", "feishu")
    secret = optional_str(config, "secret", "feishu")
    text = f"{message.title}\n{message.text}" if message.title else message.text
    body: dict[str, Any] = {}
    if secret:
        timestamp = int(now.timestamp())
        body = {"timestamp": str(timestamp), "sign": sign(secret, timestamp)}
    body.update({"msg_type": "text", "content": {"text": text}})
    return json_request(url, body)


def send(
    request: HttpRequest, client: httpx.Client, config: Mapping[str, Any] | None = None
) -> DeliveryResult:
    retry_codes = int_codes(config or {}, RETRY_CODES, "feishu")
    return deliver(
        request,
        client,
        lambda r: check_error_code(
            r, ("code", "StatusCode"), ("msg", "StatusMessage"), retry_codes
        ),
    )
