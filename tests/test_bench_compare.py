"""The side-by-side bench's own logic (benchmarks/run.py --only compare), without any server:
the stored-rows check and the warm-up's stopping rule."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCHMARKS / "run.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_run"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    yield module
    for name in ("bench_run", "pgcluster", "peer", "peer.harness"):
        sys.modules.pop(name, None)


def _acks(directory: Path, *passes: list[int]) -> Path:
    directory.mkdir()
    for number, acknowledged in enumerate(passes):
        (directory / f"{number}.txt").write_text("".join(f"{n}\n" for n in acknowledged))
    return directory


def test_every_acknowledged_request_stored_once(run: ModuleType, tmp_path: Path) -> None:
    acks = _acks(tmp_path / "acks", [10000001, 10000002], [610000001])
    titles = [f"压测投诉 BENCH-{n}：耳机" for n in (10000001, 10000002, 610000001, 610000002)]
    titles.append("not from the bench")
    check = run.stored_check(titles, acks)
    # 610000002 was in flight when wrk stopped: stored, never acknowledged, not an error.
    assert check == {
        "acknowledged": 3,
        "stored": 4,
        "missing": 0,
        "duplicated": 0,
        "unacknowledged": 1,
    }


def test_missing_and_duplicated_rows_are_counted(run: ModuleType, tmp_path: Path) -> None:
    acks = _acks(tmp_path / "acks", [10000001, 10000002, 10000003])
    titles = [f"BENCH-{n}" for n in (10000001, 10000001, 10000003)]
    check = run.stored_check(titles, acks)
    assert check["missing"] == 1  # 10000002
    assert check["duplicated"] == 1  # 10000001 twice


def test_warm_up_runs_until_the_rate_is_steady(
    run: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rates = iter([0, 10, 90, 100, 100, 100])
    calls: list[int] = []

    def fake_pass(url, connections, seconds, env, number, acks):  # type: ignore[no-untyped-def]
        calls.append(seconds)
        return {"created": next(rates), "max_us": 2_600_000}

    monkeypatch.setattr(run, "compare_pass", fake_pass)
    passes = run.warm_up("http://x", 16, 3, {}, tmp_path)
    # 0 (cold), 10 (fewer than one per connection), 90 (≥ 80 % of the best before) stops.
    assert [p["created"] for p in passes] == [0, 10, 90]
    # Nothing answered: the next pass twice as long; then twice the slowest answer (2.6 s).
    assert calls == [3, 6, 6]


def test_warm_up_is_bounded(
    run: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(run, "compare_pass", lambda *args: {"created": 0})
    assert len(run.warm_up("http://x", 16, 3, {}, tmp_path)) == run.WARMUP_ROUNDS


def test_warm_up_passes_grow_up_to_30_seconds(
    run: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lengths: list[int] = []

    def nothing(url, connections, seconds, env, number, acks):  # type: ignore[no-untyped-def]
        lengths.append(seconds)
        return {"created": 0, "max_us": 0}

    monkeypatch.setattr(run, "compare_pass", nothing)
    run.warm_up("http://x", 16, 3, {}, tmp_path)
    assert lengths == [3, 6, 12, 24, 30, 30]


def test_ratios_pair_each_kesu_run_with_the_peer_beside_it(run: ModuleType) -> None:
    def row(server: str, database: str, workers: int, rate: float, round_: int) -> dict:
        return {
            "server": server,
            "database": database,
            "workers": workers,
            "per_second": rate,
            "round": round_,
            "p50_us": 10_000,
            "p95_us": 20_000,
        }

    runs = [
        row("kesu", "SQLite", 2, 100.0, 1),
        row("django-helpdesk", "SQLite", 2, 25.0, 1),
        row("kesu", "PostgreSQL", 4, 90.0, 1),  # its peer run is missing: no ratio
        row("django-helpdesk", "SQLite", 2, 20.0, 2),
        row("kesu", "SQLite", 2, 120.0, 2),
    ]
    lines = run.ratio_lines(runs)
    assert [(line["round"], line["ratio"]) for line in lines] == [(1, 4.0), (2, 6.0)]
    assert run.ratio_medians(lines) == {("SQLite", 2): 5.0}
