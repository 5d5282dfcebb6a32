"""Outgoing notification channels: pure request builders plus a classifying ``send``.

The outbox worker calls ``dispatch(kind, config, message, now, client)`` once per attempt; it never
raises for a bad config or a network problem but returns a ``DeliveryResult`` whose status says
whether to mark the job delivered, retry it later, or give up. Email and in-app notifications are
not HTTP and live elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from kesu.notify.channels import dingtalk, feishu, sms, webhook, wecom
from kesu.notify.channels.base import (
    ChannelConfigError,
    DeliveryResult,
    DeliveryStatus,
    HttpRequest,
    Message,
)

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfigError",
    "DeliveryResult",
    "DeliveryStatus",
    "HttpRequest",
    "Message",
    "dispatch",
]

BuildRequest = Callable[[Mapping[str, Any], Message, datetime], HttpRequest]
Send = Callable[[HttpRequest, httpx.Client, Mapping[str, Any] | None], DeliveryResult]


@dataclass(frozen=True)
class Channel:
    build_request: BuildRequest
    send: Send


CHANNELS: Mapping[str, Channel] = {
    "dingtalk": Channel(dingtalk.build_request, dingtalk.send),
    "feishu": Channel(feishu.build_request, feishu.send),
    "wecom": Channel(wecom.build_request, wecom.send),
    "sms": Channel(sms.build_request, sms.send),
    "webhook": Channel(webhook.build_request, webhook.send),
}


def dispatch(
    kind: str,
    config: Mapping[str, Any],
    message: Message,
    now: datetime,
    client: httpx.Client,
) -> DeliveryResult:
    """Build and send one attempt. A bad config or message is a permanent failure, not a crash,
    so one misconfigured robot cannot stall the outbox."""
    channel = CHANNELS.get(kind)
    if channel is None:
        return DeliveryResult(DeliveryStatus.FAILED, detail=f"unknown channel {kind!r}")
    try:
        request = channel.build_request(config, message, now)
    except ValueError as exc:  # includes ChannelConfigError
        return DeliveryResult(DeliveryStatus.FAILED, detail=str(exc))
    refused = webhook.refused_target(request.url)  # no loopback/private targets (issue 8)
    if refused is not None:
        return refused
    return channel.send(request, client, config)
