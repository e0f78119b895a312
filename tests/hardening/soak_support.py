"""What the crash soak, the load soak and bench/soak_bench.py share: the corpus and the invariants.

The invariants are checked against what the servers hold (Dovecot's folders, the SMTP sink)
and what the database holds, never against what the workers said they did.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.inbox_worker.outbox_job import STUCK_AFTER
from pcse_intake.inbox_worker.smtp_sink import ReceivedMail
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import (
    HistoryEntry,
    InboundMessage,
    MessageStatus,
    OutboxMessage,
    Request,
)
from pcse_intake.workflows.models.outbox import OutboxStatus
from tests.servers import ImapAccount, seed_mailbox

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = ROOT / "pcse_intake" / "data" / "samples"
AUTOMATED = ROOT / "tests" / "data" / "automated"

# A reply naming a request: merged when its sender asked, shown beside the request otherwise.
_REPLY = (
    "From: {sender}\r\n"
    "To: pcse.datamanager@nhs.net\r\n"
    "Subject: RE: your request PCSE-{ref:06d}\r\n"
    "Message-ID: <reply@nhs.net>\r\n"
    "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Thanks, please see the details we sent before.\r\n"
)
_REPLY_SENDERS = ("practice.manager@nhs.net", "someone.else@nhs.net")
_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:[^\r\n]*")
_FROM_LOCAL_PART = re.compile(rb"(?im)(^From:[^\r\n@]*?[A-Za-z0-9._%+-]+)@")

# Actions that repeat legitimately for one request: each unanswered call is counted.
_REPEATABLE = {"call_no_answer"}


def soak_corpus(count: int, *, tag: str = "soak", new_senders: bool = False) -> list[bytes]:
    """`count` distinct messages: the 40 samples, the 16 automated fixtures and replies in turn.

    Each copy gets its own Message-ID, so every message is new bytes with a new identity.
    With `new_senders`, each lap after the first comes from new addresses (`name.lapN@...`),
    so acknowledgements keep flowing past the one-per-sender-per-day cap.
    """
    pool = [p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))]
    pool += [p.read_bytes() for p in sorted(AUTOMATED.glob("*.eml"))]
    pool += [
        _REPLY.format(sender=sender, ref=ref).encode()
        for ref in (1, 2, 3)
        for sender in _REPLY_SENDERS
    ]
    out = []
    for n in range(count):
        header = f"Message-ID: <{tag}-{n}@nhs.net>".encode()
        message = _MESSAGE_ID.sub(header, pool[n % len(pool)], count=1)
        lap = n // len(pool)
        if new_senders and lap:
            message = _FROM_LOCAL_PART.sub(rb"\1.lap%d@" % lap, message, count=1)
        out.append(message)
    return out


def append_all(account: ImapAccount, messages: Sequence[bytes]) -> None:
    if not messages:
        return
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=messages,
    )


def folder_hashes(account: ImapAccount, folder: str) -> list[str]:
    """The sha256 of every message in `folder` as the server serves it (read-only)."""
    with IMAPClient(account.host, account.port, ssl=False, timeout=60) as client:
        client.login(account.username, account.password)
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        hashes = []
        for start in range(0, len(uids), 500):
            fetched = client.fetch(uids[start : start + 500], [b"BODY.PEEK[]"])
            hashes += [hashlib.sha256(data[b"BODY[]"]).hexdigest() for data in fetched.values()]
        return hashes


def age_stuck_sends(sessions: sessionmaker[Session]) -> int:
    """Let the clock run on for rows a killed sender left in `sending` (recovered once
    `outbox_job.STUCK_AFTER` has passed). The test cannot wait; it dates their claim back."""
    with transaction(sessions) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING)
            .values(claimed_at=datetime.now(UTC) - STUCK_AFTER - timedelta(minutes=1))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class SoakFigures:
    """What the soak ended with; `failures` lists every invariant that does not hold."""

    appended: int = 0
    recorded: int = 0
    requests: int = 0
    inbox: int = 0
    processed: int = 0
    quarantine: int = 0
    outbox_rows: int = 0
    delivered: int = 0  # e-mails the SMTP sink accepted
    delivered_twice: int = 0  # outbox rows the sink accepted twice (same Message-ID)
    approvals: int = 0
    rejections: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, holds: bool, what: str) -> None:
        if not holds:
            self.failures.append(what)


def check_invariants(
    sessions: sessionmaker[Session],
    account: ImapAccount,
    appended: Sequence[bytes],
    received: Sequence[ReceivedMail],
    *,
    doubles_allowed: int,
) -> SoakFigures:
    """Every invariant of issue #6 over the finished soak; `doubles_allowed`: sender kills."""
    figures = SoakFigures(appended=len(appended))
    _check_mailbox(figures, sessions, account, appended)
    _check_outbox(figures, sessions, received, doubles_allowed)
    _check_history(figures, sessions)
    return figures


