"""A batch recorded with its look-ups memoised ends exactly as its messages recorded one by one."""

from __future__ import annotations

import re
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import RequestKind, parse
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.intake import (
    BatchItem,
    MessageSource,
    parse_options,
    record_message,
    recording_batch,
)
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, OutboxMessage, Request
from tests.workflows.conftest import NOW, load_registry


def _samples() -> list[bytes]:
    folder = resources.files("pcse_intake").joinpath("data", "samples")
    return [p.read_bytes() for p in sorted(folder.iterdir(), key=lambda p: p.name)]


def _with_message_id(raw: bytes, message_id: str) -> bytes:
    return re.sub(rb"(?im)^Message-ID:[^\r\n]*", f"Message-ID: {message_id}".encode(), raw, count=1)


def _mixed_batch(settings: Settings) -> list[bytes]:
    """Requests, repeats that hit the caps and the duplicate check, the same bytes twice,
    a Message-ID used twice, and a reply to the batch's first request."""
    samples = _samples()
    options = parse_options(settings)
    first = next(
        raw
        for raw in samples
        if (p := parse(raw, options)).kind is not RequestKind.UNKNOWN
        and not p.automated
        and p.sender
    )
    sender = parse(first, options).sender
    raws = [_with_message_id(first, "<first@nhs.net>")]
    raws += [_with_message_id(samples[n % 40], f"<copy-{n}@nhs.net>") for n in range(120)]
    raws.append(raws[7])  # the same bytes again
    raws.append(_with_message_id(samples[9], "<copy-3@nhs.net>"))  # someone else's Message-ID
    raws.append(
        f"From: {sender}\r\nTo: pcse.requests@nhs.net\r\nSubject: RE: PCSE-000001\r\n"
        "Message-ID: <reply-1@nhs.net>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n"
        "Thank you, we look forward to hearing from you.\r\n".encode()
    )
    return raws


def _database(path: Path) -> Any:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        load_registry(s, now=NOW - timedelta(days=2))
    return sessions


def _snapshot(session: Session) -> dict[str, list[Any]]:
    inbound = session.scalars(select(InboundMessage).order_by(InboundMessage.id))
    requests = session.scalars(select(Request).order_by(Request.id))
    outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    history = session.scalars(select(HistoryEntry).where(HistoryEntry.actor == "system"))
    return {
        "inbound": [
            (
                m.id,
                m.uid,
                m.status,
                m.sender,
                m.kind,
                m.request_id,
                m.message_id_collision,
                m.duplicate_count,
            )
            for m in inbound
        ],
        "requests": [
            (r.id, r.kind, r.state, r.ods_code, r.problems, r.missing, r.fields) for r in requests
        ],
        "outbox": [(o.request_id, o.template, o.to_addr, o.subject, o.in_reply_to) for o in outbox],
        # Written in one statement at the end of a batch, so compared without their order.
        "history": sorted(
            (
                (
                    h.request_id or 0,
                    h.message_id or 0,
                    h.action,
                    h.state or "",
                    h.note or "",
                    repr(h.before),
                    repr(h.after),
                )
                for h in history
            ),
        ),
    }


def test_a_batch_with_caps_duplicates_collisions_and_a_reply_ends_as_one_by_one(
    tmp_path: Path,
) -> None:
    settings = Settings()
    raws = _mixed_batch(settings)
    sources = [MessageSource("INBOX", 7, uid) for uid in range(1, len(raws) + 1)]
    moments = [NOW + timedelta(seconds=n) for n in range(len(raws))]

    alone = _database(tmp_path / "alone.db")
    for raw, source, now in zip(raws, sources, moments, strict=True):
        with transaction(alone) as s:
            record_message(s, raw, settings=settings, now=now, source=source)

    batched = _database(tmp_path / "batched.db")
    options = parse_options(settings)
    items = [
        BatchItem(raw, src, parse(raw, options)) for raw, src in zip(raws, sources, strict=True)
    ]
    with transaction(batched) as s, recording_batch(s, items, now=NOW, defer_history=True):
        for item, now in zip(items, moments, strict=True):
            record_message(
                s, item.raw, settings=settings, now=now, source=item.source, parsed=item.parsed
            )

    with alone() as a, batched() as b:
        expected, got = _snapshot(a), _snapshot(b)
    # The batch exercised what the memo answers: caps, duplicates, collisions and threading.
    history_actions = {h[2] for h in expected["history"]}
    assert {"reply_skipped", "reply_received"} <= history_actions
    assert any(r[6] for r in expected["inbound"]) and any(r[7] for r in expected["inbound"])
    assert any(p["code"] == "possible_duplicate" for r in expected["requests"] for p in r[4])
    for table in ("inbound", "requests", "outbox", "history"):
        assert got[table] == expected[table], table
