"""Starts a throw-away PostgreSQL server for the test run (initdb + pg_ctl in a temp dir).

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
Under pytest-xdist each worker starts its own (the ``postgres`` fixture is per session, and a
worker is a session): its own temp dir (named after the worker) and port.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://kesu@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "kesu",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(attempts: int = 3) -> PostgresServer | None:
    """A running server, or None when PostgreSQL is not installed.

    The port is free when picked, but another process (a second xdist worker starting its
    own server at the same moment) may take it before the server binds: then start again
    on another port."""
    bindir = _bindir()
    if bindir is None:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    for attempt in range(1, attempts + 1):
        root = Path(tempfile.mkdtemp(prefix=f"kesu-pg-{worker}-"))
        os.chmod(root, 0o755)
        server = PostgresServer(bindir, root, _free_port())
        try:
            server.start()
        except subprocess.CalledProcessError as exc:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop()
            if attempt == attempts or "could not bind" not in log + str(exc.stderr):
                message = f"PostgreSQL did not start: {exc.stderr!r} {log[-2000:]}"
                raise RuntimeError(message) from exc
            continue
        return server
    return None
