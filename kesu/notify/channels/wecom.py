"""WeCom (企业微信) group robot.

Config: ``{"key": "…"}`` or the full ``{"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/
send?key=…"}``, optional ``msgtype`` (``markdown`` or ``text``) and ``retry_codes``.

There is no signature: the key in the URL is the secret, so keep it out of logs. WeCom answers
HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``. Markdown content is limited to 4096 bytes and
text to 2048 bytes of UTF-8; longer messages are cut (at a character boundary) rather than
rejected with errcode 40058, because a truncated alert beats a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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

API_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
# 45009: API call frequency over limit (20 messages a minute per robot); -1: system busy.
RETRY_CODES = frozenset({45009, -1})
MAX_BYTES = {"markdown": 4096, "text": 2048}


def build_request(config: Mapping[str, Any], message: Message, now: datetime) -> HttpRequest:
    del now  # unsigned: nothing depends on the time
    msgtype = config.get("msgtype", "markdown")
    if msgtype not in MAX_BYTES:
        raise ChannelConfigError("wecom.msgtype: must be markdown or text")
    if msgtype == "markdown":
        content = f"### {message.title}\n{message.text}" if message.title else message.text
    else:
        content = f"{message.title}\n{message.text}" if message.title else message.text
    content = truncate_utf8(content, MAX_BYTES[msgtype])
    return json_request(_url(config), {"msgtype": msgtype, msgtype: {"content": content}})


def send(
    request: HttpRequest, client: httpx.Client, config: Mapping[str, Any] | None = None
) -> DeliveryResult:
    retry_codes = int_codes(config or {}, RETRY_CODES, "wecom")
    return deliver(
        request,
        client,
        lambda response: check_error_code(response, ("errcode",), ("errmsg",), retry_codes),
    )


def truncate_utf8(text: str, max_bytes: int, ellipsis: str = "…") -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    budget = max_bytes - len(ellipsis.encode("utf-8"))
    # errors="ignore" drops a multi-byte character cut in half at the end.
    return encoded[:budget].decode("utf-8", errors="ignore") + ellipsis


def _url(config: Mapping[str, Any]) -> str:
    url = optional_str(config, "url", "wecom")
    key = optional_str(config, "key", "wecom")
    if url:
        return url
    if key:
        return f"{API_URL}?key={quote(key, safe='')}"
    raise ChannelConfigError("wecom.key: required (or wecom.url)")
