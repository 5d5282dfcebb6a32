from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kesu.triage.classifier import ClassifierConfig, TextClassifier
from tests.triage.conftest import sample

CATEGORIES = ("酒店", "水果", "书籍", "计算机")


@pytest.fixture(scope="module")
def routing_data(os10_rows):
    complaints = [r for r in os10_rows if r["label"] == "0" and r["cat"] in CATEGORIES]
    train = sample(complaints, "cat", 150)
    test = sample(complaints, "cat", 50, skip=150)
    return train, test


@pytest.fixture(scope="module")
def router(routing_data):
    train, _ = routing_data
    return TextClassifier().fit([r["review"] for r in train], [r["cat"] for r in train])


def test_routes_complaints_to_their_product_line(router, routing_data):
    _, test = routing_data
    predicted = router.predict([r["review"] for r in test])
    accuracy = np.mean([p == r["cat"] for p, r in zip(predicted, test, strict=True)])
    assert accuracy > 0.85
    assert sorted(router.classes) == sorted(CATEGORIES)


def test_probabilities_and_top_k_agree_with_predict(router, routing_data):
    _, test = routing_data
    texts = [r["review"] for r in test[:20]]
    proba = router.predict_proba(texts)
    assert proba.shape == (20, len(CATEGORIES))
    assert np.allclose(proba.sum(axis=1), 1.0)
    top = router.top_k(texts, k=2)
    assert all(len(row) == 2 and row[0].confidence >= row[1].confidence for row in top)
    best = [router.classes[i] for i in proba.argmax(axis=1)]
    assert [row[0].label for row in top] == best


def test_save_and_load_round_trip(router, routing_data, tmp_path: Path):
    _, test = routing_data
    texts = [r["review"] for r in test[:30]]
    path = tmp_path / "router.joblib"
    router.save(path)
    loaded = TextClassifier.load(path)
    assert loaded.classes == router.classes
    assert loaded.predict(texts) == router.predict(texts)
    assert np.allclose(loaded.predict_proba(texts), router.predict_proba(texts))
    assert TextClassifier.from_bytes(router.to_bytes()).config == router.config


def test_detects_complaints_in_an_unseen_domain(os10_rows, waimai_rows):
    train = sample(os10_rows, ("cat", "label"), 60)
    test = sample(waimai_rows, "label", 150)
    detector = TextClassifier().fit([r["review"] for r in train], [r["label"] for r in train])
    texts = [r["review"] for r in test]
    predicted = detector.predict(texts)
    accuracy = np.mean([p == r["label"] for p, r in zip(predicted, test, strict=True)])
    assert accuracy > 0.75
    complaint = detector.probability(["太难吃了，送餐还慢，再也不点了"], "0")[0]
    assert complaint > 0.5


def test_user_words_reach_the_word_features():
    config = replace(ClassifierConfig(), extra_words=("卡顿王",))
    texts = ["这手机是卡顿王", "卡顿王又来了", "屏幕很清楚", "屏幕色彩漂亮"] * 3
    labels = ["bad", "bad", "good", "good"] * 3
    model = TextClassifier(config).fit(texts, labels)
    words = model._fitted().named_steps["features"].transformer_list[1][1]
    assert "卡顿王" in words.vocabulary_
    assert model.predict(["卡顿王"]) == ["bad"]


def test_baseline_config_gives_normalised_scores():
    texts = ["好评", "很好", "不错", "差评", "很差", "垃圾"] * 2
    labels = ["1", "1", "1", "0", "0", "0"] * 2
    model = TextClassifier(ClassifierConfig.baseline()).fit(texts, labels)
    proba = model.predict_proba(["差评", "好评"])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.predict(["差评"]) == ["0"]


def test_clear_errors_for_unusable_training_data():
    with pytest.raises(ValueError, match="two different labels"):
        TextClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError, match="at least 2 examples"):
        TextClassifier().fit(["a", "b", "c"], ["x", "x", "y"])
    with pytest.raises(ValueError, match="labels"):
        TextClassifier().fit(["a"], ["x", "y"])
    with pytest.raises(RuntimeError, match="not trained"):
        TextClassifier().predict(["a"])
    with pytest.raises(ValueError, match="not a kesu classifier"):
        TextClassifier.from_bytes(_joblib_bytes({"format": 999}))


def _joblib_bytes(obj) -> bytes:
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()
