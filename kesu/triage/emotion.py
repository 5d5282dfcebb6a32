"""Emotion (anger, urgency) and risk signals from admin-editable lexicons.

Both lexicons are TOML files in `data/` with one table per category and `"word" = weight`
entries. The loaders accept another path or an in-memory mapping of the same shape, which is
how the admin-edited lexicon stored in the database will be plugged in.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kesu.triage.text import DATA_DIR, normalize

RISK_LEXICON_PATH = DATA_DIR / "risk_lexicon.toml"
EMOTION_LEXICON_PATH = DATA_DIR / "emotion_lexicon.toml"
MAX_RISK_LEVEL = 3

# {category: {word: weight}} — the shape of both TOML files and of a DB-backed override.
LexiconData = Mapping[str, Mapping[str, float]]

_EXCLAMATION = re.compile(r"!")
# "!!", "??", "?!" … — a run of two or more marks reads as shouting.
_PUNCTUATION_RUN = re.compile(r"[!?]{2,}")
# "等了三天", "等了2个小时": waiting time stated in the complaint.
_WAITED = re.compile(
    r"等了?(?:\d+|[一二两三四五六七八九十几半]+)(?:个)?(?:多)?(?:天|小时|周|星期|月)"
)


class Lexicon:
    """Words grouped by category with weights, matched with one compiled regex."""

    def __init__(self, data: LexiconData) -> None:
        self.entries: dict[str, tuple[str, float]] = {}
        for category, words in data.items():
            for word, weight in words.items():
                key = normalize(str(word))
                if key:
                    self.entries[key] = (str(category), float(weight))
        self.pattern = _compile(self.entries)

    def find(self, text: str) -> list[tuple[str, str, float]]:
        """Distinct (word, category, weight) found in already-normalised `text`, in order."""
        if self.pattern is None:
            return []
        found = dict.fromkeys(match.group(0) for match in self.pattern.finditer(text))
        return [(word, *self.entries[word]) for word in found]

    def categories(self) -> set[str]:
        return {category for category, _ in self.entries.values()}


def _compile(entries: Mapping[str, object]) -> re.Pattern[str] | None:
    if not entries:
        return None
    # Longest first, so 食物中毒 wins over 中毒; numbers only as whole numbers (315 ≠ 3150).
    words = sorted(entries, key=len, reverse=True)
    parts = [rf"(?<!\d){re.escape(w)}(?!\d)" if w.isdigit() else re.escape(w) for w in words]
    return re.compile("|".join(parts))


def read_lexicon(path: Path) -> dict[str, dict[str, float]]:
    """A lexicon TOML file as {category: {word: weight}}; ValueError names a bad entry."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    data: dict[str, dict[str, float]] = {}
    for category, words in raw.items():
        if not isinstance(words, dict):
            raise ValueError(f'{path}: [{category}] must be a table of "word" = weight')
        for word, weight in words.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ValueError(f"{path}: [{category}] {word!r} needs a numeric weight")
        data[category] = {word: float(weight) for word, weight in words.items()}
    return data


@lru_cache(maxsize=8)
def _lexicon_from_file(path: Path) -> Lexicon:
    return Lexicon(read_lexicon(path))


def load_risk_lexicon(path: Path | None = None, data: LexiconData | None = None) -> Lexicon:
    """The risk lexicon: `data` if given (e.g. rows from the DB), else `path`, else shipped."""
    return Lexicon(data) if data is not None else _lexicon_from_file(path or RISK_LEXICON_PATH)


def load_emotion_lexicon(path: Path | None = None, data: LexiconData | None = None) -> Lexicon:
    """The emotion lexicon (anger, urgency, intensifier tables), like `load_risk_lexicon`."""
    if data is not None:
        return Lexicon(data)
    return _lexicon_from_file(path or EMOTION_LEXICON_PATH)


@dataclass(frozen=True)
class RiskSignal:
    word: str
    category: str
    weight: int


@dataclass(frozen=True)
class EmotionAssessment:
    """What the text says about feelings and risk; scores in [0, 1], risk_level in 0–3."""

    anger: float
    urgency: float
    risk_level: int
    risk_signals: tuple[RiskSignal, ...]

    @property
    def risk_categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(signal.category for signal in self.risk_signals))


def _saturate(raw: float) -> float:
    """Map an unbounded sum of cue weights to [0, 1): one strong cue ≈ 0.6, three ≈ 0.9."""
    return round(1.0 - math.exp(-max(raw, 0.0)), 4)


def risk_level(signals: tuple[RiskSignal, ...]) -> int:
    """The strongest signal's weight, one higher when two different categories agree.

    "我要投诉到底" (escalation, 2) stays 2; "我要找律师并发微博" (legal 3 + social) is 3; "发微博"
    alone (social, 2) is 2 and becomes 3 with "曝光" (media).
    """
    if not signals:
        return 0
    strongest = max(signal.weight for signal in signals)
    several_kinds = len({signal.category for signal in signals}) >= 2
    return min(MAX_RISK_LEVEL, strongest + int(several_kinds))


def assess(
    text: str,
    *,
    risk_lexicon: Lexicon | None = None,
    emotion_lexicon: Lexicon | None = None,
) -> EmotionAssessment:
    """Anger, urgency and risk of one complaint text."""
    clean = normalize(text)
    risks = risk_lexicon or load_risk_lexicon()
    emotions = emotion_lexicon or load_emotion_lexicon()
    signals = tuple(
        RiskSignal(word, category, max(1, min(MAX_RISK_LEVEL, round(weight))))
        for word, category, weight in risks.find(clean)
    )
    cues: dict[str, float] = {}
    for _, category, weight in emotions.find(clean):
        cues[category] = cues.get(category, 0.0) + weight
    exclamations = len(_EXCLAMATION.findall(clean))
    shouting = len(_PUNCTUATION_RUN.findall(clean))
    anger = cues.get("anger", 0.0)
    if anger:
        anger += cues.get("intensifier", 0.0)
    anger += min(exclamations, 5) * 0.1 + min(shouting, 3) * 0.2
    urgency = cues.get("urgency", 0.0) + min(exclamations, 5) * 0.05
    urgency += 0.4 * len(_WAITED.findall(clean))
    return EmotionAssessment(
        anger=_saturate(anger),
        urgency=_saturate(urgency),
        risk_level=risk_level(signals),
        risk_signals=signals,
    )
