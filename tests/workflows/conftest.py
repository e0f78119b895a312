"""Shared fixtures for the workflow tests: settings, a fixed clock, staff, a loaded registry,
and a way to feed intake a `ParsedEmail` we build ourselves (independent of the parser)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import AuthVerdict, Contact, ParsedEmail, Party, RequestKind
from pcse_intake.workflows import intake
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import IntakeResult, record_message
from pcse_intake.workflows.models import StaffRole
from pcse_intake.workflows.registry_import import import_registry
from pcse_intake.workflows.staff import create_staff
from tests.conftest import TestDatabase

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PASSWORD = "Correct-Horse-42!"


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def session(database: TestDatabase) -> Iterator[Session]:
    """One open transaction for a test that does not care about commits."""
    with transaction(database.sessions) as s:
        yield s


def sample(name: str) -> bytes:
    return resources.files("pcse_intake").joinpath("data", name).read_bytes()


def load_registry(session: Session, now: datetime = NOW) -> None:
    import_registry(session, sample("epraccur_sample.csv"), name="e.csv", by="test", now=now)
    import_registry(session, sample("practice_contacts.csv"), name="c.csv", by="test", now=now)


def add_staff(session: Session, now: datetime = NOW) -> None:
    for name, role in (
        ("alice", StaffRole.VERIFIER),
        ("bob", StaffRole.APPROVER),
        ("carol", StaffRole.APPROVER),
        ("root", StaffRole.ADMIN),
    ):
        create_staff(session, username=name, role=role, password=PASSWORD, now=now)


@pytest.fixture
def ready(database: TestDatabase) -> TestDatabase:
    """A migrated database with the sample registry and four staff accounts, committed."""
    with transaction(database.sessions) as s:
        load_registry(s)
        add_staff(s)
    return database


class Feed:
    """feed(session, parsed, **kw): record a message whose parse is exactly `parsed`.

    `teach(raw, parsed)` says what the (fake) parser will make of some bytes from now on.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.parses: dict[bytes, ParsedEmail] = {}

    def parse(self, raw: bytes, _options: Any = None) -> ParsedEmail:
        return self.parses[raw]

    def teach(self, raw: bytes, parsed: ParsedEmail) -> None:
        self.parses[raw] = parsed

    def __call__(
        self, session: Session, parsed: ParsedEmail, *, raw: bytes | None = None, **kw: Any
    ) -> IntakeResult:
        raw = raw if raw is not None else f"raw {uuid.uuid4()}".encode()
        self.teach(raw, parsed)
        kw.setdefault("now", NOW)
        kw.setdefault("settings", self.settings)
        return record_message(session, raw, **kw)


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Feed:
    feeder = Feed(settings)
    monkeypatch.setattr(intake, "parse", feeder.parse)
    return feeder


def email_change(
    *,
    sender: str = "ouseburn.surgery@nhs.net",
    code: str = "A84615",
    name: str = "Ouseburn Surgery",
    current: str | None = "ouseburn.surgery@nhs.net",
    new: str | None = "ouseburn.admin@nhs.net",
    subject: str = "Update practice email address",
    message_id: str | None = None,
    **extra: Any,
) -> ParsedEmail:
    extra.setdefault("auth_verdict", AuthVerdict.PASS)
    extra.setdefault("body_text", "Please update our practice email address.")
    extra.setdefault("full_text", extra["body_text"])
    party = Party(name=name, ods_code=code, current_email=current, new_email=new)
    missing = tuple(
        p for p, v in (("practice.current_email", current), ("practice.new_email", new)) if not v
    )
    return ParsedEmail(
        kind=RequestKind.EMAIL_CHANGE,
        parties=(("practice", party),),
        missing=missing,
        sender=sender,
        message_id=message_id or f"<{uuid.uuid4().hex}@nhs.net>",
        subject=subject,
        **extra,
    )


def branch_setup(*, sender: str = "bridget.lyle@nhs.net", **extra: Any) -> ParsedEmail:
    main = Party(
        name="Hillside Green Surgery",
        ods_code="N81790",
        org_type="gp",
        address="6 Hillside Green, Liverpool, L25 5NR",
        phone="+441514960788",
        main_contact=Contact("Dr Bridget Lyle", "bridget.lyle@nhs.net"),
    )
    branch = Party(
        name="Gateacre Surgery",
        ods_code="N81790001",
        address="2 Belle Vale Road, Gateacre, Liverpool, L25 2PA",
        phone="+441514960789",
        main_contact=Contact("Mr Tom Reid", "tom.reid@nhs.net"),
    )
    return ParsedEmail(
        kind=RequestKind.BRANCH_SETUP,
        parties=(("main_practice", main), ("branch", branch)),
        sender=sender,
        message_id=f"<{uuid.uuid4().hex}@nhs.net>",
        subject="New branch",
        **extra,
    )


def unknown(*, sender: str = "someone@nhs.net", **extra: Any) -> ParsedEmail:
    return ParsedEmail(
        kind=RequestKind.UNKNOWN,
        sender=sender,
        message_id=f"<{uuid.uuid4().hex}@nhs.net>",
        subject=extra.pop("subject", "A question"),
        **extra,
    )
