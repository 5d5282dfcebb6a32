"""The test harness keeps its promises: production password cost, a failing parallel run
exits non-zero (tests/conftest.py ends each process with ``os._exit``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher

from tests.conftest import PRODUCTION_HASHER

ROOT = Path(__file__).resolve().parents[1]


def test_the_production_password_hasher_keeps_its_cost():
    default = PasswordHasher()
    assert PRODUCTION_HASHER.time_cost >= default.time_cost
    assert PRODUCTION_HASHER.memory_cost >= default.memory_cost
    assert PRODUCTION_HASHER.parallelism >= default.parallelism


def test_a_failure_in_a_parallel_run_fails_the_run(tmp_path: Path):
    """Under pytest-xdist, with the harness's exit hooks in the workers and the controller."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_sessionfinish, pytest_unconfigure  # noqa: F401\n"
    )
    (tmp_path / "test_sample.py").write_text(
        "def test_passes():\n    pass\n\n\ndef test_fails():\n    assert 1 == 2\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KESU_TEST_BACKENDS": "sqlite"}
    env.pop("KESU_TEST_CLEAN_EXIT", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    done = subprocess.run(
        [*command, "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
