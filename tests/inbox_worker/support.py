"""Helpers shared by the inbox worker's tests: settings pointing at test servers, mailbox views."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.workflows.models import InboundMessage, OutboxMessage, Request
from tests.servers import ImapAccount, SmtpSink

SAMPLES = Path(str(resources.files("pcse_intake").joinpath("data", "samples")))


def sample_messages(count: int | None = None) -> list[bytes]:
    paths = sorted(SAMPLES.glob("*.eml"))
    return [p.read_bytes() for p in paths[:count]]


def test_settings(
    database_url: str,
    imap: ImapAccount | None = None,
    smtp: SmtpSink | None = None,
    **mailbox: object,
) -> Settings:
    """Settings for a test: plain IMAP/SMTP on loopback (allowed there), the given database."""
    settings = Settings()
    box = settings.mailbox
    if imap is not None:
        box = dataclasses.replace(
            box,
            host=imap.host,
            port=imap.port,
            security="none",
            username=imap.username,
            password_env="PCSE_TEST_IMAP_PASSWORD",
        )
    box = dataclasses.replace(box, **mailbox)  # type: ignore[arg-type]
    outgoing = settings.smtp
    if smtp is not None:
        outgoing = dataclasses.replace(outgoing, host=smtp.host, port=smtp.port, security="none")
    return dataclasses.replace(
        settings,
        database=dataclasses.replace(settings.database, url=database_url),
        mailbox=box,
        smtp=outgoing,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]


def mailbox_for(settings: Settings, imap: ImapAccount) -> ImapMailbox:
    return ImapMailbox(settings.mailbox, password=imap.password)


def folder_counts(imap: ImapAccount, *folders: str) -> dict[str, int]:
    with IMAPClient(imap.host, imap.port, ssl=False, timeout=10) as client:
        client.login(imap.username, imap.password)
        counts = {}
        for folder in folders:
            if not client.folder_exists(folder):
                counts[folder] = 0
                continue
            counts[folder] = int(client.select_folder(folder)[b"EXISTS"])
        return counts


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(messages, requests, outbox rows) in the database."""
    return (
        count(sessions, InboundMessage),
        count(sessions, Request),
        count(sessions, OutboxMessage),
    )


def fixed_now() -> datetime:
    return datetime.now(UTC)


IMAP_PASSWORD_ENV = "PCSE_TEST_IMAP_PASSWORD"


def write_config(
    folder: Path,
    database_url: str,
    imap: ImapAccount | None = None,
    smtp: SmtpSink | None = None,
    **sections: dict[str, object],
) -> Path:
    """A config.toml for a CLI run against test servers (plain protocols on loopback)."""
    tables: dict[str, dict[str, object]] = {"database": {"url": database_url}}
    if imap is not None:
        tables["mailbox"] = {
            "host": imap.host,
            "port": imap.port,
            "security": "none",
            "username": imap.username,
            "password_env": IMAP_PASSWORD_ENV,
        }
    if smtp is not None:
        tables["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none"}
    tables.setdefault("health", {})["enabled"] = False
    for name, values in sections.items():
        tables.setdefault(name, {}).update(values)
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def cli(
    config: Path,
    *args: str,
    imap: ImapAccount | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `pcse-intake --config CONFIG ARGS...` as a real process."""
    environment = dict(os.environ)
    if imap is not None:
        environment[IMAP_PASSWORD_ENV] = imap.password
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", CLI_MAIN, "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


CLI_MAIN = "from pcse_intake.inbox_worker.cli import main; main()"
