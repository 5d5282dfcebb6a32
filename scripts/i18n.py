"""Keeps the English catalog in step with the code, safely when several people edit at once.

    python scripts/i18n.py sync              extract, update the .po, compile the .mo
    python scripts/i18n.py missing           list the Chinese strings without English
    python scripts/i18n.py set < pairs.tsv   set translations: one "中文<TAB>English" a line

Every command holds an exclusive lock on ``/tmp/kesu-i18n.lock`` so two runs never overwrite
each other's catalog edits. ``make i18n`` is ``sync``.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "kesu/locale"
PO = LOCALE / "en/LC_MESSAGES/messages.po"
POT = LOCALE / "messages.pot"
BIN = Path(sys.executable).parent


@contextmanager
def _locked() -> Iterator[None]:
    with open("/tmp/kesu-i18n.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _pybabel(*args: str) -> None:
    subprocess.run([str(BIN / "pybabel"), "-q", *args], cwd=ROOT, check=True)


def _compile() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    with PO.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)


def sync() -> None:
    with _locked():
        _pybabel("extract", "-F", "babel.cfg", "-k", "N_", "-o", str(POT), "--no-location",
                 "--sort-output", ".")
        _pybabel("update", "-i", str(POT), "-d", str(LOCALE), "-l", "en", "--no-fuzzy-matching")
        _compile()


def missing() -> None:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    for message in catalog:
        if message.id and (not message.string or message.fuzzy):
            print(message.id if isinstance(message.id, str) else message.id[0])


def set_pairs(lines: list[str]) -> None:
    pairs = {}
    for line in lines:
        if "\t" in line.rstrip("\n"):
            zh, en = line.rstrip("\n").split("\t", 1)
            pairs[zh] = en
    with _locked():
        with PO.open("rb") as handle:
            catalog = read_po(handle, locale="en")
        unknown = []
        for zh, en in pairs.items():
            message = catalog.get(zh)
            if message is None:
                unknown.append(zh)
                continue
            message.string = en
            message.flags.discard("fuzzy")
        with PO.open("wb") as handle:
            write_po(handle, catalog, width=76)
        _compile()
    for zh in unknown:
        print(f"not in the catalog (run sync first?): {zh}", file=sys.stderr)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "sync"
    if command == "sync":
        sync()
    elif command == "missing":
        missing()
    elif command == "set":
        set_pairs(sys.stdin.readlines())
    else:
        sys.exit(__doc__)
