"""Legal holds (battery 56): a held request's raw e-mails survive the retention purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.errors import InvalidValue, NotPermitted
from pcse_intake.workflows.legal_hold import HoldRefused, place_hold, release_hold
from pcse_intake.workflows.maintenance import purge_raw_messages
from pcse_intake.workflows.models import HistoryEntry, InboundMessage
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change

LATER = NOW + timedelta(days=800)  # past the 730-day retention


def _two_requests(ready: TestDatabase, feed: Feed) -> tuple[str, str]:
    with transaction(ready.sessions) as session:
        held = feed(session, email_change(message_id="<held@nhs.net>")).request_ref
        other = feed(session, email_change(message_id="<other@nhs.net>", code="A12345")).request_ref
    assert held and other
    return held, other


def _raw_kept(ready: TestDatabase) -> dict[str | None, bool]:
    with ready.sessions() as session:
        rows = session.scalars(select(InboundMessage))
        return {m.message_id_header: m.raw is not None for m in rows}


def test_a_held_requests_messages_survive_the_purge_until_the_hold_is_released(
    ready: TestDatabase, feed: Feed
) -> None:
    held, _other = _two_requests(ready, feed)
    with transaction(ready.sessions) as session:
        place_hold(session, ref=held, by="root", reason="ICO subject access request", now=NOW)
    with transaction(ready.sessions) as session:
        assert purge_raw_messages(session, now=LATER, older_than_days=730) == 1
    assert _raw_kept(ready) == {"<held@nhs.net>": True, "<other@nhs.net>": False}

    with transaction(ready.sessions) as session:
        release_hold(session, ref=held, by="root", reason="request answered", now=LATER)
    with transaction(ready.sessions) as session:
        assert purge_raw_messages(session, now=LATER, older_than_days=730) == 1
    assert _raw_kept(ready) == {"<held@nhs.net>": False, "<other@nhs.net>": False}
    with ready.sessions() as session:
        actions = session.scalars(
            select(HistoryEntry.action)
            .where(HistoryEntry.actor == "root")
            .order_by(HistoryEntry.id)
        ).all()
    assert actions == ["legal_hold_placed", "legal_hold_released"]


def test_only_an_admin_may_hold_and_a_reason_is_required(ready: TestDatabase, feed: Feed) -> None:
    held, _other = _two_requests(ready, feed)
    with transaction(ready.sessions) as session:
        with pytest.raises(NotPermitted, match="bob is a approver"):
            place_hold(session, ref=held, by="bob", reason="x", now=NOW)
        with pytest.raises(InvalidValue, match="needs a reason"):
            place_hold(session, ref=held, by="root", reason="  ", now=NOW)


def test_a_second_hold_or_a_release_without_one_is_refused(ready: TestDatabase, feed: Feed) -> None:
    held, _other = _two_requests(ready, feed)
    with transaction(ready.sessions) as session:
        with pytest.raises(HoldRefused, match="is not on legal hold"):
            release_hold(session, ref=held, by="root", reason="none", now=NOW)
        place_hold(session, ref=held, by="root", reason="litigation", now=NOW)
        with pytest.raises(HoldRefused, match="already on legal hold"):
            place_hold(session, ref=held, by="root", reason="again", now=NOW)
