"""Issue 8, finding 1: POST /api/v1/complaints with received_at in year 1, and a normal write
sent while it runs (does it wait?). In-process (TestClient), SQLite in a temp directory.

    .venv/bin/python benchmarks/received_at_bench.py            # this tree
    PYTHONPATH=/tmp/kesu-old .venv/bin/python benchmarks/received_at_bench.py --runs 1
                                                                # an older checkout
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from kesu.accounts import service as accounts
from kesu.clock import SystemClock
from kesu.config import Settings
from kesu.db import Database
from kesu.migrate import upgrade
from kesu.web.app import create_app

BODY = {
    "channel": "app",
    "customer": {"name": "李先生", "phone": "13900000001"},
    "content": "扫地机器人用了三天就无法开机",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.002, help="s between the two requests")
    args = parser.parse_args()
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'kesu.db'}")
        upgrade(db, clock)
        with db.session() as session:
            user = accounts.create_user(
                session,
                clock,
                accounts.SYSTEM,
                username="a1",
                password="pw-123456",
                role="agent",
                team_code="service",
            )
            token = accounts.create_token(session, clock, accounts.SYSTEM, user)
            session.commit()
        settings = Settings(database_url=db.url, environment="test", data_dir=Path(tmp))
        app = create_app(settings, clock=clock, db=db)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app, raise_server_exceptions=False) as client:
            client.post("/api/v1/complaints", json=BODY, headers=headers)  # warm up
            bad: list[float] = []
            normal_during: list[float] = []
            statuses: set[int] = set()
            for _ in range(args.runs):
                done: dict[str, float] = {}

                def send_bad(done: dict[str, float] = done) -> None:
                    started = time.perf_counter()
                    r = client.post(
                        "/api/v1/complaints",
                        json={**BODY, "received_at": "0001-01-01T00:00:00+00:00"},
                        headers=headers,
                    )
                    statuses.add(r.status_code)
                    done["bad"] = time.perf_counter() - started

                thread = threading.Thread(target=send_bad)
                thread.start()
                time.sleep(args.delay)  # the bad request is in flight
                started = time.perf_counter()
                client.post("/api/v1/complaints", json=BODY, headers=headers)
                normal_during.append(time.perf_counter() - started)
                thread.join()
                bad.append(done["bad"])
            plus14 = client.post(
                "/api/v1/complaints",
                json={**BODY, "received_at": "0001-01-01T00:00:00+14:00"},
                headers=headers,
            ).status_code
        db.dispose()
    print(
        f"received_at 0001-01-01+00:00: status {sorted(statuses)}, "
        f"median {statistics.median(bad) * 1000:.1f} ms, max {max(bad) * 1000:.1f} ms "
        f"({args.runs} runs)"
    )
    print(
        f"a normal create sent meanwhile: median {statistics.median(normal_during) * 1000:.1f} ms,"
        f" max {max(normal_during) * 1000:.1f} ms"
    )
    print(f"received_at 0001-01-01+14:00: status {plus14}")


if __name__ == "__main__":
    main()
