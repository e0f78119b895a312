"""Test data for console tests: a practice on record and e-mails recorded through intake."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import record_message
from pcse_intake.workflows.models import Organisation

EMAIL_CHANGE = """\
From: Greenlane Surgery <greenlane.surgery@nhs.net>
To: pcse.datamanager@nhs.net
Subject: Update practice email address
Message-ID: <{tag}@nhs.net>
Date: Mon, 23 Nov 2026 08:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello,

Please update our practice email address.

Practice name: Greenlane Surgery
ODS code: A12345
Current email: greenlane.surgery@nhs.net
New email: greenlane.admin@nhs.net

Call me on 07700 900123 if anything is unclear.

Thanks
Jane
"""


def add_practice(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        session.add(
            Organisation(
                ods_code="A12345",
                name="Greenlane Surgery",
                org_type="gp",
                phone="+441134960000",
                email="greenlane.surgery@nhs.net",
            )
        )


def record(
    sessions: sessionmaker[Session], raw: bytes | str, *, now: datetime
) -> tuple[str | None, int]:
    """Record one e-mail as if it had arrived; returns (request ref or None, message id)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with transaction(sessions) as session:
        result = record_message(session, data, settings=Settings(), now=now, origin="file")
    return result.request_ref, result.message_id


def email_change(sessions: sessionmaker[Session], *, now: datetime, tag: str = "one") -> str:
    ref, _ = record(sessions, EMAIL_CHANGE.format(tag=tag), now=now)
    assert ref is not None
    return ref
