"""Fixtures: a real dovecot on loopback, a mailbox account per test, a configured Mailbox row."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kesu.accounts import service as accounts
from kesu.clock import FrozenClock
from kesu.config import Settings
from kesu.db import Database
from kesu.intake.email import mailboxes
from kesu.intake.email.models import Mailbox
from tests.intake.email.dovecot import DovecotServer, start_dovecot


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    try:
        server = start_dovecot()
    except Exception as exc:  # installed but cannot run here
        pytest.skip(f"dovecot could not start: {exc}")
    if server is None:
        pytest.skip("dovecot is not installed (scripts/install-system-deps.sh installs it)")
    yield server
    server.stop()


@dataclass
class Account:
    server: DovecotServer
    username: str
    password: str

    def client(self) -> Any:
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.server.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def flags(self) -> dict[int, tuple[bytes, ...]]:
        client = self.client()
        try:
            client.select_folder("INBOX")
            uids = client.search(["ALL"])
            return {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()}
        finally:
            client.logout()


@pytest.fixture
def account(dovecot: DovecotServer) -> Account:
    username = f"support-{secrets.token_hex(4)}@kesu-shop.com"
    return Account(dovecot, username, dovecot.password)


@pytest.fixture
def mail_settings(db: Database) -> Settings:
    return Settings(database_url=db.url, environment="test", base_url="http://testserver")


MakeMailbox = Callable[..., int]


@pytest.fixture
def make_mailbox(db: Database, clock: FrozenClock, mail_settings: Settings) -> MakeMailbox:
    def make(account: Account, **extra: Any) -> int:
        fields = {
            "code": extra.pop("code", "support"),
            "name": "客服邮箱",
            "host": "127.0.0.1",
            "port": account.server.port,
            "tls": "none",
            "username": account.username,
            "password": account.password,
            "own_addresses": ["kesu@kesu-shop.com"],
            **extra,
        }
        with db.session() as session:
            row = mailboxes.save_mailbox(
                session, clock, mail_settings, accounts.SYSTEM, fields, None
            )
            return row.id

    return make


def mailbox_row(db: Database, row_id: int) -> Mailbox:
    with db.session(write=False) as session:
        row = session.get(Mailbox, row_id)
        assert row is not None
        return row
