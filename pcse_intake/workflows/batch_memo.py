"""What one batch of intake already knows, read with a few queries instead of a few per message.

The poller records a fetched batch in one transaction. Each message used to ask the database
the same kinds of question on its own (is it recorded already, does its Message-ID collide,
which organisations and main contacts does it name, which open requests of its kind exist,
how many acknowledgements and other e-mails went to its sender lately, how many messages
came from it today); each question now costs one query per batch. The memo lives in
`Session.info` while the batch is recorded; code that finds none asks the database as
before, so every other caller is unchanged.

The memo sees the batch's own writes: a message stored, a request opened or an
acknowledgement queued earlier in the batch is noted here as it happens, so a later message
in the same batch is treated exactly as if it had queried. When a message's savepoint is
rolled back, `forget_writes` drops everything a write could have changed (the registry part
is read-only during intake and stays).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.workflows.models import (
    InboundMessage,
    Organisation,
    OutboxMessage,
    Person,
    Request,
    Role,
)
from pcse_intake.workflows.registry import MAIN_CONTACT
from pcse_intake.workflows.states import OPEN_STATES

T = TypeVar("T")

_KEY = "pcse_intake_batch_memo"
_CHUNK = 500  # values per IN (...): well under every database's parameter limit
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

Location = tuple[str, int, int]  # (mailbox, uidvalidity, uid)


@dataclass(frozen=True)
class BatchKeys:
    """Everything a batch's messages will look up, gathered before the first one is recorded."""

    digests: frozenset[str]
    locations: frozenset[Location]
    message_ids: frozenset[str]
    org_codes: frozenset[str]  # upper case
    open_keys: frozenset[tuple[str, str]]  # (kind, subject ODS code) for the duplicate check
    senders: frozenset[str]  # acknowledgement caps and loop protection
    now: datetime


