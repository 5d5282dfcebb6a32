"""The admin-editable lexicons in the database: risk words, emotion words, the user dictionary.

Seeded from the files in ``data/`` into an empty table; from then on the rows are the truth.
Each process keeps the compiled lexicons for a few seconds (like ``kesu.taxonomy.cache``);
an edit in this process clears the cache at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import InvalidInput, NotFound
from kesu.triage.emotion import (
    EMOTION_LEXICON_PATH,
    RISK_LEXICON_PATH,
    Lexicon,
    read_lexicon,
)
from kesu.triage.models import LexiconEntry
from kesu.triage.text import Segmenter, default_user_words, get_segmenter, normalize
from kesu.web.i18n import gettext as _

TTL_SECONDS = 5.0
MAX_WORD_LENGTH = 64


class LexiconName(StrEnum):
    risk = "risk"
    emotion = "emotion"
    user_dict = "user_dict"


# Categories each lexicon accepts (the user dictionary has none).
CATEGORIES: dict[LexiconName, tuple[str, ...]] = {
    LexiconName.risk: ("media", "social", "regulator", "legal", "safety", "escalation"),
    LexiconName.emotion: ("anger", "urgency", "intensifier"),
    LexiconName.user_dict: ("",),
}


@dataclass(frozen=True)
class Lexicons:
    """Compiled lexicons for one database: what triage uses on every complaint."""

    risk: Lexicon
    emotion: Lexicon
    segmenter: Segmenter


_lock = threading.Lock()
_cache: dict[str, tuple[float, Lexicons]] = {}


def current(session: Session) -> Lexicons:
    """The lexicons as the admin left them (cached for a few seconds per process)."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    lexicons = _load(session)
    with _lock:
        _cache[key] = (now, lexicons)
    return lexicons


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _load(session: Session) -> Lexicons:
    data: dict[str, dict[str, dict[str, float]]] = {name: {} for name in LexiconName}
    for lexicon, category, word, weight in session.execute(
        select(LexiconEntry.lexicon, LexiconEntry.category, LexiconEntry.word, LexiconEntry.weight)
    ):
        data.setdefault(lexicon, {}).setdefault(category, {})[word] = weight
    user_words = sorted(data[LexiconName.user_dict].get("", {}))
    return Lexicons(
        risk=Lexicon(data[LexiconName.risk]),
        emotion=Lexicon(data[LexiconName.emotion]),
        segmenter=get_segmenter(user_words),
    )


def seed(session: Session, clock: Clock) -> list[str]:
    """Loads the shipped lexicon files into an empty table."""
    if session.scalar(select(func.count()).select_from(LexiconEntry)):
        return []
    now = clock.now()
    seen: set[tuple[str, str]] = set()
    shipped = {
        LexiconName.risk: read_lexicon(RISK_LEXICON_PATH),
        LexiconName.emotion: read_lexicon(EMOTION_LEXICON_PATH),
        LexiconName.user_dict: {"": dict.fromkeys(default_user_words(), 1.0)},
    }
    for lexicon, categories in shipped.items():
        for category, words in categories.items():
            for word, weight in words.items():
                key = normalize(word)
                if not key or (lexicon, key) in seen:
                    continue
                seen.add((lexicon, key))
                session.add(
                    LexiconEntry(
                        lexicon=lexicon, category=category, word=key, weight=weight, updated_at=now
                    )
                )
    clear_cache()
    return ["triage_lexicons"]


def list_entries(session: Session, lexicon: LexiconName | None = None) -> list[LexiconEntry]:
    query = select(LexiconEntry).order_by(
        LexiconEntry.lexicon, LexiconEntry.category, LexiconEntry.word
    )
    if lexicon is not None:
        query = query.where(LexiconEntry.lexicon == lexicon)
    return list(session.scalars(query))


def add_entry(
    session: Session,
    clock: Clock,
    lexicon: LexiconName,
    word: str,
    category: str = "",
    weight: float = 1.0,
    actor: Actor | None = None,
) -> LexiconEntry:
    """Adds a word (or updates its category and weight when the lexicon already has it);
    audited when an ``actor`` is given."""
    key = _checked_word(word)
    category = _checked_category(lexicon, category)
    weight = _checked_weight(lexicon, weight)
    entry = session.scalar(
        select(LexiconEntry).where(LexiconEntry.lexicon == lexicon, LexiconEntry.word == key)
    )
    now: datetime = clock.now()
    if entry is None:
        entry = LexiconEntry(lexicon=lexicon, word=key, category=category, weight=weight)
        session.add(entry)
    entry.category = category
    entry.weight = weight
    entry.updated_at = now
    session.flush()
    if actor is not None:
        record_audit(
            session, clock, actor, "lexicon.add", "lexicon_entry", entry.id, _audited(entry)
        )
    clear_cache()
    return entry


def delete_entry(
    session: Session, entry_id: int, *, clock: Clock | None = None, actor: Actor | None = None
) -> None:
    entry = session.get(LexiconEntry, entry_id)
    if entry is None:
        raise NotFound(_("词条 %(id)s 不存在") % {"id": entry_id})
    if clock is not None and actor is not None:
        record_audit(
            session, clock, actor, "lexicon.delete", "lexicon_entry", entry_id, _audited(entry)
        )
    session.execute(delete(LexiconEntry).where(LexiconEntry.id == entry_id))
    clear_cache()


def _audited(entry: LexiconEntry) -> dict[str, object]:
    keys = ("lexicon", "category", "word", "weight")
    return {key: getattr(entry, key) for key in keys}


def _checked_word(word: str) -> str:
    key = normalize(word)
    if not key:
        raise InvalidInput(_("词语不能为空"), field="word")
    if len(key) > MAX_WORD_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in key):
        raise InvalidInput(
            _("词语须为不含空格的 1–%(max)d 个字符") % {"max": MAX_WORD_LENGTH},
            field="word",
        )
    return key


def _checked_category(lexicon: LexiconName, category: str) -> str:
    allowed = CATEGORIES[lexicon]
    if lexicon == LexiconName.user_dict:
        return ""
    if category not in allowed:
        raise InvalidInput(
            _("类别须为 %(allowed)s 之一") % {"allowed": ", ".join(allowed)},
            field="category",
        )
    return category


def _checked_weight(lexicon: LexiconName, weight: float) -> float:
    low, high = (1.0, 3.0) if lexicon == LexiconName.risk else (0.0, 1.0)
    if lexicon == LexiconName.user_dict:
        return 1.0
    if not low <= weight <= high:
        raise InvalidInput(
            _("权重须在 %(low)s–%(high)s 之间") % {"low": f"{low:g}", "high": f"{high:g}"},
            field="weight",
        )
    return float(weight)
