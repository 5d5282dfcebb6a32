"""Channel health: per channel, the last poll or delivery, errors, counts today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChannelHealth:
    """One source of complaints (a mailbox, a social source, the web form …), as admins see it."""

    channel: str  # a channel code (kesu.complaints.enums.Channel)
    source: str  # the mailbox or source code; "" for the channel as a whole
    name: str
    last_seen_at: datetime | None  # last poll (mail) or last delivery (webhook)
    last_error: str
    errors_today: int
    received_today: int
