"""The IMAP mailbox as a thin transport: UIDs, batched BODY.PEEK[] fetches, moves; no logic."""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import os
import selectors
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from pcse_intake.config import ConfigError, MailboxSettings
from pcse_intake.inbox_worker.oauth import RefreshingToken

log = logging.getLogger(__name__)

SIZE_CHUNK = 1000  # UIDs per RFC822.SIZE fetch: keeps one command line a sane length

# What a dropped, refused or hung connection raises: the poll stops and is retried later.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # includes socket.timeout, ConnectionResetError, ssl.SSLError
    imaplib.IMAP4.abort,
    IMAPClientError,
)


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internal_date: datetime | None  # when the server received it (UTC), for the backlog rule


class MailboxSource(Protocol):
    """One mailbox folder, read by UID. `open()` must be called first; `close()` always."""

    name: str  # the folder's identity in the database: "<username>/<folder>"

    def open(self) -> int:
        """Connect, create the target folders if missing, select the folder: its UIDVALIDITY."""

    def search(self) -> list[int]:
        """The UIDs of every message in the folder (not flagged deleted), ascending."""

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """The size in bytes of each of these UIDs (RFC822.SIZE); vanished UIDs are left out."""

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """The raw bytes of these UIDs, without setting \\Seen; vanished UIDs are left out."""

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move these messages to `folder` (one round trip); never deletes anything else."""

    def wait_for_mail(self, seconds: float) -> bool:
        """Block up to `seconds` for new mail (IMAP IDLE); True if some may have arrived."""

    def close(self) -> None: ...


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_mailbox_settings(settings: MailboxSettings) -> None:
    """Refuse a configuration that would be unsafe or cannot work (raised as a config error)."""
    if settings.security not in ("ssl", "starttls", "none"):
        raise ConfigError(f"[mailbox] unknown security {settings.security!r}")
    if settings.security == "none" and not (is_loopback(settings.host) or settings.allow_insecure):
        raise ConfigError(
            f"[mailbox] security = 'none' sends the password in clear to {settings.host}; "
            "allowed only on loopback or with allow_insecure = true"
        )
    if settings.auth not in ("password", "xoauth2"):
        raise ConfigError(f"[mailbox] auth must be password or xoauth2: {settings.auth!r}")
    if settings.auth == "xoauth2" and not (settings.oauth_tenant_id and settings.oauth_client_id):
        raise ConfigError("[mailbox] auth = 'xoauth2' needs oauth_tenant_id and oauth_client_id")
    numbers = (settings.batch_size, settings.max_attempts)
    if min(numbers) < 1 or min(settings.timeout_seconds, settings.batch_max_megabytes) <= 0:
        raise ConfigError(
            "[mailbox] batch_size, batch_max_megabytes, max_attempts and timeout_seconds"
            " must be positive"
        )


def secret_from_env(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{what}: environment variable {variable} is not set")
    return value


class ImapMailbox:
    """`MailboxSource` over imapclient, with certificate checks and a timeout on every call."""

    def __init__(
        self,
        settings: MailboxSettings,
        *,
        password: str | None = None,
        token: RefreshingToken | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        check_mailbox_settings(settings)
        if settings.auth == "password" and password is None:
            raise ConfigError("[mailbox] auth = 'password' needs a password")
        if settings.auth == "xoauth2" and token is None:
            raise ConfigError("[mailbox] auth = 'xoauth2' needs a token provider")
        self.settings = settings
        self.name = f"{settings.username}/{settings.folder}"
        self._password = password
        self._token = token
        self._now = now
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._client: IMAPClient | None = None
        self._can_move = False
        self._can_uid_expunge = False
        self._highest_seen_uid = 0  # by `search`: mail above it is new to the poller

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise IMAPClientError("mailbox is not open")
        return self._client

    def open(self) -> int:
        s = self.settings
        if s.security == "ssl":
            context, timeout = self._ssl_context, s.timeout_seconds
            client = IMAPClient(s.host, port=s.port, ssl=True, ssl_context=context, timeout=timeout)
        else:
            client = IMAPClient(s.host, port=s.port, ssl=False, timeout=s.timeout_seconds)
            if s.security == "starttls":
                client.starttls(self._ssl_context)
        self._client = client
        self._highest_seen_uid = 0  # UIDs are only comparable within one session's UIDVALIDITY
        client.normalise_times = False  # keep INTERNALDATE's own offset; we convert to UTC
        # Small commands (MOVE, STORE) must not wait on Nagle's algorithm.
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if s.auth == "xoauth2":
            assert self._token is not None
            client.oauth2_login(s.username, self._token.current(self._now()))
        else:
            assert self._password is not None
            client.login(s.username, self._password)
        capabilities = set(client.capabilities())
        self._can_move = b"MOVE" in capabilities
        self._can_uid_expunge = b"UIDPLUS" in capabilities
        for folder in (s.processed_folder, s.quarantine_folder):
            self._ensure_folder(folder)
        selected = client.select_folder(s.folder)
        return int(selected[b"UIDVALIDITY"])

    def _ensure_folder(self, folder: str) -> None:
        if self.client.folder_exists(folder):
            return
        try:
            self.client.create_folder(folder)
        except IMAPClientError:
            # Another worker may have created it a moment ago; only a real absence is fatal.
            if not self.client.folder_exists(folder):
                raise

    def search(self) -> list[int]:
        # A server shows a session new mail only once it has announced it (EXISTS), which it
        # does at the end of a command: NOOP first, so that this SEARCH sees it.
        self.client.noop()
        uids = sorted(int(uid) for uid in self.client.search(["NOT", "DELETED"]))
        self._highest_seen_uid = max(uids[-1:] or [self._highest_seen_uid])
        return uids

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for start in range(0, len(uids), SIZE_CHUNK):
            response = self.client.fetch(list(uids[start : start + SIZE_CHUNK]), [b"RFC822.SIZE"])
            for uid, data in response.items():
                size = data.get(b"RFC822.SIZE")
                if isinstance(size, int):
                    found[int(uid)] = size
        return found

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        if not uids:
            return []
        response = self.client.fetch(list(uids), [b"BODY.PEEK[]", b"INTERNALDATE"])
        fetched = []
        for uid in sorted(response):
            data = response[uid]
            raw = data.get(b"BODY[]")
            if raw is None:
                continue  # expunged meanwhile (another worker moved it)
            when = data.get(b"INTERNALDATE")
            if isinstance(when, datetime):
                when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
            else:
                when = None
            fetched.append(FetchedMessage(int(uid), bytes(raw), when))
        return fetched

    def move(self, uids: Sequence[int], folder: str) -> None:
        if not uids:
            return
        if self._can_move:
            self.client.move(list(uids), folder)
            return
        # RFC 6851's fallback: COPY, flag \Deleted, then expunge only these UIDs (UIDPLUS).
        # Without UIDPLUS we leave them flagged: a plain EXPUNGE could remove others' mail.
        self.client.copy(list(uids), folder)
        self.client.add_flags(list(uids), [b"\\Deleted"])
        if self._can_uid_expunge:
            self.client.uid_expunge(list(uids))

    def wait_for_mail(self, seconds: float) -> bool:
        if b"IDLE" not in self.client.capabilities():
            return False
        # Mail that arrived since the last search was announced (if at all) before IDLE began:
        # during the poll's own commands, or between them. IDLE reports only what arrives
        # while it runs, so without this look such mail would wait for the next scheduled poll.
        if self._arrived_since_search():
            return True
        # Wait for the socket to have something, then end IDLE and read the responses with
        # ordinary blocking reads. imapclient's `idle_check` reads lines from a non-blocking
        # socket and fails on a response split across two packets ("unterminated line",
        # imapclient issue #519), which left the connection out of step.
        self.client.idle()
        try:
            _wait_readable(self.client.socket(), seconds)
        finally:
            _, responses = self.client.idle_done()  # all that came during IDLE, whole
        return any(_announces_mail(r) for r in responses)

    def _arrived_since_search(self) -> bool:
        # "N:*" always matches the last message, even one below N: hence the comparison.
        after = self._highest_seen_uid
        self.client.noop()  # as in `search`: let the server announce what has arrived
        found = self.client.search(["UID", f"{after + 1}:*", "NOT", "DELETED"])
        return any(int(uid) > after for uid in found)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            with contextlib.suppress(Exception):  # already gone; nothing else to release
                client.shutdown()


def _announces_mail(response: object) -> bool:
    """True for an untagged `* N EXISTS` (the folder grew) among IDLE's responses."""
    return isinstance(response, tuple) and len(response) > 1 and response[1] == b"EXISTS"


def _wait_readable(sock: socket.socket, seconds: float) -> bool:
    """Block up to `seconds` until the server has sent something; True if it has."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True  # already decrypted and waiting: the socket itself would look quiet
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout=max(seconds, 0)))
