"""The call-back rules: a number from the e-mail never verifies (battery 30); without our
mail server's verdict, only an admin with a note may confirm (battery 24)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.parsers import AuthVerdict
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import verify
from pcse_intake.workflows.errors import VerificationRefused
from pcse_intake.workflows.models import HistoryEntry, RequestState
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change

LATER = NOW + timedelta(hours=1)
FRAUD_NUMBER = "07700 900456"
WITH_OUR_MTA = dataclasses.replace(
    Settings(), mailbox=dataclasses.replace(Settings().mailbox, authserv_id="mx.nhs.net")
)


def _new(ready: TestDatabase, feed: Feed, **parsed: object) -> str:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change(**parsed)).request_ref
    assert ref is not None
    return ref


def _confirm(ready: TestDatabase, ref: str, **kw: object) -> RequestState:
    kw.setdefault("by", "alice")
    kw.setdefault("settings", Settings())
    with transaction(ready.sessions) as s:
        request = verify(s, ref=ref, outcome="confirmed", now=LATER, **kw)  # type: ignore[arg-type]
        return RequestState(request.state)


@pytest.mark.parametrize("outcome", ["confirmed", "no_answer", "failed"])
def test_a_number_written_in_the_email_cannot_be_recorded_as_the_call_back(
    ready: TestDatabase, feed: Feed, outcome: str
) -> None:
    text = f"Please ring me on {FRAUD_NUMBER} to confirm, my usual line is down."
    ref = _new(ready, feed, full_text=text)
    refused = pytest.raises(VerificationRefused, match="given in the e-mail")
    with refused, transaction(ready.sessions) as s:
        verify(
            s,
            ref=ref,
            by="alice",
            outcome=outcome,
            now=LATER,
            settings=Settings(),
            phone=FRAUD_NUMBER,
            notes="the practice asked us to use this number",
        )
    # Another number not on record is still possible, with a note; the record's always is.
    assert _confirm(ready, ref, phone="07700 900123", notes="from the NHS directory") == "verified"


def test_only_an_admin_naming_an_independent_source_may_call_a_number_the_email_gave(
    ready: TestDatabase, feed: Feed
) -> None:
    text = f"Our number is {FRAUD_NUMBER}."
    ref = _new(ready, feed, full_text=text, body_text=text)
    for who, notes in (("bob", "ODS record gives it"), ("root", None)):
        with pytest.raises(VerificationRefused, match=r"only an admin|needs a note"):
            _confirm(ready, ref, by=who, phone=FRAUD_NUMBER, notes=notes)
    assert _confirm(ready, ref, by="root", phone=FRAUD_NUMBER, notes="ODS record gives it") == (
        "verified"
    )
    with ready.sessions() as s:
        notes = s.scalars(select(HistoryEntry.note).where(HistoryEntry.actor == "root")).all()
    assert any("override" in (n or "") and "ODS record" in (n or "") for n in notes)


def test_without_our_mail_servers_verdict_only_an_admin_with_a_note_may_confirm(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _new(ready, feed, auth_verdict=AuthVerdict.NONE)
    for who, notes in (("alice", "rang them"), ("bob", "rang them"), ("root", None)):
        with pytest.raises(VerificationRefused, match="no verdict from our mail server"):
            _confirm(ready, ref, by=who, notes=notes, settings=WITH_OUR_MTA)
    assert _confirm(ready, ref, by="root", notes="rang the practice", settings=WITH_OUR_MTA) == (
        "verified"
    )
    with ready.sessions() as s:
        notes = s.scalars(select(HistoryEntry.note).where(HistoryEntry.actor == "root")).all()
    assert any("override" in (n or "") for n in notes)


def test_with_no_authserv_id_configured_a_missing_verdict_needs_no_override(
    ready: TestDatabase, feed: Feed
) -> None:
    """Without `[mailbox] authserv_id` we cannot tell our MTA's verdict from none at all."""
    ref = _new(ready, feed, auth_verdict=AuthVerdict.NONE)
    assert _confirm(ready, ref) == "verified"
