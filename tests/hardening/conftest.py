"""Shared pieces for the hardening tests: a ready SQLite database and real-parser intake."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.intake import IntakeResult, record_message
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import OutboxMessage, Request
from tests.conftest import TestDatabase
from tests.workflows.conftest import add_staff, load_registry

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
AUTOMATED = Path(__file__).resolve().parent.parent / "data" / "automated"

# A complete e-mail change from the practice address on record (A84615 in the sample registry).
EMAIL_CHANGE = (
    "From: Ouseburn Surgery <{sender}>\r\n"
    "To: pcse.datamanager@nhs.net\r\n"
    "Subject: {subject}\r\n"
    "Message-ID: <{tag}@nhs.net>\r\n"
    "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
    "{extra}"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello,\r\n\r\nPlease update our practice email address.\r\n\r\n"
    "Practice name: {name}\r\n"
    "ODS code: A84615\r\n"
    "Current email: ouseburn.surgery@nhs.net\r\n"
    "New email: ouseburn.admin@nhs.net\r\n\r\n"
    "Thanks\r\nJane\r\n"
)


def email_change_raw(
    *,
    sender: str = "ouseburn.surgery@nhs.net",
    subject: str = "Update practice email address",
    tag: str = "change-1",
    name: str = "Ouseburn Surgery",
    extra: str = "",
) -> bytes:
    text = EMAIL_CHANGE.format(sender=sender, subject=subject, tag=tag, name=name, extra=extra)
    return text.encode("utf-8")


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated, with the sample registry and four staff accounts: built once, copied per test."""
    path = tmp_path_factory.mktemp("hardening") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as s:
        load_registry(s, NOW)
        add_staff(s, NOW)
    engine.dispose()
    return path


@pytest.fixture
def ready(_template_db: Path, tmp_path: Path) -> Iterator[TestDatabase]:
    """A fresh copy of the template database for one test."""
    path = tmp_path / "hardening.db"
    shutil.copyfile(_template_db, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield TestDatabase(url, engine, make_sessionmaker(engine))
    engine.dispose()


def ingest(
    database: TestDatabase, raw: bytes, *, settings: Settings | None = None, now: datetime = NOW
) -> IntakeResult:
    """Record raw bytes through the real parser, in one transaction, as the poller does."""
    with transaction(database.sessions) as session:
        return record_message(session, raw, settings=settings or Settings(), now=now)


def counts(session: Session) -> tuple[int, int]:
    """(requests, outbox rows)."""
    requests = session.scalar(select(func.count(Request.id))) or 0
    outbox = session.scalar(select(func.count(OutboxMessage.id))) or 0
    return requests, outbox
