"""Chinese text basics: normalisation, segmentation, stop words and keywords.

jieba is loaded lazily: importing this module costs nothing, the first `cut` loads the
dictionary (about a second, from jieba's cache file afterwards). Each `Segmenter` owns a
`jieba.Tokenizer`, so an admin's extra words never leak into another segmenter.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba

DATA_DIR = Path(__file__).parent / "data"
STOPWORDS_PATH = DATA_DIR / "stopwords.txt"
USER_DICT_PATH = DATA_DIR / "user_dict.txt"
T2S_PATH = DATA_DIR / "t2s.txt"

# BOM and zero-width characters survive NFKC and break matching ("\ufeff差评" != "差评").
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"))
_WHITESPACE = re.compile(r"\s+")
# A keyword must contain a CJK character or a latin letter, or be a number like 315/12315.
_KEYWORD_SHAPE = re.compile(r"[\u4e00-\u9fffa-z]|^\d{3,}$")


def read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a UTF-8 data file."""
    text = path.read_text(encoding="utf-8-sig")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    pairs = (line.split() for line in read_lines(T2S_PATH))
    return {ord(pair[0]): pair[1] for pair in pairs if len(pair) == 2}


def normalize(text: str, *, simplify: bool = True) -> str:
    """Canonical form for matching and learning.

    NFKC folds full-width latin, digits and punctuation to half-width (ＡＢＣ１２！→abc12!);
    invisible characters are dropped, latin is lower-cased, whitespace runs become one space
    and, with `simplify`, common traditional characters become simplified (這個→这个).
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if simplify:
        text = text.translate(_t2s_table())
    return _WHITESPACE.sub(" ", text.lower()).strip()


@lru_cache(maxsize=4)
def _cached_stopwords(path: Path) -> frozenset[str]:
    return frozenset(read_lines(path))


def load_stopwords(path: Path | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The stop word list shipped in data/stopwords.txt (or `path`), plus `extra` words."""
    words = _cached_stopwords(path or STOPWORDS_PATH)
    extra_set = frozenset(normalize(word) for word in extra)
    return words | extra_set if extra_set else words


def default_user_words() -> list[str]:
    """The shipped domain dictionary: words jieba should never split (黑猫投诉, 12315 …)."""
    return [line.split()[0] for line in read_lines(USER_DICT_PATH)]


class Segmenter:
    """A jieba tokenizer with its own user dictionary.

    The default domain words are always loaded; `extra_words` (and later `add_words`) let
    an administrator teach it product names and slang. Pickling keeps only the word list,
    so a saved classifier does not carry jieba's 50 MB prefix dictionary.
    """

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        self._words = list(dict.fromkeys(normalize(w) for w in extra_words if w.strip()))
        self._tokenizer: jieba.Tokenizer | None = None
        self._lock = threading.Lock()

    @property
    def words(self) -> tuple[str, ...]:
        """The admin's extra words (not the shipped defaults)."""
        return tuple(self._words)

    def add_words(self, words: Iterable[str]) -> None:
        """Teach more words; takes effect at once, also on an already loaded tokenizer."""
        candidates = dict.fromkeys(normalize(w) for w in words)
        new = [word for word in candidates if word and word not in self._words]
        self._words.extend(new)
        if self._tokenizer is not None:
            for word in new:
                self._tokenizer.add_word(word)

    def cut(self, text: str, *, hmm: bool = True) -> list[str]:
        """jieba's accurate-mode tokens of `text` (not normalised here), whitespace dropped.

        `hmm=False` skips jieba's HMM guess at unknown words: about twice as fast, used by
        the classifier where character n-grams cover unknown words anyway.
        """
        tokens = self._ensure_tokenizer().cut(text, HMM=hmm)
        return [token for token in tokens if not token.isspace()]

    def cut_for_search(self, text: str) -> list[str]:
        """jieba's search-mode tokens: each word and the dictionary sub-words of the longer
        ones (电池鼓包 → 电池, 鼓包, 电池鼓包), so a word inside a longer phrase is found."""
        tokens = self._ensure_tokenizer().cut_for_search(text)
        return [token for token in tokens if not token.isspace()]

    def _ensure_tokenizer(self) -> jieba.Tokenizer:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._build_tokenizer()
        return self._tokenizer

    def _build_tokenizer(self) -> jieba.Tokenizer:
        # Copying the loaded dictionary takes tens of milliseconds; loading it again takes
        # seconds, which the first complaint after a user-dictionary edit would wait for.
        base = _base_tokenizer()
        tokenizer = jieba.Tokenizer()
        with base.lock:
            tokenizer.FREQ = dict(base.FREQ)
            tokenizer.total = base.total
        tokenizer.initialized = True
        for word in self._words:
            tokenizer.add_word(word)
        return tokenizer

    def __getstate__(self) -> dict[str, object]:
        return {"words": self._words}

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self._words = list(state["words"])
        self._tokenizer = None
        self._lock = threading.Lock()


