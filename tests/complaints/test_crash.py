"""Nothing acknowledged is lost under kill -9, and retries after a crash create at most one.

A real ``kesu serve --workers 2`` (its own process group) takes concurrent creates, each with
its own Idempotency-Key, from eight clients; once forty are acknowledged the whole group is
SIGKILLed mid-load. After a restart on the same database: every acknowledged (201)
complaint is there exactly once, under its key; every create that was in flight (no answer)
is retried with the same key and body, twice, and each yields one complaint, the same both
times.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from kesu.complaints.models import Complaint, IdempotencyKey
from kesu.db import Database

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8
ACKNOWLEDGED_BEFORE_KILL = 40


def body(key: str) -> dict[str, Any]:
    n = zlib.crc32(key.encode()) % 10**8
    return {
        "channel": "api",
        "customer": {"name": f"客户{key}", "phone": f"139{n:08d}"},
        "content": f"{key}：耳机左耳没有声音，包装也有破损，要求换货。",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(db: Database, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``kesu serve --workers 2`` in a process group of its own; yields once both workers
    have started (read from its log, no polling)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KESU_DATABASE_URL": db.url,
        "KESU_DATA_DIR": str(data_dir),
        "KESU_ENVIRONMENT": "development",
        "KESU_BASE_URL": "http://testserver",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kesu.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: killpg reaches every worker
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()
    started = 0
    try:
        while started < 2:
            line = lines.get(timeout=180)
            assert "Traceback" not in line and "address already in use" not in line, line
            started += "Application startup complete" in line
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(60)


def test_kill_9_mid_load_loses_no_acknowledged_complaint(db, make_user, tmp_path):
    user, headers = make_user("crash_agent", "agent", "service")
    acknowledged: dict[str, int] = {}
    in_flight: set[str] = set()
    guard = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()

    def client(base: str, worker: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for i in range(10_000):
                if killed.is_set():
                    return
                key = f"crash-{worker}-{i}"
                with guard:
                    in_flight.add(key)
                try:
                    answer = http.post(
                        "/api/v1/complaints", json=body(key), headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    return  # the server died under this request: unacknowledged
                if answer.status_code != 201:
                    continue  # a 503 is not an acknowledgement; retried below like the rest
                with guard:
                    in_flight.discard(key)
                    acknowledged[key] = answer.json()["id"]
                    if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
                        enough.set()

    with serve(db, tmp_path / "data") as (base, process):
        threads = [threading.Thread(target=client, args=(base, n)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert enough.wait(300), f"only {len(acknowledged)} acknowledged"
        os.killpg(process.pid, signal.SIGKILL)  # mid-load: requests are in flight
        killed.set()
        for thread in threads:
            thread.join(120)
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL

    scope = f"user:{user.id}"
    with db.session(write=False) as session:
        keys = dict(
            session.execute(
                select(IdempotencyKey.key, IdempotencyKey.complaint_id).where(
                    IdempotencyKey.scope == scope
                )
            ).all()
        )
        for key, complaint_id in acknowledged.items():
            assert keys.get(key) == complaint_id, key  # present, under its own key
        complaints = int(session.scalar(select(func.count()).select_from(Complaint)) or 0)
        assert complaints == len(keys)  # exactly once: no complaint without its key

    with serve(db, tmp_path / "data") as (base, _process):
        retried: dict[str, int] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for key in sorted(in_flight - acknowledged.keys()):
                answers = [
                    http.post(
                        "/api/v1/complaints", json=body(key), headers={"Idempotency-Key": key}
                    )
                    for _ in range(2)
                ]
                assert [a.status_code for a in answers] == [201, 201], answers[0].text
                assert answers[0].json()["id"] == answers[1].json()["id"]
                assert answers[1].headers["Idempotent-Replayed"] == "true"
                retried[key] = answers[0].json()["id"]
    with db.session(write=False) as session:
        total = int(session.scalar(select(func.count()).select_from(Complaint)) or 0)
        numbers = session.scalars(select(Complaint.number)).all()
    assert total == len(acknowledged) + len(retried)
    assert len(set(numbers)) == total
    assert set(acknowledged.values()).isdisjoint(retried.values())
