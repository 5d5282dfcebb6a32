"""What conditions see of a complaint: its fields, computed lazily (counts cost a query)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.routing.conditions import CUSTOM_PREFIX, Leaf
from kesu.taxonomy.enums import SEVERITY_RANK, Severity

RISK_TAG = "risk"


def risk_level(complaint: Complaint) -> int:
    """0–3. Triage (kesu.triage) flags risk with a tag: ``risk:N`` (level N) or plain ``risk``
    (level 3: media, regulator, lawyer …); a ``risk_level`` custom field counts too."""
    level = 0
    for tag in complaint.tags or []:
        if tag == RISK_TAG:
            level = max(level, 3)
        elif tag.startswith(RISK_TAG + ":") and tag[5:] in ("0", "1", "2", "3"):
            level = max(level, min(3, int(tag[5:])))
    custom = (complaint.custom_fields or {}).get("risk_level")
    if isinstance(custom, int | float) and not isinstance(custom, bool):
        level = max(level, min(3, int(custom)))
    return level


def is_urgent(complaint: Complaint) -> bool:
    """Urgent complaints are notified at any hour: priority 1 (紧急), severity 重大, or risk."""
    return (
        complaint.priority == 1
        or SEVERITY_RANK.get(Severity(complaint.severity), 0) >= SEVERITY_RANK[Severity.critical]
        or risk_level(complaint) >= 2
    )


class ComplaintFacts:
    """Answers ``get(field, leaf)`` for one complaint at one moment."""

    def __init__(
        self,
        session: Session,
        complaint: Complaint,
        now: datetime,
        business_hours: bool | None = None,
    ) -> None:
        self.session = session
        self.complaint = complaint
        self.now = now
        self.local = now.astimezone(LOCAL_TZ)
        self._in_business_hours = business_hours
        self._counts: dict[int, int] = {}

    def get(self, field: str, leaf: Leaf) -> Any:
        c = self.complaint
        if field.startswith(CUSTOM_PREFIX):
            return (c.custom_fields or {}).get(field[len(CUSTOM_PREFIX) :])
        simple = {
            "severity": c.severity,
            "priority": c.priority,
            "channel": c.channel,
            "product": c.product,
            "remedy": c.remedy,
            "stage": c.stage,
            "title": c.title,
            "content": c.content,
            "tags": list(c.tags or []),
            "reopen_count": c.reopen_count or 0,
            "order_value": c.order_value,
        }
        if field in simple:
            return simple[field]
        return getattr(self, "_" + field)(leaf)

    # -- computed fields ----------------------------------------------------------------------

    def _category(self, leaf: Leaf) -> str | None:
        return self.complaint.category.path if self.complaint.category else None

    def _tier(self, leaf: Leaf) -> str:
        return self.complaint.customer.tier

    def _region(self, leaf: Leaf) -> str | None:
        return self.complaint.customer.region

    def _team(self, leaf: Leaf) -> str | None:
        return self.complaint.team.code if self.complaint.team else None

    def _assignee(self, leaf: Leaf) -> str | None:
        return self.complaint.assignee.username if self.complaint.assignee else None

    def _text(self, leaf: Leaf) -> str:
        return f"{self.complaint.title}\n{self.complaint.content}"

    def _risk_level(self, leaf: Leaf) -> int:
        return risk_level(self.complaint)

    def _risk(self, leaf: Leaf) -> bool:
        return risk_level(self.complaint) >= 1

    def _repeat(self, leaf: Leaf) -> bool:
        return self.complaint.repeat_of_id is not None or self.complaint.repeat_of is not None

    def _time(self, leaf: Leaf) -> str:
        return self.local.strftime("%H:%M")

    def _weekday(self, leaf: Leaf) -> int:
        return self.local.isoweekday()

    def _date(self, leaf: Leaf) -> str:
        return self.local.date().isoformat()

    def _month_day(self, leaf: Leaf) -> str:
        return self.local.strftime("%m-%d")

    def _business_hours(self, leaf: Leaf) -> bool:
        if self._in_business_hours is None:
            from kesu.sla.service import standard_calendar

            self._in_business_hours = standard_calendar(self.session).is_business_time(self.now)
        return self._in_business_hours

    def _same_category_count(self, leaf: Leaf) -> int:
        """Complaints of this category received in the last ``window_hours`` (this one too)."""
        category = self.complaint.category
        if category is None:
            return 0
        if leaf.window_hours not in self._counts:
            since = self.now - timedelta(hours=leaf.window_hours)
            self._counts[leaf.window_hours] = (
                self.session.scalar(
                    select(func.count())
                    .select_from(Complaint)
                    .where(Complaint.category_id == category.id, Complaint.received_at >= since)
                )
                or 0
            )
        return self._counts[leaf.window_hours]