@lru_cache(maxsize=1)
def _base_tokenizer() -> jieba.Tokenizer:
    """jieba's dictionary plus the shipped domain words, loaded once per process."""
    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at DEBUG
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in default_user_words():
        tokenizer.add_word(word)
    return tokenizer


# Each word set's tokenizer holds its own copy of jieba's dictionary (about 60 MB), and an
# admin's user-dictionary edit makes a new set: keep only the few most recently used.
MAX_SEGMENTERS = 4
_segmenters: dict[frozenset[str], Segmenter] = {}
_segmenters_lock = threading.Lock()


def get_segmenter(extra_words: Iterable[str] = ()) -> Segmenter:
    """A shared segmenter per word set, so jieba's dictionary is loaded once per set."""
    words = list(extra_words)
    key = frozenset(normalize(w) for w in words)
    with _segmenters_lock:
        segmenter = _segmenters.pop(key, None)
        if segmenter is None:
            segmenter = Segmenter(words)
        _segmenters[key] = segmenter  # most recently used last
        while len(_segmenters) > MAX_SEGMENTERS:
            del _segmenters[next(iter(_segmenters))]
        return segmenter


def tokenize(text: str, *, extra_words: Iterable[str] = (), hmm: bool = True) -> list[str]:
    """Normalise then segment: `tokenize("這個ＡＰＰ太卡了")` → ['这个', 'app', '太卡', '了']."""
    return get_segmenter(extra_words).cut(normalize(text), hmm=hmm)


def content_words(
    text: str,
    *,
    segmenter: Segmenter | None = None,
    stopwords: frozenset[str] | None = None,
    hmm: bool = True,
) -> list[str]:
    """Tokens worth indexing: no stop words, no punctuation, no single characters."""
    segmenter = segmenter or get_segmenter()
    stop = load_stopwords() if stopwords is None else stopwords
    tokens = segmenter.cut(normalize(text), hmm=hmm)
    return [t for t in tokens if len(t) >= 2 and t not in stop and _KEYWORD_SHAPE.search(t)]


@dataclass(frozen=True)
class Keyword:
    word: str
    weight: float


@lru_cache(maxsize=1)
def _idf_table() -> tuple[dict[str, float], float]:
    """jieba's bundled IDF table (general Chinese corpus) and its median for unknown words."""
    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    idf: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, value = line.partition(" ")
        if value:
            idf[word] = float(value)
    values = sorted(idf.values())
    return idf, values[len(values) // 2]


def extract_keywords(
    text: str,
    top_k: int = 10,
    *,
    segmenter: Segmenter | None = None,
    stopwords: frozenset[str] | None = None,
) -> list[Keyword]:
    """The `top_k` keywords of `text` by TF-IDF, heaviest first, weights summing to ≤ 1.

    Term frequency comes from the text, IDF from jieba's general-corpus table, so words
    common everywhere (问题, 时候) sink and specific ones (漏水, 退款) rise. Ties keep the order
    of first appearance, which makes the result deterministic.
    """
    words = content_words(text, segmenter=segmenter, stopwords=stopwords)
    if not words or top_k <= 0:
        return []
    idf, median = _idf_table()
    counts = Counter(words)
    total = len(words)
    scored = {w: n / total * idf.get(w, median) for w, n in counts.items()}
    norm = sum(scored.values()) or 1.0
    ranked = sorted(scored.items(), key=lambda item: -item[1])[:top_k]
    return [Keyword(word, round(score / norm, 6)) for word, score in ranked]
