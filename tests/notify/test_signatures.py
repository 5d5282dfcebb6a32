import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from kesu.notify.channels import dingtalk, feishu, sms, webhook, wecom
from kesu.notify.channels.base import ChannelConfigError, Message

NOW = datetime(2026, 10, 8, 2, 0, 0, 123000, tzinfo=UTC)
MESSAGE = Message(
    title="投诉 KS-2026-0001 即将超时",
    text="**处理人**: 张三\n\n剩余 12 分钟",
    event="complaint.sla_warning",
    delivery_id="outbox-42",
    to="13800138000",
    data={"complaint": "KS-2026-0001", "remaining_minutes": 12},
)


# -- DingTalk ---------------------------------------------------------------------------------


def test_dingtalk_sign_matches_an_independent_implementation() -> None:
    # Expected value from the test suite of an independent DingTalk SDK (Rust crate "dingding").
    assert quote(dingtalk.sign("secret", 1700000000000), safe="") == (
        "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    )


def test_dingtalk_request_is_signed_in_the_url() -> None:
    config = {"access_token": "tok", "secret": "SECabc"}
    request = dingtalk.build_request(config, MESSAGE, NOW)
    split = urlsplit(request.url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == dingtalk.API_URL
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    assert query["access_token"] == "tok"
    assert query["timestamp"] == "1791424800123"  # milliseconds
    # Recompute by the documented recipe rather than with our own sign().
    expected = hmac.new(b"SECabc", b"1791424800123\nSECabc", hashlib.sha256).digest()
    assert query["sign"] == base64.b64encode(expected).decode()
    assert dingtalk.verify("SECabc", query["timestamp"], query["sign"], NOW)
    assert request.safe_url == f"{dingtalk.API_URL}?access_token=***&timestamp=***&sign=***"
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == MESSAGE.title
    assert MESSAGE.text in body["markdown"]["text"]


def test_dingtalk_verify_rejects_tampering_and_stale_timestamps() -> None:
    ts = str(int(NOW.timestamp() * 1000))
    good = dingtalk.sign("SECabc", int(ts))
    assert not dingtalk.verify("SECother", ts, good, NOW)
    assert not dingtalk.verify("SECabc", str(int(ts) + 1), good, NOW)
    assert not dingtalk.verify("SECabc", ts, good, NOW + timedelta(hours=1, seconds=1))
    assert not dingtalk.verify("SECabc", "not-a-number", good, NOW)


def test_dingtalk_text_and_no_secret() -> None:
    request = dingtalk.build_request(
        {"url": "http://robot/send?access_token=t", "msgtype": "text"}, MESSAGE, NOW
    )
    assert request.url == "http://robot/send?access_token=t"
    assert request.json()["text"]["content"].startswith(MESSAGE.title)
    with pytest.raises(ChannelConfigError, match=r"dingtalk\.url"):
        dingtalk.build_request({}, MESSAGE, NOW)


# -- Feishu -----------------------------------------------------------------------------------


def test_feishu_sign_uses_the_string_as_key_over_an_empty_message() -> None:
    request = feishu.build_request(
        {"url": "https://open.feishu.cn/open-apis/bot/v2/hook/x", "secret": "s3"}, MESSAGE, NOW
    )
    body = request.json()
    assert body["timestamp"] == "1791424800"  # seconds
    key = b"1791424800\ns3"
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text"
    assert body["content"]["text"] == f"{MESSAGE.title}\n{MESSAGE.text}"
    assert feishu.verify("s3", body["timestamp"], body["sign"], NOW)
    assert not feishu.verify("s4", body["timestamp"], body["sign"], NOW)
    assert not feishu.verify("s3", body["timestamp"], body["sign"], NOW + timedelta(hours=2))


def test_feishu_without_secret_sends_no_signature() -> None:
    body = feishu.build_request({"url": "https://x"}, MESSAGE, NOW).json()
    assert "sign" not in body and "timestamp" not in body


# -- WeCom ------------------------------------------------------------------------------------


def test_wecom_key_in_url_and_markdown_body() -> None:
    request = wecom.build_request({"key": "k-1"}, MESSAGE, NOW)
    assert request.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"
    body = request.json()
    assert body == {
        "msgtype": "markdown",
        "markdown": {"content": f"### {MESSAGE.title}\n{MESSAGE.text}"},
    }


def test_wecom_truncates_at_the_byte_limit_on_a_character_boundary() -> None:
    long = Message(title="", text="超时" * 3000)
    content = wecom.build_request({"key": "k"}, long, NOW).json()["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.endswith("…")


# -- generic webhook --------------------------------------------------------------------------


def test_webhook_signature_round_trip() -> None:
    request = webhook.build_request(
        {"url": "https://example.test/hook", "secret": "whsec"}, MESSAGE, NOW
    )
    headers = request.headers
    assert headers["X-Kesu-Event"] == "complaint.sla_warning"
    assert headers["X-Kesu-Delivery"] == "outbox-42"
    t = int(NOW.timestamp())
    expected = hmac.new(b"whsec", f"{t}.".encode() + request.content, hashlib.sha256).hexdigest()
    assert headers["X-Kesu-Signature"] == f"t={t},v1={expected}"
    assert webhook.verify("whsec", headers["X-Kesu-Signature"], request.content, NOW)
    body = json.loads(request.content)
    assert body["id"] == "outbox-42" and body["data"]["remaining_minutes"] == 12
    assert "投诉" in request.content.decode()  # UTF-8, not \\u escapes


def test_webhook_verify_rejects_tampering_replay_and_wrong_secret() -> None:
    request = webhook.build_request({"url": "https://e.test", "secret": "whsec"}, MESSAGE, NOW)
    header = request.headers["X-Kesu-Signature"]
    assert not webhook.verify("whsec", header, request.content + b" ", NOW)
    assert not webhook.verify("other", header, request.content, NOW)
    assert not webhook.verify("whsec", header, request.content, NOW + timedelta(minutes=6))
    assert not webhook.verify("whsec", "v1=deadbeef", request.content, NOW)


def test_webhook_accepts_any_of_several_signatures_during_rotation() -> None:
    t = int(NOW.timestamp())
    body = b'{"id":"x"}'
    header = f"t={t},v1={webhook.signature('old', t, body)},v1={webhook.signature('new', t, body)}"
    assert webhook.verify("new", header, body, NOW)
    assert webhook.verify("old", header, body, NOW)


def test_webhook_needs_a_delivery_id() -> None:
    with pytest.raises(ValueError, match="delivery_id"):
        webhook.build_request({"url": "https://e.test"}, Message(title="t", text="x"), NOW)


# -- SMS gateway ------------------------------------------------------------------------------


SMS_CONFIG = {
    "url": "https://sms.example.test/send",
    "body_template": {"mobile": "{phone}", "msg": {"content": "【客诉】{text}"}, "priority": 1},
    "headers": {"Authorization": "Bearer abc"},
    "hmac_secret": "gw",
}


def test_sms_fills_the_template_and_signs_the_body() -> None:
    request = sms.build_request(SMS_CONFIG, MESSAGE, NOW)
    assert request.method == "POST"
    assert request.json() == {
        "mobile": "13800138000",
        "msg": {"content": f"【客诉】{MESSAGE.text}"},
        "priority": 1,
    }
    assert request.headers["Authorization"] == "Bearer abc"
    ts = request.headers["X-Timestamp"]
    assert ts == str(int(NOW.timestamp()))
    assert sms.verify("gw", ts, request.headers["X-Signature"], request.content)


def test_sms_get_puts_the_template_in_the_query() -> None:
    config = {
        "url": "https://sms.example.test/send?user=kesu",
        "method": "get",
        "body_template": {"to": "{phone}", "text": "{text}"},
    }
    request = sms.build_request(config, Message(title="", text="a&b c", to="138"), NOW)
    assert request.method == "GET" and request.content == b""
    query = parse_qs(urlsplit(request.url).query)
    assert query == {"user": ["kesu"], "to": ["138"], "text": ["a&b c"]}


def test_sms_placeholders_are_not_format_strings() -> None:
    filled = sms.fill_template({"t": "{text} {not_a_placeholder} {0}"}, {"{text}": "{phone}"})
    assert filled == {"t": "{phone} {not_a_placeholder} {0}"}


def test_sms_requires_a_phone_number() -> None:
    with pytest.raises(ValueError, match="phone"):
        sms.build_request(SMS_CONFIG, Message(title="t", text="x"), NOW)
