"""Chinese full-text search on pre-segmented text, on both databases.

Reusable by other code (complaint search): ``index_tokens(text)`` gives the tokens to store
(jieba's search mode: every word and the dictionary sub-words of the longer ones, so 电池
inside 手机电池 is found), ``query_tokens(q)`` the tokens a query must all match (accurate
mode, stop words dropped), ``joined`` the stored form (space-joined), ``highlight`` an
escaped snippet with ``<mark>`` around the matches.

The index: SQLite FTS5 over the space-joined tokens (``unicode61`` splits on the spaces, CJK
characters are token characters), ranked by ``bm25``; PostgreSQL ``to_tsvector('simple',
tokens)`` with a GIN index, ranked by ``ts_rank``. Both get the same tokens, so a query finds
the same rows on either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.orm import Session

from kesu.triage.text import get_segmenter, load_stopwords, normalize

_WORD = re.compile(r"\w")
MAX_QUERY_TOKENS = 12
# Segmenting a whole book is not what an index is for: the first this many characters.
MAX_INDEXED_CHARS = 20_000


# A row's filter markers are indexed tokens too (kbcat12: the row is in category 12), so a
# filtered query is an intersection of posting lists inside the index, not a scan of rows.
MARKER = "kbcat"


def category_marker(category_id: int) -> str:
    return f"{MARKER}{category_id}"


def _clean(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if _WORD.search(t) and '"' not in t and not t.startswith(MARKER)]


def index_tokens(*texts: str) -> list[str]:
    """The tokens to index for ``texts`` (search mode, normalised, punctuation dropped)."""
    segmenter = get_segmenter()
    out: list[str] = []
    for part in texts:
        if part:
            out += _clean(segmenter.cut_for_search(normalize(part[:MAX_INDEXED_CHARS])))
    return out


def joined(tokens: Sequence[str]) -> str:
    return " ".join(tokens)


def query_tokens(query: str, *, limit: int = MAX_QUERY_TOKENS) -> list[str]:
    """The distinct tokens of a query (accurate mode), stop words dropped when others remain."""
    tokens = list(dict.fromkeys(_clean(get_segmenter().cut(normalize(query[:500])))))
    stop = load_stopwords()
    content = [t for t in tokens if t not in stop]
    return (content or tokens)[:limit]


def fts5_match(tokens: Sequence[str], *, any_of: bool = False) -> str:
    """An FTS5 MATCH expression: every token quoted (a token is never an operator)."""
    return (" OR " if any_of else " ").join(f'"{t}"' for t in tokens)


def pg_tsquery(tokens: Sequence[str], *, any_of: bool = False) -> str:
    """A to_tsquery('simple', …) text: each token quoted as a phrase of its lexemes."""
    quoted = []
    for token in tokens:
        words = [w for w in re.split(r"[^\w]+", token) if w]
        if words:
            quoted.append("(" + " <-> ".join(f"'{w}'" for w in words) + ")")
    return (" | " if any_of else " & ").join(quoted)


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


def highlight(content: str, tokens: Sequence[str], *, width: int = 0) -> Markup:
    """``content`` HTML-escaped with ``<mark>`` around each token found (case-insensitive);
    with ``width``, a window of about that many characters around the first match."""
    words = sorted({t for t in tokens if t}, key=len, reverse=True)
    if width and len(content) > width:
        start = 0
        if words:
            found = re.search("|".join(map(re.escape, words)), content, re.IGNORECASE)
            if found:
                start = max(0, found.start() - width // 4)
        piece = content[start : start + width]
        content = ("…" if start else "") + piece + ("…" if start + width < len(content) else "")
    if not words:
        return escape(content)
    pattern = re.compile("|".join(map(re.escape, words)), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(content):
        out.append(str(escape(content[last : match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(str(escape(content[last:])))
    return Markup("".join(out))
