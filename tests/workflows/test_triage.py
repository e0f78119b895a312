"""Triage: messages that are not requests are closed with a note, filed by hand, or re-parsed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.errors import IllegalTransition, InvalidValue, MessageNotFound
from pcse_intake.workflows.intake import record_failure
from pcse_intake.workflows.models import InboundMessage, MessageStatus, OutboxMessage, RequestState
from pcse_intake.workflows.triage import (
    dismiss_message,
    make_request_from_message,
    reprocess_message,
)
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change, unknown


def _message(s: Session, message_id: int) -> InboundMessage:
    row = s.get(InboundMessage, message_id)
    assert row is not None
    return row


def test_a_triage_item_is_dismissed_with_a_note_and_kept(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        message_id = feed(s, unknown()).message_id
        with pytest.raises(InvalidValue, match="note"):
            dismiss_message(s, message_id=message_id, by="alice", note=" ", now=NOW)
        dismiss_message(s, message_id=message_id, by="alice", note="a newsletter", now=NOW)
        row = _message(s, message_id)
        assert (row.status, row.dismissed_by, row.dismiss_note) == (
            MessageStatus.DISMISSED,
            "alice",
            "a newsletter",
        )
        assert row.raw is not None
        with pytest.raises(IllegalTransition, match="dismissed"):
            dismiss_message(s, message_id=message_id, by="alice", note="again", now=NOW)
        with pytest.raises(MessageNotFound):
            dismiss_message(s, message_id=999, by="alice", note="x", now=NOW)


def test_staff_can_file_a_triage_item_as_a_request_which_asks_for_the_details(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        message_id = feed(s, unknown(sender="practice@nhs.net")).message_id
        request = make_request_from_message(
            s,
            message_id=message_id,
            kind=RequestKind.EMAIL_CHANGE,
            by="alice",
            now=NOW,
            settings=Settings(),
        )
        assert request.state == RequestState.AWAITING_INFORMATION
        assert len(request.missing) == 4 and request.sender == "practice@nhs.net"
        assert _message(s, message_id).status == MessageStatus.REQUEST
        [ask] = s.scalars(select(OutboxMessage)).all()
        assert ask.template == "missing_information" and ask.to_addr == "practice@nhs.net"
        with pytest.raises(InvalidValue):
            make_request_from_message(
                s,
                message_id=message_id,
                kind=RequestKind.UNKNOWN,
                by="alice",
                now=NOW,
                settings=Settings(),
            )


def test_a_quarantined_message_can_be_parsed_again_once_the_parser_is_mended(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        for _ in range(3):
            record_failure(s, b"poison", error="boom", now=NOW, source=None, max_attempts=3)
        [row] = s.scalars(select(InboundMessage)).all()
        assert row.status == MessageStatus.QUARANTINED
    feed.teach(b"poison", email_change())
    with transaction(ready.sessions) as s:
        result = reprocess_message(s, message_id=row.id, by="alice", now=NOW, settings=Settings())
        assert result.status is MessageStatus.REQUEST and result.request_ref is not None
        assert _message(s, row.id).error is None


def test_reprocessing_files_the_message_as_if_it_had_just_come(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        message_id = feed(s, unknown(), raw=b"bytes").message_id
    # The same bytes now parse as a request (a newer parser): reprocess makes it one.
    feed.teach(b"bytes", email_change())
    with transaction(ready.sessions) as s:
        result = reprocess_message(
            s, message_id=message_id, by="alice", now=NOW, settings=Settings()
        )
        assert result.status is MessageStatus.REQUEST and result.request_ref is not None
        assert not result.duplicate and result.outbox_ids


def test_filing_automated_mail_as_a_request_never_writes_to_its_sender(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        message_id = feed(s, unknown(sender="noreply@nhs.net", automated=True)).message_id
        assert _message(s, message_id).status == MessageStatus.AUTOMATED
        request = make_request_from_message(
            s,
            message_id=message_id,
            kind=RequestKind.EMAIL_CHANGE,
            by="alice",
            now=NOW,
            settings=Settings(),
        )
        assert request.state == RequestState.AWAITING_INFORMATION
        assert s.scalars(select(OutboxMessage)).all() == []


def test_staff_may_file_a_request_without_asking_the_practice_yet(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        message_id = feed(s, unknown(sender="practice@nhs.net")).message_id
        make_request_from_message(
            s,
            message_id=message_id,
            kind=RequestKind.BRANCH_SETUP,
            by="alice",
            now=NOW,
            settings=Settings(),
            ask_for_missing=False,
        )
        assert s.scalars(select(OutboxMessage)).all() == []
