"""What conditions see of a complaint: its fields, computed lazily (counts cost a query)."""

from __future__ import annotations

import math
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
        self._counts: dict[tuple[int, int | None], int] = {}

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
        """Complaints of this category received in the last ``window_hours`` (this one too),
        counted up to the most the condition can tell apart (``count_cap``): during a spike
        the rule "more than 5" reads 6 index entries, not every complaint of the day."""
        category = self.complaint.category
        if category is None:
            return 0
        cap = count_cap(leaf)
        key = (leaf.window_hours, cap)
        if key not in self._counts:
            since = self.now - timedelta(hours=leaf.window_hours)
            matching = select(Complaint.id).where(
                Complaint.category_id == category.id, Complaint.received_at >= since
            )
            if cap is not None:
                matching = matching.limit(cap)
            self._counts[key] = (
                self.session.scalar(select(func.count()).select_from(matching.subquery())) or 0
            )
        return self._counts[key]


def count_cap(leaf: Leaf) -> int | None:
    """The smallest count at which ``leaf`` stops changing its answer: any count at or above
    it compares like the cap itself (gt/gte/lt/lte/eq/ne/in/not_in/between against numbers
    below it). None: count everything (another operator, or a value that is not a number)."""
    if leaf.op not in ("gt", "gte", "lt", "lte", "eq", "ne", "in", "not_in", "between"):
        return None
    values = leaf.value if isinstance(leaf.value, list | tuple) else [leaf.value]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numbers or len(numbers) != len(values) or not all(math.isfinite(v) for v in numbers):
        return None
    return max(0, math.floor(max(numbers)) + 1)
