"""Exports of the workbench list: the rows, masking by role, formula neutralisation, the CSV and
Excel writers, and the background jobs for large exports.

The rows are exactly those of the workbench list: ``ExportQuery.filters()`` builds the
``ComplaintFilters`` the list uses, and the rows are read page by page with
``complaints.queries.list_complaints`` (keyset, the same scope rule), so an export can never show
a complaint the list would not. Contact details (name, phone, email, and any inside the title
and content) are masked for roles without ``contact.view`` (``privacy.service.sees_contact``).
Every export leaves an audit row (``privacy.service.record_export``) in the transaction that
finishes it. Nothing here commits, except ``run_job`` / ``run_due``, which are the worker's
unit of work.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.roles import Permission, Role, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.access import scope_branches
from kesu.complaints.models import Complaint, Stage
from kesu.complaints.numbering import LOCAL_TZ
from kesu.complaints.queries import ComplaintFilters, _apply_filters, list_complaints, stage_names
from kesu.config import Settings
from kesu.db import Database
from kesu.errors import InvalidInput, KesuError, NotFound
from kesu.exports.models import ExportJob
from kesu.privacy.masking import mask_email, mask_phone, mask_text
from kesu.privacy.service import record_export, sees_contact
from kesu.surveys.models import Survey
from kesu.web import i18n
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _
from kesu.web.templating import label, loc

log = logging.getLogger("kesu.exports")

Format = Literal["xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "csv")
WHAT = "complaints"  # the audit row's entity
CHUNK = 1000  # rows read per keyset page and written between two progress updates
LEASE = timedelta(minutes=10)  # a running job nobody updated for this long is taken again
MAX_ATTEMPTS = 3
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# ---- the filters: the workbench list's, as query parameters ----------------------------------


@dataclass(frozen=True)
class ExportQuery:
    """The list's filters as the export's query string: the parameters of
    ``GET /api/v1/complaints`` plus the workbench's ``escalated`` and ``queue=team``."""

    stage: str | None = None
    team: str | None = None
    assignee: str | None = None
    severity: str | None = None
    q: str | None = None
    overdue: bool | None = None
    open: bool | None = None
    channel: str | None = None
    escalated: bool = False
    queue: str | None = None  # "team": the team queue (team, pool and own) whatever the role
    # The dashboard's drill-down (kesu.analytics): a category with its descendants, the product
    # line, the customer's region, local received dates (YYYY-MM-DD, both included).
    category: int | None = None
    product: str | None = None
    region: str | None = None
    received_from: str | None = None
    received_to: str | None = None

    def filters(self) -> ComplaintFilters:
        start, end = _local_day(self.received_from), _local_day(self.received_to)
        return ComplaintFilters(
            stage=self.stage,
            team=self.team,
            assignee=self.assignee,
            severity=self.severity,
            q=self.q,
            overdue=self.overdue,
            open=self.open,
            channel=self.channel,
            team_queue=self.queue == "team",
            escalated=self.escalated,
            category_id=self.category,
            product=self.product,
            region=self.region,
            received_from=start,
            received_to=end + timedelta(days=1) if end else None,
        )

    def params(self) -> dict[str, Any]:
        """The parameters that are set (the job's ``filters``, the audit row's, the links')."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False, "")}

    @classmethod
    def of(cls, params: dict[str, Any]) -> ExportQuery:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in params.items() if k in known})

    @classmethod
    def from_filters(cls, f: ComplaintFilters) -> ExportQuery:
        """The workbench's current filters (``Queue.filters()``) as export parameters."""
        return cls(
            stage=f.stage,
            team=f.team,
            assignee=f.assignee,
            severity=f.severity,
            q=f.q,
            overdue=f.overdue,
            open=f.open,
            channel=f.channel,
            escalated=f.escalated,
            queue="team" if f.team_queue else None,
            category=f.category_id,
            product=f.product,
            region=f.region,
            received_from=_day_text(f.received_from),
            received_to=_day_text(f.received_to - timedelta(days=1) if f.received_to else None),
        )


