"""Requests really go over HTTP to a receiver on 127.0.0.1 that checks them like the vendor."""

import socket
import time
from datetime import UTC, datetime

import httpx

from kesu.notify.channels import (
    DeliveryStatus,
    Message,
    dingtalk,
    dispatch,
    feishu,
    sms,
    webhook,
    wecom,
)
from tests.notify.conftest import Answer, Received, Receiver, json_answer

MESSAGE = Message(
    title="升级提醒",
    text="投诉 KS-1 已超时 48 小时",
    event="complaint.escalated",
    delivery_id="outbox-7",
    to="13800138000",
)


def now() -> datetime:
    # The receiver checks freshness against its real clock, like DingTalk and Feishu do.
    return datetime.now(UTC)


def dingtalk_robot(secret: str):
    def handle(request: Received) -> Answer:
        q = request.query
        if not dingtalk.verify(secret, q.get("timestamp", ""), q.get("sign", ""), now()):
            return json_answer({"errcode": 310000, "errmsg": "sign not match"})
        return json_answer({"errcode": 0, "errmsg": "ok"})

    return handle


def feishu_bot(secret: str):
    def handle(request: Received) -> Answer:
        body = request.json()
        assert isinstance(body, dict)
        if not feishu.verify(secret, body.get("timestamp", ""), body.get("sign", ""), now()):
            return json_answer({"code": 19021, "msg": "sign match fail", "data": {}})
        return json_answer({"code": 0, "msg": "success", "data": {}})

    return handle


