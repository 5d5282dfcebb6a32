"""Re-targeting running clocks after a policy is edited or disabled (the worker's sweep).

An edit bumps ``sla_policies.version``; until ``applied_version`` catches up, each worker pass
takes a batch of running clocks still on an older version and re-syncs their complaints: an
edited policy's new targets apply to them (elapsed time is kept), a disabled policy's
complaints move to the next policy that matches, or their clocks are cancelled when none does.
Met clocks are never re-judged.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.complaints.models import Complaint
from kesu.db import Database
from kesu.sla import config
from kesu.sla.models import SlaClock, SlaPolicy
from kesu.sla.service import OPEN_STATES, clocks_of, silence_past, sync


def reconcile(session: Session, clock: Clock, limit: int = 500) -> int:
    """One batch; returns how many complaints were re-synced."""
    stale = session.scalars(select(SlaPolicy).where(SlaPolicy.applied_version != SlaPolicy.version))
    done = 0
    for policy in list(stale):
        query = (
            select(SlaClock.complaint_id)
            .where(
                SlaClock.policy_id == policy.id,
                SlaClock.status.in_(OPEN_STATES),
                SlaClock.policy_version != policy.version,
            )
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = list(session.scalars(query))
        for complaint in session.scalars(select(Complaint).where(Complaint.id.in_(set(found)))):
            sync(session, clock, complaint, touch_complaint=False)
            done += 1
        if len(found) < limit:  # this batch held the last of them
            policy.applied_version = policy.version
    return done


def backfill(db: Database, clock: Clock, batch: int = 500) -> int:
    """Clocks for open complaints that have none (rows loaded in bulk: ``kesu demo``, imports).
    Thresholds already crossed count as alerted, so loading old data pages nobody about the
    past; what is still ahead fires as usual. Returns how many complaints got clocks."""
    done, last = 0, 0
    while True:
        with db.session() as session:
            has_clocks = exists().where(SlaClock.complaint_id == Complaint.id)
            ids = list(
                session.scalars(
                    select(Complaint.id)
                    .where(Complaint.is_open.is_(True), Complaint.id > last, ~has_clocks)
                    .order_by(Complaint.id)
                    .limit(batch)
                )
            )
            if not ids:
                return done
            now = clock.now()
            for complaint in session.scalars(select(Complaint).where(Complaint.id.in_(ids))):
                sync(session, clock, complaint, touch_complaint=False)
                for row in clocks_of(complaint):
                    silence_past(row, config.calendar(session, row.calendar_code), now)
            last, done = ids[-1], done + len(ids)
