"""A throw-away dovecot IMAP server on loopback for the email tests (like tests/pg.py).

Its own config in a temp dir: a static passdb (one password, any user name), maildir
mailboxes, a free port, no SSL.
Dovecot never gives mail access to UID 0, so as root the mailboxes belong to ``nobody``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DovecotServer:
    root: Path
    port: int
    binary: str

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def password(self) -> str:
        """Every account's password (a static passdb: any user name is a fresh mailbox, so
        each test has its own without reloading a passwd file)."""
        return "kesu-test-imap-pw"

    def start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            uid, gid = owner.pw_uid, owner.pw_gid
        else:
            uid, gid = os.getuid(), os.getgid()
        mail = self.root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            os.chown(mail, uid, gid)
        login_user = "dovenull" if _user_exists("dovenull") else pwd.getpwuid(uid).pw_name
        internal = "dovecot" if _user_exists("dovecot") else pwd.getpwuid(uid).pw_name
        self.config.write_text(
            f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal}
mail_location = maildir:{mail}/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = 0
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        for sub in ("run", "state"):
            (self.root / sub).mkdir()
        # dovecot daemonizes; its children inherit our streams, so no pipes (run would wait).
        with (self.root / "start.log").open("wb") as out:
            subprocess.run(
                [self.binary, "-c", str(self.config)],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=30,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            deadline = time.monotonic() + 5
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def find_dovecot() -> str | None:
    for candidate in ("/usr/sbin/dovecot", shutil.which("dovecot")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start_dovecot() -> DovecotServer | None:
    binary = find_dovecot()
    if binary is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="kesu-dovecot-"))
    os.chmod(root, 0o755)
    server = DovecotServer(root=root, port=_free_port(), binary=binary)
    server.start()
    return server
