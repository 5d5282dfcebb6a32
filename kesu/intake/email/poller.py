"""Polling the configured IMAP mailboxes (called by the worker every pass).

A mailbox is due when its ``next_poll_at`` has come (every ``poll_seconds``, 60 by default).
For each due mailbox: read its configuration in a short read session, then — with no
transaction open — log in (imapclient, with a timeout), select the folder, compare UIDVALIDITY
with the stored one (a change means the folder was rebuilt: start again from UID 1; the
stored Message-IDs keep re-delivered mail from doubling), search ``UID last+1:*`` and fetch
each message with ``BODY.PEEK[]`` (nothing is marked read yet). Each message is then taken
in and committed on its own (``intake.take_in``, which also advances ``last_uid``) and only
after that commit flagged ``\\Seen`` on the server. A crash at any point either takes the
message in again (the unique key makes it a no-op) or has not committed it yet, so nothing
is lost and nothing doubles. The outcome of the pass (``last_poll_at``, ``last_error``) is
written on the mailbox for channel health.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import KesuError
from kesu.intake.email import intake
from kesu.intake.email.mailboxes import MailboxConfig, password_for
from kesu.intake.email.models import Mailbox

log = logging.getLogger("kesu.intake.email")
BATCH = 50  # messages per mailbox per pass; the rest come in the next pass at once
MAX_SIZE = 40 * 1024 * 1024  # bigger messages are recorded for review, not fetched
TIMEOUT = 20.0
FAILURE_BACKOFF = timedelta(minutes=5)

Connect = Callable[[MailboxConfig, str], Any]


def connect(mailbox: MailboxConfig, password: str) -> Any:
    """Logs in to the mailbox's server; returns an ``IMAPClient``."""
    from imapclient import IMAPClient

    context = ssl.create_default_context()
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port,
        ssl=mailbox.tls == "ssl",
        ssl_context=context if mailbox.tls == "ssl" else None,
        timeout=TIMEOUT,
    )
    try:
        if mailbox.tls == "starttls":
            client.starttls(context)
        client.login(mailbox.username, password)
    except BaseException:
        _close(client)
        raise
    return client


def _close(client: Any) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def poll_due(
    db: Database, clock: Clock, settings: Settings, connector: Connect | None = None
) -> int:
    """Polls every mailbox whose turn has come; returns how many messages were taken in."""
    now = clock.now()
    with db.session(write=False) as session:
        rows = session.scalars(
            select(Mailbox)
            .where(
                Mailbox.is_active,
                or_(Mailbox.next_poll_at.is_(None), Mailbox.next_poll_at <= now),
            )
            .order_by(Mailbox.id)
            .limit(20)
        )
        due = [MailboxConfig.of(row) for row in rows]
    return sum(poll_mailbox(db, clock, settings, m, connector or connect) for m in due)


def poll_mailbox(
    db: Database, clock: Clock, settings: Settings, mailbox: MailboxConfig, connector: Connect
) -> int:
    """One pass over one mailbox; returns the number of messages taken in."""
    taken = 0
    more = False
    client = None
    try:
        password = password_for(settings, mailbox)
        client = connector(mailbox, password)
        selected = client.select_folder(mailbox.folder, readonly=False)
        uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        last_uid = mailbox.last_uid if mailbox.uidvalidity == uidvalidity else 0
        if mailbox.uidvalidity != uidvalidity:
            _reset(db, mailbox, uidvalidity)
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        more = len(uids) > BATCH
        for uid in uids[:BATCH]:
            outcome = _one(db, clock, mailbox, client, uidvalidity, uid)
            if outcome is None:
                continue
            if outcome.status != "seen":
                taken += 1
            try:
                client.add_flags([uid], [b"\\Seen"])
            except Exception as exc:  # cosmetic: the UID already moved past it
                log.warning("could not flag uid %s of %s seen: %s", uid, mailbox.code, exc)
    except Exception as exc:
        _finish(db, clock, mailbox, _describe(exc))
        log.warning("mailbox %s: %s", mailbox.code, _describe(exc))
        return taken
    finally:
        if client is not None:
            _close(client)
    _finish(db, clock, mailbox, "", again=more)
    return taken


def _one(
    db: Database, clock: Clock, mailbox: MailboxConfig, client: Any, uidvalidity: int, uid: int
) -> intake.Outcome | None:
    sizes = client.fetch([uid], [b"RFC822.SIZE"])
    size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
    if size > MAX_SIZE:
        head = client.fetch([uid], [b"BODY.PEEK[HEADER]"]).get(uid, {})
        raw = head.get(b"BODY[HEADER]", b"") or b""
        return intake.take_in_oversized(db, clock, mailbox, uidvalidity, uid, raw, size)
    fetched = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid)
    if not fetched:
        return None  # expunged meanwhile
    raw = fetched.get(b"BODY[]") or b""
    return intake.take_in(db, clock, mailbox, uidvalidity, uid, bytes(raw))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KesuError):
        return exc.message
    text = str(exc) or type(exc).__name__
    if isinstance(exc, bytes):  # pragma: no cover
        text = exc.decode("utf-8", "replace")
    return f"{type(exc).__name__}: {text}"[:500]


def _reset(db: Database, mailbox: MailboxConfig, uidvalidity: int) -> None:
    with db.session() as session:
        row = session.get(Mailbox, mailbox.id)
        if row is not None:
            row.uidvalidity = uidvalidity
            row.last_uid = 0


def _finish(
    db: Database, clock: Clock, mailbox: MailboxConfig, error: str, again: bool = False
) -> None:
    now = clock.now()
    with db.session() as session:
        row = session.get(Mailbox, mailbox.id)
        if row is None:
            return
        row.last_poll_at = now
        if error:
            row.last_error = error
            row.last_error_at = now
            row.next_poll_at = now + max(timedelta(seconds=row.poll_seconds), FAILURE_BACKOFF)
        else:
            row.last_error = ""
            row.next_poll_at = now if again else now + timedelta(seconds=row.poll_seconds)