def _local_day(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (validated by the API) as the local moment it begins."""
    if not value:
        return None
    return datetime.combine(date.fromisoformat(value), time(), LOCAL_TZ)


def _day_text(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_TZ).date().isoformat() if moment else None


def query_string(query: ExportQuery, fmt: Format) -> str:
    from urllib.parse import urlencode

    values = {"format": fmt, **query.params()}
    return urlencode({k: ("true" if v is True else v) for k, v in values.items()})


# ---- cells -----------------------------------------------------------------------------------

# OWASP CSV injection: a cell a spreadsheet could read as a formula or a DDE command.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A text cell no spreadsheet runs: a leading ``'`` before ``= + - @`` tab and CR."""
    return "'" + value if value.startswith(FORMULA_START) else value


def cell_text(value: Any) -> Any:
    """What a cell holds: numbers and dates as they are, every text neutralised and without
    the control characters an xlsx file cannot contain."""
    if isinstance(value, str):
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


# ---- the columns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # Chinese source string, translated when written
    width: int = 14


COLUMNS: tuple[Column, ...] = (
    Column("number", N_("编号"), 18),
    Column("received_at", N_("受理时间"), 17),
    Column("channel", N_("渠道"), 10),
    Column("category", N_("分类"), 28),
    Column("severity", N_("严重程度"), 10),
    Column("stage", N_("阶段"), 12),
    Column("team", N_("团队"), 14),
    Column("assignee", N_("处理人"), 12),
    Column("customer_name", N_("客户姓名"), 12),
    Column("customer_phone", N_("客户电话"), 15),
    Column("customer_email", N_("客户邮箱"), 22),
    Column("region", N_("地区"), 10),
    Column("order_no", N_("订单号"), 18),
    Column("order_value", N_("订单金额"), 12),
    Column("product", N_("产品"), 18),
    Column("title", N_("标题"), 30),
    Column("content", N_("内容"), 50),
    Column("due_at", N_("时限"), 17),
    Column("overdue", N_("已超时"), 8),
    Column("resolved_at", N_("解决时间"), 17),
    Column("closed_at", N_("结案时间"), 17),
    Column("satisfaction", N_("满意度"), 8),
    Column("repeat", N_("重复投诉"), 8),
    Column("reopen_count", N_("二次处理次数"), 8),
)


def headers() -> list[str]:
    """The column titles in the current language."""
    return [_(c.title) for c in COLUMNS]


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Translates for ``locale`` inside the block (the worker writes in the requester's)."""
    token = i18n._current.set(i18n.normalize(locale) or i18n.DEFAULT_LOCALE)
    try:
        yield
    finally:
        i18n._current.reset(token)


def _local(moment: datetime | None) -> datetime | None:
    """A local (Asia/Shanghai) wall time without zone: spreadsheets have no time zones."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None, microsecond=0) if moment else None


class RowMaker:
    """Turns complaints into rows of typed values (``str``, ``int``, ``Decimal``, naive local
    ``datetime``, ``None``) in the current language, masked when ``masked``."""

    def __init__(self, session: Session, now: datetime, masked: bool) -> None:
        self.session = session
        self.now = now
        self.masked = masked
        self.stages: dict[str, Stage] = stage_names(session)
        self._paths: dict[int, str] = {}
        self.yes, self.no = _("是"), _("否")

    def category(self, complaint: Complaint) -> str:
        cat = complaint.category
        if cat is None:
            return ""
        if cat.id not in self._paths:
            names = []
            node: Any = cat
            while node is not None:
                names.append(loc(node))
                node = node.parent
            self._paths[cat.id] = " / ".join(reversed(names))
        return self._paths[cat.id]

    def satisfaction(self, ids: list[int]) -> dict[int, Decimal]:
        """The mean of the three 1–5 scores of each complaint's latest answered survey."""
        if not ids:
            return {}
        rows = self.session.execute(
            select(
                Survey.complaint_id,
                Survey.round,
                Survey.timeliness,
                Survey.solution,
                Survey.attitude,
            ).where(Survey.complaint_id.in_(ids), Survey.answered_at.is_not(None))
        )
        latest: dict[int, tuple[int, Decimal]] = {}
        for cid, rnd, *scores in rows:
            given = [s for s in scores if s is not None]
            if not given or (cid in latest and latest[cid][0] > rnd):
                continue
            mean = (Decimal(sum(given)) / len(given)).quantize(Decimal("0.1"))
            latest[cid] = (rnd, mean)
        return {cid: value for cid, (_rnd, value) in latest.items()}

    def rows(self, complaints: list[Complaint]) -> list[list[Any]]:
        scores = self.satisfaction([c.id for c in complaints])
        return [self.row(c, scores.get(c.id)) for c in complaints]

    def row(self, c: Complaint, satisfaction: Decimal | None) -> list[Any]:
        own = c.contact_name is not None  # the snapshot the complaint gave, else the record
        name = c.contact_name if own else c.customer.name
        phone = c.contact_phone if own else c.customer.phone
        email = c.contact_email if own else c.customer.email
        masked = self.masked
        if masked and name:
            name = name[:1] + "*" * max(1, len(name) - 1)
        stage = self.stages.get(c.stage)
        values: dict[str, Any] = {
            "number": c.number,
            "received_at": _local(c.received_at),
            "channel": label("channel", c.channel),
            "category": self.category(c),
            "severity": label("severity", c.severity),
            "stage": loc(stage) if stage else c.stage,
            "team": loc(c.team) if c.team else "",
            "assignee": c.assignee.label if c.assignee else "",
            "customer_name": name or "",
            "customer_phone": (mask_phone(phone) if masked else phone) or "",
            "customer_email": (mask_email(email) if masked else email) or "",
            "region": c.customer.region or "",
            "order_no": c.order_no or "",
            "order_value": c.order_value,
            "product": c.product or "",
            "title": mask_text(c.title) if masked else c.title,
            "content": mask_text(c.content) if masked else c.content,
            "due_at": _local(c.due_at),
            "overdue": self.yes
            if c.is_open and c.due_at is not None and c.due_at < self.now
            else self.no,
            "resolved_at": _local(c.resolved_at),
            "closed_at": _local(c.closed_at),
            "satisfaction": satisfaction,
            "repeat": self.yes if c.repeat_of_id is not None else self.no,
            "reopen_count": c.reopen_count,
        }
        return [values[col.key] for col in COLUMNS]


def read_pages(
    session: Session,
    user: User,
    filters: ComplaintFilters,
    now: datetime,
    chunk: int = CHUNK,
    first: tuple[list[Complaint], str | None] | None = None,
) -> Iterator[list[Complaint]]:
    """The list's complaints, page after page (keyset, like the workbench); each page is
    expunged after use so a long export's memory stays flat."""
    rows, cursor = first or list_complaints(session, user, filters, now, chunk)
    while True:
        yield rows
        session.expunge_all()
        if cursor is None:
            return
        rows, cursor = list_complaints(session, user, filters, now, chunk, cursor)


def count(session: Session, user: User, filters: ComplaintFilters, now: datetime) -> int:
    """How many complaints the list has for ``user`` (the job's progress denominator): the
    list's own filter and scope conditions, counted once."""
    stmt = _apply_filters(session, select(Complaint.id), filters, now, user)
    stmt = stmt.where(or_(*scope_branches(user, filters.team_queue)))
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


# ---- writers ---------------------------------------------------------------------------------


def csv_lines(rows: Iterable[list[Any]], header: bool = True) -> Iterator[str]:
    """The CSV text: a UTF-8 BOM (so Excel reads Chinese) and the header line, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow([cell_text(h) for h in headers()])
        yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(v) for v in row])
        yield buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return cell_text(value)


class XlsxWriter:
    """An openpyxl write-only workbook (rows go to a temporary file as they come: memory stays
    flat however many there are); every text cell is written as a string, never a formula."""

    def __init__(self) -> None:
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(_("投诉清单"))
        for index, col in enumerate(COLUMNS):
            letter = _column_letter(index)
            self.sheet.column_dimensions[letter].width = col.width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        head = []
        for title in headers():
            cell = WriteOnlyCell(self.sheet, value=cell_text(title))
            cell.font = bold
            head.append(cell)
        self.sheet.append(head)

    def append(self, row: list[Any]) -> None:
        cells: list[Any] = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(self.sheet, value=cell_text(value))
                cell.data_type = "s"  # a string, never a formula (nor an error like #N/A)
                cells.append(cell)
            elif isinstance(value, datetime):
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.number_format = "yyyy-mm-dd hh:mm"
                cells.append(cell)
            else:
                cells.append(value)
        self.sheet.append(cells)

    def save(self, target: str | IO[bytes]) -> None:
        self.book.save(target)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def xlsx_bytes(rows: Iterable[list[Any]]) -> bytes:
    writer = XlsxWriter()
    for row in rows:
        writer.append(row)
    out = io.BytesIO()
    writer.save(out)
    return out.getvalue()


def file_name(fmt: str, now: datetime) -> str:
    return f"complaints-{now.astimezone(LOCAL_TZ):%Y%m%d-%H%M}.{fmt}"


# ---- the immediate export --------------------------------------------------------------------


@dataclass
class Immediate:
    """A small export, answered at once: its rows (already masked) and how many."""

    rows: list[list[Any]]
    masked: bool


def start(
    db: Database,
    clock: Clock,
    settings: Settings,
    user: User,
    query: ExportQuery,
    fmt: Format,
) -> Immediate | ExportJob:
    """Reads up to ``export_sync_max_rows`` rows of the list. All of them: the rows and an
    audit row (committed here, its own unit of work; the caller writes the file). More: a
    queued job for the worker (committed), audited when it is written."""
    if fmt not in FORMATS:
        raise InvalidInput(_("导出格式应为 xlsx 或 csv"), field="format")
    if query.queue not in (None, "team"):
        raise InvalidInput(_("queue 只能是 team"), field="queue")
    filters = query.filters()
    masked = not sees_contact(user)
    limit = max(1, settings.export_sync_max_rows)
    now = clock.now()
    with db.session(write=False) as session:
        complaints, cursor = list_complaints(session, user, filters, now, limit)
        rows = RowMaker(session, now, masked).rows(complaints) if cursor is None else []
    with db.session() as session:
        if cursor is None:
            audit = {**query.params(), "format": fmt}
            record_export(session, clock, Actor.of(user), WHAT, len(rows), masked, audit)
            session.commit()
            return Immediate(rows, masked)
        job = ExportJob(
            user_id=user.id,
            format=fmt,
            filters=query.params(),
            locale=i18n.current_locale(),
            masked=masked,
            status="queued",
            created_at=now,
        )
        session.add(job)
        session.commit()
        session.refresh(job)
        session.expunge(job)
        return job


# ---- background jobs -------------------------------------------------------------------------


def export_dir(settings: Settings) -> Path:
    """``<data dir>/exports``; tests on a server database without a data directory get a
    temporary one per process (as attachments do)."""
    if settings.environment == "test" and settings.data_dir is None and not settings.is_sqlite:
        root = _test_root()
    else:
        root = settings.resolved_data_dir() / "exports"
    root.mkdir(parents=True, exist_ok=True)
    return root


@lru_cache(maxsize=1)
def _test_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="kesu-test-exports-"))


SAFE_NAME = re.compile(r"^[0-9]+-[0-9a-f]{16}\.(xlsx|csv)$")


def job_path(settings: Settings, job: ExportJob) -> Path | None:
    """The finished file of ``job`` (a name kesu made: never a path from outside)."""
    if not SAFE_NAME.match(job.file_name or ""):
        return None
    return export_dir(settings) / job.file_name


def job_out(job: ExportJob) -> dict[str, Any]:
    progress = 1.0 if job.status == "done" else 0.0
    if job.status == "running" and job.total:
        progress = min(1.0, job.rows / job.total)
    return {
        "id": job.id,
        "status": job.status,
        "format": job.format,
        "progress": round(progress, 4),
        "rows": job.rows,
        "total": job.total,
        "masked": job.masked,
        "filters": job.filters,
        "error": _(job.error) if job.error else None,  # N_ texts are translated here
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": job.expires_at,
        "download_url": f"/api/v1/exports/{job.id}/download" if job.status == "done" else None,
    }


def visible_job(session: Session, user: User, job_id: int) -> ExportJob:
    """The job if ``user`` asked for it (or is an admin); 404 otherwise (no leaks)."""
    job = session.get(ExportJob, job_id)
    if job is None or (job.user_id != user.id and Role(user.role) != Role.admin):
        raise NotFound(_("没有这个导出：%(id)s") % {"id": job_id}, field="id")
    return job


def my_jobs(session: Session, user: User, limit: int = 50) -> list[ExportJob]:
    stmt = (
        select(ExportJob)
        .where(ExportJob.user_id == user.id)
        .order_by(ExportJob.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


class Superseded(Exception):
    """Another worker took the job over (its lease ran out): stop writing."""


def _claim(db: Database, now: datetime) -> tuple[int, int] | None:
    """Takes the oldest queued job (or a running one whose lease ran out) with a
    compare-and-set on (status, attempts): (id, attempt) or None."""
    with db.session() as session:
        candidates = session.execute(
            select(ExportJob.id, ExportJob.status, ExportJob.attempts)
            .where(
                or_(
                    ExportJob.status == "queued",
                    (ExportJob.status == "running") & (ExportJob.lease_until < now),
                )
            )
            .order_by(ExportJob.id)
            .limit(5)
        ).all()
        for job_id, status, attempts in candidates:
            if attempts >= MAX_ATTEMPTS:
                session.execute(
                    update(ExportJob)
                    .where(ExportJob.id == job_id, ExportJob.attempts == attempts)
                    .values(
                        status="failed",
                        finished_at=now,
                        lease_until=None,
                        error=N_("多次尝试后仍未写完"),
                    )
                )
                continue
            taken = session.execute(
                update(ExportJob)
                .where(
                    ExportJob.id == job_id,
                    ExportJob.status == status,
                    ExportJob.attempts == attempts,
                )
                .values(
                    status="running",
                    attempts=attempts + 1,
                    lease_until=now + LEASE,
                    started_at=now,
                    rows=0,
                )
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                session.commit()
                return job_id, attempts + 1
        session.commit()
    return None


def _progress(db: Database, clock: Clock, job_id: int, attempt: int, **values: Any) -> None:
    with db.session() as session:
        done = session.execute(
            update(ExportJob)
            .where(
                ExportJob.id == job_id,
                ExportJob.attempts == attempt,
                ExportJob.status == "running",
            )
            .values(lease_until=clock.now() + LEASE, **values)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Superseded
        session.commit()


def run_job(
    db: Database,
    clock: Clock,
    settings: Settings,
    job_id: int,
    attempt: int,
    chunk: int = CHUNK,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Writes a claimed job's file in chunks (progress committed after each), renames it into
    place (atomic), then marks the job done and audits the export in one transaction."""
    with db.session(write=False) as session:
        job = session.get(ExportJob, job_id)
        assert job is not None
        user = session.get(User, job.user_id)
        fmt, locale, params = job.format, job.locale, dict(job.filters or {})
        masked_then = job.masked
        session.expunge_all()
    directory = export_dir(settings)
    part = directory / f".{job_id}-{attempt}.part"
    final_name = f"{job_id}-{os.urandom(8).hex()}.{fmt}"
    try:
        with in_locale(locale):
            if (
                user is None
                or not user.is_active
                or not can(user.role, Permission.complaint_export)
            ):
                raise KesuError(_("申请导出的用户已停用或不再有导出权限"))
            query = ExportQuery.of(params)
            filters = query.filters()
            masked = masked_then or not sees_contact(user)  # never less masked than asked
            now = clock.now()
            with db.session(write=False) as session:
                total = count(session, user, filters, now)
                _progress(db, clock, job_id, attempt, total=total)
                written = _write_file(
                    db,
                    clock,
                    session,
                    user,
                    filters,
                    now,
                    masked,
                    fmt,
                    part,
                    chunk,
                    lambda n: _progress(db, clock, job_id, attempt, rows=n),
                    on_chunk,
                )
            os.replace(part, directory / final_name)
            try:
                with db.session() as session:
                    done = session.execute(
                        update(ExportJob)
                        .where(
                            ExportJob.id == job_id,
                            ExportJob.attempts == attempt,
                            ExportJob.status == "running",
                        )
                        .values(
                            status="done",
                            rows=written,
                            total=written,
                            masked=masked,
                            file_name=final_name,
                            size_bytes=(directory / final_name).stat().st_size,
                            finished_at=clock.now(),
                            expires_at=clock.now() + timedelta(hours=settings.export_keep_hours),
                            lease_until=None,
                        )
                    )
                    if done.rowcount != 1:  # type: ignore[attr-defined]
                        raise Superseded
                    audit = {**params, "format": fmt, "job": job_id}
                    record_export(session, clock, Actor.of(user), WHAT, written, masked, audit)
                    session.commit()
            except BaseException:
                (directory / final_name).unlink(missing_ok=True)
                raise
    except Superseded:
        part.unlink(missing_ok=True)
        log.warning("export %s: taken over by another worker", job_id)
    except Exception as error:
        part.unlink(missing_ok=True)
        log.exception("export %s failed", job_id)
        message = str(error) if isinstance(error, KesuError) else type(error).__name__
        with db.session() as session:
            session.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.attempts == attempt)
                .values(
                    status="failed",
                    error=message[:2000],
                    finished_at=clock.now(),
                    lease_until=None,
                )
            )
            session.commit()


