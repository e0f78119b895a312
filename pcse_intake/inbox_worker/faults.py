"""Test-only crash points: `PCSE_INTAKE_CRASH_AT=<name>[@N]` makes the process die there (SIGKILL).

The fault tests use it to kill a real worker between two steps (fetch / commit / move /
claim / SMTP accept / mark sent) and check that a restart loses nothing and repeats nothing.
`name@N` dies on the N-th arrival at that point instead of the first, so a crash soak can
let a worker make some progress before it is killed.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "PCSE_INTAKE_CRASH_AT"

# Every point the ingest and send paths pass, in the order one message meets them.
CRASH_POINTS: tuple[str, ...] = (
    "after_fetch",  # a batch fetched, before its message is recorded (inside the transaction)
    "after_commit",  # the batch committed, nothing moved yet
    "after_move",  # a batch moved to its folder
    "after_claim",  # an outbox row claimed (`sending`), nothing handed to SMTP yet
    "after_smtp_accept",  # the relay said 250, the row is not yet marked sent
)

_arrivals: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _arrivals[name] = _arrivals.get(name, 0) + 1
    if _arrivals[name] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