def test_dingtalk_signed_delivery(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = dingtalk_robot("SECgood")
    config = {"url": f"{receiver.url}/robot/send?access_token=abc", "secret": "SECgood"}
    result = dispatch("dingtalk", config, MESSAGE, now(), http_client)
    assert result.ok, result
    (seen,) = receiver.received
    assert seen.path == "/robot/send" and seen.query["access_token"] == "abc"
    assert seen.json() == {
        "msgtype": "markdown",
        "markdown": {"title": "升级提醒", "text": "#### 升级提醒\n\n投诉 KS-1 已超时 48 小时"},
        "at": {"atMobiles": [], "isAtAll": False},
    }


def test_dingtalk_errcode_is_a_permanent_failure(
    receiver: Receiver, http_client: httpx.Client
) -> None:
    receiver.handle = dingtalk_robot("SECgood")
    config = {"url": f"{receiver.url}/robot/send?access_token=abc", "secret": "SECwrong"}
    result = dispatch("dingtalk", config, MESSAGE, now(), http_client)
    assert result.status is DeliveryStatus.FAILED
    assert result.http_status == 200
    assert "310000" in result.detail


def test_dingtalk_rate_limit_is_retryable(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = lambda _: json_answer({"errcode": 130101, "errmsg": "send too fast"})
    request = dingtalk.build_request({"url": receiver.url}, MESSAGE, now())
    assert dingtalk.send(request, http_client).retryable


def test_feishu_signed_delivery(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = feishu_bot("fs-secret")
    config = {"url": f"{receiver.url}/open-apis/bot/v2/hook/x", "secret": "fs-secret"}
    assert dispatch("feishu", config, MESSAGE, now(), http_client).ok
    bad = dispatch("feishu", {**config, "secret": "nope"}, MESSAGE, now(), http_client)
    assert bad.status is DeliveryStatus.FAILED and "19021" in bad.detail


def test_feishu_legacy_status_code(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = lambda _: json_answer({"StatusCode": 0, "StatusMessage": "success"})
    assert dispatch("feishu", {"url": receiver.url}, MESSAGE, now(), http_client).ok


def test_wecom_errcode(receiver: Receiver, http_client: httpx.Client) -> None:
    config = {"url": f"{receiver.url}/cgi-bin/webhook/send?key=k"}
    receiver.handle = lambda _: json_answer({"errcode": 0, "errmsg": "ok"})
    assert dispatch("wecom", config, MESSAGE, now(), http_client).ok
    receiver.handle = lambda _: json_answer({"errcode": 93000, "errmsg": "invalid webhook url"})
    assert dispatch("wecom", config, MESSAGE, now(), http_client).status is DeliveryStatus.FAILED
    receiver.handle = lambda _: json_answer({"errcode": 45009, "errmsg": "api freq out of limit"})
    assert dispatch("wecom", config, MESSAGE, now(), http_client).retryable


def test_server_error_is_retryable(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = lambda _: (500, {}, b"boom")
    result = dispatch("webhook", {"url": receiver.url, "secret": "s"}, MESSAGE, now(), http_client)
    assert result.status is DeliveryStatus.RETRYABLE
    assert result.http_status == 500


def test_too_many_requests_carries_retry_after(
    receiver: Receiver, http_client: httpx.Client
) -> None:
    receiver.handle = lambda _: (429, {"Retry-After": "7"}, b"")
    result = dispatch("webhook", {"url": receiver.url}, MESSAGE, now(), http_client)
    assert result.retryable and result.retry_after == 7.0


def test_client_error_is_permanent(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = lambda _: (404, {}, b"no such hook")
    result = dispatch("webhook", {"url": receiver.url}, MESSAGE, now(), http_client)
    assert result.status is DeliveryStatus.FAILED and result.detail == "no such hook"


def test_timeout_is_retryable(receiver: Receiver) -> None:
    def slow(_: Received) -> Answer:
        time.sleep(0.5)
        return json_answer({})

    receiver.handle = slow
    with httpx.Client(timeout=0.1, trust_env=False) as impatient:
        result = dispatch("webhook", {"url": receiver.url}, MESSAGE, now(), impatient)
    assert result.retryable and "timeout" in result.detail


def test_connection_refused_is_retryable(http_client: httpx.Client) -> None:
    with socket.socket() as probe:  # find a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = dispatch("webhook", {"url": f"http://127.0.0.1:{port}/"}, MESSAGE, now(), http_client)
    assert result.retryable


def test_webhook_receiver_verifies_and_deduplicates(
    receiver: Receiver, http_client: httpx.Client
) -> None:
    seen_deliveries: set[str] = set()

    def handle(request: Received) -> Answer:
        if not webhook.verify("whsec", request.headers["x-kesu-signature"], request.body, now()):
            return 401, {}, b"bad signature"
        seen_deliveries.add(request.headers["x-kesu-delivery"])
        return 204, {}, b""

    receiver.handle = handle
    config = {"url": receiver.url, "secret": "whsec"}
    first = dispatch("webhook", config, MESSAGE, now(), http_client)
    retry = dispatch("webhook", config, MESSAGE, now(), http_client)  # rebuilt, re-signed
    assert first.ok and retry.ok
    assert seen_deliveries == {"outbox-7"}  # a receiver can tell it is the same delivery
    forged = dispatch("webhook", {**config, "secret": "guess"}, MESSAGE, now(), http_client)
    assert forged.status is DeliveryStatus.FAILED and forged.http_status == 401


def test_sms_gateway_success_field(receiver: Receiver, http_client: httpx.Client) -> None:
    config = {
        "url": receiver.url,
        "method": "PUT",
        "body_template": {"to": "{phone}", "content": "{text}"},
        "hmac_secret": "gw",
        "hmac_header": "X-Sign",
        "success_field": "result.code",
        "success_values": ["OK"],
    }

    def gateway(request: Received) -> Answer:
        ok = sms.verify(
            "gw", request.headers["x-timestamp"], request.headers["x-sign"], request.body
        )
        return json_answer({"result": {"code": "OK" if ok else "SIGN_ERROR"}})

    receiver.handle = gateway
    assert dispatch("sms", config, MESSAGE, now(), http_client).ok
    assert receiver.received[0].method == "PUT"
    assert receiver.received[0].json() == {"to": "13800138000", "content": MESSAGE.text}
    failed = dispatch("sms", {**config, "hmac_secret": "x"}, MESSAGE, now(), http_client)
    assert failed.status is DeliveryStatus.FAILED and "SIGN_ERROR" in failed.detail


def test_bad_config_is_a_failed_delivery_not_a_crash(http_client: httpx.Client) -> None:
    assert dispatch("wecom", {}, MESSAGE, now(), http_client).status is DeliveryStatus.FAILED
    assert dispatch(
        "sms", {"url": "http://x"}, Message("t", "x"), now(), http_client
    ).detail.startswith("message.to")
    assert (
        dispatch("carrier-pigeon", {}, MESSAGE, now(), http_client).status is DeliveryStatus.FAILED
    )


def test_non_json_robot_answer_is_a_failure(receiver: Receiver, http_client: httpx.Client) -> None:
    receiver.handle = lambda _: (200, {}, b"<html>proxy login</html>")
    request = wecom.build_request({"url": receiver.url}, MESSAGE, now())
    assert wecom.send(request, http_client).status is DeliveryStatus.FAILED


def test_unsupported_url_is_permanent(http_client: httpx.Client) -> None:
    result = dispatch("webhook", {"url": "ftp://127.0.0.1/x"}, MESSAGE, now(), http_client)
    assert result.status is DeliveryStatus.FAILED
