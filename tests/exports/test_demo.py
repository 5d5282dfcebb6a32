"""`kesu demo` shows exports alive: the manager's background export is written and audited."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.db import Database
from kesu.exports.models import ExportJob
from tests.test_demo_alive import demo_db

__all__ = ["demo_db"]


def test_the_demo_has_a_finished_export(demo_db: Database, tmp_path: Path) -> None:
    with demo_db.session(write=False) as session:
        (job,) = session.scalars(select(ExportJob)).all()
        assert job.status == "done" and job.rows > 0 and job.filters["open"] is True
        assert "received_from" in job.filters  # a week: bounded at a million complaints
        assert session.scalar(select(AuditLog).where(AuditLog.action == "export"))
    data = (tmp_path / "exports" / job.file_name).read_bytes()
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.max_row == job.rows + 1
