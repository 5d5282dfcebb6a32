"""Free-text ``q`` through the complaints' full-text index (kesu.search.index).

The query's tokens (accurate mode, stop words dropped: the index has none) must all match.
``text_condition`` is the WHERE condition a complaint list adds (any order, any other
filter, the list's own keyset pagination); ``ranked`` is the best-first search (bm25 on
SQLite, ts_rank on PostgreSQL) over the newest matches in the caller's scope.

SQLite cannot estimate how many rows an FTS5 MATCH returns, and the two ways to combine it
with a list ordered by id differ by orders of magnitude: a rare word is best read from the
index once (``id IN (matches)``, a few rows), a word in a third of all complaints is best
checked row by row as the list walks newest first (the page fills within a few hundred rows)
— reading its 300,000 matches first would cost a second. The ``fts5vocab`` table gives each
term's document count for the price of a b-tree look-up, so the choice is made per query
(``estimate``); a word no complaint has answers with no query at all. PostgreSQL's planner
has the tsvector statistics and makes that choice itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    column,
    exists,
    false,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from kesu.complaints.models import Complaint
from kesu.search.fulltext import fts5_match, lexemes, pg_tsquery, query_tokens
from kesu.search.index import FTS_TABLE, PG_TABLE, VOCAB_TABLE, present

# At most this many estimated matches: read them from the index first (and let a list read
# all its scope branches at once, kesu.search.query.list_plan).
FEW = 5000

_fts = table(FTS_TABLE, column("rowid"), column("tokens"))
_pg = table(PG_TABLE, column("complaint_id"), column("tsv"))


@dataclass(frozen=True)
class Estimate:
    tokens: tuple[str, ...]
    matches: float  # expected matching complaints (0: certainly none); PostgreSQL: -1


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def estimate(session: Session, q: str) -> Estimate:
    """The query's tokens and how many complaints they are expected to match (SQLite: from
    each term's document count, assuming independent terms; a term no complaint has → 0)."""
    tokens = tuple(query_tokens(q))
    if not tokens:
        return Estimate(tokens, 0)
    if not _is_sqlite(session):
        return Estimate(tokens, -1)
    terms = sorted({lex for token in tokens for lex in lexemes(token)})
    if not terms:
        return Estimate(tokens, 0)
    found: dict[str, int] = dict(
        session.execute(
            text(f"SELECT term, doc FROM {VOCAB_TABLE} WHERE term IN :terms").bindparams(
                bindparam("terms", expanding=True)
            ),
            {"terms": terms},
        ).all()
    )
    if any(term not in found for term in terms):
        return Estimate(tokens, 0)
    total = session.scalar(text(f"SELECT max(rowid) FROM {FTS_TABLE}")) or 1
    share = math.prod(min(1.0, found[t] / total) for t in terms)
    fewest = float(min(found.values()))
    return Estimate(tokens, fewest if len(terms) == 1 else total * share)


def text_condition(session: Session, q: str) -> ColumnElement[bool]:
    """Complaints whose indexed tokens contain every token of ``q``."""
    found = estimate(session, q)
    if found.matches == 0:
        return false()
    if not _is_sqlite(session):
        return Complaint.id.in_(_pg_matches(found.tokens))
    match = _fts.c.tokens.op("MATCH")(fts5_match(found.tokens))
    if 0 < found.matches <= FEW:
        return Complaint.id.in_(select(_fts.c.rowid).where(match))
    # Common: checked per row as the list walks its index (FTS5 seeks to the rowid).
    return exists().where(match, _fts.c.rowid == Complaint.id)


def walks_common(session: Session, found: Estimate) -> bool:
    """Whether a list with several scope branches should read the matches of ``found`` newest
    first (``newest_ids``) rather than check each row of each branch: SQLite, matches many.

    Checking a row costs FTS5 a cursor re-open (~0.1 ms), so an agent's three branches
    checking rows until 51 match took 105 ms p50 at 1,000,000 for a common word; FTS5 reads
    its own rowids newest first for microseconds each."""
    return _is_sqlite(session) and found.matches > FEW


def newest_ids(session: Session, tokens: Sequence[str], below: int | None, size: int) -> list[int]:
    """The ids of up to ``size`` complaints matching all ``tokens``, newest first, below
    ``below`` (SQLite)."""
    stmt = select(_fts.c.rowid).where(_fts.c.tokens.op("MATCH")(fts5_match(tokens)))
    if below is not None:
        stmt = stmt.where(_fts.c.rowid < below)
    return list(session.scalars(stmt.order_by(_fts.c.rowid.desc()).limit(size)))


def few_ids(session: Session, q: str) -> Select[Any] | None:
    """The ids of the complaints ``q`` matches in the index when they are few (an order or
    tracking number mentioned in the text or a custom field), else None: a part of the
    look-ups of an order- or phone-shaped ``q`` (kesu.search.query)."""
    if not present(session.connection()):
        return None
    found = estimate(session, q)
    if found.matches == 0 or found.matches > FEW:
        return None
    if not _is_sqlite(session):
        return _pg_matches(found.tokens)
    return select(_fts.c.rowid).where(_fts.c.tokens.op("MATCH")(fts5_match(found.tokens)))


def _pg_matches(tokens: Sequence[str]) -> Select[Any]:
    query = func.to_tsquery(literal_column("'simple'"), pg_tsquery(tokens))
    return select(_pg.c.complaint_id).where(_pg.c.tsv.op("@@")(query))


# Ranking every match of a common word costs a sort of them all; ranked among the newest
# POOL matches in the caller's scope instead (kesu.knowledge.search does the same).
POOL = 1000


def ranked(
    session: Session,
    q: str,
    scope: ColumnElement[bool] | None = None,
    *,
    limit: int = 20,
    pool: int = POOL,
) -> list[tuple[int, float]]:
    """(complaint id, rank) of the best matches of ``q`` in ``scope``, best first (lower rank
    is better on both databases; ties: newest first). Ranked among the newest ``pool``
    matches, so a common word costs the same at any size; a rare word's matches all are."""
    if not present(session.connection()):
        return []
    found = estimate(session, q)
    if found.matches == 0:
        return []
    wanted = [scope] if scope is not None else []
    if _is_sqlite(session):
        match = _fts.c.tokens.op("MATCH")(fts5_match(found.tokens))
        score: ColumnElement[float] = literal_column(f"bm25({FTS_TABLE})")
        newest = (
            select(_fts.c.rowid.label("id"), score.label("rank"))
            .select_from(_fts.join(Complaint.__table__, Complaint.id == _fts.c.rowid))
            .where(match, *wanted)
            .order_by(_fts.c.rowid.desc())
            .limit(max(pool, limit))
            .subquery()
        )
    else:
        query = func.to_tsquery(literal_column("'simple'"), pg_tsquery(found.tokens))
        score = -func.ts_rank(_pg.c.tsv, query)
        newest = (
            select(_pg.c.complaint_id.label("id"), score.label("rank"))
            .select_from(_pg.join(Complaint.__table__, Complaint.id == _pg.c.complaint_id))
            .where(_pg.c.tsv.op("@@")(query), *wanted)
            .order_by(_pg.c.complaint_id.desc())
            .limit(max(pool, limit))
            .subquery()
        )
    rows = session.execute(
        select(newest.c.id, newest.c.rank).order_by(newest.c.rank, newest.c.id.desc()).limit(limit)
    )
    return [(int(i), float(r)) for i, r in rows]
