"""Real servers on loopback for tests and benchmarks: Dovecot, pymap (IMAP) and aiosmtpd (SMTP).

Every server listens on a port the OS picked, so parallel test runs never collide, and every
fixture stops what it started. Use the factories directly (`with SmtpSink() as sink:`) or the
pytest fixtures at the bottom (`smtp_sink`, `pymap_server`, `dovecot_server`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pcse_intake.inbox_worker.embedded_imap import EmbeddedImap, seed_mailbox, wait_for_port
from pcse_intake.inbox_worker.smtp_sink import ReceivedMail, SmtpSink, free_port

__all__ = [
    "DovecotServer",
    "EmbeddedImap",
    "ImapAccount",
    "ReceivedMail",
    "SmtpSink",
    "dovecot_server",
    "pymap_server",
    "seed_mailbox",
    "smtp_sink",
]

_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u/Maildir
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/etc/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/etc/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
}}
"""


@dataclass(frozen=True)
class ImapAccount:
    """Where a test IMAP server listens and who may log in."""

    host: str
    port: int
    username: str
    password: str


@dataclass
class DovecotServer:
    """Debian's Dovecot on loopback with a generated config under `root` (no system files).

    Dovecot's own users must traverse every directory above its files, and pytest's tmp_path
    is private (0700), so by default `root` is a fresh world-traversable directory in the
    system temp folder, removed again by `stop()`.
    """

    root: Path | None = None
    username: str = "testuser"
    password: str = "testpass"
    host: str = "127.0.0.1"
    port: int = 0
    _started: bool = field(default=False, repr=False)
    _owns_root: bool = field(default=False, repr=False)

    @property
    def home(self) -> Path:
        assert self.root is not None, "start() first"
        return self.root

    @property
    def account(self) -> ImapAccount:
        return ImapAccount(self.host, self.port, self.username, self.password)

    def start(self) -> DovecotServer:
        if shutil.which("dovecot") is None:
            pytest.skip("dovecot is not installed (scripts/test.sh installs dovecot-imapd)")
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="pcse-dovecot-"))
            self._owns_root = True
        for sub in ("etc", "run", "state", f"mail/{self.username}"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the mail user must traverse it
        # Dovecot refuses to run mail processes as root: as root, mail belongs to uid 5000.
        if os.getuid() == 0:
            uid = gid = 5000
            login_user, internal_user = "dovenull", "dovecot"
        else:
            uid, gid = os.getuid(), os.getgid()
            login_user = internal_user = _username()
        for _attempt in range(5):
            self.port = free_port(self.host)
            conf = _DOVECOT_CONF.format(
                root=self.home,
                port=self.port,
                uid=min(uid, 1000),
                login_user=login_user,
                internal_user=internal_user,
            )
            (self.home / "etc" / "dovecot.conf").write_text(conf)
            (self.home / "etc" / "users").write_text(
                f"{self.username}:{{PLAIN}}{self.password}:{uid}:{gid}::"
                f"{self.home}/mail/{self.username}::\n"
            )
            if os.getuid() == 0:
                for path in [self.home / "mail", *(self.home / "mail").rglob("*")]:
                    os.chown(path, uid, gid)
            # Dovecot daemonizes: its children would hold a captured pipe open forever.
            with open(self.home / "start.log", "ab") as start_log:
                result = subprocess.run(
                    ["dovecot", "-c", str(self.home / "etc" / "dovecot.conf")],
                    stdin=subprocess.DEVNULL,
                    stdout=start_log,
                    stderr=start_log,
                    check=False,
                )
            if result.returncode != 0:
                continue  # most likely the port was taken between probe and bind
            self._started = True
            try:
                wait_for_port(self.host, self.port, 20)
            except TimeoutError:
                self.stop()
                continue
            return self
        raise RuntimeError(f"dovecot did not start; see {self.home / 'dovecot.log'}")

    def master_pid(self) -> int | None:
        pid_file = self.home / "run" / "master.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self._started:
            self._started = False
            pid = self.master_pid()
            if pid is not None:
                _terminate(pid)
        if self._owns_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self._owns_root = False

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _username() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def pymap_account(server: EmbeddedImap) -> ImapAccount:
    return ImapAccount(server.host, server.port, server.username, server.password)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """A real aiosmtpd server on a free loopback port; `.received` holds what it accepted."""
    with SmtpSink(folder=tmp_path / "smtp-sink") as sink:
        yield sink


@pytest.fixture
def pymap_server() -> Iterator[EmbeddedImap]:
    """pymap on a free loopback port, one user (`testuser`/`testpass`), empty INBOX."""
    with EmbeddedImap(username="testuser", password="testpass") as server:
        yield server


@pytest.fixture
def dovecot_server() -> Iterator[DovecotServer]:
    """Dovecot from Debian on a free loopback port, config and maildir in a temp folder."""
    with DovecotServer() as server:
        yield server
