"""Browser protections: CSRF on every POST, headers on every response, cookies, inert e-mail."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.console.security_headers import CONTENT_SECURITY_POLICY
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import Request, Staff
from tests.conftest import TestDatabase
from tests.console.conftest import (
    BOTH_BACKENDS,
    PASSWORD,
    Console,
    csrf_of,
    make_console,
    post_sign_in,
)
from tests.console.seed import add_practice, email_change, record


@pytest.fixture
def signed_in(console: Console) -> Console:
    add_practice(console.database.sessions)
    console.add_staff("alex", "approver")
    console.add_staff("ada", "admin")
    console.sign_in("alex")
    return console


POSTS = [
    "/sign-out",
    "/requests/PCSE-000001/calls",
    "/requests/PCSE-000001/approve",
    "/requests/PCSE-000001/reject",
    "/requests/PCSE-000001/corrections",
    "/triage/1/dismiss",
    "/triage/1/make-request",
    "/triage/1/reprocess",
    "/staff",
    "/staff/alex/role",
    "/staff/alex/disable",
    "/staff/alex/unlock",
]


@pytest.mark.parametrize("path", POSTS)
def test_every_post_without_the_csrf_token_is_403(signed_in: Console, path: str) -> None:
    email_change(signed_in.database.sessions, now=signed_in.clock())
    response = signed_in.client.post(path, data={"version": "1", "reason": "x", "note": "x"})
    assert response.status_code == 403
    # ...and the session still works: nothing was signed out or changed.
    assert signed_in.client.get("/").status_code == 200


@BOTH_BACKENDS
def test_a_wrong_or_foreign_csrf_token_is_403(signed_in: Console) -> None:
    ref = email_change(signed_in.database.sessions, now=signed_in.clock())
    other = signed_in.sign_in("ada", client=signed_in.new_client())
    foreign = csrf_of(other)
    for token in ("", "guess", foreign):
        response = signed_in.client.post(
            f"/requests/{ref}/reject", data={"csrf_token": token, "version": "1", "reason": "x"}
        )
        assert response.status_code == 403
    with transaction(signed_in.database.sessions) as session:
        assert session.scalars(select(Request.state)).one() == "awaiting_verification"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ],
)
def test_a_cross_site_post_is_403_even_with_the_token(
    signed_in: Console, headers: dict[str, str]
) -> None:
    ref = email_change(signed_in.database.sessions, now=signed_in.clock())
    token = csrf_of(signed_in.client)
    response = signed_in.client.post(
        f"/requests/{ref}/reject",
        data={"csrf_token": token, "version": "1", "reason": "forged"},
        headers=headers,
    )
    assert response.status_code == 403
    with transaction(signed_in.database.sessions) as session:
        assert session.scalars(select(Request.state)).one() == "awaiting_verification"


def test_a_same_origin_post_with_the_token_passes_the_checks(signed_in: Console) -> None:
    response = signed_in.client.post(
        "/sign-out",
        data={"csrf_token": csrf_of(signed_in.client)},
        headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "path",
    ["/", "/sign-in", "/staff", "/no-such-page", "/static/console.css", "/requests/x/approve"],
)
def test_security_headers_are_on_every_response(signed_in: Console, path: str) -> None:
    response = signed_in.client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def test_pages_with_personal_data_are_never_cached(signed_in: Console) -> None:
    assert signed_in.client.get("/").headers["cache-control"] == "no-store"


def test_cookies_are_host_only_secure_httponly_lax(database: TestDatabase) -> None:
    made = make_console(database, secure_cookies=True)
    made.add_staff("alex", "approver")
    client = TestClient(made.client.app, base_url="https://testserver", follow_redirects=False)
    form = client.get("/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token is not None
    signin_cookie = form.headers["set-cookie"]
    assert signin_cookie.startswith("__Host-pcse_signin=")
    response = client.post(
        "/sign-in",
        data={"username": "alex", "password": PASSWORD, "signin_token": token.group(1)},
    )
    assert response.status_code == 303
    session_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-pcse_session=")
    )
    attributes = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert client.get("/").status_code == 200


def test_insecure_cookies_only_when_configured_off(signed_in: Console) -> None:
    fresh = signed_in.new_client()
    response = post_sign_in(fresh, "alex", PASSWORD)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("pcse_session=")
    )
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


@BOTH_BACKENDS
@pytest.mark.parametrize("path", ["/staff"])
@pytest.mark.parametrize("role", ["verifier", "approver"])
def test_staff_admin_is_for_admins_only(console: Console, path: str, role: str) -> None:
    console.add_staff("someone", role)
    console.add_staff("ada", "admin")
    client = console.sign_in("someone")
    assert client.get(path).status_code == 403
    token = csrf_of(client)
    for target, data in [
        ("/staff", {"username": "mallory", "role": "admin", "password": PASSWORD}),
        ("/staff/someone/role", {"role": "admin"}),
        ("/staff/ada/disable", {}),
        ("/staff/ada/unlock", {}),
    ]:
        assert client.post(target, data={"csrf_token": token, **data}).status_code == 403
    with transaction(console.database.sessions) as session:
        roles = dict(session.execute(select(Staff.username, Staff.role)).all())
        disabled = session.scalars(select(Staff.disabled)).all()
    assert roles == {"someone": role, "ada": "admin"} and not any(disabled)


XSS_EMAIL = """\
From: =?utf-8?q?Evil=E2=80=AE_Surgery?= <greenlane.surgery@nhs.net>
To: pcse.datamanager@nhs.net
Subject: =?utf-8?q?Update_practice_email_address_<script>alert(1)</script>=E2=80=8B?=
Message-ID: <xss@nhs.net>
Date: Mon, 23 Nov 2026 08:00:00 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body>
<p>Please update our practice email address.</p>
<p>Practice name: Greenlane &lt;script&gt;alert(2)&lt;/script&gt; Surgery</p>
<p>ODS code: A12345</p>
<p>Current email: greenlane.surgery@nhs.net</p>
<p>New email: greenlane.admin@nhs.net</p>
<p><a href="javascript:alert(3)">javascript:alert(3)</a> <img src="http://tracker.example/p.gif">
<svg onload="alert(4)"></svg> &lt;img src=x onerror=alert(5)&gt; gnp\u202e.exe zero\u200bwidth</p>
</body></html>
"""


@BOTH_BACKENDS
def test_hostile_email_content_renders_as_inert_text(signed_in: Console) -> None:
    ref, _ = record(signed_in.database.sessions, XSS_EMAIL, now=signed_in.clock())
    assert ref is not None
    for path in ("/", f"/requests/{ref}", "/triage"):
        text = signed_in.client.get(path).text
        assert "<script" not in text.lower()
        assert "<img src=x" not in text.lower() and "tracker.example" not in text
        assert "onload=" not in text and 'href="javascript:' not in text
        assert "\u202e" not in text and "\u200b" not in text
    page = signed_in.client.get(f"/requests/{ref}").text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page  # shown, escaped
    assert "&lt;img src=x onerror=alert(5)&gt;" in page
    assert "[U+202E]" in page and "[U+200B]" in page  # the hidden characters made visible
    assert "Hidden characters" in page


def test_hostile_message_in_triage_renders_as_inert_text(signed_in: Console) -> None:
    raw = XSS_EMAIL.replace("Please update our practice email address.", "Do you sell gloves?")
    raw = "\n".join(
        line for line in raw.splitlines() if "ODS code" not in line and "email:" not in line
    )
    ref, message_id = record(signed_in.database.sessions, raw + "\n", now=signed_in.clock())
    assert ref is None
    page = signed_in.client.get(f"/triage/{message_id}").text
    assert "<script" not in page.lower() and "\u202e" not in page
    assert "[U+202E]" in page


def test_refusals_are_logged_as_possible_bypass_attempts(
    signed_in: Console, caplog: pytest.LogCaptureFixture
) -> None:
    signed_in.add_staff("vera", "verifier")
    vera = signed_in.sign_in("vera", client=signed_in.new_client())
    token = csrf_of(vera)
    with caplog.at_level(logging.WARNING, logger="pcse_intake.console.security"):
        vera.post("/staff/alex/disable", data={"csrf_token": token})
        vera.post("/staff/alex/disable", data={"csrf_token": "forged"})
    lines = [r.getMessage() for r in caplog.records if r.name == "pcse_intake.console.security"]
    assert any("refused by role user='vera'" in line for line in lines)
    assert any("refused forged or stale form user='vera'" in line for line in lines)


GET_NOT_ALLOWED = [p for p in POSTS if p != "/staff"] + ["/staff/alex/enable"]


@pytest.mark.parametrize("path", GET_NOT_ALLOWED)
def test_no_action_answers_a_get(signed_in: Console, path: str) -> None:
    email_change(signed_in.database.sessions, now=signed_in.clock())
    assert signed_in.client.get(path).status_code == 405
    with transaction(signed_in.database.sessions) as session:
        assert session.scalars(select(Request.state)).one() == "awaiting_verification"
    assert signed_in.client.get("/").status_code == 200  # still signed in


def test_a_post_without_a_session_is_401_and_changes_nothing(signed_in: Console) -> None:
    ref = email_change(signed_in.database.sessions, now=signed_in.clock())
    stranger = signed_in.new_client()
    response = stranger.post(f"/requests/{ref}/reject", data={"version": "1", "reason": "x"})
    assert response.status_code == 401
    with transaction(signed_in.database.sessions) as session:
        assert session.scalars(select(Request.state)).one() == "awaiting_verification"


def test_an_oversized_field_is_refused_whole(signed_in: Console) -> None:
    ref = email_change(signed_in.database.sessions, now=signed_in.clock())
    response = signed_in.client.post(
        f"/requests/{ref}/reject",
        data={"csrf_token": csrf_of(signed_in.client), "version": "1", "reason": "x" * 5000},
    )
    assert response.status_code == 400
    with transaction(signed_in.database.sessions) as session:
        assert session.scalars(select(Request.state)).one() == "awaiting_verification"


def test_a_username_cannot_forge_a_log_line(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    logger = "pcse_intake.workflows.authentication"
    with caplog.at_level(logging.INFO, logger=logger):
        post_sign_in(console.client, "x\n2026-01-01 INFO sign-in signed_in user='ada'", "p")
    lines = [r.getMessage() for r in caplog.records if r.name == logger]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("sign-in unknown_user")
