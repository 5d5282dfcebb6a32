"""Where attachment bytes live: one small interface, a local implementation by content hash.

A blob's key is the SHA-256 of its bytes (hex), so the same file uploaded twice is stored
once. ``LocalStorage`` keeps ``<data dir>/attachments/ab/cd/abcd…``; it writes a temp file
in the same directory, fsyncs it and renames it into place, so a reader never sees half a
file. An S3-compatible store implements the same four methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from kesu.config import Settings

_KEY = re.compile(r"^[0-9a-f]{64}$")


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage(Protocol):
    def put(self, data: bytes) -> str:
        """Stores ``data`` (idempotent) and returns its key."""

    def open(self, key: str) -> BinaryIO:
        """The blob for reading; ``FileNotFoundError`` if absent."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Removes the blob (no error if absent)."""


class LocalStorage:
    """Blobs as files under ``root``, two levels of fan-out by key prefix."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys come from our rows, but never let one escape the root
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = content_key(data)
        target = self.path(key)
        if target.exists():
            # Refresh the time: the orphan sweep keeps recently written blobs, and this one
            # may be about to get a new row.
            os.utime(target)
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (for the orphan sweep)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if _KEY.match(path.name):
                try:
                    yield path.name, path.stat().st_mtime
                except FileNotFoundError:
                    continue


def get_storage(settings: Settings) -> LocalStorage:
    """``<data dir>/attachments``. Tests without a data directory on a server database get
    a temporary directory per process (as ``Settings.session_secret`` gets a random key), so
    a test run never writes into the working directory."""
    if settings.environment == "test" and settings.data_dir is None and not settings.is_sqlite:
        return LocalStorage(_test_root() / "attachments")
    return LocalStorage(settings.resolved_data_dir() / "attachments")


@lru_cache(maxsize=1)
def _test_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="kesu-test-attachments-"))