def _write_file(
    db: Database,
    clock: Clock,
    session: Session,
    user: User,
    filters: ComplaintFilters,
    now: datetime,
    masked: bool,
    fmt: str,
    part: Path,
    chunk: int,
    progress: Callable[[int], None],
    on_chunk: Callable[[int], None] | None,
) -> int:
    maker = RowMaker(session, now, masked)
    written = 0
    with part.open("wb") as out:
        if fmt == "csv":
            writer = io.TextIOWrapper(out, encoding="utf-8", newline="")
            writer.write("".join(csv_lines([])))  # the BOM and the header
            for page in read_pages(session, user, filters, now, chunk):
                rows = maker.rows(page)
                writer.write("".join(csv_lines(rows, header=False)))
                written += len(rows)
                progress(written)
                if on_chunk:
                    on_chunk(written)
            writer.flush()
            writer.detach()
        else:
            book = XlsxWriter()
            for page in read_pages(session, user, filters, now, chunk):
                for row in maker.rows(page):
                    book.append(row)
                    written += 1
                progress(written)
                if on_chunk:
                    on_chunk(written)
            book.save(out)
        out.flush()
        os.fsync(out.fileno())
    return written


def expire(db: Database, clock: Clock, settings: Settings) -> int:
    """Finished jobs past their expiry: the file removed, the job marked expired."""
    now = clock.now()
    with db.session() as session:
        due = list(
            session.scalars(
                select(ExportJob)
                .where(ExportJob.status == "done", ExportJob.expires_at <= now)
                .limit(100)
            )
        )
        for job in due:
            path = job_path(settings, job)
            if path is not None:
                path.unlink(missing_ok=True)
            job.status = "expired"
            job.file_name = ""
        session.commit()
    return len(due)


def run_due(db: Database, clock: Clock, settings: Settings) -> int:
    """The worker's pass: expires old files, then writes at most one queued job.
    Returns the number of jobs written (0 or 1)."""
    expire(db, clock, settings)
    claimed = _claim(db, clock.now())
    if claimed is None:
        return 0
    run_job(db, clock, settings, *claimed)
    return 1
