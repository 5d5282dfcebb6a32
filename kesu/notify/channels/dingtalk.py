"""DingTalk (钉钉) custom group robot.

Config: ``{"url": "https://oapi.dingtalk.com/robot/send?access_token=…"}`` (or ``access_token``),
optional ``secret`` (the robot's "加签" secret, ``SEC…``), ``msgtype`` (``markdown`` or ``text``),
``at_mobiles`` (list of phone numbers to @), ``at_all`` and ``retry_codes``.

Signing ("加签"): ``string_to_sign = timestamp_ms + "\\n" + secret``; ``sign =
base64(HMAC-SHA256(key=secret, msg=string_to_sign))``, URL-encoded and appended to the webhook
URL as ``&timestamp=…&sign=…``. DingTalk refuses timestamps more than an hour away from its
clock. It answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from kesu.notify.channels.base import (
    ChannelConfigError,
    DeliveryResult,
    HttpRequest,
    Message,
    check_error_code,
    deliver,
    int_codes,
    json_request,
    optional_str,
)

API_URL = "https://oapi.dingtalk.com/robot/send"
# 130101: "send too fast, exceed 20 times per minute"; -1: system busy. Others are permanent.
RETRY_CODES = frozenset({130101, -1})
MAX_CLOCK_SKEW = timedelta(hours=1)


def sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (not yet URL-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(
    secret: str,
    timestamp_ms: str,
    signature: str,
    now: datetime,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> bool:
    """Check ``timestamp``/``sign`` as a receiver sees them (query parameters, URL-decoded)."""
    if not timestamp_ms.isdigit():
        return False
    sent = int(timestamp_ms)
    if abs(now.timestamp() * 1000 - sent) > max_skew.total_seconds() * 1000:
        return False
    return hmac.compare_digest(sign(secret, sent), signature)


def build_request(config: Mapping[str, Any], message: Message, now: datetime) -> HttpRequest:
    url = _base_url(config)
    secret = optional_str(config, "secret", "dingtalk")
    if secret:
        timestamp_ms = int(now.timestamp() * 1000)
        separator = "&" if "?" in url else "?"
        url += (
            f"{separator}timestamp={timestamp_ms}&sign={quote(sign(secret, timestamp_ms), safe='')}"
        )
    return json_request(url, _body(config, message))


def send(
    request: HttpRequest, client: httpx.Client, config: Mapping[str, Any] | None = None
) -> DeliveryResult:
    retry_codes = int_codes(config or {}, RETRY_CODES, "dingtalk")
    return deliver(
        request,
        client,
        lambda response: check_error_code(response, ("errcode",), ("errmsg",), retry_codes),
    )


def _base_url(config: Mapping[str, Any]) -> str:
    url = optional_str(config, "url", "dingtalk")
    token = optional_str(config, "access_token", "dingtalk")
    if url:
        return url
    if token:
        return f"{API_URL}?access_token={quote(token, safe='')}"
    raise ChannelConfigError("dingtalk.url: required (or dingtalk.access_token)")


def _body(config: Mapping[str, Any], message: Message) -> dict[str, Any]:
    msgtype = config.get("msgtype", "markdown")
    at = {"atMobiles": list(config.get("at_mobiles", [])), "isAtAll": bool(config.get("at_all"))}
    if msgtype == "markdown":
        # The title is what the chat list and the phone notification show.
        text = f"#### {message.title}\n\n{message.text}"
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}, "at": at}
    if msgtype == "text":
        content = f"{message.title}\n{message.text}" if message.title else message.text
        return {"msgtype": "text", "text": {"content": content}, "at": at}
    raise ChannelConfigError("dingtalk.msgtype: must be markdown or text")
