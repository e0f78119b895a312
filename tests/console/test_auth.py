"""Signing in and out: Argon2 passwords, the five-strikes lock, throttling, session lifetime."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import ConsoleSession, SignInAttempt, Staff
from tests.console.conftest import (
    BOTH_BACKENDS,
    PASSWORD,
    Console,
    csrf_of,
    post_sign_in,
    session_cookie,
)


def test_sign_in_then_the_queue_is_shown_with_the_name(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    page = console.client.get("/")
    assert page.status_code == 200
    assert "vera (verifier)" in page.text
    assert "Requests" in page.text


def test_pages_need_a_session_and_answer_401(console: Console) -> None:
    for path in ("/", "/triage", "/staff"):
        response = console.client.get(path)
        assert response.status_code == 401
        assert "Sign in to continue" in response.text


def test_wrong_password_is_refused_and_counted(console: Console) -> None:
    console.add_staff("vera", "verifier")
    response = post_sign_in(console.client, "vera", "Wrong-password-1!")
    assert response.status_code == 401
    assert "not correct" in response.text
    assert "pcse_session" not in response.cookies
    with transaction(console.database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == "vera")).one()
        assert staff.failed_logins == 1 and not staff.locked


@BOTH_BACKENDS
def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    statuses = [
        post_sign_in(console.client, "vera", f"Wrong-{i}-pass!").status_code for i in range(5)
    ]
    # The lock is not announced: that would tell an outsider the name is an account.
    assert statuses == [401, 401, 401, 401, 401]
    refused = post_sign_in(console.client, "vera", PASSWORD)
    unknown = post_sign_in(console.client, "nobody", PASSWORD)
    assert refused.status_code == unknown.status_code == 401
    assert "not correct, or the account cannot be used now" in refused.text
    with transaction(console.database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == "vera")).one()
        assert staff.locked and staff.failed_logins == 5


def test_a_right_password_resets_the_count_of_wrong_ones(console: Console) -> None:
    console.add_staff("vera", "verifier")
    for i in range(4):
        post_sign_in(console.client, "vera", f"Wrong-{i}-pass!")
    console.sign_in("vera")
    with transaction(console.database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == "vera")).one()
        assert staff.failed_logins == 0 and not staff.locked


def test_an_admin_unlocks_a_locked_account(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.add_staff("ada", "admin")
    for i in range(5):
        post_sign_in(console.client, "vera", f"Wrong-{i}-pass!")
    admin = console.sign_in("ada", client=console.new_client())
    response = admin.post("/staff/vera/unlock", data={"csrf_token": csrf_of(admin, "/staff")})
    assert response.status_code == 303
    assert post_sign_in(console.client, "vera", PASSWORD).status_code == 303


@BOTH_BACKENDS
def test_one_address_is_throttled_after_twenty_failures_across_accounts(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    for i in range(20):
        post_sign_in(console.client, f"nobody{i}", "Wrong-pass-1!")
    throttled = post_sign_in(console.client, "vera", PASSWORD)
    assert throttled.status_code == 429
    # The right password was not even checked, and the account was not touched.
    with transaction(console.database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == "vera")).one()
        assert staff.failed_logins == 0 and staff.last_login_at is None
        outcomes = session.scalars(select(SignInAttempt.outcome)).all()
    assert outcomes.count("unknown_user") == 20 and outcomes[-1] == "throttled"
    console.clock.advance(minutes=16)
    assert post_sign_in(console.client, "vera", PASSWORD).status_code == 303


def test_every_attempt_is_recorded_without_the_password(console: Console) -> None:
    console.add_staff("vera", "verifier")
    post_sign_in(console.client, "vera", "Wrong-pass-1!")
    console.sign_in("vera")
    with transaction(console.database.sessions) as session:
        rows = session.scalars(select(SignInAttempt).order_by(SignInAttempt.id)).all()
        assert [(r.username, r.outcome) for r in rows] == [
            ("vera", "wrong_password"),
            ("vera", "signed_in"),
        ]
        assert all("pass" not in (r.outcome + r.username).lower() for r in rows[1:])


def test_a_disabled_account_cannot_sign_in(console: Console) -> None:
    console.add_staff("vera", "verifier")
    with transaction(console.database.sessions) as session:
        session.scalars(select(Staff).where(Staff.username == "vera")).one().disabled = True
    assert post_sign_in(console.client, "vera", PASSWORD).status_code == 401


def test_sign_in_gives_a_new_session_id_each_time(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    first = console.client.cookies.get("pcse_session")
    console.sign_in("vera")
    second = console.client.cookies.get("pcse_session")
    assert first and second and first != second
    # The session the browser held before is over, not merely replaced in the jar.
    assert console.new_client().get("/", headers=session_cookie(first)).status_code == 401


def test_a_session_id_planted_before_sign_in_is_not_kept(console: Console) -> None:
    console.add_staff("vera", "verifier")
    planted = console.new_client()
    response = post_sign_in(planted, "vera", PASSWORD, headers=session_cookie("chosen-by-attacker"))
    assert response.status_code == 303
    assert response.cookies.get("pcse_session") not in (None, "chosen-by-attacker")


@BOTH_BACKENDS
def test_sign_out_ends_the_session_and_a_replayed_cookie_gets_401(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    cookie = console.client.cookies.get("pcse_session")
    response = console.client.post("/sign-out", data={"csrf_token": csrf_of(console.client)})
    assert response.status_code == 303
    assert console.new_client().get("/", headers=session_cookie(cookie)).status_code == 401


@BOTH_BACKENDS
def test_idle_timeout_ends_the_session(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    console.clock.advance(minutes=29)
    assert console.client.get("/").status_code == 200  # use keeps it alive
    console.clock.advance(minutes=31)
    assert console.client.get("/").status_code == 401
    with transaction(console.database.sessions) as session:
        assert session.scalars(select(ConsoleSession.end_reason)).all() == ["idle_timeout"]


def test_absolute_timeout_ends_a_busy_session(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    for _ in range(21):  # ten and a half hours of activity every half an hour
        console.clock.advance(minutes=29)
        last = console.client.get("/")
    assert last.status_code == 401


@BOTH_BACKENDS
def test_disabling_an_account_ends_its_live_session_at_once(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.add_staff("ada", "admin")
    console.sign_in("vera")
    assert console.client.get("/").status_code == 200
    admin = console.sign_in("ada", client=console.new_client())
    done = admin.post("/staff/vera/disable", data={"csrf_token": csrf_of(admin, "/staff")})
    assert done.status_code == 303
    assert console.client.get("/").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(console: Console, target: str) -> None:
    console.add_staff("vera", "verifier")
    response = post_sign_in(console.client, "vera", PASSWORD, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_sign_in_form_without_its_token_is_refused(console: Console) -> None:
    console.add_staff("vera", "verifier")
    console.client.get("/sign-in")
    response = console.client.post(
        "/sign-in", data={"username": "vera", "password": PASSWORD, "signin_token": "guess"}
    )
    assert response.status_code == 403


def test_the_database_holds_no_usable_session_token_and_logs_no_password(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    console.add_staff("vera", "verifier")
    with caplog.at_level(logging.DEBUG):
        post_sign_in(console.client, "vera", "Wrong-but-secret-1!")
        console.sign_in("vera")
    token = console.client.cookies.get("pcse_session")
    assert token
    with transaction(console.database.sessions) as session:
        stored = session.scalars(select(ConsoleSession)).one()
        assert stored.token_hash != token and token not in stored.token_hash
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Wrong-but-secret-1!" not in logged and PASSWORD not in logged and token not in logged


def test_after_sign_in_the_page_asked_for_comes_back(console: Console) -> None:
    console.add_staff("vera", "verifier")
    page = console.client.get("/triage?page=1")
    assert page.status_code == 401 and "/sign-in?next=/triage" in page.text
    response = post_sign_in(console.client, "vera", PASSWORD, next="/triage")
    assert response.headers["location"] == "/triage"
