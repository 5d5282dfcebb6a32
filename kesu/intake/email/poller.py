"""Polling the configured IMAP mailboxes (called by the worker)."""

from __future__ import annotations

from kesu.clock import Clock
from kesu.config import Settings
from kesu.db import Database


def poll_due(db: Database, clock: Clock, settings: Settings) -> int:
    """Polls every mailbox whose turn has come; returns how many messages were taken in."""
    return 0
