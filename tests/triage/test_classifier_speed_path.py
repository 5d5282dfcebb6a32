"""The classifier's own calibrated-probability path gives exactly sklearn's answer."""

from __future__ import annotations

import numpy as np
import pytest

from kesu.triage.classifier import TextClassifier, _prepare
from tests.triage.conftest import sample


@pytest.mark.parametrize("column", ["cat", "label"])  # ten product lines; two classes
def test_fast_probabilities_equal_sklearns(os10_rows, column):
    rows = sample(os10_rows, ("cat", "label"), 30)
    texts = [row["review"] for row in rows]
    classifier = TextClassifier().fit(texts, [row[column] for row in rows])
    queries = [row["review"] for row in sample(os10_rows, ("cat", "label"), 5, skip=30)]
    expected = np.asarray(classifier._fitted().predict_proba(_prepare(queries)))
    assert np.allclose(classifier.predict_proba(queries), expected, atol=1e-12)
    assert classifier.predict(queries) == [classifier.classes[i] for i in expected.argmax(axis=1)]
