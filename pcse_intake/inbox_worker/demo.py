"""`pcse-intake demo`: the whole system on one machine, with embedded servers and sample mail."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings, load_settings
from pcse_intake.inbox_worker.daemon import Daemon
from pcse_intake.inbox_worker.embedded_imap import EmbeddedImap, seed_mailbox
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.logs import configure_logging
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer
from pcse_intake.inbox_worker.smtp_sink import SmtpSink, free_port
from pcse_intake.workflows import totp
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import Organisation, Staff, StaffRole

MAILBOX_USER = "pcse.datamanager@nhs.net"
DEMO_STAFF = (
    ("verifier1", StaffRole.VERIFIER),
    ("approver1", StaffRole.APPROVER),
    ("admin1", StaffRole.ADMIN),
)
REGISTRY_FILES = ("epraccur_sample.csv", "practice_contacts.csv")
# The demo's accounts, their passwords and authenticator keys: for this demo folder only.
ACCOUNTS_FILE = "demo-accounts.txt"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    key: str


@dataclass(frozen=True)
class DemoOptions:
    folder: Path
    seconds: float | None = None  # stop by itself after this long (tests, the README check)
    console_port: int | None = None  # None: 8080 if free, else any free port; 0: any free port
    poll_seconds: int = 10


def run_demo(options: DemoOptions, *, say: Callable[[str], None] = print) -> int:
    """Start everything, print where it is and what to try, run until stopped; exit code."""
    folder = options.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    imap_password = secrets.token_urlsafe(16)
    with contextlib.ExitStack() as stack:
        imap = stack.enter_context(EmbeddedImap(username=MAILBOX_USER, password=imap_password))
        sink = stack.enter_context(SmtpSink(folder=folder / "sent-mail"))
        console_port = options.console_port
        if console_port is None:
            console_port = _preferred_port(8080)
        elif console_port == 0:
            console_port = free_port()
        config_path = _write_config(
            folder, imap=imap, sink=sink, console_port=console_port, poll=options.poll_seconds
        )
        settings = load_settings(config_path)
        configure_logging(settings.logging.level)
        engine = make_engine(settings.database.url)
        stack.callback(engine.dispose)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        imported = _import_registry(sessions, now)
        accounts = _demo_staff(sessions, folder, now)
        seeded = seed_mailbox(
            host=imap.host,
            port=imap.port,
            username=MAILBOX_USER,
            password=imap_password,
            messages=_samples(),
        )
        console_url = stack.enter_context(_console(settings, sessions, console_port))
        daemon = Daemon(
            settings=settings,
            sessions=sessions,
            open_mailbox=lambda: ImapMailbox(settings.mailbox, password=imap_password),
            connect_mailer=lambda: SmtpMailer(settings.smtp),
            now=lambda: datetime.now(UTC),
        )
        say(
            _guide(
                folder,
                config_path,
                imap,
                sink,
                console_url,
                accounts,
                seeded,
                imported,
                health_port=settings.health.port,
                seconds=options.seconds,
            )
        )
        code = daemon.run(stop_after=options.seconds)
    say("demo stopped; its database, config and sent mail stay in " + str(folder))
    return code


def _preferred_port(port: int) -> int:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def _write_config(
    folder: Path, *, imap: EmbeddedImap, sink: SmtpSink, console_port: int, poll: int
) -> Path:
    db = folder / "pcse-intake.db"
    path = folder / "config.toml"
    path.write_text(
        f"""# Written by `pcse-intake demo`: embedded servers on loopback, SQLite in this folder.
# Use it from another terminal:  pcse-intake --config {path} requests list

[database]
url = "sqlite:///{db.as_posix()}"

[mailbox]
# The demo's embedded pymap server (plain IMAP is allowed on loopback only).
host = "{imap.host}"
port = {imap.port}
security = "none"
username = "{MAILBOX_USER}"
password_env = "PCSE_DEMO_IMAP_PASSWORD"
idle = true

[smtp]
# The demo's aiosmtpd sink: it keeps every e-mail in {folder / "sent-mail"}.
host = "{sink.host}"
port = {sink.port}
security = "none"

[schedule]
poll_seconds = {poll}
outbox_seconds = 5

[workflow]
four_eyes = true

[console]
bind = "127.0.0.1"
port = {console_port}
secure_cookies = false
# The second factor is on, as in production. For a demo account's password and the code its
# authenticator app would show now:  pcse-intake demo credentials NAME --folder {folder}
second_factor = "required"

[health]
enabled = true
bind = "127.0.0.1"
port = {free_port()}

