"""Spike detection on hand-built counts (kesu.analytics.spikes): a key rising well above its
own baseline, not a fixed threshold; small counts and steady keys are no spikes. Pure
logic: no database, so these run once, not once per backend."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from kesu.analytics import spikes
from kesu.analytics.service import Point

TODAY = date(2026, 11, 20)


def test_a_key_far_above_its_baseline_is_a_spike() -> None:
    history = {"a": [2, 3, 2, 4, 3, 2, 3, 3]}  # mean 2.75, sd ≈ 0.71 → spread √2.75 ≈ 1.66
    found = spikes.detect(history, {"a": 12})
    assert len(found) == 1
    key, now, mean, sd, score = found[0]
    assert (key, now) == ("a", 12.0)
    assert mean == pytest.approx(2.75)
    assert sd == pytest.approx(math.sqrt(sum((x - 2.75) ** 2 for x in history["a"]) / 7))
    assert score == pytest.approx((12 - 2.75) / math.sqrt(2.75))


def test_the_threshold_is_the_keys_own_mean_plus_three_spreads() -> None:
    # a busy key: mean 20, sd ≈ 7.6 (above the floor √20); 30 is within its range, 43 is not
    busy = [10, 30, 14, 26, 12, 28, 20, 20]
    mean = 20.0
    sd = math.sqrt(sum((x - mean) ** 2 for x in busy) / 7)
    assert not spikes.detect({"busy": busy}, {"busy": 30})
    assert spikes.detect({"busy": busy}, {"busy": math.floor(mean + 3 * sd) + 1})
    # the same 30 on a quiet key (mean 2) is a spike: the baseline is the key's own
    assert [k for k, *_ in spikes.detect({"quiet": [2] * 8}, {"quiet": 30})] == ["quiet"]


def test_a_few_complaints_are_never_a_spike() -> None:
    # from nothing to four: far above a zero baseline, but below the minimum count
    assert spikes.detect({"new": [0] * 8}, {"new": 4}) == []
    assert spikes.detect({"new": [0] * 8}, {"new": 5})[0][0] == "new"
    assert spikes.detect({"new": [0] * 8}, {"new": 9}, min_count=10) == []


def test_a_steady_key_with_no_spread_needs_more_than_one_extra_complaint() -> None:
    # exactly 6 every day: sd 0, but the Poisson floor √6 ≈ 2.45 keeps 7 or 10 from counting
    steady = {"s": [6] * 8}
    assert spikes.detect(steady, {"s": 7}) == []
    assert spikes.detect(steady, {"s": 10}) == []
    assert spikes.detect(steady, {"s": 14})  # 6 + 3 × 2.45 = 13.3


def test_the_strongest_spike_comes_first_and_unknown_keys_have_a_zero_baseline() -> None:
    history = {"a": [1] * 8, "b": [5, 6, 5, 6, 5, 6, 5, 6]}
    found = spikes.detect(history, {"a": 8, "b": 20, "c": 6, "d": 1})
    # scores: a (8 − 1) / 1 = 7, b (20 − 5.5) / √5.5 ≈ 6.2, c (6 − 0) / 1 = 6; d is too few
    assert [k for k, *_ in found] == ["a", "b", "c"]
    assert found[2][2] == 0.0  # "c" had no history


def test_daily_points_sum_into_windows_ending_today() -> None:
    points = [
        Point(TODAY, "x", "X", 7),
        Point(TODAY - timedelta(days=1), "x", "X", 1),
        Point(TODAY - timedelta(days=8), "x", "X", 2),  # the oldest daily window
        Point(TODAY - timedelta(days=9), "x", "X", 50),  # before the baseline: ignored
        Point(TODAY + timedelta(days=1), "x", "X", 99),  # after today: ignored
        Point(TODAY - timedelta(days=3), "y", "Y", 4),
    ]
    history, current, labels = spikes.windows(points, TODAY, 1, 8)
    assert current == {"x": 7}
    assert history["x"] == [2, 0, 0, 0, 0, 0, 0, 1]  # oldest first
    assert history["y"] == [0, 0, 0, 0, 0, 4, 0, 0]
    assert labels == {"x": "X", "y": "Y"}
    # weekly windows: this week is the last 7 days, today included
    history, current, _labels = spikes.windows(points, TODAY, 7, 2)
    assert current == {"x": 8, "y": 4}
    assert history["x"] == [0, 52]  # days 7–13 back hold the 2 (8 back) and the 50 (9 back)
