"""A real browser (Debian's Chromium, driven by Playwright) against the console under uvicorn.

Sign in as a verifier (password, then setting up the authenticator app from the page and
entering its first code, computed here from the key the page shows), record a confirmed call,
sign out; sign
in as an approver, approve;
send the outbox to a real aiosmtpd sink and find the confirmation there. Then, with JavaScript
switched off, sign in and search the queue with its form. Screenshots of the
queue and of a request page go to test-output/screenshots/. Along the way: no script from an
e-mail runs, and the browser asks nothing of any server but ours.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from pcse_intake.config import ConsoleSettings, Settings, SmtpSettings
from pcse_intake.console.app import create_app
from pcse_intake.inbox_worker.outbox_job import send_outbox
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import Staff, utcnow
from pcse_intake.workflows.totp import code_at, time_step
from tests.conftest import CORPUS, TestDatabase
from tests.console.conftest import PASSWORD, Console
from tests.console.seed import EMAIL_CHANGE, add_practice, record
from tests.console.test_security import XSS_EMAIL
from tests.servers import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.smtp, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def served(app: object) -> Iterator[str]:
    """The app under uvicorn on a loopback port the OS picked; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Inherited by accepted connections. uvicorn sets it when it binds the socket itself (as
    # `pcse-intake serve` does) but not on a socket handed to it; without it every response
    # on a kept-alive connection stalls ~40 ms (Nagle against delayed ACKs).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def seed(database: TestDatabase) -> tuple[str, str]:
    """A realistic queue: twenty corpus e-mails over the past days, our request, a hostile one."""
    add_practice(database.sessions)
    now = utcnow()
    for number in range(1, 21):
        raw = (CORPUS / f"{number:03d}.eml").read_bytes()
        record(database.sessions, raw, now=now - timedelta(days=21 - number, hours=number))
    ref, _ = record(
        database.sessions, EMAIL_CHANGE.format(tag="browser"), now=now - timedelta(hours=5)
    )
    hostile, _ = record(database.sessions, XSS_EMAIL, now=now - timedelta(hours=1))
    assert ref is not None and hostile is not None
    return ref, hostile


def code_for(database: TestDatabase, username: str, key: str | None = None) -> str:
    """What the person's authenticator app shows now, or, if that code was used already (a
    second sign-in within 30 s), the next one: the console accepts one step either side."""
    with transaction(database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == username)).one()
        secret, last_step = key or staff.totp_secret, staff.totp_last_step
    assert secret is not None
    step = time_step(utcnow())
    if last_step is not None and last_step >= step:
        step = last_step + 1
    return code_at(secret, step)


def sign_in(page: Page, base: str, database: TestDatabase, username: str) -> None:
    """Password, then the second factor: set up the app at the first sign-in, else a code."""
    page.goto(f"{base}/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{base}/sign-in/*?next=**")
    if page.locator("h1").inner_text() == "Set up your account":
        # The QR code (inline SVG) is drawn under the console's strict CSP; the key under
        # "I cannot scan the QR code" is what the app would be given.
        assert page.locator("svg.segno").is_visible()
        page.click("text=I cannot scan the QR code")
        page.screenshot(path=str(SCREENSHOTS / "console-enrol.png"), full_page=True)
        key = page.locator("#secret").inner_text().replace(" ", "")
        page.fill("#code", code_for(database, username, key))
        page.click("button:has-text('Save and sign in')")
    else:
        page.fill("#code", code_for(database, username))
        page.click("form[action='/sign-in/code'] button")
    page.wait_for_url(f"{base}/")


def sign_out(page: Page) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_selector("text=You have signed out.")


def test_verify_then_approve_in_a_real_browser_and_the_confirmation_is_sent(
    console: Console,
) -> None:
    ref, hostile = seed(console.database)
    console.add_staff("vera.verifier", "verifier")
    console.add_staff("alex.approver", "approver")
    settings = dataclasses.replace(
        Settings(), console=ConsoleSettings(secure_cookies=False, second_factor="required")
    )
    app = create_app(settings, console.database.sessions)  # the real clock, as in production
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    dialogs: list[str] = []

    with served(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requested.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(f"{base}/")
        assert page.locator("h1").inner_text() == "Sign in to continue"
        sign_in(page, base, console.database, "vera.verifier")
        assert page.locator("h1").inner_text() == "Requests"
        page.screenshot(path=str(SCREENSHOTS / "console-queue.png"), full_page=True)

        page.click(f"a:has-text('{ref}')")
        page.wait_for_url(f"{base}/requests/{ref}")
        assert "+441134960000" in page.locator("#verification ~ .nhsuk-card").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "console-request.png"), full_page=True)
        page.check("#outcome-confirmed")
        page.fill("#notes", "Spoke to the practice manager on the number on record.")
        page.click("button:has-text('Record the call')")
        page.wait_for_selector("text=The call has been recorded.")
        assert "Verified" in page.locator(".nhsuk-tag").first.inner_text()
        # The verifier is offered no approval, whatever the page would allow an approver.
        assert page.locator("button:has-text('Approve')").count() == 0

        # A hostile e-mail's page: its script, links and tracker stay inert text.
        page.goto(f"{base}/requests/{hostile}")
        assert "alert(2)" in page.locator("pre.pcse-email").inner_text()
        sign_out(page)

        sign_in(page, base, console.database, "alex.approver")
        page.goto(f"{base}/requests/{ref}")
        page.fill("#approve-password", PASSWORD)  # asked again at every approval
        page.click("button:has-text('Approve and change the records')")
        page.wait_for_selector("text=The request has been approved.")
        assert "Completed" in page.locator(".nhsuk-tag").first.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "console-request-approved.png"), full_page=True)

        # Without JavaScript at all: sign in, filter and search the queue with the form.
        plain = browser.new_page(java_script_enabled=False)
        plain.on("request", lambda r: requested.append(r.url))
        sign_in(plain, base, console.database, "vera.verifier")
        plain.check("#state-completed")
        plain.fill("#q", ref)
        plain.click("button:has-text('Show requests')")
        plain.wait_for_selector("text=1 request, oldest first")
        assert plain.locator(f"a:has-text('{ref}')").count() == 1
        browser.close()

    assert dialogs == []  # no script from any e-mail ran
    assert requested and all(url.startswith(base) for url in requested), requested

    with SmtpSink() as sink:
        smtp = SmtpSettings(host=sink.host, port=sink.port, security="none")
        report = send_outbox(
            console.database.sessions,
            lambda: SmtpMailer(smtp),
            settings=dataclasses.replace(settings, smtp=smtp),
            now=utcnow,
        )
        assert report.failed == 0 and report.sent > 0
        confirmations = [
            m
            for m in sink.received
            if ref in str(m.message()["Subject"]) and "greenlane" in ",".join(m.rcpt_tos)
        ]
    subjects = [str(m.message()["Subject"]) for m in confirmations]
    assert any("received" not in s.lower() for s in subjects), (
        subjects
    )  # beyond the acknowledgement
