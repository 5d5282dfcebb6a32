"""The complaints' full-text index, kept in the transaction of every change (issue 13).

One index row per complaint holds the tokens of what ``q`` searches: title and content
(segmented by the triage tokenizer in search mode, stop words dropped), the contact snapshot
(name, phone digits, email), the order number, the product and the custom fields' values
(a courier's tracking number lives there). SQLite: the FTS5 table ``complaints_fts`` (rowid
= complaint id, ranked by ``bm25``). PostgreSQL: the table ``complaint_search`` (complaint
id, a stored ``tsvector`` of the same tokens, a GIN index; ranked by ``ts_rank``). Both are
created by migration 0023 and are not models (``kesu.search.models.is_unmanaged``).

Kept in step by two session hooks, whatever code writes the complaint:

- ``after_flush``: the ORM path (registration, edits, privacy erasure, merges …): every new,
  deleted or changed-in-a-searched-field ``Complaint`` of the flush is re-indexed on the
  flush's own connection, so inside the same transaction — and the same SAVEPOINT when
  several creates share one transaction (group commit): a create rolled back to its
  savepoint takes its index row with it.
- ``do_orm_execute``: Core/bulk statements on the ``complaints`` table run through a
  ``Session`` (the demo's bulk ``INSERT``s, an ``UPDATE … WHERE``): the affected ids are
  taken from the parameters or read with the statement's WHERE before it runs, and re-read
  and re-indexed after it.

A statement on a bare ``Connection`` (no session) is not seen: nothing in kesu writes
complaints that way; ``kesu search rebuild`` repairs an index that drifted anyway.

A database that ran migration 0023 while it was an empty placeholder has no index: then
(``present``) the hooks write nothing and ``q`` falls back to the old ``LIKE`` scan, with
one error in the log asking for ``kesu search rebuild``, instead of every write failing.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, event, select, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import Delete, Insert, Update

from kesu.complaints.events import PREPARED
from kesu.complaints.models import Complaint
from kesu.db import Base, Database
from kesu.search.fulltext import index_tokens, joined
from kesu.triage.text import load_stopwords, normalize

log = logging.getLogger(__name__)

FTS_TABLE = "complaints_fts"  # SQLite
VOCAB_TABLE = "complaints_fts_vocab"  # SQLite: each term's document count
PG_TABLE = "complaint_search"  # PostgreSQL
PG_INDEX = "ix_complaint_search_tsv"

# The columns whose change re-indexes a complaint.
SEARCHED = (
    "title",
    "content",
    "contact_name",
    "contact_phone",
    "contact_email",
    "order_no",
    "product",
    "custom_fields",
)
_COLUMNS = [getattr(Complaint, name) for name in SEARCHED]
PREPARED_KEY = "search.words"  # this module's entry in session.info[events.PREPARED]
BATCH = 2000  # rows per statement in a rebuild, a backfill, a bulk statement's re-index


def phone_forms(phone: str | None) -> list[str]:
    """The digits of a phone, and the national number of a +86 one (what ``q`` may type)."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if not digits:
        return []
    forms = [digits]
    if digits.startswith("86") and len(digits) == 13:
        forms.append(digits[2:])
    return forms


def _field_values(custom: Any) -> list[str]:
    if isinstance(custom, Mapping):
        return [v for value in custom.values() for v in _field_values(value)]
    if isinstance(custom, list):
        return [v for value in custom for v in _field_values(value)]
    if isinstance(custom, str | int | float) and not isinstance(custom, bool):
        return [str(custom)]
    return []


def prepare(_db: Any, title: str, content: str) -> tuple[str, Any]:
    """The words of a new complaint's title and content, segmented before its write
    transaction (an ``events.Preparer``): jieba's search mode was a third of the CPU a
    create spent holding the write lock. ``_after_flush`` uses them when the stored title
    and content are these."""
    return PREPARED_KEY, ((title, content), index_tokens(title, content))


def tokens_of(
    row: Mapping[str, Any] | RowMapping, text_words: Sequence[str] | None = None
) -> list[str]:
    """The tokens indexed for a complaint (``row`` maps the SEARCHED names to values;
    ``text_words``: its title's and content's ``index_tokens`` when already cut)."""
    stop = load_stopwords()
    if text_words is None:
        text_words = index_tokens(row.get("title") or "", row.get("content") or "")
    words = [
        *text_words,
        *index_tokens(row.get("product") or "", *_field_values(row.get("custom_fields"))),
    ]
    tokens = [t for t in words if t not in stop]
    name = row.get("contact_name")
    if name:
        whole = normalize(name).replace(" ", "")
        tokens += [whole, *(t for t in index_tokens(name) if t != whole)]
    tokens += phone_forms(row.get("contact_phone"))
    for value in (row.get("contact_email"), row.get("order_no")):
        if value:
            tokens.append(normalize(value).replace(" ", "").replace('"', ""))
    return tokens


