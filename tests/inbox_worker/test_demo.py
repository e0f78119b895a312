"""`pcse-intake demo`: one command brings everything up, handles the samples, stops cleanly."""

from __future__ import annotations

import json
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
    assert "The second factor is on, as in production" in out
    assert f"pcse-intake demo credentials verifier1 --folder {folder} |" in out
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
        _the_guides_verify_and_approve_work(folder)
    finally:
        demo.send_signal(signal.SIGTERM)  # also when an assertion failed: never leave it running
        out, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err[-2000:]
    assert "demo stopped" in out


def _the_guides_verify_and_approve_work(folder: Path) -> None:
    """The commands the guide prints for a second terminal: each decision's password and
    code come from `demo credentials` through --credentials-stdin."""
    config = ["--config", str(folder / "config.toml")]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _state(folder, "PCSE-000005") != "awaiting_verification":
        time.sleep(0.5)
    decisions = [
        ("verifier1", ["verify", "PCSE-000005", "--by", "verifier1", "--outcome", "confirmed",
                       "--notes", "called the practice"]),
        ("approver1", ["approve", "PCSE-000005", "--by", "approver1"]),
    ]  # fmt: skip
    for name, args in decisions:
        credentials = _cli(folder, "demo", "credentials", name, "--folder", str(folder))
        assert credentials.returncode == 0, credentials.stderr
        assert len(credentials.stdout.splitlines()) == 2  # the password, then the code
        done = _cli(folder, *config, *args, "--credentials-stdin", input=credentials.stdout)
        assert done.returncode == 0, done.stderr
    assert _state(folder, "PCSE-000005") == "completed"
    wrong = _cli(
        folder, *config, "approve", "PCSE-000001", "--by", "approver1", "--credentials-stdin",
        input="Demo-wrong-password1!\n000000\n",
    )  # fmt: skip
    assert wrong.returncode == 1 and "not signed in" in wrong.stderr


def _state(folder: Path, ref: str) -> str | None:
    shown = _cli(folder, "--config", str(folder / "config.toml"), "requests", "show", ref, "--json")
    return json.loads(shown.stdout)["state"] if shown.returncode == 0 else None


def _cli(folder: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI_MAIN, *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=folder.parent,
        env={k: v for k, v in os.environ.items() if k != "PCSE_INTAKE_CONFIG"},
        timeout=120,
        check=False,
    )


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 599
