"""Flood benchmark (battery case 21): do other senders wait longer while one sender floods?

Run from the repository root:

    python bench/flood_bench.py                    # the figures in docs/benchmarks.md
    python bench/flood_bench.py --flood 300        # a quick look
    python bench/flood_bench.py --database-url postgresql+psycopg://...  # an empty database

Two runs on fresh databases (migrated, the sample registry loaded), each recording messages
one transaction at a time with the real parser and intake, as the poller does:
  quiet  `--others` e-mail changes, each from its own address, naming the sample
         registry's practices in turn;
  flood  the same, each after `--flood / --others` messages from one flooding sender (whose
         acknowledgements and replies are capped, and who raises the loop alert).
It prints, for the other senders' messages only, the median and 95th percentile wall-clock
and CPU milliseconds per message, and what each of them was sent.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from pcse_intake.config import Settings
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.intake import record_message
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import OutboxMessage
from pcse_intake.workflows.registry_import import import_registry

DATA = Path(__file__).resolve().parent.parent / "pcse_intake" / "data"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FLOODER = "ouseburn.surgery@nhs.net"


def email_change(sender: str, n: int, practice: tuple[str, str]) -> bytes:
    code, name = practice
    return (
        f"From: Practice Manager <{sender}>\r\nTo: pcse.datamanager@nhs.net\r\n"
        f"Subject: Update practice email address {n}\r\nMessage-ID: <flood-{n}@nhs.net>\r\n"
        "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\nPlease update our practice email address.\r\n\r\nPractice name: {name}\r\n"
        f"ODS code: {code}\r\nCurrent email: {sender}\r\n"
        f"New email: new.{sender}\r\n\r\nThanks\r\n"
    ).encode()


def practices() -> list[tuple[str, str]]:
    """(ODS code, name) of the sample registry's practices: the other senders name these."""
    rows = csv.reader((DATA / "epraccur_sample.csv").read_text(encoding="utf-8").splitlines())
    return [(row[0], row[1].title()) for row in rows]


@contextmanager
def fresh_database(url: str | None) -> Iterator[str]:
    """A migrated database with the sample registry: a temporary SQLite file by default."""
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite:///{folder}/flood.db"
        engine = make_engine(url)
        if url.startswith("postgresql"):
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            for name in ("epraccur_sample.csv", "practice_contacts.csv"):
                raw = (DATA / name).read_bytes()
                import_registry(session, raw, name=name, by="bench", now=START)
        engine.dispose()
        yield url


def run(url: str, *, others: int, flood: int) -> tuple[list[float], list[float], int]:
    """(wall ms, CPU ms) per other sender's message, and how many of them were answered."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    settings = Settings()
    wall: list[float] = []
    cpu: list[float] = []
    each = flood // others
    known = practices()
    n = 0
    for k in range(others):
        for _ in range(each):
            n += 1
            with transaction(sessions) as session:
                now = START + timedelta(seconds=n)
                raw = email_change(FLOODER, n, ("A84615", "Ouseburn Surgery"))
                record_message(session, raw, settings=settings, now=now)
        n += 1
        raw = email_change(f"practice{k}.manager@nhs.net", n, known[k % len(known)])
        started, started_cpu = time.perf_counter(), time.process_time()
        with transaction(sessions) as session:
            record_message(session, raw, settings=settings, now=START + timedelta(seconds=n))
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    with sessions() as session:
        answered = session.scalars(
            select(OutboxMessage.to_addr).where(OutboxMessage.to_addr.like("practice%"))
        ).all()
    engine.dispose()
    return wall, cpu, len(set(answered))


def _line(name: str, wall: list[float], cpu: list[float], answered: int, others: int) -> str:
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    return (
        f"{name:6} median {statistics.median(wall):6.1f} ms  p95 {p95(wall):6.1f} ms  "
        f"CPU median {statistics.median(cpu):6.1f} ms  answered {answered}/{others}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--others", type=int, default=100)
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="an empty database to use")
    args = parser.parse_args()
    for name, flood in (("quiet", 0), ("flood", args.flood)):
        with fresh_database(args.database_url) as url:
            wall, cpu, answered = run(url, others=args.others, flood=flood)
        print(_line(name, wall, cpu, answered, args.others))


if __name__ == "__main__":
    main()
