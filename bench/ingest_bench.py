"""Ingest benchmark: a backlog in Dovecot, our poller against a naive loop, and IDLE latency.

Run from the repository root (needs Debian's dovecot; runs as root or a normal user):

    python bench/ingest_bench.py                 # 2,000 messages, the figures in docs/benchmarks.md
    python bench/ingest_bench.py --messages 300 --rounds 1  # a quick look

Each run starts Dovecot on a free loopback port with a fresh maildir, APPENDs the backlog,
and times, in separate child processes (so peak RSS is each one's own):
  naive   imaplib, SEARCH UNSEEN, one FETCH RFC822 per message, email.message_from_bytes,
          one SQLAlchemy insert and commit per message (stores the bytes, nothing else);
  ours    `Poller.poll()`: UID SEARCH, UID FETCH BODY.PEEK[] in batches, the full parse,
          validation, registry checks, request, history and reply rows, then UID MOVE;
three times over (`--rounds`: naive then ours, each with a fresh Dovecot and database; the
speed-up reported is the median of the rounds', because the naive loop's rate moves by up
to a half from one minute to the next here: it waits on the disk for a commit per message),
and then, with the daemon's IDLE loop, the time from APPEND to a recorded request.
Each client's own CPU time per message is printed too: on a shared machine it moves far
less than the wall-clock rate. Ours parses each batch ahead in a helper process where there
are two cores or more, as the poller does by default (its peak RSS is printed apart);
`--parse-processes 0` parses in line instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import email
import imaplib
import json
import multiprocessing
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import LargeBinary, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.poller import Poller, default_parse_processes
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import InboundMessage
from tests.hardening.soak_support import append_all
from tests.servers import DovecotServer, ImapAccount

SAMPLES = Path(__file__).resolve().parent.parent / "pcse_intake" / "data" / "samples"
REGISTRY = SAMPLES.parent


def backlog(count: int) -> list[bytes]:
    """`count` distinct realistic messages: the 40 samples, each copy with its own Message-ID."""
    samples = [p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))]
    out = []
    for n in range(count):
        raw = samples[n % len(samples)]
        raw = re.sub(
            rb"(?im)^Message-ID:[^\r\n]*", f"Message-ID: <bench-{n}@nhs.net>".encode(), raw, count=1
        )
        out.append(raw)
    return out


class NaiveBase(DeclarativeBase):
    pass


class NaiveMessage(NaiveBase):
    __tablename__ = "naive_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(998))
    raw: Mapped[bytes] = mapped_column(LargeBinary)


def run_naive(account: ImapAccount, url: str, result: dict[str, float]) -> None:
    engine = create_engine(url)
    NaiveBase.metadata.create_all(engine)
    started, cpu = time.perf_counter(), time.process_time()
    imap = imaplib.IMAP4(account.host, account.port)
    imap.login(account.username, account.password)
    imap.select("INBOX")
    _typ, data = imap.search(None, "UNSEEN")
    numbers = data[0].split()
    for number in numbers:
        _typ, fetched = imap.fetch(number, "(RFC822)")
        raw = bytes(fetched[0][1])  # type: ignore[index]
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with Session(engine) as session:
            row = NaiveMessage(
                sender=str(message["From"]), subject=str(message["Subject"]), raw=raw
            )
            session.add(row)
            session.commit()
    imap.logout()
    elapsed = time.perf_counter() - started
    result.update(
        seconds=elapsed,
        cpu_s=time.process_time() - cpu,
        count=len(numbers),
        rss_mb=_peak_rss_mb(),
    )


def _settings(url: str, account: ImapAccount, **mailbox: object) -> Settings:
    base = Settings()
    box = dataclasses.replace(
        base.mailbox,
        host=account.host,
        port=account.port,
        security="none",
        username=account.username,
        **mailbox,  # type: ignore[arg-type]
    )
    return dataclasses.replace(
        base, database=dataclasses.replace(base.database, url=url), mailbox=box
    )


def _prepare_database(url: str) -> None:
    from pcse_intake.workflows.db import transaction
    from pcse_intake.workflows.registry_import import import_registry

    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        for name in ("epraccur_sample.csv", "practice_contacts.csv"):
            data = (REGISTRY / name).read_bytes()
            import_registry(session, data, name=name, by="bench", now=datetime.now(UTC))
    engine.dispose()


def run_ours(
    account: ImapAccount, url: str, batch: int, parse_processes: int, result: dict[str, float]
) -> None:
    _prepare_database(url)
    settings = _settings(url, account, batch_size=batch)
    sessions = make_sessionmaker(make_engine(url))
    started, cpu = time.perf_counter(), time.process_time()
    poller = Poller(
        ImapMailbox(settings.mailbox, password=account.password),
        sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
        parse_processes=parse_processes,
    )
    report = poller.poll()
    poller.close()  # also ends the parse helper, so its peak RSS is known below
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(InboundMessage))
    helper = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result.update(
        seconds=elapsed,
        cpu_s=cpu,
        count=report.recorded,
        stored=stored or 0,
        rss_mb=_peak_rss_mb(),
        helper_rss_mb=helper,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(target: Callable[..., None], *args: object) -> dict[str, float]:
    with multiprocessing.Manager() as manager:
        shared = manager.dict()
        child = multiprocessing.get_context("fork").Process(target=target, args=(*args, shared))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"{getattr(target, '__name__', target)} failed ({child.exitcode})")
        return dict(shared)


def idle_latency(account: ImapAccount, url: str, samples: int) -> list[float]:
    """Median time from APPEND to a recorded request while the poller IDLEs."""
    _prepare_database(url)
    settings = _settings(url, account, idle=True)
    sessions = make_sessionmaker(make_engine(url))
    poller = Poller(
        ImapMailbox(settings.mailbox, password=account.password),
        sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    poller.poll()
    stop = threading.Event()
    watcher = threading.Thread(
        target=poller.watch, kwargs={"seconds": 3600, "stop": stop}, daemon=True
    )
    watcher.start()
    time.sleep(0.5)
    latencies = []
    messages = backlog(samples + 3000)[3000:]  # fresh Message-IDs, not in the database
    for raw in messages:
        with sessions() as session:
            before = session.scalar(select(func.count()).select_from(InboundMessage)) or 0
        appended = time.perf_counter()
        append_all(account, [raw])
        while True:
            with sessions() as session:
                now_count = session.scalar(select(func.count()).select_from(InboundMessage)) or 0
            if now_count > before:
                break
            if time.perf_counter() - appended > 30:
                raise RuntimeError("IDLE never picked the message up")
            time.sleep(0.005)
        latencies.append(time.perf_counter() - appended)
        time.sleep(0.2)
    stop.set()
    watcher.join(10)
    poller.close()
    return latencies


def _one_round(
    args: argparse.Namespace, messages: list[bytes], work: Path, round_no: int
) -> dict[str, dict[str, float]]:
    """Naive, then ours, each against a fresh Dovecot and database; their figures."""
    work.mkdir()
    pair: dict[str, dict[str, float]] = {}
    for name in ("naive", "ours"):
        with DovecotServer() as dovecot:
            account = dovecot.account
            append_all(account, messages)
            url = args.postgres or f"sqlite:///{work / (name + '.db')}"
            if name == "naive":
                result = _in_child(run_naive, account, url)
            else:
                result = _in_child(run_ours, account, url, args.batch, args.parse_processes)
        rate = result["count"] / result["seconds"]
        pair[name] = {**result, "msg_per_s": round(rate, 1)}
        helper = result.get("helper_rss_mb")
        print(
            f"round {round_no} {name:6} {int(result['count'])} messages in "
            f"{result['seconds']:.1f} s = {rate:.0f} msg/s, client CPU "
            f"{result['cpu_s'] / result['count'] * 1000:.1f} ms/msg, peak RSS "
            f"{result['rss_mb']:.0f} MB" + (f" (+ parse helper {helper:.0f} MB)" if helper else ""),
            flush=True,
        )
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--idle-samples", type=int, default=20)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="naive-then-ours pairs; the speed-up reported is their median (the naive loop's"
        " rate moves by up to a half from one minute to the next)",
    )
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=default_parse_processes(),
        help="ours: parse each batch ahead in N helpers (0: in line; default: the poller's)",
    )
    args = parser.parse_args()
    messages = backlog(args.messages)
    if args.postgres and args.rounds != 1:
        parser.error("--postgres needs --rounds 1 (each round needs an empty database)")
    rounds = []
    figures: dict[str, object] = {
        "messages": args.messages,
        "batch": args.batch,
        "parse_processes": args.parse_processes,
        "rounds": rounds,
    }
    ratios = []
    with tempfile.TemporaryDirectory() as work:
        for round_no in range(1, args.rounds + 1):
            pair = _one_round(args, messages, Path(work) / f"round-{round_no}", round_no)
            rounds.append(pair)
            ratios.append(pair["ours"]["msg_per_s"] / pair["naive"]["msg_per_s"])
            print(f"round {round_no}: speed-up {ratios[-1]:.2f}x", flush=True)
        figures["speed_up_median"] = round(statistics.median(ratios), 2)
        print(
            f"speed-up median {statistics.median(ratios):.2f}x over {len(ratios)} rounds "
            f"({min(ratios):.2f}-{max(ratios):.2f}x)"
        )
        with DovecotServer() as dovecot:
            latencies = idle_latency(
                dovecot.account, f"sqlite:///{Path(work) / 'idle.db'}", args.idle_samples
            )
        median = statistics.median(latencies)
        print(
            f"IDLE: APPEND to recorded, median {median * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} messages"
        )
        figures["idle_median_ms"] = round(median * 1000)
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
