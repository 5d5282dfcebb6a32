"""The call summary (通话摘要) of the agent's entry form.

Stored as the complaint's first internal note, written by the agent in the transaction that
registers the complaint: it is the agent's words about the call, not the customer's, so it
belongs on the timeline (internal, never on the tracking page) rather than in the complaint's
content or a custom field; the note's data carries ``call_summary: true`` so it can be told
apart from later notes.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.enums import EventKind
from kesu.complaints.models import Complaint
from kesu.errors import InvalidInput
from kesu.web.i18n import gettext as _

MAX_SUMMARY = 5000


def check_call_summary(text: str) -> str | None:
    """The summary as stored (None when empty), or a 422 naming ``call_summary``."""
    if len(text) > MAX_SUMMARY:
        raise InvalidInput(
            _("通话摘要太长（最多 %(n)s 字）") % {"n": MAX_SUMMARY}, field="call_summary"
        )
    return text or None


def record_call_summary(
    session: Session, clock: Clock, actor: Actor, complaint: Complaint, summary: str
) -> None:
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        EventKind.note,
        body=summary,
        public=False,
        data={"call_summary": True},
        audit={"kind": EventKind.note.value, "call_summary": True},
    )
