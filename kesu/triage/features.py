"""Feature extractors for the text classifier (scikit-learn transformers and analyzers).

They hold only plain data (word lists, lexicon tables), so a fitted pipeline pickles small
and loads without jieba's dictionary inside it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from kesu.triage.emotion import Lexicon, read_lexicon
from kesu.triage.text import DATA_DIR, Segmenter, get_segmenter

SENTIMENT_LEXICON_PATH = DATA_DIR / "sentiment_lexicon.toml"
# How far back (in characters) a negation word flips a polarity word: 不太好吃, 没有想象中好.
NEGATION_WINDOW = 3
# Tokens made only of these end a negation scope (the text is normalised: ，→ ,).
_SCOPE_END = ",.!?;:~…、。！？；："


class WordAnalyzer:
    """jieba tokens of normalised text, for `TfidfVectorizer(analyzer=WordAnalyzer())`.

    HMM is off: twice as fast, and the character n-grams beside it cover unknown words.
    With `mark_negation`, every token after a negation word (the lexicon's `negation` table)
    up to the next punctuation gets a "!" prefix: in "不 太 好吃" the model sees "!好吃", a
    feature of its own, so "不…好吃" no longer counts as praise (Das & Chen's negation
    tagging; +0.002 complaint F1 in leave-one-product-line-out cross-validation).
    """

    def __init__(self, extra_words: Iterable[str] = (), mark_negation: bool = False) -> None:
        self.extra_words = tuple(extra_words)
        self.mark_negation = mark_negation
        self._segmenter: Segmenter | None = None

    def __call__(self, text: str) -> list[str]:
        if self._segmenter is None:
            self._segmenter = get_segmenter(self.extra_words)
        tokens = self._segmenter.cut(text, hmm=False)
        return mark_negation_scope(tokens) if self.mark_negation else tokens

    def __getstate__(self) -> dict[str, object]:
        return {"extra_words": self.extra_words, "mark_negation": self.mark_negation}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.extra_words = tuple(state["extra_words"])
        # Models saved before negation marking existed have no such key.
        self.mark_negation = bool(state.get("mark_negation", False))
        self._segmenter = None


def mark_negation_scope(tokens: list[str]) -> list[str]:
    """["不", "太", "好吃", ",", "推荐"] → ["不", "!太", "!好吃", ",", "推荐"]."""
    negations = _negation_words()
    marked = []
    negated = False
    for token in tokens:
        if not token.strip(_SCOPE_END):
            negated = False
        elif token in negations:
            negated = True
        elif negated:
            token = "!" + token
        marked.append(token)
    return marked


@lru_cache(maxsize=1)
def _negation_words() -> frozenset[str]:
    return frozenset(load_sentiment_lexicon().get("negation", {}))


class PolarityFeatures(TransformerMixin, BaseEstimator):
    """Four dense features per text from a polarity lexicon: log(1 + summed weight) of
    negative words, positive words, negated negative words and negated positive words.

    Word n-grams only know the words of the training domain; these features let a weight
    learned on "差评, 失望" carry over to "难吃, 送错" in a domain never seen in training.
    """

    def __init__(self, lexicon: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.lexicon = lexicon

    def fit(self, texts: Iterable[str], y: Any = None) -> PolarityFeatures:
        data = self.lexicon if self.lexicon is not None else read_lexicon(SENTIMENT_LEXICON_PATH)
        self.polarity_ = Lexicon({k: v for k, v in data.items() if k != "negation"})
        negations = sorted(data.get("negation", {}), key=len, reverse=True)
        self.negation_ = re.compile("|".join(map(re.escape, negations))) if negations else None
        return self

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        rows = [self._row(text) for text in texts]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(-1, 4))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(["negative", "positive", "negated_negative", "negated_positive"])

    def _row(self, text: str) -> list[float]:
        sums = [0.0, 0.0, 0.0, 0.0]
        for category, weight, start in self._matches(text):
            negated = self._is_negated(text, start)
            sums[(0 if category == "negative" else 1) + 2 * negated] += weight
        return [math.log1p(value) for value in sums]

    def _matches(self, text: str) -> Iterable[tuple[str, float, int]]:
        pattern = self.polarity_.pattern
        if pattern is None:
            return
        for match in pattern.finditer(text):
            category, weight = self.polarity_.entries[match.group(0)]
            yield category, weight, match.start()

    def _is_negated(self, text: str, start: int) -> bool:
        if self.negation_ is None:
            return False
        return self.negation_.search(text, max(0, start - NEGATION_WINDOW), start) is not None


def load_sentiment_lexicon(path: Path | None = None) -> dict[str, dict[str, float]]:
    """The polarity lexicon (negative, positive, negation tables) as plain data."""
    return read_lexicon(path or SENTIMENT_LEXICON_PATH)
