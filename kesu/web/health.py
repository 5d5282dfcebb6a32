"""``/healthz``: the database answers a read and the data directory takes a write.

The checks never touch the write lock or the request thread pool (they run in threads of
their own, each bounded by ``health_timeout_seconds``), so a stuck writer cannot stall the
probe; a full or read-only disk, or a database that does not answer, makes it a 503 that
names the failing check.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi.responses import JSONResponse

from kesu import __version__
from kesu.config import Settings
from kesu.db import Database

_LIMITER: anyio.CapacityLimiter | None = None


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer (a seam for tests to simulate a full disk)."""
    return shutil.disk_usage(path).free


def check_database(db: Database, timeout: float) -> None:
    db.ping(timeout)


def check_disk(directory: Path, min_free: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free = free_bytes(directory)
    if free < min_free:
        raise OSError(f"only {free} bytes free in {directory} (at least {min_free} needed)")
    probe = directory / f".healthz-{uuid.uuid4().hex}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def data_dir(settings: Settings) -> Path:
    resolve: Callable[[], Path] | None = getattr(settings, "resolved_data_dir", None)
    if resolve is not None:
        return resolve()
    url = settings.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url.split(":///", 1)[1]).parent
    return Path("kesu-data")


async def _run(check: Callable[[], None], timeout: float) -> str | None:
    """None when the check passed, else what went wrong."""
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = anyio.CapacityLimiter(4)
    try:
        with anyio.fail_after(timeout):
            await anyio.to_thread.run_sync(check, abandon_on_cancel=True, limiter=_LIMITER)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # the probe reports, it does not crash
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


async def report(settings: Settings, db: Database) -> JSONResponse:
    timeout = settings.health_timeout_seconds
    directory = data_dir(settings)
    problems: dict[str, Any] = {
        "database": await _run(lambda: check_database(db, timeout), timeout),
        "disk": await _run(lambda: check_disk(directory, settings.health_min_free_bytes), timeout),
    }
    checks = {name: problem or "ok" for name, problem in problems.items()}
    failing = [name for name, problem in problems.items() if problem]
    if failing:
        body = {
            "status": "error",
            "detail": "; ".join(f"{name}: {problems[name]}" for name in failing),
            "code": "unhealthy",
            "field": failing[0],
            "failing": failing,
            "checks": checks,
            "version": __version__,
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "10"})
    return JSONResponse({"status": "ok", "version": __version__, "checks": checks})
