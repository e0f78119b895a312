"""Battery section 6 (cases 53, 55): every decision audited with who and when in its own
transaction, and a real poll logs no message body."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.logs import configure_logging
from pcse_intake.inbox_worker.poller import Poller
from pcse_intake.parsers.normalise import find_phones
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, reject, verify
from pcse_intake.workflows.models import HistoryEntry, Request
from tests.conftest import TestDatabase
from tests.hardening.conftest import NOW, email_change_raw, ingest
from tests.inbox_worker.support import mailbox_for, test_settings
from tests.servers import EmbeddedImap, pymap_account, pymap_server, seed_mailbox

__all__ = ["pymap_server"]


def _history(database: TestDatabase, since: int) -> list[HistoryEntry]:
    with database.sessions() as session:
        return list(
            session.scalars(
                select(HistoryEntry).where(HistoryEntry.id > since).order_by(HistoryEntry.id)
            )
        )


def _last_id(database: TestDatabase) -> int:
    with database.sessions() as session:
        return max(session.scalars(select(HistoryEntry.id)).all() or [0])


def test_every_decision_writes_its_history_with_actor_and_utc_time(ready: TestDatabase) -> None:
    later = NOW + timedelta(hours=2)
    steps = []
    start = _last_id(ready)
    first = ingest(ready, email_change_raw(tag="audit-1")).request_ref or ""
    steps.append(("system", {"message_received", "received"}))
    second = ingest(ready, email_change_raw(tag="audit-2", sender="x@nhs.net")).request_ref or ""
    for actor, action in (
        (
            "alice",
            lambda s: verify(
                s, ref=first, by="alice", outcome="confirmed", now=later, settings=Settings()
            ),
        ),
        ("bob", lambda s: approve(s, ref=first, by="bob", now=later, settings=Settings())),
        (
            "carol",
            lambda s: reject(
                s,
                ref=second,
                by="carol",
                reason="not asked by the practice",
                now=later,
                settings=Settings(),
            ),
        ),
    ):
        before = _last_id(ready)
        with transaction(ready.sessions) as session:
            action(session)
        written = _history(ready, before)
        assert written, actor  # each decision is audited...
        assert {e.actor for e in written} == {actor}  # ...as the person who made it
        assert all(e.at == later for e in written)
        assert all(e.request_id is not None for e in written)
    everything = _history(ready, start)
    assert all(e.at.tzinfo is None or e.at.utcoffset() == timedelta(0) for e in everything)
    assert {"approved", "rejected"} <= {e.action for e in everything}


@pytest.mark.imap
def test_the_audit_keeps_only_the_last_digits_of_phone_numbers_the_request_keeps_them_whole(
    ready: TestDatabase,
) -> None:
    samples = resources.files("pcse_intake").joinpath("data", "samples")
    start = _last_id(ready)
    refs = [ingest(ready, samples.joinpath(f"00{n}.eml").read_bytes()).request_ref for n in (1, 2)]
    with ready.sessions() as session:
        requests = [session.get(Request, int(ref[5:])) for ref in refs if ref]
        whole = {p for r in requests if r for p in find_phones(json.dumps(r.fields))}
    assert whole, "the samples carry phone numbers, kept whole for the verification screen"
    audit = json.dumps(
        [(e.note, e.before, e.after) for e in _history(ready, start)], ensure_ascii=False
    )
    assert find_phones(audit) == []  # battery case 55
    assert any(number[-3:] in audit for number in whole)  # masked, not dropped


def test_a_poll_logs_no_message_body_or_password_even_at_debug(
    pymap_server: EmbeddedImap, ready: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    secret_line = "Our door code is 4711 and the practice manager is on 07700 900123"
    raw = email_change_raw(tag="logs-55").replace(
        b"Thanks\r\n", secret_line.encode() + b"\r\nThanks\r\n"
    )
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=[raw, b"From: x@nhs.net\r\nSubject: hi\r\n\r\n" + secret_line.encode()],
    )
    settings = test_settings(ready.url, account)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", stream)  # the operator turned logging all the way up
    try:
        poller = Poller(
            mailbox_for(settings, account),
            ready.sessions,
            settings=settings,
            now=lambda: datetime.now(UTC),
        )
        try:
            report = poller.poll()
        finally:
            poller.close()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert report.recorded == 2
    text = stream.getvalue()
    assert "message_recorded" in text or "poll" in text  # the poll did log
    for fragment in ("door code", "4711", "Please update our practice email", account.password):
        assert fragment not in text, fragment
