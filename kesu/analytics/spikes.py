"""Spike detection: a category or a product line rising well above its own baseline.

The fixed batch rule (``> 5 in 24 h`` of one category, kesu.incidents) catches a burst; a
spike here is relative: the count of the current window (today, or the last 7 days) against
the mean and standard deviation of the same window over the previous ``baseline`` windows
of that key. A key is a spike when

* its current count is at least ``min_count`` (three complaints are never a spike), and
* it exceeds ``mean + z × spread``, where ``spread`` is the baseline's standard deviation
  but never less than ``√max(mean, 1)`` (a Poisson floor: a key that had exactly two
  complaints every day has a standard deviation of 0, and a third complaint is no spike).

The counts come from ``kesu.analytics.service.series`` (the rollups): no complaint row is
read. ``detect`` is pure, so it is tested on hand-built counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy.orm import Session

from kesu.analytics import service

MIN_COUNT = 5
Z = 3.0
BASELINE = 8  # windows before the current one
WINDOWS = {"day": 1, "week": 7}
NO_KEY = frozenset({"", "none", "null", "-", "0"})


@dataclass(frozen=True)
class Spike:
    group: str  # "category" or "product"
    key: str
    label: str
    current: float
    mean: float
    sd: float
    score: float  # (current − mean) / spread
    start: date  # the current window, local dates [start, end)
    end: date

    @property
    def ratio(self) -> float | None:
        return self.current / self.mean if self.mean else None


def detect(
    history: Mapping[str, Sequence[float]],
    current: Mapping[str, float],
    *,
    min_count: float = MIN_COUNT,
    z: float = Z,
) -> list[tuple[str, float, float, float, float]]:
    """``(key, current, mean, sd, score)`` for each spiking key, the strongest first.

    ``history[key]`` is the key's counts in the previous windows (missing windows are 0:
    pass a list of the full length); a key absent from ``history`` has a baseline of 0.
    """
    found = []
    for key, now in current.items():
        if now < min_count:
            continue
        past = list(history.get(key, ()))
        n = len(past)
        mean = sum(past) / n if n else 0.0
        sd = math.sqrt(sum((x - mean) ** 2 for x in past) / (n - 1)) if n > 1 else 0.0
        spread = max(sd, math.sqrt(max(mean, 1.0)))
        score = (now - mean) / spread
        if now > mean + z * spread:
            found.append((key, float(now), mean, sd, score))
    found.sort(key=lambda row: (-row[4], row[0]))
    return found


def windows(
    points: Sequence[service.Point], today: date, days: int, baseline: int
) -> tuple[dict[str, list[float]], dict[str, float], dict[str, str]]:
    """Daily points summed into windows of ``days`` days ending with ``today``: the history
    (oldest first, ``baseline`` windows), the current window and the labels, by key."""
    end = today + timedelta(days=1)
    history: dict[str, list[float]] = {}
    current: dict[str, float] = {}
    labels: dict[str, str] = {}
    for point in points:
        back = (end - point.period).days - 1  # 0 = today
        if back < 0:
            continue
        index = back // days  # 0 = the current window, 1 = the one before …
        if index > baseline:
            continue
        labels.setdefault(point.key, point.label)
        if index == 0:
            current[point.key] = current.get(point.key, 0.0) + point.value
        else:
            row = history.setdefault(point.key, [0.0] * baseline)
            row[baseline - index] += point.value
    for key in current:
        history.setdefault(key, [0.0] * baseline)
    return history, current, labels


def find(
    session: Session,
    today: date,
    filters: service.Filters,
    *,
    window: str = "day",
    baseline: int = BASELINE,
    min_count: float = MIN_COUNT,
    z: float = Z,
    fetch: Callable[..., Sequence[service.Point]] = service.series,
    start: date | None = None,
) -> list[Spike]:
    """Spikes of the window ending today, by category and by product line.

    Categories are walked down from the top level (or from ``filters.category_id``'s
    children): a spiking category is looked into, so the deepest spiking category is named
    with its parents. A rise confined to one leaf that does not lift its parent above the
    parent's own baseline is not seen (a few series per page instead of one per category).

    ``fetch`` (``service.series`` by default) and an earlier ``start`` let the dashboard
    serve the top issues and the spikes from one series: older points are ignored.
    """
    days = WINDOWS[window]
    first = today - timedelta(days=days * (baseline + 1) - 1)
    start = min(start, first) if start else first
    end = today + timedelta(days=1)
    found: list[Spike] = []

    def scan(group: str, scoped: service.Filters) -> list[Spike]:
        points = fetch(
            session,
            metric="complaints",
            by="day",
            group=group,
            start=start,
            end=end,
            filters=scoped,
        )
        history, current, labels = windows(points, today, days, baseline)
        for key in [k for k in current if k.strip().lower() in NO_KEY]:
            del current[key]  # "no category" or "no product" is not an issue that rises
        return [
            Spike(
                group,
                key,
                labels.get(key, key),
                now,
                mean,
                sd,
                score,
                end - timedelta(days=days),
                end,
            )
            for key, now, mean, sd, score in detect(history, current, min_count=min_count, z=z)
        ]

    def walk(scoped: service.Filters, depth: int) -> list[Spike]:
        spikes = []
        for spike in scan("category", scoped):
            inner = (
                walk(replace(scoped, category_id=int(spike.key)), depth + 1)
                if depth < 2 and spike.key.isdigit()
                else []
            )
            spikes.extend(inner or [spike])  # the deepest spiking categories name the rise
        return spikes

    found.extend(walk(filters, 0))
    found.extend(scan("product", filters))
    found.sort(key=lambda s: (-s.score, s.group, s.key))
    return found
