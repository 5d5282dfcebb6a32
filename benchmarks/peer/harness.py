"""The peer side of ``benchmarks/run.py --only compare``: django-helpdesk in a venv of its own.

The venv lives under bench-results/ (never in the repository); django-helpdesk and its server
come from PyPI with pip. The Django project that serves it is ours (benchmarks/peer/peerbench:
settings, urls, wsgi) and ``prepare.py`` sets up a database (migrate, a staff superuser, a queue,
a DRF token). This module runs in kesu's interpreter and only starts the peer's as subprocesses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parent
# Pinned so a figure names what it measured; --peer-version changes it.
HELPDESK_VERSION = "2.6.1"
REQUIREMENTS = ["gunicorn", "djangorestframework", "psycopg[binary]"]


@dataclass
class Peer:
    """A prepared peer database: how to reach it and the credentials the wrk script sends."""

    env: dict[str, str]
    token: str
    queue: int


def ensure_venv(venv: Path, version: str = HELPDESK_VERSION) -> dict[str, str]:
    """Creates the venv and installs django-helpdesk==version into it (once; a marker file
    remembers what is installed). Returns the installed packages' versions (pip freeze)."""
    marker = venv / "installed.json"
    python = venv / "bin" / "python"
    wanted = [f"django-helpdesk=={version}", *REQUIREMENTS]
    if marker.exists() and json.loads(marker.read_text()).get("wanted") == wanted:
        return json.loads(marker.read_text())["freeze"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *wanted], capture_output=True, text=True
    )
    if installed.returncode:
        raise RuntimeError(f"pip install {' '.join(wanted)} failed:\n{installed.stderr[-3000:]}")
    lines = subprocess.run(
        [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    freeze = dict(line.split("==", 1) for line in lines if "==" in line)
    marker.write_text(json.dumps({"wanted": wanted, "freeze": freeze}, indent=2))
    return freeze


def environment(venv: Path, database: dict[str, str]) -> dict[str, str]:
    """The peer processes' environment: its venv first on PATH, our project importable, the
    database from ``database`` (PEER_DB_* variables read by peerbench/settings.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(database)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(PROJECT)
    env["DJANGO_SETTINGS_MODULE"] = "peerbench.settings"
    return env


def prepare(venv: Path, database: dict[str, str]) -> Peer:
    env = environment(venv, database)
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(PROJECT / "prepare.py")],
        env=env,
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return Peer(env=env, token=answer["token"], queue=int(answer["queue"]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(venv: Path, peer: Peer, workers: int, log: Path) -> Iterator[str]:
    """gunicorn with ``workers`` sync workers (its default worker class, as Django is deployed)."""
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "peerbench.wsgi",
            ],
            env=peer.env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer")
            try:
                answer = httpx.get(
                    base + "/api/",
                    headers={"Authorization": f"Token {peer.token}"},
                    timeout=2,
                )
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
