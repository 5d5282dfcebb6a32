"""This channel's health for the admin's channel page (kesu.intake.health)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kesu.intake.health import ChannelHealth


def health(session: Session, now: datetime) -> list[ChannelHealth]:
    """One entry per configured source."""
    return []
