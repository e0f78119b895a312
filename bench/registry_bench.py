"""`registry import` at the size of the real epraccur extract (about 10,000 rows).

    python bench/registry_bench.py [--rows 10000] [--url postgresql+psycopg://...]

Writes a synthetic file in the epraccur layout, imports it into a fresh database (every
row new, one history row each), then imports it again (nothing changes, nothing written).
Without --url a fresh SQLite file in a temporary folder is used; with --url the named
database must be a throwaway one.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from datetime import UTC, datetime

from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.registry_import import import_registry


def synthetic(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for i in range(rows):
        code = f"{chr(65 + i // 90000 % 26)}{10000 + i % 90000:05d}"
        writer.writerow(
            [code, f"PRACTICE {i}", "Y63", "QWO", f"{i} HIGH STREET", "LEEDS", "", "", "",
             "LS1 1AA", "19740401", "", "A", "B", "15F", "20130401", "", "0113 496 0001",
             "", "", "", "0", "", "15F", "", "4", ""]
        )  # fmt: skip
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    engine = make_engine(args.url or f"sqlite:///{tempfile.mkdtemp()}/registry.db")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    data = synthetic(args.rows)
    for label in ("first import", "same file again"):
        started = time.perf_counter()
        with transaction(sessions) as session:
            result = import_registry(
                session, data, name="epraccur.csv", by="bench", now=datetime.now(UTC)
            )
        seconds = time.perf_counter() - started
        print(
            f"{label}: {result.to_json()} in {seconds:.1f} s ({result.rows / seconds:.0f} rows/s)"
        )
    print("database:", engine.url.render_as_string(hide_password=True))
    engine.dispose()


if __name__ == "__main__":
    main()
