"""Test-only crash points: `PCSE_INTAKE_CRASH_AT=<name>` makes the process die there (SIGKILL).

The fault tests use it to kill a real worker between two steps (fetch / commit / move /
SMTP accept / mark sent) and check that a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "PCSE_INTAKE_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