def _is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


_present: dict[str, float] = {}  # database URL → until when "absent" is believed (inf: present)
RECHECK_SECONDS = 30.0


def present(connection: Connection) -> bool:
    """Whether this database has the index (checked once, or every 30 s while it has not)."""
    url = str(connection.engine.url)
    known = _present.get(url)
    now = time.monotonic()
    if known == math.inf:
        return True
    if known is not None and now < known:
        return False
    if _is_sqlite(connection):
        query = "SELECT 1 FROM sqlite_master WHERE name = :name"
        found = connection.execute(text(query), {"name": FTS_TABLE}).first()
    else:
        found = connection.execute(text("SELECT to_regclass(:name)"), {"name": PG_INDEX}).scalar()
    if found:
        _present[url] = math.inf
        return True
    if known is None:
        log.error("the complaints' full-text index is missing: run `kesu search rebuild`")
    _present[url] = now + RECHECK_SECONDS
    return False


def store(
    connection: Connection, rows: Sequence[tuple[int, str]], *, keep_newer: bool = False
) -> None:
    """Writes the index rows of (complaint id, joined tokens), replacing any former ones.
    ``keep_newer`` (a rebuild beside live writers on PostgreSQL): a row already there was
    written by the change's own transaction, newer than what the rebuild read; keep it."""
    if not rows:
        return
    if _is_sqlite(connection):  # one statement: FTS5 replaces a row with the same rowid
        connection.execute(
            text(f"INSERT OR REPLACE INTO {FTS_TABLE} (rowid, tokens) VALUES (:id, :tokens)"),
            [{"id": i, "tokens": t} for i, t in rows],
        )
    else:
        connection.execute(
            text(
                f"INSERT INTO {PG_TABLE} (complaint_id, tsv) "
                "VALUES (:id, to_tsvector('simple', :tokens)) ON CONFLICT (complaint_id) "
                + ("DO NOTHING" if keep_newer else "DO UPDATE SET tsv = excluded.tsv")
            ),
            [{"id": i, "tokens": _pg_words(t)} for i, t in rows],
        )


def _pg_words(tokens: str) -> str:
    """PostgreSQL's parser reads "so-888" as "so" and the number "-888", so a query split into
    words (``fulltext.pg_tsquery``: "so" <-> "888") would miss it: store the same words the
    query is split into."""
    return re.sub(r"[^\w]+", " ", tokens)


def remove(connection: Connection, ids: Iterable[int]) -> None:
    params = [{"id": i} for i in ids]
    if not params:
        return
    if _is_sqlite(connection):
        connection.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), params)
    else:
        connection.execute(text(f"DELETE FROM {PG_TABLE} WHERE complaint_id = :id"), params)


def reindex_ids(connection: Connection, ids: Sequence[int]) -> None:
    """Re-reads these complaints and writes their index rows (a vanished id loses its row)."""
    for start in range(0, len(ids), BATCH):
        chunk = list(ids[start : start + BATCH])
        found = connection.execute(
            select(Complaint.id, *_COLUMNS).where(Complaint.id.in_(chunk))
        ).mappings()
        rows = [(int(r["id"]), joined(tokens_of(r))) for r in found]
        store(connection, rows)
        remove(connection, set(chunk) - {i for i, _ in rows})


# ---- the hooks ------------------------------------------------------------------------------


def _changed(complaint: Complaint) -> bool:
    from sqlalchemy import inspect

    state = inspect(complaint)
    return any(state.attrs[name].history.has_changes() for name in SEARCHED)


def _values(complaint: Complaint) -> dict[str, Any]:
    return {name: getattr(complaint, name) for name in SEARCHED}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    changed = [
        c
        for c in (*session.new, *session.dirty)
        if isinstance(c, Complaint) and (c in session.new or _changed(c))
    ]
    gone = [c.id for c in session.deleted if isinstance(c, Complaint)]
    if not changed and not gone:
        return
    connection = session.connection()
    if not present(connection):
        return
    prepared = session.info.get(PREPARED, {}).get(PREPARED_KEY)

    def words(complaint: Complaint) -> str:
        cut = None
        if prepared and prepared[0] == (complaint.title or "", complaint.content or ""):
            cut = prepared[1]
        return joined(tokens_of(_values(complaint), cut))

    store(connection, [(c.id, words(c)) for c in changed])
    remove(connection, gone)


