"""Load soak: mail fed into Dovecot, two workers into PostgreSQL, staff deciding, a sender sending.

Run from the repository root (needs Debian's dovecot and the PostgreSQL server the tests use):

    python bench/soak_bench.py                  # 5,000 messages, the figures in docs/reliability.md
    python bench/soak_bench.py --messages 300   # a quick look (tests/hardening/test_load_soak.py)
    python bench/soak_bench.py --url postgresql+psycopg://user@host/empty_db

Without `--url` a fresh database is created on the tests' server (PCSE_TEST_PG_ADMIN_URL,
default postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped afterwards. Five
processes run at once: a feeder APPENDing the messages in chunks, two workers each polling
the same INBOX in a loop (`Poller.poll()`, as the daemon's poll job; they take turns through
the mailbox lease), a staff process that verifies (one person) and approves or rejects
(another person, four eyes on) through `workflows.decisions`, and an outbox sender
(`send_outbox`) delivering to an aiosmtpd sink. Then every invariant of issue #6 is checked
(tests/hardening/soak_support.py); the exit code is 1 if any fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.connect import mailer_factory
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.outbox_job import send_outbox
from pcse_intake.inbox_worker.poller import Poller
from pcse_intake.workflows import decisions
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import OutboxMessage, Request, RequestState
from pcse_intake.workflows.models.outbox import OutboxStatus
from tests.conftest import PG_ADMIN_URL
from tests.hardening.soak_support import SoakFigures, append_all, check_invariants, soak_corpus
from tests.inbox_worker.support import test_settings
from tests.servers import DovecotServer, ImapAccount, SmtpSink

# The verifier is an admin (who alone may confirm a DMARC failure, with a note).
VERIFIER, APPROVER = "root", "bob"
CHUNK = 50  # messages per APPEND session of the feeder
FEED_PAUSE = 0.5  # seconds between two chunks: mail keeps arriving while the workers poll
# After a poll a worker waits a moment, as the daemon waits for its next turn, so the other
# worker, asking every 0.2 s, can take the mailbox's lease.
POLL_PAUSE = 0.5
STARTUP_SECONDS = 120  # at most, for the spawned processes to import and connect
Results = Any  # a multiprocessing queue of (role, figures) pairs


@dataclasses.dataclass
class SoakReport:
    messages: int
    seconds: float
    processes: dict[str, dict[str, float]]
    figures: SoakFigures

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def settings_for(url: str, account: ImapAccount, smtp: SmtpSink, batch: int) -> Settings:
    base = test_settings(url, account, smtp, batch_size=batch)
    return dataclasses.replace(base, workflow=dataclasses.replace(base.workflow, four_eyes=True))


def _now() -> datetime:
    return datetime.now(UTC)


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM starts afresh at exec, unlike ru_maxrss, which
    keeps the parent's size from the fork before a spawned child's exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the five processes ------------------------------------------------------------------


def _quiet() -> None:
    # Intake's warnings (e.g. possible mail loops among the repeated samples) are expected
    # here by the thousand; the figures are what this run is for.
    logging.disable(logging.WARNING)


def feeder(
    account: ImapAccount, messages: list[bytes], start_line: Barrier, fed: Event, results: Results
) -> None:
    start_line.wait(STARTUP_SECONDS)  # mail arrives while both workers are polling
    for start in range(0, len(messages), CHUNK):
        append_all(account, messages[start : start + CHUNK])
        time.sleep(FEED_PAUSE)
    fed.set()
    results.put(("feeder", {"appended": len(messages), "rss_mb": _peak_rss_mb()}))


def worker(
    name: str,
    settings: Settings,
    password: str,
    start_line: Barrier,
    fed: Event,
    ingested: Event,
    results: Results,
) -> None:
    """Poll until the feeder is done and a poll finds INBOX empty (as the daemon's poll job)."""
    _quiet()
    sessions = make_sessionmaker(make_engine(settings.database.url))
    poller = Poller(
        ImapMailbox(settings.mailbox, password=password), sessions, settings=settings, now=_now
    )
    totals = {"polls": 0, "busy": 0, "recorded": 0, "duplicates": 0, "failed": 0}
    start_line.wait(STARTUP_SECONDS)
    try:
        while not ingested.is_set():
            was_fed = fed.is_set()
            report = poller.poll()
            totals["polls"] += 1
            totals["busy"] += report.busy
            totals["recorded"] += report.recorded
            totals["duplicates"] += report.duplicates
            totals["failed"] += report.failed
            if report.busy:
                time.sleep(0.2)  # the other worker holds the mailbox: wait for its turn
            elif was_fed and report.seen == 0:
                ingested.set()  # everything appended has been recorded and moved
            else:
                time.sleep(POLL_PAUSE)
    finally:
        poller.close()
    results.put((name, {**totals, "rss_mb": _peak_rss_mb()}))


def staff(settings: Settings, ingested: Event, decided: Event, results: Results) -> None:
    """Verify, then approve (one in five rejected instead); reject what lacks information."""
    _quiet()
    sessions = make_sessionmaker(make_engine(settings.database.url))
    totals = {"verified": 0, "approved": 0, "rejected": 0, "refused": 0}
    open_states = (RequestState.AWAITING_VERIFICATION, RequestState.AWAITING_INFORMATION)
    while True:
        last_pass = ingested.is_set()  # read before the pass: nothing may arrive after it
        with sessions() as session:
            waiting = session.execute(
                select(Request.id, Request.state).where(Request.state.in_(open_states))
            ).all()
        for request_id, state in waiting:
            _decide(sessions, settings, f"PCSE-{request_id:06d}", request_id, state, totals)
        if last_pass and not waiting:
            break
        time.sleep(0.1)
    decided.set()
    results.put(("staff", {**totals, "rss_mb": _peak_rss_mb()}))


def _decide(
    sessions: Any,
    settings: Settings,
    ref: str,
    request_id: int,
    state: str,
    totals: dict[str, int],
) -> None:
    def act(step: Callable[..., object], **kw: object) -> bool:
        try:
            with transaction(sessions) as session:
                step(session, ref=ref, now=_now(), settings=settings, **kw)
        except WorkflowRefusal as exc:
            totals["refused"] += 1
            # By kind, so a refusal the rules do not explain stands out in the figures.
            kind = f"refused {getattr(step, '__name__', 'step')}: {type(exc).__name__}"
            totals[kind] = totals.get(kind, 0) + 1
            return False
        return True

    reason = "Soak test: closed without a change."
    if state == RequestState.AWAITING_VERIFICATION and request_id % 5:
        # As staff do: call the number on record; only without one, another number, saying
        # where it came from.
        confirm = {"by": VERIFIER, "outcome": "confirmed", "notes": "soak: call-back"}
        other = {"phone": "01632 960123", "notes": "soak: number from the practice letterhead"}
        if act(decisions.verify, **confirm) or act(decisions.verify, **{**confirm, **other}):
            totals["verified"] += 1
            if act(decisions.approve, by=APPROVER):
                totals["approved"] += 1
                return
    if act(decisions.reject, by=APPROVER, reason=reason):
        totals["rejected"] += 1


def sender(settings: Settings, decided: Event, results: Results) -> None:
    """Send due rows until the staff are done and nothing is left to send."""
    _quiet()
    sessions = make_sessionmaker(make_engine(settings.database.url))
    connect = mailer_factory(settings)
    sent = rounds = 0
    while True:
        finished = decided.is_set()
        report = send_outbox(sessions, connect, settings=settings, now=_now)
        sent += report.sent
        rounds += 1
        with sessions() as session:
            left = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status != OutboxStatus.SENT)
            ).first()
        if finished and left is None:
            break
        if not report.sent:
            time.sleep(0.1)
    results.put(("sender", {"sent": sent, "rounds": rounds, "rss_mb": _peak_rss_mb()}))


