"""How long a refused sign-in takes, by why it was refused: the answer must not tell them apart.

    python bench/signin_bench.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/x] \
        [--rounds 30]

With production Argon2 parameters, times `workflows.authentication.check_password` (what the
console's password form runs) and `authenticate` (what the command line runs) for an unknown
name, a wrong password, and a locked, a disabled and an unconfirmed account (the right
password for those three), plus a right password for comparison. Each attempt is its own
transaction, rolled back, so the lock and the per-address throttle never cut in. Without
--url a fresh SQLite file in a temporary folder is used.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.authentication import authenticate, check_password
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import Staff, StaffRole
from pcse_intake.workflows.staff import create_staff

PASSWORD = "Bench-mark-2026!"
CASES = {
    "unknown name": ("nobody", PASSWORD),
    "wrong password": ("active", "Wrong-pass-2026!"),
    "locked": ("locked", PASSWORD),
    "disabled": ("disabled", PASSWORD),
    "unconfirmed": ("unconfirmed", PASSWORD),
    "right password": ("active", PASSWORD),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as s:
        for name in ("active", "locked", "disabled", "unconfirmed"):
            create_staff(
                s,
                username=name,
                role=StaffRole.VERIFIER,
                password=PASSWORD,
                now=now,
                one_time_password=False,
            )
        for staff in s.scalars(select(Staff)):
            staff.locked = staff.username == "locked"
            staff.disabled = staff.username == "disabled"
            if staff.username == "unconfirmed":
                staff.activated_at = None

    def console(s: Session, user: str, password: str) -> object:
        return check_password(s, username=user, password=password, address="bench", now=now)

    def command_line(s: Session, user: str, password: str) -> object:
        return authenticate(
            s,
            username=user,
            password=password,
            code="000000",
            address="bench",
            now=now,
            second_factor=False,
        )

    checks: dict[str, Callable[[Session, str, str], object]] = {
        "console": console,
        "command line": command_line,
    }
    for where, check in checks.items():
        print(f"{where} ({args.rounds} rounds each, median / p95):")
        for label, (user, password) in CASES.items():
            samples = []
            for _ in range(args.rounds):
                with sessions() as s:
                    s.begin()
                    started = time.perf_counter()
                    check(s, user, password)
                    samples.append(time.perf_counter() - started)
                    s.rollback()
            ordered = sorted(samples)
            p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
            print(
                f"  {label:<15} {statistics.median(ordered) * 1000:6.1f} ms  {p95 * 1000:6.1f} ms"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
