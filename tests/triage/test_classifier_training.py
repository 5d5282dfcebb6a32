"""Training edge cases the app relies on: tiny databases, weighted corrections, negation."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

from kesu.triage.classifier import ClassifierConfig, TextClassifier
from kesu.triage.features import WordAnalyzer, mark_negation_scope

TINY_TEXTS = ["快递太慢了", "物流三天没动", "屏幕有坏点", "屏幕碎了", "退款不到账", "退款没人理"]
TINY_LABELS = ["logistics", "logistics", "quality", "quality", "refund", "refund"]


@pytest.mark.parametrize("config", [ClassifierConfig(), ClassifierConfig.baseline()])
def test_fits_two_examples_per_class(config):
    model = TextClassifier(config).fit(TINY_TEXTS, TINY_LABELS)
    assert model.is_fitted
    assert sorted(model.classes) == ["logistics", "quality", "refund"]
    proba = model.predict_proba(["快递慢", "退款"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(axis=1), 1.0)
    top = model.top_k(["屏幕坏了"], k=3)[0]
    assert len(top) == 3 and top[0].confidence >= top[1].confidence >= top[2].confidence


def test_sample_weight_decides_between_conflicting_examples():
    # The same complaint was filed under "logistics" once and corrected to "refund" by an
    # agent; the correction's weight makes it win.
    texts = [*TINY_TEXTS, "钱和货都没到", "钱和货都没到"]
    labels = [*TINY_LABELS, "logistics", "refund"]
    config = replace(ClassifierConfig(), calibrate=False)
    for winner in ("logistics", "refund"):
        weights = [1.0] * 6 + ([5.0, 1.0] if winner == "logistics" else [1.0, 5.0])
        model = TextClassifier(config).fit(texts, labels, sample_weight=weights)
        assert model.predict(["钱和货都没到"]) == [winner]


def test_unit_weights_change_nothing():
    plain = TextClassifier().fit(TINY_TEXTS, TINY_LABELS)
    weighted = TextClassifier().fit(TINY_TEXTS, TINY_LABELS, sample_weight=[1.0] * 6)
    texts = ["快递慢", "屏幕", "退款"]
    assert np.allclose(plain.predict_proba(texts), weighted.predict_proba(texts), atol=1e-3)


def test_weighted_two_class_model_trains_and_predicts():
    texts = ["难吃死了", "送错了", "太慢了", "很好吃", "送得很快", "好评"]
    labels = ["complaint", "complaint", "complaint", "other", "other", "other"]
    model = TextClassifier().fit(texts, labels, sample_weight=[1, 1, 3, 1, 1, 1])
    assert model.probability(["太慢了"], "complaint")[0] > 0.5


def test_sample_weight_is_checked():
    with pytest.raises(ValueError, match="sample weights"):
        TextClassifier().fit(TINY_TEXTS, TINY_LABELS, sample_weight=[1.0] * 5)
    with pytest.raises(ValueError, match="non-negative"):
        TextClassifier().fit(TINY_TEXTS, TINY_LABELS, sample_weight=[1, 1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match="not all zero"):
        TextClassifier().fit(TINY_TEXTS, TINY_LABELS, sample_weight=[0.0] * 6)


def test_negation_scope_runs_to_the_punctuation():
    tokens = ["不", "太", "好吃", ",", "推荐"]
    assert mark_negation_scope(tokens) == ["不", "!太", "!好吃", ",", "推荐"]
    assert mark_negation_scope(["没有", "想象", "中", "好"]) == ["没有", "!想象", "!中", "!好"]
    assert mark_negation_scope(["很", "好吃"]) == ["很", "好吃"]


def test_word_analyzer_marks_negation_only_when_asked():
    assert "!好吃" in WordAnalyzer(mark_negation=True)("不太好吃")
    assert "!好吃" not in WordAnalyzer()("不太好吃")


def test_analyzers_pickled_before_negation_marking_still_load():
    analyzer = WordAnalyzer.__new__(WordAnalyzer)
    analyzer.__setstate__({"extra_words": ("卡顿王",)})
    assert analyzer.mark_negation is False and analyzer.extra_words == ("卡顿王",)
    restored = pickle.loads(pickle.dumps(WordAnalyzer(mark_negation=True)))
    assert restored.mark_negation is True


def test_predicting_one_text_is_fast():
    import time

    model = TextClassifier().fit(TINY_TEXTS * 5, TINY_LABELS * 5)
    model.predict(["预热"])  # loads jieba's dictionary
    started = time.perf_counter()
    for _ in range(20):
        model.top_k(["快递三天了还没到，客服也不回复"], k=3)
    assert (time.perf_counter() - started) / 20 < 0.05  # < 5 ms is typical; slack for CI
