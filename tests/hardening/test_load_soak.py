"""Load soak, small (battery cases 9 and 14): bench/soak_bench.py's code paths on 300 messages.

Two worker processes poll one Dovecot INBOX into one PostgreSQL database while a feeder
appends, staff verify and approve or reject, and a sender delivers to an aiosmtpd sink.
"""

from __future__ import annotations

import pytest

from bench.soak_bench import describe, run_soak

MESSAGES = 300


@pytest.mark.dovecot
@pytest.mark.postgres
@pytest.mark.smtp
@pytest.mark.slow
def test_two_workers_staff_and_a_sender_at_once_keep_every_invariant(pg_url: str) -> None:
    report = run_soak(pg_url, messages=MESSAGES)
    print("\n" + "\n".join(describe(report)))  # noqa: T201 (the soak's figures)
    figures = report.figures
    assert figures.failures == []
    assert figures.recorded == MESSAGES and figures.processed + figures.quarantine == MESSAGES
    workers = [report.processes[name] for name in ("worker1", "worker2")]
    # Both polled the one mailbox; between them each message was recorded exactly once.
    assert all(w["polls"] > 0 for w in workers)
    assert sum(w["recorded"] for w in workers) == MESSAGES
    # The staff really did decide, and each decision's e-mails went out exactly once.
    assert figures.approvals > 0 and figures.rejections > 0
    assert figures.delivered == figures.outbox_rows and figures.delivered_twice == 0