def _touches_searched(statement: Insert | Update, parameters: Any) -> bool:
    names = {getattr(k, "key", k) for k in (statement._values or {})}
    for params in parameters if isinstance(parameters, list) else [parameters or {}]:
        names.update(params)
    return bool(names & set(SEARCHED))


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Any:
    statement = state.statement
    if not isinstance(statement, Insert | Update | Delete):
        return None
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) != Complaint.__tablename__:
        return None
    parameters: Any = state.parameters
    many: list[Mapping[str, Any]] = (
        list(parameters) if isinstance(parameters, list) else [parameters or {}]
    )
    run: Callable[[], Any] = state.invoke_statement
    connection = state.session.connection()
    if not present(connection):
        return None
    if isinstance(statement, Insert):
        result = run()
        ids = [int(p["id"]) for p in many if p.get("id") is not None]
        if not ids and result.inserted_primary_key_rows:
            ids = [int(pk[0]) for pk in result.inserted_primary_key_rows if pk and pk[0]]
        if not ids:
            log.warning("complaints inserted without ids: not indexed (kesu search rebuild)")
        reindex_ids(connection, ids)
        return result
    if isinstance(statement, Update) and not _touches_searched(statement, parameters):
        return None
    ids = [int(p["id"]) for p in many if p.get("id") is not None]
    if not ids:  # an UPDATE/DELETE … WHERE: the rows it is about, read before it runs
        where = statement.whereclause
        query = select(Complaint.id) if where is None else select(Complaint.id).where(where)
        ids = [int(i) for i in connection.execute(query).scalars()]
    result = run()
    if isinstance(statement, Delete):
        remove(connection, ids)
    else:
        reindex_ids(connection, ids)
    return result


# ---- rebuild and backfill ---------------------------------------------------------------------


def create_index(connection: Connection) -> None:
    """SQLite's FTS5 table (empty) and its vocabulary; PostgreSQL's table is a model
    (kesu.search.models.ComplaintSearch), made by migration 0023 like every table."""
    if _is_sqlite(connection):
        connection.execute(
            text(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(tokens, tokenize = 'unicode61')")
        )
        connection.execute(
            text(f"CREATE VIRTUAL TABLE {VOCAB_TABLE} USING fts5vocab({FTS_TABLE}, 'row')")
        )


def create_pg_gin(connection: Connection) -> None:
    """PostgreSQL's GIN index, built after the backfill (one sort instead of a million
    insertions)."""
    if not _is_sqlite(connection):
        connection.execute(
            text(f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {PG_TABLE} USING gin (tsv)")
        )


def drop_index(connection: Connection) -> None:
    """SQLite: the FTS5 tables dropped; PostgreSQL: the index rows deleted."""
    if _is_sqlite(connection):
        for table in (VOCAB_TABLE, FTS_TABLE):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    else:
        connection.execute(text(f"TRUNCATE {PG_TABLE}"))


def index_batch(
    connection: Connection, after: int, batch: int = BATCH, *, keep_newer: bool = False
) -> tuple[int, int]:
    """Indexes the next ``batch`` complaints after id ``after``: (how many, last id)."""
    found = list(
        connection.execute(
            select(Complaint.id, *_COLUMNS)
            .where(Complaint.id > after)
            .order_by(Complaint.id)
            .limit(batch)
        ).mappings()
    )
    rows = [(int(r["id"]), joined(tokens_of(r))) for r in found]
    store(connection, rows, keep_newer=keep_newer)
    return len(rows), (rows[-1][0] if rows else after)


def backfill(
    connection: Connection,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Indexes every complaint on ``connection`` (one transaction), ``batch`` at a time in
    id order, so memory stays flat whatever the table's size."""
    done, last = 0, 0
    while True:
        count, last = index_batch(connection, last, batch)
        if not count:
            return done
        done += count
        if progress is not None:
            progress(done)


def rebuild(
    db: Database, *, batch: int = BATCH, progress: Callable[[int], None] | None = None
) -> int:
    """``kesu search rebuild``: the index dropped and made again from the complaints, one
    transaction per batch so writers are never held up for long (each change keeps indexing
    itself meanwhile). Until it ends, ``q`` finds only the complaints indexed so far. Also
    makes whatever is missing (a database that ran migration 0023 as the placeholder)."""
    from kesu.search.models import ComplaintSearch  # the models import this module

    with db.engine.begin() as connection:
        Base.metadata.tables[ComplaintSearch.__tablename__].create(connection, checkfirst=True)
        drop_index(connection)
        create_index(connection)
        create_pg_gin(connection)
    done, last = 0, 0
    while True:
        with db.session() as session:
            count, last = index_batch(session.connection(), last, batch, keep_newer=True)
        if not count:
            break
        done += count
        if progress is not None:
            progress(done)
    with db.engine.begin() as connection:
        optimize(connection)
    _present.pop(str(db.engine.url), None)
    return done


def optimize(connection: Connection) -> None:
    """Merges FTS5's segments into one b-tree (faster queries); PostgreSQL: ANALYZE."""
    if _is_sqlite(connection):
        connection.execute(text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')"))
    else:
        connection.execute(text(f"ANALYZE {PG_TABLE}"))
