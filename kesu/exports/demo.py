"""`kesu demo`: the demo manager's background export of the open complaints received this
week, written by the ordinary job path (claimed, written in chunks, audited), so /exports
shows a file to download. A week, not all of them: a million-complaint demo stays quick."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.complaints.numbering import LOCAL_TZ
from kesu.db import Database
from kesu.exports import service
from kesu.exports.models import ExportJob


def show(db: Database, clock: Clock, settings: Any) -> int:
    """Queues and writes one export for ``manager``; returns its rows (0 without the user)."""
    with db.session() as session:
        manager = session.scalar(select(User).where(User.username == "manager"))
        if manager is None:
            return 0
        job = ExportJob(
            user_id=manager.id,
            format="xlsx",
            filters=service.ExportQuery(open=True, received_from=_week_ago(clock)).params(),
            locale="zh_CN",
            masked=False,
            created_at=clock.now(),
        )
        session.add(job)
        session.commit()
        job_id = job.id
    claimed = service._claim(db, clock.now())
    while claimed is not None and claimed[0] != job_id:  # older queued jobs go first
        service.run_job(db, clock, settings, *claimed)
        claimed = service._claim(db, clock.now())
    if claimed is None:
        return 0
    service.run_job(db, clock, settings, *claimed)
    with db.session(write=False) as session:
        done = session.get(ExportJob, job_id)
        return done.rows if done is not None and done.status == "done" else 0


def _week_ago(clock: Clock) -> str:
    today = clock.now().astimezone(LOCAL_TZ).date()
    return (today - timedelta(days=7)).isoformat()