[logging]
level = "INFO"
""",
        encoding="utf-8",
    )
    return path


def _samples() -> list[bytes]:
    folder = resources.files("pcse_intake").joinpath("data", "samples")
    return [
        node.read_bytes()
        for node in sorted(folder.iterdir(), key=lambda n: n.name)
        if node.name.endswith(".eml")
    ]


def _import_registry(sessions: sessionmaker[Session], now: datetime) -> int:
    """Load the shipped sample registry once (skipped when organisations already exist)."""
    try:
        from pcse_intake.workflows.registry_import import import_registry
    except ImportError:
        return 0
    with transaction(sessions) as session:
        if session.scalar(select(func.count()).select_from(Organisation)):
            return 0
        data = resources.files("pcse_intake").joinpath("data")
        for name in REGISTRY_FILES:
            node = data.joinpath(name)
            if node.is_file():
                import_registry(session, node.read_bytes(), name=name, by="demo", now=now)
        return int(session.scalar(select(func.count()).select_from(Organisation)) or 0)


def _demo_staff(sessions: sessionmaker[Session], folder: Path, now: datetime) -> list[DemoAccount]:
    """Demo accounts, set up as if each had signed in once (a password of its own and an
    authenticator key), written to the demo folder for `demo credentials` and the next run."""
    from pcse_intake.workflows.staff import create_staff, hash_password

    known = read_accounts(folder)
    with transaction(sessions) as session:
        for username, role in DEMO_STAFF:
            staff = session.scalar(select(Staff).where(Staff.username == username))
            account = known.get(username)
            if staff is not None and account is not None and staff.totp_confirmed_at:
                continue
            account = DemoAccount(
                username, "Demo-" + secrets.token_hex(4) + "a1!", totp.new_secret()
            )
            if staff is None:
                staff = create_staff(
                    session,
                    username=username,
                    role=role,
                    password=account.password,
                    now=now,
                    by="demo",
                    one_time_password=False,
                )
            else:  # an older demo folder: give the account credentials the demo knows
                staff.password_hash = hash_password(account.password)
                staff.must_change_password = False
            staff.totp_secret, staff.totp_confirmed_at = account.key, now
            staff.totp_last_step = None
            known[username] = account
    store = folder / ACCOUNTS_FILE
    store.write_text(
        "".join(f"{a.username} {a.password} {a.key}\n" for a in known.values()), encoding="utf-8"
    )
    store.chmod(0o600)
    return list(known.values())


def read_accounts(folder: Path) -> dict[str, DemoAccount]:
    """The demo accounts written in `folder` by an earlier run (none if it is not a demo's)."""
    store = folder / ACCOUNTS_FILE
    if not store.is_file():
        return {}
    accounts = {}
    for line in store.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) == 3:
            accounts[parts[0]] = DemoAccount(*parts)
    return accounts


def current_code(folder: Path, account: DemoAccount, now: datetime) -> str:
    """The code the account's authenticator app shows now, or the next one if this one was
    used already (the demo database says which: a code is accepted one step either side)."""
    step = totp.time_step(now)
    database = folder / "pcse-intake.db"
    if database.is_file():
        engine = make_engine(f"sqlite:///{database.as_posix()}")
        try:
            with make_sessionmaker(engine)() as session:
                last = session.scalar(
                    select(Staff.totp_last_step).where(Staff.username == account.username)
                )
        finally:
            engine.dispose()
        if last is not None and last >= step:
            step = last + 1
    return totp.code_at(account.key, step)


@contextlib.contextmanager
def _console(settings: Settings, sessions: sessionmaker[Session], port: int) -> Iterator[str]:
    """The staff console under uvicorn in a thread, if this build has it."""
    try:
        import uvicorn

        from pcse_intake.console.app import create_app
    except ImportError:
        yield "(the staff console is not available in this build)"
        return
    app = create_app(settings, sessions)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            server_header=False,
            proxy_headers=False,  # the console reads X-Forwarded-For only from trusted proxies
        )
    )
    # In a thread uvicorn leaves signals alone: SIGTERM and Ctrl-C stay with the daemon.
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # print the address only once it answers
    try:
        yield f"http://127.0.0.1:{port}/" if server.started else "(the console failed to start)"
    finally:
        server.should_exit = True
        thread.join(10)


def _guide(
    folder: Path,
    config: Path,
    imap: EmbeddedImap,
    sink: SmtpSink,
    console_url: str,
    accounts: list[DemoAccount],
    seeded: int,
    imported: int,
    **extra: Any,
) -> str:
    listed = "\n".join(
        f"    {a.username:<10} password {a.password}  authenticator key {a.key}" for a in accounts
    )
    cli = f"pcse-intake --config {config}"
    codes = f"pcse-intake demo credentials NAME --folder {folder}"
    stop = (
        f"It stops by itself after {extra['seconds']:.0f} s."
        if extra.get("seconds") is not None
        else "Press Ctrl-C to stop it."
    )
    return f"""
pcse-intake demo is running.  {stop}

  IMAP mailbox (pymap)   127.0.0.1:{imap.port}, {seeded} sample e-mails delivered to INBOX
  SMTP sink (aiosmtpd)   127.0.0.1:{sink.port}, keeps every e-mail we send in {sink.handler.folder}
  database (SQLite)      {folder / "pcse-intake.db"}  ({imported} organisations imported)
  config                 {config}
  staff console          {console_url}
  health / metrics       http://127.0.0.1:{extra["health_port"]}/healthz  /metrics

  demo staff accounts (also in {folder / ACCOUNTS_FILE}):
{listed}
  The second factor is on, as in production: add a key to an authenticator app, or run
    {codes}
  for the account's password and the code its app would show now (demo accounts only).

From another terminal, once the first poll has run (a few seconds):
  {cli} requests list --state awaiting_verification
  {cli} requests show PCSE-000005
  pcse-intake demo credentials verifier1 --folder {folder} | \\
    {cli} verify PCSE-000005 --by verifier1 --outcome confirmed \\
    --notes "called the practice" --credentials-stdin
  pcse-intake demo credentials approver1 --folder {folder} | \\
    {cli} approve PCSE-000005 --by approver1 --credentials-stdin
  (without --credentials-stdin each command asks for the password and code itself)
  {cli} outbox send        (or wait: the daemon sends every 5 s)
"""
