"""Start pymap, an embedded in-memory IMAP server, on loopback; and seed a mailbox with mail."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient

from pcse_intake.inbox_worker.smtp_sink import free_port

# pymap's optional services bind their own fixed ports; the demo and tests need only IMAP.
_SKIPPED_SERVICES = ("admin", "managesieve", "swim")


@dataclass
class EmbeddedImap:
    """A pymap process serving one user over plain IMAP on 127.0.0.1 (state is in memory)."""

    username: str = "demo"
    password: str = "demo"
    host: str = "127.0.0.1"
    port: int = 0
    startup_seconds: float = 20.0
    # A certificate and key (PEM files) make pymap offer STARTTLS, for the TLS tests.
    cert_file: str | None = None
    key_file: str | None = None
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedImap:
        self.port = self.port or free_port(self.host)
        tls = (
            ["--cert", self.cert_file, "--key", self.key_file]
            if self.cert_file and self.key_file
            else ["--no-tls"]
        )
        command = [
            sys.executable,
            "-c",
            "from pymap.main import main; main()",
            *tls,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        for service in _SKIPPED_SERVICES:
            command += ["--no-service", service]
        command += ["dict", "--demo-user", self.username, "--demo-password", self.password]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        wait_for_port(self.host, self.port, self.startup_seconds, self._process)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def __enter__(self) -> EmbeddedImap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_port(
    host: str, port: int, seconds: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once something accepts connections on host:port; raise if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            detail = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
            raise RuntimeError(f"server exited ({process.returncode}) before listening: {detail}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {seconds:.0f}s")


def seed_mailbox(
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    messages: Iterable[bytes],
    folder: str = "INBOX",
    internal_date: datetime | None = None,
) -> int:
    """APPEND each raw message to `folder` over plain IMAP; returns how many were appended.

    `internal_date` sets the server's INTERNALDATE (default: now), to stage an old backlog.
    """
    count = 0
    with IMAPClient(host, port=port, ssl=False, timeout=30) as client:
        # Without TCP_NODELAY pymap stalls ~45 ms per APPEND (Nagle around the literal).
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.login(username, password)
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw, msg_time=internal_date)
            count += 1
        client.logout()
    return count