def _check_mailbox(
    figures: SoakFigures,
    sessions: sessionmaker[Session],
    account: ImapAccount,
    appended: Sequence[bytes],
) -> None:
    inbox = folder_hashes(account, "INBOX")
    processed = folder_hashes(account, "Processed")
    quarantine = folder_hashes(account, "Quarantine")
    figures.inbox, figures.processed, figures.quarantine = (
        len(inbox),
        len(processed),
        len(quarantine),
    )
    figures.check(not inbox, f"{len(inbox)} messages left in INBOX")
    moved = processed + quarantine
    figures.check(
        len(moved) == len(set(moved)) == len(appended),
        f"{len(moved)} messages in Processed/Quarantine ({len(set(moved))} distinct), "
        f"{len(appended)} appended",
    )
    with sessions() as session:
        shas = list(session.scalars(select(InboundMessage.sha256)))
        ids = list(session.scalars(select(InboundMessage.message_id_header)))
        statuses = Counter(session.scalars(select(InboundMessage.status)))
        figures.requests = int(session.scalar(select(func.count()).select_from(Request)) or 0)
    figures.recorded = len(shas)
    figures.check(len(shas) == len(appended), f"{len(shas)} recorded, {len(appended)} appended")
    figures.check(set(shas) == set(moved), "the recorded hashes differ from the moved messages")
    wanted_ids = {
        m.group(0).split(b":", 1)[1].strip().decode()
        for m in (_MESSAGE_ID.search(raw) for raw in appended)
        if m
    }
    repeated_ids = [i for i, n in Counter(ids).items() if n > 1]
    figures.check(not repeated_ids, f"Message-IDs recorded twice: {repeated_ids[:5]}")
    figures.check(set(ids) == wanted_ids, "the recorded Message-IDs differ from those appended")
    figures.check(statuses[MessageStatus.RECEIVED] == 0, "messages left unprocessed")
    # Each request is opened by exactly one message, and no message opened two.
    figures.check(
        figures.requests == statuses[MessageStatus.REQUEST],
        f"{figures.requests} requests from {statuses[MessageStatus.REQUEST]} request messages",
    )


def _check_outbox(
    figures: SoakFigures,
    sessions: sessionmaker[Session],
    received: Sequence[ReceivedMail],
    doubles_allowed: int,
) -> None:
    with sessions() as session:
        rows = session.execute(select(OutboxMessage.message_id_header, OutboxMessage.status)).all()
    figures.outbox_rows = len(rows)
    figures.delivered = len(received)
    per_id = Counter(str(mail.message()["Message-ID"]) for mail in received)
    ours = {message_id for message_id, _status in rows}
    unsent = [m for m, status in rows if status != OutboxStatus.SENT]
    figures.check(not unsent, f"{len(unsent)} outbox rows not sent: {unsent[:3]}")
    figures.check(ours == set(per_id), "the sink's Message-IDs differ from the outbox rows'")
    figures.delivered_twice = sum(1 for n in per_id.values() if n == 2)
    beyond = [m for m, n in per_id.items() if n > 2]
    figures.check(not beyond, f"e-mails delivered more than twice: {beyond[:3]}")
    figures.check(
        figures.delivered_twice <= doubles_allowed,
        f"{figures.delivered_twice} e-mails delivered twice, but only {doubles_allowed} "
        "senders were killed",
    )


def _check_history(figures: SoakFigures, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        repeated = session.execute(
            select(
                HistoryEntry.request_id,
                HistoryEntry.message_id,
                HistoryEntry.action,
                HistoryEntry.state,
                func.count(),
            )
            .where(HistoryEntry.request_id.is_not(None))
            .where(HistoryEntry.action.not_in(_REPEATABLE))
            .group_by(
                HistoryEntry.request_id,
                HistoryEntry.message_id,
                HistoryEntry.action,
                HistoryEntry.state,
            )
            .having(func.count() > 1)
        ).all()
        actions = Counter(
            session.scalars(
                select(HistoryEntry.action).where(HistoryEntry.action.in_(("approved", "rejected")))
            )
        )
    figures.approvals, figures.rejections = actions["approved"], actions["rejected"]
    figures.check(not repeated, f"transitions applied twice: {[tuple(r) for r in repeated[:5]]}")
