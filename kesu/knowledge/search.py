"""Knowledge search: the articles' FTS5 table / GIN index and the ranked query over it.

The tokens and the query syntax are kesu.search.fulltext's (shared with the complaints'
index); here: the category markers inside the index, the ranked query, keeping the FTS5 rows
in step. SQLite FTS5 over the space-joined tokens ranked by ``bm25``; PostgreSQL
``to_tsvector('simple', tokens)`` with a GIN index, ranked by ``ts_rank``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from kesu.search import fulltext
from kesu.search.fulltext import MAX_QUERY_TOKENS, fts5_match, pg_tsquery
from kesu.search.fulltext import highlight as highlight  # the pages' snippets
from kesu.search.fulltext import joined as joined

# A row's filter markers are indexed tokens too (kbcat12: the row is in category 12), so a
# filtered query is an intersection of posting lists inside the index, not a scan of rows.
MARKER = "kbcat"


def category_marker(category_id: int) -> str:
    return f"{MARKER}{category_id}"


def index_tokens(*texts: str) -> list[str]:
    """The tokens to index for ``texts`` (no text may forge a category marker)."""
    return fulltext.index_tokens(*texts, reserved=(MARKER,))


def query_tokens(query: str, *, limit: int = MAX_QUERY_TOKENS) -> list[str]:
    """The distinct tokens of a query (accurate mode), stop words dropped when others remain."""
    return fulltext.query_tokens(query, limit=limit, reserved=(MARKER,))


# Ranking every match of a common word (a third of 100,000 articles) costs a sort of them
# all; the rank is computed over the newest POOL matches that pass the filter instead, so a
# query's cost is bounded whatever the size. A rare word's matches are all in the pool.
POOL = 1000
# PostgreSQL ranks from the expression index's text (to_tsvector per ranked row, about half a
# millisecond each on a loaded machine): a smaller pool there.
PG_POOL = 200


def matching_ids(
    session: Session,
    tokens: Sequence[str],
    *,
    where: str = "",
    params: dict[str, object] | None = None,
    limit: int = 20,
    any_of: bool = False,
    table: str = "knowledge_articles",
    pool: int = POOL,
    categories: Sequence[int] = (),
) -> list[tuple[int, float]]:
    """Ids of ``table`` rows whose indexed tokens match, best first, with their rank (lower is
    better on both databases). ``where`` is an extra SQL condition on the table (alias ``a``).
    Ranked among the newest ``pool`` matching rows (bm25 on SQLite, ts_rank on PostgreSQL).
    ``categories``: only rows indexed with one of these category markers."""
    if not tokens:
        return []
    bind = dict(params or {})
    bind["limit"] = limit
    bind["pool"] = max(pool, limit)
    extra = f" AND ({where})" if where else ""
    if session.get_bind().dialect.name == "sqlite":
        bind["match"] = fts5_match(tokens, any_of=any_of)
        if categories:
            markers = fts5_match([category_marker(c) for c in categories], any_of=True)
            bind["match"] = f"({bind['match']}) AND ({markers})"
        sql = (
            "SELECT id, rank FROM (SELECT a.id AS id, bm25(knowledge_fts) AS rank "
            f"FROM knowledge_fts JOIN {table} a ON a.id = knowledge_fts.rowid "
            f"WHERE knowledge_fts MATCH :match{extra} "
            "ORDER BY knowledge_fts.rowid DESC LIMIT :pool) "
            "ORDER BY rank, id DESC LIMIT :limit"
        )
    else:
        query = pg_tsquery(tokens, any_of=any_of)
        if not query:
            return []
        if categories:
            markers = pg_tsquery([category_marker(c) for c in categories], any_of=True)
            query = f"({query}) & ({markers})"
        bind["query"] = query
        bind["pool"] = max(min(pool, PG_POOL), limit)
        sql = (
            "SELECT p.id, -ts_rank(to_tsvector('simple', p.search_tokens), "
            "to_tsquery('simple', :query)) AS rank "
            f"FROM (SELECT a.id, a.search_tokens FROM {table} a "
            f"WHERE to_tsvector('simple', a.search_tokens) @@ to_tsquery('simple', :query)"
            f"{extra} ORDER BY a.id DESC LIMIT :pool) p "
            "ORDER BY rank, p.id DESC LIMIT :limit"
        )
    return [(int(row[0]), float(row[1])) for row in session.execute(text(sql), bind)]


def store(session: Session, row_id: int, tokens: Sequence[str]) -> None:
    """Keeps the SQLite FTS5 row of an article in step (PostgreSQL's index follows the column
    by itself); call in the transaction of the edit."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text("DELETE FROM knowledge_fts WHERE rowid = :id"), {"id": row_id})
    session.execute(
        text("INSERT INTO knowledge_fts (rowid, tokens) VALUES (:id, :tokens)"),
        {"id": row_id, "tokens": joined(tokens)},
    )


def store_many(session: Session, rows: Sequence[tuple[int, str]]) -> None:
    """Bulk form of ``store`` for (id, joined tokens) pairs (the reindex, the benchmark)."""
    if session.get_bind().dialect.name != "sqlite" or not rows:
        return
    session.execute(
        text("DELETE FROM knowledge_fts WHERE rowid = :id"), [{"id": i} for i, _ in rows]
    )
    session.execute(
        text("INSERT INTO knowledge_fts (rowid, tokens) VALUES (:id, :tokens)"),
        [{"id": i, "tokens": t} for i, t in rows],
    )


def clear(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM knowledge_fts"))