# -- the run ---------------------------------------------------------------------------


@contextmanager
def fresh_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new empty database on the admin URL's server, dropped afterwards."""
    name = f"pcse_soak_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _prepare(url: str) -> None:
    from tests.workflows.conftest import add_staff, load_registry

    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        load_registry(session, _now())
        add_staff(session, _now())
    engine.dispose()


def run_soak(url: str, *, messages: int, batch: int = 100) -> SoakReport:
    """The whole soak against the empty database at `url`; the invariants are in the report."""
    _prepare(url)
    corpus = soak_corpus(messages, tag=f"load-{uuid.uuid4().hex[:8]}")
    context = multiprocessing.get_context("spawn")  # the sink's thread must not be forked
    with DovecotServer() as dovecot, SmtpSink() as sink:
        account = dovecot.account
        settings = settings_for(url, account, sink, batch)
        fed, ingested, decided = context.Event(), context.Event(), context.Event()
        start_line = context.Barrier(3)  # the feeder and both workers
        results = context.Queue()
        processes = [
            context.Process(target=feeder, args=(account, corpus, start_line, fed, results)),
            *(
                context.Process(
                    target=worker,
                    args=(
                        f"worker{n}",
                        settings,
                        account.password,
                        start_line,
                        fed,
                        ingested,
                        results,
                    ),
                )
                for n in (1, 2)
            ),
            context.Process(target=staff, args=(settings, ingested, decided, results)),
            context.Process(target=sender, args=(settings, decided, results)),
        ]
        started = time.perf_counter()
        for process in processes:
            process.start()
        figures_by_role = _collect(processes, results)
        seconds = time.perf_counter() - started
        sessions = make_sessionmaker(make_engine(url))
        figures = check_invariants(sessions, account, corpus, sink.received, doubles_allowed=0)
    staff_done = figures_by_role.get("staff", {})
    figures.check(
        figures.approvals == staff_done.get("approved"),
        f"{figures.approvals} approvals in history, the staff made {staff_done.get('approved')}",
    )
    figures.check(
        figures.rejections == staff_done.get("rejected"),
        f"{figures.rejections} rejections in history, the staff made {staff_done.get('rejected')}",
    )
    with sessions() as session:
        still_open = session.scalars(
            select(Request.id).where(Request.state == RequestState.AWAITING_VERIFICATION)
        ).all()
    figures.check(not still_open, f"{len(still_open)} requests left awaiting verification")
    return SoakReport(messages, seconds, figures_by_role, figures)