class BatchMemo:
    """The answers for one batch; see the module docstring for what it may and may not hold."""

    def __init__(self, session: Session, keys: BatchKeys) -> None:
        self.session = session
        self.keys = keys
        self.orgs: dict[str, Organisation | None] = {}
        self.contacts: dict[int, list[Person]] = {}
        self.requests: dict[int, Request] = {}  # touched in this batch: their state is current
        self._load_registry()
        self._load_writes()

    # -- what the batch's own writes can change ------------------------------------------

    def _load_writes(self) -> None:
        keys = self.keys
        self.valid = True
        self.by_sha: dict[str, InboundMessage] = {}
        self.by_location: dict[Location, InboundMessage] = {}
        # Ids of stored rows, or this batch's rows themselves (not flushed yet, maybe).
        self.message_ids: dict[str, list[int | InboundMessage]] = defaultdict(list)
        self.open_requests: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.acks: dict[str, list[datetime]] = defaultdict(list)
        self.acks_since = keys.now - timedelta(days=1)
        self.sent: dict[str, list[datetime]] = defaultdict(list)  # to an address, any template
        self.received: dict[str, int] = defaultdict(int)  # from an address, in the last day
        # Received a day ago give or take an hour: they leave the count as the clock moves on.
        self.received_leaving: dict[str, list[datetime]] = defaultdict(list)
        self.received_added: dict[str, list[datetime]] = defaultdict(list)
        session = self.session
        with session.no_autoflush:
            for chunk in _chunks(keys.digests):
                for row in session.scalars(
                    select(InboundMessage).where(InboundMessage.sha256.in_(chunk))
                ):
                    self.by_sha[row.sha256] = row
            folders: dict[tuple[str, int], set[int]] = defaultdict(set)
            for mailbox, uidvalidity, uid in keys.locations:
                folders[(mailbox, uidvalidity)].add(uid)
            for (mailbox, uidvalidity), uids in folders.items():
                for uid_chunk in _chunks(uids):
                    for row in session.scalars(
                        select(InboundMessage).where(
                            InboundMessage.mailbox == mailbox,
                            InboundMessage.uidvalidity == uidvalidity,
                            InboundMessage.uid.in_(uid_chunk),
                        )
                    ):
                        self._note_location(row)
            for chunk in _chunks(keys.message_ids):
                for row_id, header in session.execute(
                    select(InboundMessage.id, InboundMessage.message_id_header)
                    .where(InboundMessage.message_id_header.in_(chunk))
                    .order_by(InboundMessage.id)
                ):
                    if header is not None:
                        self.message_ids[header].append(row_id)
            codes = {code for _kind, code in keys.open_keys}
            for chunk in _chunks(codes):
                for request_id, kind, code in session.execute(
                    select(Request.id, Request.kind, Request.ods_code)
                    .where(
                        Request.ods_code.in_(chunk),
                        Request.state.in_([s.value for s in OPEN_STATES]),
                    )
                    .order_by(Request.id)
                ):
                    if code is not None:
                        self.open_requests[(kind, code)].append(request_id)
            for chunk in _chunks(keys.senders):
                for to, created_at in session.execute(
                    select(OutboxMessage.to_addr, OutboxMessage.created_at).where(
                        OutboxMessage.template == "acknowledgement",
                        OutboxMessage.to_addr.in_(chunk),
                        OutboxMessage.created_at > self.acks_since,
                    )
                ):
                    self.acks[to].append(created_at)
            for chunk in _chunks(keys.senders):
                for to, created_at in session.execute(
                    select(OutboxMessage.to_addr, OutboxMessage.created_at).where(
                        OutboxMessage.to_addr.in_(chunk),
                        OutboxMessage.created_at > keys.now - _HOUR,
                    )
                ):
                    self.sent[to].append(created_at)
            day_ago = keys.now - _DAY
            for chunk in _chunks(keys.senders):
                for sender, count in session.execute(
                    select(InboundMessage.sender, func.count(InboundMessage.id))
                    .where(InboundMessage.sender.in_(chunk), InboundMessage.received_at > day_ago)
                    .group_by(InboundMessage.sender)
                ):
                    if sender is not None:
                        self.received[sender] = count
                for sender, received_at in session.execute(
                    select(InboundMessage.sender, InboundMessage.received_at).where(
                        InboundMessage.sender.in_(chunk),
                        InboundMessage.received_at > day_ago,
                        InboundMessage.received_at <= day_ago + _HOUR,
                    )
                ):
                    if sender is not None:
                        self.received_leaving[sender].append(received_at)

    def forget_writes(self) -> None:
        """A message's savepoint was rolled back: from now on the batch asks the database."""
        self.valid = False

    def _note_location(self, row: InboundMessage) -> None:
        if row.mailbox is not None and row.uidvalidity is not None and row.uid is not None:
            self.by_location[(row.mailbox, row.uidvalidity, row.uid)] = row

    def existing(
        self, digest: str, location: Location | None
    ) -> tuple[bool, InboundMessage | None]:
        """(known, the stored row for these bytes or else this IMAP location); not known: ask."""
        if not self.valid or digest not in self.keys.digests:
            return False, None
        if location is not None and location not in self.keys.locations:
            return False, None
        found = self.by_sha.get(digest)
        if found is None and location is not None:
            found = self.by_location.get(location)
        return True, found

    def stored(self, row: InboundMessage) -> None:
        """A new inbound row (perhaps not flushed yet)."""
        self.by_sha[row.sha256] = row
        self._note_location(row)
        if row.sender:
            self.received_added[row.sender].append(row.received_at)
        if row.message_id_header:
            self.message_ids[row.message_id_header].append(row)

    def same_message_id(self, header: str) -> list[int | InboundMessage] | None:
        """Stored rows with this Message-ID (ids or rows); None: ask the database."""
        if not self.valid or header not in self.keys.message_ids:
            return None
        return list(self.message_ids.get(header, ()))

    def open_of(self, kind: str, code: str) -> list[int] | None:
        """Ids of open requests of this kind for this subject code, oldest first; None: ask."""
        if not self.valid or (kind, code) not in self.keys.open_keys:
            return None
        ids = self.open_requests.get((kind, code), [])
        # A request this batch touched may have left the open states since the batch began.
        return [
            i
            for i in ids
            if (touched := self.requests.get(i)) is None or touched.state in OPEN_STATES
        ]

    def opened(self, request: Request) -> None:
        """A new request (flushed, so it has its id)."""
        self.requests[request.id] = request
        if request.ods_code:
            self.open_requests[(request.kind, request.ods_code)].append(request.id)

    def touched(self, request: Request) -> None:
        """A request this batch may change: keep it, so its current state is known."""
        self.requests[request.id] = request

    def acknowledgements(self, to: str, now: datetime) -> int | None:
        """Acknowledgements queued to `to` in the day before `now`; None: ask the database."""
        if not self.valid or to not in self.keys.senders or now < self.keys.now:
            return None
        since = now - timedelta(days=1)
        return sum(1 for at in self.acks.get(to, ()) if at > since)

    def queued(self, row: OutboxMessage) -> None:
        if row.template == "acknowledgement":
            self.acks[row.to_addr].append(row.created_at)
        self.sent[row.to_addr].append(row.created_at)

    def sent_this_hour(self, to: str, now: datetime) -> int | None:
        """E-mails of any kind queued to `to` in the hour before `now`; None: ask."""
        if not self.valid or to not in self.keys.senders or now < self.keys.now:
            return None
        since = now - _HOUR
        return sum(1 for at in self.sent.get(to, ()) if at > since)

    def received_today(self, address: str, now: datetime) -> int | None:
        """Messages stored from `address` in the day before `now`; None: ask."""
        if not self.valid or address not in self.keys.senders:
            return None
        if not self.keys.now <= now < self.keys.now + _HOUR:
            return None
        since = now - _DAY
        left = sum(1 for at in self.received_leaving.get(address, ()) if at <= since)
        added = sum(1 for at in self.received_added.get(address, ()) if at > since)
        return self.received.get(address, 0) - left + added

    # -- the registry: read-only during intake -------------------------------------------

    def _load_registry(self) -> None:
        session = self.session
        with session.no_autoflush:
            for code in self.keys.org_codes:
                self.orgs[code] = None
            for chunk in _chunks(self.keys.org_codes):
                for org in session.scalars(
                    select(Organisation).where(Organisation.ods_code.in_(chunk))
                ):
                    self.orgs[org.ods_code] = org
            ids = [org.id for org in self.orgs.values() if org is not None]
            for org_id in ids:
                self.contacts[org_id] = []
            for id_chunk in _chunks(ids):
                for org_id, person in session.execute(
                    select(Role.organisation_id, Person)
                    .join(Person, Role.person_id == Person.id)
                    .where(Role.organisation_id.in_(id_chunk), Role.role == MAIN_CONTACT)
                    .order_by(Person.id)
                ):
                    self.contacts[org_id].append(person)

    def organisation(self, code: str) -> tuple[bool, Organisation | None]:
        """(known, the organisation with this upper-case code or None); not known: ask."""
        return (code in self.orgs), self.orgs.get(code)

    def main_contacts(self, org: Organisation) -> list[Person] | None:
        return self.contacts.get(org.id)


def batch_memo(session: Session) -> BatchMemo | None:
    """The memo of the batch being recorded in `session`, if any."""
    memo = session.info.get(_KEY)
    return memo if isinstance(memo, BatchMemo) else None


@contextmanager
def remembering(session: Session, keys: BatchKeys) -> Iterator[BatchMemo]:
    """Install a memo for the batch recorded inside the block."""
    memo = BatchMemo(session, keys)
    session.info[_KEY] = memo
    try:
        yield memo
    finally:
        session.info.pop(_KEY, None)


def _chunks(items: Iterable[T]) -> Iterator[Sequence[T]]:
    values = list(items)
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
