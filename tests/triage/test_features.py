from __future__ import annotations

import numpy as np
import pytest

from kesu.triage.features import PolarityFeatures, WordAnalyzer
from kesu.triage.nbsvm import NBLinearSVC


@pytest.fixture(scope="module")
def polarity():
    return PolarityFeatures().fit([])


def _row(polarity, text):
    negative, positive, negated_negative, negated_positive = polarity.transform([text]).toarray()[0]
    return {
        "neg": negative,
        "pos": positive,
        "not_neg": negated_negative,
        "not_pos": negated_positive,
    }


def test_polarity_counts_negative_and_positive_words(polarity):
    assert _row(polarity, "太难吃了,送餐还慢")["neg"] > 0
    assert _row(polarity, "很好吃,推荐")["pos"] > 0
    assert _row(polarity, "今天周二") == {"neg": 0, "pos": 0, "not_neg": 0, "not_pos": 0}


def test_negation_flips_the_word_after_it(polarity):
    row = _row(polarity, "不太好吃")
    assert row["not_pos"] > 0 and row["pos"] == 0


def test_polarity_lexicon_can_be_replaced():
    custom = PolarityFeatures({"negative": {"翻车": 1.0}, "negation": {"没": 1}}).fit([])
    assert custom.transform(["又翻车了"]).toarray()[0, 0] > 0
    assert custom.get_feature_names_out().tolist()[0] == "negative"


def test_word_analyzer_uses_user_words_and_pickles_small():
    import pickle

    analyzer = WordAnalyzer(["卡顿王"])
    assert "卡顿王" in analyzer("这手机是卡顿王")
    assert len(pickle.dumps(analyzer)) < 300


def test_nb_scaling_only_on_two_classes():
    from scipy.sparse import csr_matrix

    X = csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=float))
    binary = NBLinearSVC().fit(X, ["a", "a", "b", "b"])
    assert binary.ratio_ is not None and binary.ratio_[0] < 0 < binary.ratio_[1]
    assert binary.predict(X).tolist() == ["a", "a", "b", "b"]
    assert binary.decision_function(X).shape == (4,)
    multi = NBLinearSVC().fit(X, ["a", "b", "c", "c"])
    assert multi.ratio_ is None
    assert multi.decision_function(X).shape == (4, 3)
