"""This channel's health for the admin's channel page (kesu.intake.health): per source, the
last delivery, today's refusals (bad signatures, unreadable bodies) and today's posts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.intake.health import ChannelHealth
from kesu.intake.social.models import SocialDeliveryCount, SocialSource
from kesu.intake.social.service import local_day


def health(session: Session, now: datetime) -> list[ChannelHealth]:
    """One entry per configured source (inactive ones included: their name says so)."""
    today = local_day(now)
    counts = {
        row.source_id: row
        for row in session.scalars(
            select(SocialDeliveryCount).where(SocialDeliveryCount.day == today)
        )
    }
    entries = []
    for source in session.scalars(select(SocialSource).order_by(SocialSource.code)):
        row = counts.get(source.id)
        errored_today = (
            source.last_error_at is not None and local_day(source.last_error_at) == today
        )
        entries.append(
            ChannelHealth(
                channel=source.platform,
                source=source.code,
                name=source.name,
                last_seen_at=source.last_delivery_at,
                last_error=source.last_error if errored_today else "",
                errors_today=(row.bad_signature + row.invalid) if row else 0,
                received_today=row.accepted if row else 0,
            )
        )
    return entries
