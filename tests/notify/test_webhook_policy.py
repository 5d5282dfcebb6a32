"""Issue 8 (smaller): webhooks could target any address (the metadata service, loopback, the
intranet). Loopback, private, link-local and other non-public addresses are refused when the
endpoint is saved and before every send, unless the admin allowed them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kesu.config import Settings, get_settings
from kesu.notify.channels import DeliveryStatus, Message, dispatch
from kesu.notify.channels.webhook import TargetPolicy, TargetRefused, TargetUnresolved
from tests.notify.conftest import Receiver

MESSAGE = Message(title="t", text="x", event="complaint.created", delivery_id="7")
REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost.localdomain.invalid.127.0.0.1.nip/x",  # a name: resolved below
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
]


def fake_dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise TargetUnresolved(f"{host}: does not resolve")
        return table[host]

    return resolver


DNS = fake_dns(
    {
        "localhost.localdomain.invalid.127.0.0.1.nip": ["127.0.0.1"],
        "hooks.example.com": ["93.184.216.34"],
        "split.example.com": ["93.184.216.34", "10.0.0.5"],  # every address counts
        "intranet.corp": ["10.20.30.40"],
    }
)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        TargetPolicy().check(url, DNS)


def test_public_targets_pass_and_every_address_is_checked() -> None:
    TargetPolicy().check("https://hooks.example.com/kesu", DNS)
    TargetPolicy().check("https://93.184.216.34/kesu", DNS)
    with pytest.raises(TargetRefused, match=r"10\.0\.0\.5"):
        TargetPolicy().check("https://split.example.com/kesu", DNS)
    with pytest.raises(TargetRefused):
        TargetPolicy().check("file:///etc/passwd", DNS)
    with pytest.raises(TargetRefused):
        TargetPolicy().check("gopher://hooks.example.com/", DNS)


def test_the_admin_allow_list_overrides() -> None:
    def policy(**kw: object) -> TargetPolicy:
        return TargetPolicy.from_settings(Settings(environment="test", **kw))  # type: ignore[arg-type]

    allowed = policy(webhook_allowed_hosts="intranet.corp, 127.0.0.0/8, [::1]")
    allowed.check("http://intranet.corp/hook", DNS)
    allowed.check("http://127.0.0.1:9000/hook", DNS)
    allowed.check("http://[::1]/hook", DNS)
    with pytest.raises(TargetRefused):
        allowed.check("http://10.1.2.3/hook", DNS)
    policy(webhook_allow_private=True).check("http://10.1.2.3/hook", DNS)


def test_send_time_check_refuses_loopback_without_the_test_allowance(
    receiver: Receiver, http_client: httpx.Client, settings_env: pytest.MonkeyPatch
) -> None:
    # The test configuration allows loopback explicitly (tests/conftest.py) …
    assert dispatch("webhook", {"url": receiver.url}, MESSAGE, _now(), http_client).ok
    # … a default deployment does not: nothing reaches the receiver.
    settings_env.setenv("KESU_WEBHOOK_ALLOWED_HOSTS", "")
    get_settings.cache_clear()
    before = len(receiver.received)
    for kind in ("webhook", "feishu"):
        result = dispatch(kind, {"url": receiver.url}, MESSAGE, _now(), http_client)
        assert result.status is DeliveryStatus.FAILED and "127.0.0.1" in result.detail
    assert len(receiver.received) == before


def test_saving_an_endpoint_refuses_an_internal_url(
    client, admin, settings_env: pytest.MonkeyPatch
) -> None:
    body = {
        "code": "meta",
        "name": "Metadata",
        "kind": "webhook",
        "config": {"url": "http://169.254.169.254/latest/meta-data/", "secret": "s"},
        "events": [],
    }
    refused = client.post("/api/v1/notify/endpoints", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "config.url"
    assert "169.254.169.254" in refused.json()["detail"]
    listed = client.get("/api/v1/notify/endpoints", headers=admin).json()
    assert all(e["code"] != "meta" for e in listed)
    settings_env.setenv("KESU_WEBHOOK_ALLOWED_HOSTS", "169.254.169.254")
    get_settings.cache_clear()
    assert client.post("/api/v1/notify/endpoints", json=body, headers=admin).status_code == 201


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
