"""Chinese full-text search on pre-segmented text, shared by the knowledge base and the
complaints (the parts that do not depend on which table is indexed).

``index_tokens(text)`` gives the tokens to store (jieba's search mode through the triage
tokenizer: every word and the dictionary sub-words of the longer ones, so 电池 inside 手机电池
is found), ``query_tokens(q)`` the tokens a query must all match (accurate mode, stop words
dropped), ``joined`` the stored form (space-joined), ``fts5_match`` / ``pg_tsquery`` the
query in each database's syntax, ``highlight`` an escaped snippet with ``<mark>`` around the
matches.

Both databases index the same tokens: SQLite FTS5 over the space-joined tokens
(``unicode61`` splits on the spaces, CJK characters are token characters), ranked by
``bm25``; PostgreSQL ``to_tsvector('simple', tokens)`` with a GIN index, ranked by
``ts_rank``. So a query finds the same rows on either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from kesu.triage.text import get_segmenter, load_stopwords, normalize

_WORD = re.compile(r"\w")
# What unicode61 and to_tsvector('simple') split a token into (a phrase of these).
_LEXEME_SPLIT = re.compile(r"[^\w]+|_")
MAX_QUERY_TOKENS = 12
# Segmenting a whole book is not what an index is for: the first this many characters.
MAX_INDEXED_CHARS = 20_000


def clean(tokens: Iterable[str], reserved: Sequence[str] = ()) -> list[str]:
    """Tokens with a word character, no double quote, not starting with a ``reserved``
    prefix (an index's own marker tokens, which no text may forge)."""
    prefixes = tuple(reserved)
    return [
        t
        for t in tokens
        if _WORD.search(t) and '"' not in t and not (prefixes and t.startswith(prefixes))
    ]


def index_tokens(*texts: str, reserved: Sequence[str] = ()) -> list[str]:
    """The tokens to index for ``texts`` (search mode, normalised, punctuation dropped)."""
    segmenter = get_segmenter()
    out: list[str] = []
    for part in texts:
        if part:
            cut = segmenter.cut_for_search(normalize(part[:MAX_INDEXED_CHARS]))
            out += clean(cut, reserved)
    return out


def joined(tokens: Sequence[str]) -> str:
    return " ".join(tokens)


def query_tokens(
    query: str, *, limit: int = MAX_QUERY_TOKENS, reserved: Sequence[str] = ()
) -> list[str]:
    """The distinct tokens of a query (accurate mode), stop words dropped when others remain."""
    cut = get_segmenter().cut(normalize(query[:500]))
    tokens = list(dict.fromkeys(clean(cut, reserved)))
    stop = load_stopwords()
    content = [t for t in tokens if t not in stop]
    return (content or tokens)[:limit]


def lexemes(token: str) -> list[str]:
    """The index terms one token becomes (``so-5566`` → ``so``, ``5566``): searched as a
    phrase, and what a document-frequency look-up must ask for."""
    return [w for w in _LEXEME_SPLIT.split(token.lower()) if w]


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
