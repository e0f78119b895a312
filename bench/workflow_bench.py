"""The request workflow's own costs: recording messages, and a full verify + approve.

    python bench/workflow_bench.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/x] \
        [--rounds 10]

Records the 40 corpus messages `--rounds` times (each copy made unique by one extra header,
so every one is a new message, as in a real mailbox), one transaction per message like the
inbox worker; then ingests every copy again (the dedupe path); then verifies and approves
every complete e-mail change, one transaction each. Without --url a fresh SQLite file in a
temporary folder is used; with --url the named database must be a throwaway one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.intake import record_message
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import Request, StaffRole
from pcse_intake.workflows.registry_import import import_registry
from pcse_intake.workflows.staff import create_staff

CORPUS = Path(__file__).parents[1] / "tests" / "data" / "corpus"
PASSWORD = "Bench-mark-2026!"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings()
    now = datetime.now(UTC)
    data = resources.files("pcse_intake").joinpath("data")
    with transaction(sessions) as s:
        for name in ("epraccur_sample.csv", "practice_contacts.csv"):
            import_registry(s, data.joinpath(name).read_bytes(), name=name, by="bench", now=now)
        create_staff(s, username="verifier", role=StaffRole.VERIFIER, password=PASSWORD, now=now)
        create_staff(s, username="approver", role=StaffRole.APPROVER, password=PASSWORD, now=now)

    raws = [
        b"X-Bench-Copy: %d\r\n" % n + path.read_bytes()
        for n in range(args.rounds)
        for path in sorted(CORPUS.glob("*.eml"))
    ]
    for label in ("new message", "duplicate"):
        samples = []
        started = time.perf_counter()
        for raw in raws:
            t = time.perf_counter()
            with transaction(sessions) as s:
                record_message(s, raw, settings=settings, now=now, origin="file")
            samples.append(time.perf_counter() - t)
        total = time.perf_counter() - started
        print(
            f"record_message, {label}: {len(raws)} messages, {len(raws) / total:.0f}/s, "
            f"{_ms(samples)}"
        )

    with transaction(sessions) as s:
        refs = [
            r.ref
            for r in s.scalars(
                select(Request).where(
                    Request.kind == "email_change", Request.state == "awaiting_verification"
                )
            )
        ]
    decided: dict[str, list[float]] = {"verify": [], "approve": []}
    for ref in refs:
        t = time.perf_counter()
        try:
            with transaction(sessions) as s:
                verify(s, ref=ref, by="verifier", outcome="confirmed", now=now, settings=settings)
        except WorkflowRefusal:
            continue  # e.g. an invalid ODS code: no number on record to call
        decided["verify"].append(time.perf_counter() - t)
        t = time.perf_counter()
        try:
            with transaction(sessions) as s:
                approve(s, ref=ref, by="approver", now=now, settings=settings)
        except WorkflowRefusal:
            continue  # e.g. an invalid new address: approval refused, nothing applied
        decided["approve"].append(time.perf_counter() - t)
    for name, samples in decided.items():
        print(f"{name}: {len(samples)} requests, {_ms(samples)}")
    print("database:", engine.url.render_as_string(hide_password=True))
    engine.dispose()


if __name__ == "__main__":
    main()
