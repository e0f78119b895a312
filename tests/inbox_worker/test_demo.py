"""`pcse-intake demo`: one command brings everything up, handles the samples, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.models import OutboxMessage
from tests.inbox_worker.support import CLI_MAIN, counts

pytestmark = [pytest.mark.imap, pytest.mark.smtp, pytest.mark.slow]


def _demo(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI_MAIN, "demo", "--folder", str(folder), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder.parent,
        env={k: v for k, v in os.environ.items() if k != "PCSE_INTAKE_CONFIG"},
    )


def test_the_demo_runs_for_the_time_given_records_the_samples_and_replies(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo-data"
    demo = _demo(folder, "--for", "12", "--console-port", "0")
    try:
        out, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:  # it did not stop by itself: do not leave it behind
            demo.terminate()
            demo.communicate(timeout=60)
    assert demo.returncode == 0, err[-2000:]
    assert "pcse-intake demo is running" in out and "demo stopped" in out
    assert f"pcse-intake --config {folder / 'config.toml'} approve PCSE-000005" in out
    assert "verifier1" in out and "approver1" in out
    assert "second factor off in the demo; on by default" in out
    sessions = make_sessionmaker(make_engine(f"sqlite:///{folder / 'pcse-intake.db'}"))
    messages, requests, outbox = counts(sessions)
    assert messages == 40 and requests > 20 and outbox > 20
    with sessions() as session:
        marked_sent = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )
    sent = sorted((folder / "sent-mail").glob("*.eml"))
    # The daemon's outbox job sent replies to the sink, each marked sent exactly when kept.
    assert marked_sent and len(sent) == marked_sent


def test_the_demo_serves_the_console_and_health_then_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo-data"
    demo = _demo(folder, "--console-port", "0")
    try:
        assert demo.stdout is not None
        guide = []
        for line in demo.stdout:  # the guide is printed (and flushed) once everything is up
            guide.append(line)
            if "health / metrics" in line:
                break
        text = "".join(guide)
        console = re.search(r"staff console\s+(http://127.0.0.1:\d+/)", text)
        health = re.search(r"(http://127.0.0.1:\d+)/healthz", text)
        assert console and health, text
        assert _status(console.group(1)) < 500  # the console answers (a sign-in page or 401)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _status(health.group(1) + "/healthz") != 200:
            time.sleep(0.3)
        assert _status(health.group(1) + "/healthz") == 200
    finally:
        demo.send_signal(signal.SIGTERM)  # also when an assertion failed: never leave it running
        out, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err[-2000:]
    assert "demo stopped" in out


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 599
