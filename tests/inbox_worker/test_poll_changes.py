"""`poll --once` also applies e-mail changes whose cooling-off period is over (no daemon)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pcse_intake.config import Settings
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.intake import record_message
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.registry import organisation
from tests.conftest import CORPUS
from tests.inbox_worker.support import cli, write_config
from tests.servers import EmbeddedImap, pymap_account
from tests.workflows.conftest import add_staff, load_registry


@pytest.mark.imap
def test_poll_once_applies_a_due_email_change(tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings()
    approved_at = datetime.now(UTC) - timedelta(hours=settings.workflow.cooling_off_hours + 1)
    with transaction(sessions) as s:
        load_registry(s)
        add_staff(s)
        raw = (CORPUS / "037.eml").read_bytes()
        ref = record_message(s, raw, settings=settings, now=approved_at).request_ref or ""
        note = "the practice manager confirmed the new address"
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=approved_at,
            settings=settings,
            notes=note,
        )
        approve(s, ref=ref, by="bob", now=approved_at, settings=settings)
    with EmbeddedImap(username="testuser", password="testpass") as pymap:
        account = pymap_account(pymap)
        config = write_config(tmp_path, sqlite_url, account)
        polled = cli(config, "poll", "--once", imap=account)
    assert polled.returncode == 0, polled.stderr
    assert "e-mail changes: 1 took effect, 0 stopped" in polled.stdout
    with transaction(sessions) as s:
        org = organisation(s, "H83004")
        assert org is not None and org.email == "glebehouse.admin@nhs.net"
    engine.dispose()
