"""The second sign-in factor (TOTP): enrolment at the first sign-in (a key made for that
sign-in alone), codes, replay, the lock, half-way state, reset."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.config import ConfigError, settings_from_mapping
from pcse_intake.console.second_factor import CHALLENGE_MINUTES
from pcse_intake.console.security_headers import CONTENT_SECURITY_POLICY
from pcse_intake.console.signin import NOT_RECOGNISED_MESSAGE
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import HistoryEntry, SignInAttempt, Staff
from tests.conftest import TestDatabase
from tests.console.conftest import (
    BOTH_BACKENDS,
    PASSWORD,
    Console,
    csrf_of,
    make_console,
    post_sign_in,
    session_cookie,
)
from tests.console.seed import EMAIL_CHANGE, add_practice, record


@pytest.fixture
def console(database: TestDatabase) -> Iterator[Console]:
    """The console with the second factor on, as it ships."""
    made = make_console(database, second_factor="required")
    with made.client:
        yield made


def staff(console: Console, username: str) -> Staff:
    with transaction(console.database.sessions) as session:
        return session.scalars(select(Staff).where(Staff.username == username)).one()


def current_code(console: Console, username: str) -> str:
    """What the person's authenticator app shows at the console's time."""
    secret = staff(console, username).totp_secret
    assert secret is not None
    return pyotp.TOTP(secret).at(console.clock())


def form_token(client: TestClient, page: str = "/sign-in/code") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert match is not None
    return match.group(1)


def enter_code(client: TestClient, code: str, **extra: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/sign-in/code", data={"code": code, "csrf_token": form_token(client), **extra}
    )
    return response


def password(
    console: Console, username: str, client: TestClient | None = None, *, page: str = "code"
) -> TestClient:
    """The right password: half signed in, sent on to the code page (or the set-up page)."""
    client = client or console.client
    response = post_sign_in(client, username, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in/{page}?next=/"
    return client


def shown_key(client: TestClient) -> str:
    """The key the set-up page shows (what the person types into the app)."""
    match = re.search(r'id="secret">([A-Z2-7 ]+)<', client.get("/sign-in/set-up").text)
    assert match is not None
    return match.group(1).replace(" ", "")


def code_from(console: Console, key: str) -> str:
    return pyotp.TOTP(key).at(console.clock())


def set_up(client: TestClient, code: str, **fields: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/sign-in/set-up",
        data={"code": code, "csrf_token": form_token(client, "/sign-in/set-up"), **fields},
    )
    return response


def enrol(console: Console, username: str, client: TestClient | None = None) -> TestClient:
    """Password, set up the app from the key the page shows, confirm with its first code."""
    client = password(console, username, client, page="set-up")
    response = set_up(client, code_from(console, shown_key(client)))
    assert response.status_code == 303, response.text
    return client


def outcomes(console: Console, username: str) -> list[str]:
    with transaction(console.database.sessions) as session:
        return list(
            session.scalars(
                select(SignInAttempt.outcome)
                .where(SignInAttempt.username == username)
                .order_by(SignInAttempt.id)
            )
        )


@BOTH_BACKENDS
def test_a_right_password_alone_opens_no_page_and_asks_for_the_code(console: Console) -> None:
    console.add_staff("vera", "verifier")
    response = post_sign_in(console.client, "vera", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in/set-up")
    assert "pcse_session" not in response.cookies and "pcse_pending" in response.cookies
    assert console.client.get("/").status_code == 401
    assert outcomes(console, "vera") == ["password_accepted"]


@BOTH_BACKENDS
def test_enrolment_shows_the_key_in_fours_the_link_and_an_inline_qr_then_a_code_signs_in(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    password(console, "vera", page="set-up")
    page = console.client.get("/sign-in/set-up")
    assert page.status_code == 200 and "Set up your account" in page.text
    secret = shown_key(console.client)
    assert len(secret) == 32
    # The key belongs to this half-finished sign-in only, until its first code confirms it.
    assert staff(console, "vera").totp_secret is None
    grouped = " ".join(secret[i : i + 4] for i in range(0, 32, 4))
    assert grouped in page.text
    assert f"otpauth://totp/PCSE%20Intake:vera?secret={secret}" in page.text
    # The QR code is markup in the page: no image to fetch, no script, the CSP as strict.
    assert re.search(r"<svg [^>]*class=\"segno\"", page.text)
    assert "<script" not in page.text and " style=" not in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert (
        "script-src 'none'" in CONTENT_SECURITY_POLICY
        and "img-src 'self'" in CONTENT_SECURITY_POLICY
    )
    # Shown calmly in block boxes of their own: not red code, not over the text around it.
    assert '<p class="pcse-key" id="secret">' in page.text and "<code" not in page.text

    response = set_up(console.client, code_from(console, secret))
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert console.client.get("/").status_code == 200
    assert staff(console, "vera").totp_confirmed_at is not None
    assert staff(console, "vera").totp_secret == secret
    assert outcomes(console, "vera") == ["password_accepted", "set_up"]


def test_a_reload_keeps_the_key_but_each_new_sign_in_makes_a_new_one(console: Console) -> None:
    console.add_staff("vera", "verifier")
    password(console, "vera", page="set-up")
    first = shown_key(console.client)
    assert shown_key(console.client) == first  # reloading the page: the same key
    again = password(console, "vera", console.new_client(), page="set-up")
    second = shown_key(again)
    assert second != first
    # The abandoned sign-in is over, and its key is no use in the new one either.
    assert console.client.get("/sign-in/set-up").status_code == 401
    refused = set_up(again, code_from(console, first))
    assert refused.status_code == 401 and staff(console, "vera").totp_secret is None
    assert set_up(again, code_from(console, second)).status_code == 303


def test_once_enrolled_the_code_page_asks_for_a_code_and_shows_no_key(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    page = client.get("/sign-in/code")
    assert "Enter the code from your authenticator app" in page.text
    secret = staff(console, "vera").totp_secret
    assert secret is not None
    assert 'class="segno"' not in page.text and secret not in page.text
    response = enter_code(client, current_code(console, "vera"))
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert outcomes(console, "vera")[-1] == "signed_in"


def test_a_code_one_step_old_is_still_accepted(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=90)
    client = password(console, "vera", console.new_client())
    secret = staff(console, "vera").totp_secret
    assert secret is not None
    previous_step = pyotp.TOTP(secret).at(console.clock(), counter_offset=-1)
    assert enter_code(client, previous_step).status_code == 303


@BOTH_BACKENDS
def test_a_wrong_code_is_refused_and_counted(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    right = current_code(console, "vera")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = enter_code(client, wrong)
    assert response.status_code == 401 and "The code is not correct" in response.text
    assert client.get("/").status_code == 401
    assert staff(console, "vera").failed_logins == 1
    assert outcomes(console, "vera")[-1] == "wrong_code"


def test_an_empty_code_is_asked_for_again_without_counting(console: Console) -> None:
    console.add_staff("vera", "verifier")
    password(console, "vera", page="set-up")
    response = set_up(console.client, "  ")
    assert response.status_code == 422 and "Enter the 6-digit code" in response.text
    enrol(console, "vera", console.new_client())
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    response = enter_code(client, "  ")
    assert response.status_code == 422 and "Enter the 6-digit code" in response.text
    assert staff(console, "vera").failed_logins == 0


@BOTH_BACKENDS
def test_five_wrong_codes_lock_the_account_even_against_the_right_password(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    statuses = [enter_code(client, "000000").status_code for _ in range(4)]
    fifth = client.post("/sign-in/code", data={"code": "000000", "csrf_token": form_token(client)})
    assert statuses == [401, 401, 401, 401] and fifth.status_code == 403
    assert "now locked" in fifth.text
    locked = staff(console, "vera")
    assert locked.locked and locked.failed_logins == 5
    # From then on the password page says what it says to anyone: nothing about a lock.
    refused = post_sign_in(console.new_client(), "vera", PASSWORD)
    assert refused.status_code == 401 and NOT_RECOGNISED_MESSAGE in refused.text
    assert outcomes(console, "vera")[-2:] == ["now_locked", "locked"]


def test_wrong_passwords_and_wrong_codes_count_together_and_a_right_password_resets_nothing(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    for i in range(3):
        assert post_sign_in(console.new_client(), "vera", f"Wrong-{i}-pass!").status_code == 401
    client = password(console, "vera", console.new_client())
    assert staff(console, "vera").failed_logins == 3  # the password alone does not clear them
    assert enter_code(client, "000001").status_code == 401
    assert enter_code(client, "000002").status_code == 403
    assert staff(console, "vera").locked


def test_wrong_codes_count_towards_the_address_throttle_which_then_refuses_the_right_code(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    console.add_staff("val", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    for _ in range(4):  # four wrong codes (a fifth would lock vera instead)
        enter_code(client, "000000")
    for i in range(16):  # and sixteen wrong passwords: twenty failures from this address
        post_sign_in(console.new_client(), f"nobody{i}", "Wrong-pass-1!")
    throttled = enter_code(client, current_code(console, "vera"))
    assert throttled.status_code == 429 and "too many failed sign-ins" in throttled.text
    assert client.get("/").status_code == 401
    assert outcomes(console, "vera")[-1] == "throttled"
    assert post_sign_in(console.new_client(), "val", PASSWORD).status_code == 429


def test_a_right_code_clears_the_count_of_wrong_ones(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    enter_code(client, "000000")
    assert enter_code(client, current_code(console, "vera")).status_code == 303
    assert staff(console, "vera").failed_logins == 0


@BOTH_BACKENDS
def test_a_code_once_used_is_refused_again_and_counted(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    used = current_code(console, "vera")
    console.clock.advance(seconds=20)  # a step either side is allowed: the same code is valid
    client = password(console, "vera", console.new_client())
    response = enter_code(client, used)
    assert response.status_code == 401 and "already been used" in response.text
    assert client.get("/").status_code == 401
    assert staff(console, "vera").failed_logins == 1
    assert outcomes(console, "vera")[-1] == "replayed_code"


@BOTH_BACKENDS
def test_half_signed_in_reaches_no_page_but_the_code_page(console: Console) -> None:
    add_practice(console.database.sessions)
    ref, _ = record(console.database.sessions, EMAIL_CHANGE.format(tag="mfa"), now=console.clock())
    assert ref is not None
    console.add_staff("ada", "admin")
    console.add_staff("vera", "verifier")
    enrol(console, "ada")
    console.clock.advance(seconds=60)
    client = password(console, "ada", console.new_client())
    pending = client.cookies.get("pcse_pending")
    assert pending
    for path in ("/", f"/requests/{ref}", "/triage", "/staff"):
        assert client.get(path).status_code == 401, path
    token = form_token(client)
    for path in ("/staff/vera/disable", "/sign-out", f"/requests/{ref}/calls"):
        assert client.post(path, data={"csrf_token": token}).status_code == 401, path
    # Nor is the half-way token any use as a session cookie.
    assert console.new_client().get("/", headers=session_cookie(pending)).status_code == 401
    assert not staff(console, "vera").disabled
    assert client.get("/sign-in/code").status_code == 200


def test_signing_in_fully_gives_a_new_session_id_not_the_half_way_one(console: Console) -> None:
    console.add_staff("vera", "verifier")
    client = password(console, "vera", page="set-up")
    pending = client.cookies.get("pcse_pending")
    response = set_up(client, code_from(console, shown_key(client)))
    session_id = response.cookies.get("pcse_session")
    assert session_id and session_id != pending
    # The half-way token is spent: it cannot be used to enter another code.
    replay = console.new_client()
    replay.cookies.set("pcse_pending", pending or "")
    assert replay.get("/sign-in/code").status_code == 401
    assert replay.get("/sign-in/set-up").status_code == 401


@BOTH_BACKENDS
def test_the_half_signed_in_state_expires(console: Console) -> None:
    console.add_staff("vera", "verifier")
    enrol(console, "vera")
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    token = form_token(client)
    console.clock.advance(minutes=CHALLENGE_MINUTES, seconds=1)
    response = client.post(
        "/sign-in/code", data={"code": current_code(console, "vera"), "csrf_token": token}
    )
    assert response.status_code == 401 and "took too long" in response.text
    assert client.get("/").status_code == 401
    assert outcomes(console, "vera")[-1] == "code_too_late"
    page = client.get("/sign-in/code")
    assert page.status_code == 401 and "Sign in" in page.text


def test_a_code_form_without_its_token_is_refused(console: Console) -> None:
    console.add_staff("vera", "verifier")
    client = password(console, "vera", page="set-up")
    key = shown_key(client)
    response = client.post("/sign-in/set-up", data={"code": code_from(console, key)})
    assert response.status_code == 403
    assert client.get("/").status_code == 401
    enrol(console, "vera", console.new_client())
    console.clock.advance(seconds=60)
    client = password(console, "vera", console.new_client())
    response = client.post("/sign-in/code", data={"code": current_code(console, "vera")})
    assert response.status_code == 403
    assert client.get("/").status_code == 401


@BOTH_BACKENDS
def test_an_admin_reset_ends_sessions_is_audited_and_forces_enrolment_again(
    console: Console,
) -> None:
    console.add_staff("ada", "admin")
    console.add_staff("vera", "verifier")
    vera = enrol(console, "vera", console.new_client())
    old_secret = staff(console, "vera").totp_secret
    ada = enrol(console, "ada")
    page = ada.get("/staff")
    assert "Reset second factor" in page.text and "Authenticator app set up" in page.text
    response = ada.post(
        "/staff/vera/reset-second-factor", data={"csrf_token": csrf_of(ada, "/staff")}
    )
    assert response.status_code == 303
    assert "second_factor_reset" in response.headers["location"]
    assert vera.get("/").status_code == 401  # her session ended with the reset
    reset = staff(console, "vera")
    assert reset.totp_secret is None and reset.totp_confirmed_at is None
    with transaction(console.database.sessions) as session:
        entry = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "staff_second_factor_reset")
        ).one()
        assert entry.actor == "ada"
    console.clock.advance(seconds=60)
    again = password(console, "vera", console.new_client(), page="set-up")
    page = again.get("/sign-in/set-up").text
    assert "Set up your authenticator app" in page and "Choose your own password" not in page
    assert shown_key(again) != old_secret


def test_an_admin_cannot_reset_their_own_second_factor(console: Console) -> None:
    console.add_staff("ada", "admin")
    ada = enrol(console, "ada")
    response = ada.post(
        "/staff/ada/reset-second-factor", data={"csrf_token": csrf_of(ada, "/staff")}
    )
    assert response.status_code == 409 and "another administrator" in response.text
    assert staff(console, "ada").totp_confirmed_at is not None


def test_a_reset_needs_the_form_token_and_an_admin(console: Console) -> None:
    console.add_staff("ada", "admin")
    console.add_staff("vera", "verifier")
    console.add_staff("val", "verifier")
    enrol(console, "ada", console.new_client())
    val = enrol(console, "val", console.new_client())
    vera = enrol(console, "vera")
    forged = vera.post("/staff/val/reset-second-factor", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    by_role = vera.post("/staff/ada/reset-second-factor", data={"csrf_token": csrf_of(vera)})
    assert by_role.status_code == 403 and "does not allow" in by_role.text
    assert staff(console, "ada").totp_confirmed_at is not None
    assert staff(console, "val").totp_confirmed_at is not None
    assert val.get("/").status_code == 200


def test_resetting_an_account_with_no_app_set_up_changes_nothing(console: Console) -> None:
    console.add_staff("ada", "admin")
    console.add_staff("vera", "verifier")
    ada = enrol(console, "ada")
    response = ada.post(
        "/staff/vera/reset-second-factor", data={"csrf_token": csrf_of(ada, "/staff")}
    )
    assert response.status_code == 303
    with transaction(console.database.sessions) as session:
        actions = session.scalars(select(HistoryEntry.action)).all()
    assert "staff_second_factor_reset" not in actions


def test_attempts_are_recorded_and_logged_without_the_code_or_the_key(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    console.add_staff("vera", "verifier")
    with caplog.at_level(logging.DEBUG):
        client = password(console, "vera", page="set-up")
        secret = shown_key(client)
        right = code_from(console, secret)
        wrong = f"{(int(right) + 7) % 1_000_000:06d}"
        set_up(client, wrong)
        set_up(client, right)
    assert outcomes(console, "vera") == ["password_accepted", "wrong_code", "set_up"]
    lines = [r.getMessage() for r in caplog.records if "sign-in" in r.getMessage()]
    assert any("wrong_code" in line and "vera" in line for line in lines)
    logged = " ".join(r.getMessage() for r in caplog.records)
    for private in (right, wrong, secret, PASSWORD):
        assert private not in logged
    with transaction(console.database.sessions) as session:
        rows = session.scalars(select(SignInAttempt)).all()
        stored = " ".join(f"{r.username} {r.address} {r.outcome}" for r in rows)
    assert right not in stored and wrong not in stored


def test_with_the_second_factor_off_the_password_alone_signs_in(database: TestDatabase) -> None:
    made = make_console(database, second_factor="off")
    with made.client:
        made.add_staff("vera", "verifier")
        made.sign_in("vera")
        assert made.client.get("/").status_code == 200
        assert outcomes(made, "vera") == ["signed_in"]


def test_the_setting_accepts_only_required_or_off() -> None:
    assert settings_from_mapping({}).console.second_factor == "required"
    with pytest.raises(ConfigError, match="second_factor"):
        settings_from_mapping({"console": {"second_factor": "sometimes"}})