def _collect(processes: list[Any], results: Results) -> dict[str, dict[str, float]]:
    collected: dict[str, dict[str, float]] = {}
    deadline = time.monotonic() + 3600
    while len(collected) < len(processes) and time.monotonic() < deadline:
        try:
            role, values = results.get(timeout=1)
        except Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead:
                for process in processes:
                    process.kill()
                raise RuntimeError(f"a soak process failed: exit {dead[0].exitcode}") from None
            continue
        collected[role] = values
    for process in processes:
        process.join(60)
    return collected


def describe(report: SoakReport) -> list[str]:
    f = report.figures
    lines = [
        f"{report.messages} messages in {report.seconds:.1f} s: {report.rate:.1f} msg/s end to end",
        f"recorded {f.recorded}, requests {f.requests}, INBOX {f.inbox}, Processed {f.processed}, "
        f"Quarantine {f.quarantine}",
        f"approvals {f.approvals}, rejections {f.rejections}; outbox rows {f.outbox_rows}, "
        f"e-mails delivered {f.delivered}, delivered twice {f.delivered_twice}",
    ]
    for role, values in sorted(report.processes.items()):
        shown = ", ".join(
            f"{k} {v:.0f}" if k != "rss_mb" else f"peak RSS {v:.0f} MB" for k, v in values.items()
        )
        lines.append(f"  {role}: {shown}")
    lines.append("invariants: all hold" if not f.failures else f"INVARIANTS FAILED: {f.failures}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="the workers' [mailbox] batch_size")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a fresh one)")
    args = parser.parse_args()
    if args.url:
        report = run_soak(args.url, messages=args.messages, batch=args.batch)
    else:
        with fresh_database() as url:
            report = run_soak(url, messages=args.messages, batch=args.batch)
    for line in describe(report):
        print(line)
    return 1 if report.figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
