"""Outbox rows: safe headers decided at queue time, fixed Message-IDs, threading."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.errors import InvalidValue
from pcse_intake.workflows.models import OutboxMessage
from pcse_intake.workflows.outbox import collect_enqueued, enqueue
from tests.workflows.conftest import NOW
from tests.workflows.test_emails import CONTEXT


def test_a_row_gets_a_fixed_message_id_on_our_domain_and_threads_to_the_practice(
    session: Session,
) -> None:
    row = enqueue(
        session,
        template="acknowledgement",
        to="Practice@NHS.net",
        context=CONTEXT,
        now=NOW,
        settings=Settings(),
        in_reply_to="<abc@nhs.net>",
        references=["<root@nhs.net>", "bad\r\nheader"],
        auto_submitted="auto-replied",
    )
    assert re.fullmatch(r"<[0-9a-f]{32}@nhs\.net>", row.message_id_header)
    assert row.to_addr == "practice@nhs.net" and row.status == "pending"
    assert row.in_reply_to == "<abc@nhs.net>"
    assert row.references == "<root@nhs.net> <abc@nhs.net>"
    assert row.auto_submitted == "auto-replied" and row.next_attempt_at == NOW


@pytest.mark.parametrize(
    "to", ["a@nhs.net\r\nBcc: evil@x.com", "a@nhs.net, b@nhs.net", "not-an-address", ""]
)
def test_a_recipient_that_is_not_one_clean_address_is_refused(session: Session, to: str) -> None:
    with pytest.raises(InvalidValue):
        _acknowledge(session, to)


def test_a_bad_in_reply_to_is_dropped_not_passed_on(session: Session) -> None:
    row = enqueue(
        session,
        template="acknowledgement",
        to="a@nhs.net",
        context=CONTEXT,
        now=NOW,
        settings=Settings(),
        in_reply_to="<x@y>\r\nBcc: evil@x.com",
    )
    assert row.in_reply_to is None and row.references is None


def test_the_reference_is_always_in_the_subject(session: Session) -> None:
    row = enqueue(
        session,
        template="acknowledgement",
        to="a@nhs.net",
        context={**CONTEXT, "ref": "PCSE-000777"},
        now=NOW,
        settings=Settings(),
    )
    assert "PCSE-000777" in row.subject and "\n" not in row.subject


def _acknowledge(session: Session, to: str) -> OutboxMessage:
    return enqueue(
        session,
        template="acknowledgement",
        to=to,
        context=CONTEXT,
        now=NOW,
        settings=Settings(),
    )


def test_collect_enqueued_hands_back_exactly_the_rows_queued_inside_it(session: Session) -> None:
    before = _acknowledge(session, "before@nhs.net")
    with collect_enqueued(session) as outer:
        first = _acknowledge(session, "first@nhs.net")
        with collect_enqueued(session) as inner:
            second = _acknowledge(session, "second@nhs.net")
        assert inner == [second]
    after = _acknowledge(session, "after@nhs.net")
    assert outer == [first, second]  # what an inner block saw counts for the outer one too
    assert before not in outer and after not in outer
    assert all(row.id is not None for row in outer)
