"""A throw-away PostgreSQL cluster for a benchmark: initdb + pg_ctl on a free port, in a temp dir.

As tests/pg.py does, but for measuring: the server keeps PostgreSQL's durable defaults (fsync,
synchronous_commit, full_page_writes on), so a figure is what a production server would give,
not a test server's. PostgreSQL refuses to run as root, so as root it runs as ``postgres``
(``runuser``). Used by ``benchmarks/run.py --only compare``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None when it is not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One running server; ``user`` is its superuser (trust authentication on loopback)."""

    user = "kesu"

    def __init__(self, binaries: Path, root: Path, port: int) -> None:
        self.bindir = binaries
        self.root = root
        self.port = port

    def _run(self, *args: str) -> str:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        return done.stdout

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = str(self.root / "data")
        self._run(
            "initdb", "-D", data, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-locale"
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}"', database="postgres")
        self.psql(f'CREATE DATABASE "{name}"', database="postgres")

    def psql(self, sql: str, database: str) -> str:
        """Runs one statement with psql and returns its unaligned, tuples-only output."""
        return self._run(
            "psql",
            "-X",
            "-q",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-c",
            sql,
        ).strip()

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def version(self) -> str:
        return self.psql("SHOW server_version", database="postgres")


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Starts a cluster for the length of the block; RuntimeError when PostgreSQL is missing."""
    binaries = bindir()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/install-system-deps.sh --bench)")
    root = Path(tempfile.mkdtemp(prefix="kesu-bench-pg-"))
    os.chmod(root, 0o755)
    server = Cluster(binaries, root, _free_port())
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = root / "log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr} {detail}") from exc
    try:
        yield server
    finally:
        server.stop()
