"""The demo's social part: a source per example platform, mentions waiting, a complaint."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.complaints.models import Complaint
from kesu.intake.social import demo, service
from kesu.intake.social.models import SocialMention, SocialSource


def test_the_demo_fills_the_queue_and_registers_a_complaint(db, clock):
    made = demo.seed(db, clock)
    assert made == {"complaints": 1, "mentions": 3}
    again = demo.seed(db, clock)  # idempotent: replays, no second complaint
    assert again == made
    with db.session(write=False) as session:
        codes = set(session.scalars(select(SocialSource.code)))
        assert codes >= {"weibo", "douyin", "xiaohongshu", "kuaishou", "heimao", "12315"}
        assert service.status_counts(session)["pending"] == 3
        assert session.scalar(select(func.count()).select_from(SocialMention)) == 4
        complaint = session.scalar(select(Complaint).where(Complaint.channel == "weibo"))
        assert complaint is not None and complaint.custom_fields["social_author"]
