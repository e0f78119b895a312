"""Attacks on who decides: a fraudster on the staff (or holding a colleague's password) tries
to push an e-mail change through alone, on the command line and in the console.

Every test goes through the real entry points (click's runner, HTTP to the console) and ends
with `world.held()`: the registry is unchanged and nothing was sent to the fraudster.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.config import ConfigError, settings_from_mapping
from pcse_intake.inbox_worker.cli.credentials import cli_address
from pcse_intake.workflows import staff as staff_accounts
from pcse_intake.workflows import totp
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import SignInAttempt, Staff, StaffRole
from pcse_intake.workflows.staff import create_staff
from tests.attacks.conftest import BOTH_BACKENDS, REF, World, submit_code, verify_args
from tests.console.conftest import csrf_of, make_console, post_sign_in
from tests.staff_support import PASSWORD


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both backends with @BOTH_BACKENDS."""
    backend = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    return url


NEW_PASSWORD = "Mine-Alone-2026!"
NOT_SIGNED_IN = "not signed in: the staff name or password is not correct"


def staff_post(client: TestClient, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client, "/staff"), **form})


def half(response: Any) -> str:
    match = re.search(r'id="password-half">([A-Z0-9]+)<', response.text)
    assert match is not None, response.text
    return match.group(1)


def claim(world: World, username: str, one_time: str) -> str:
    """The first sign-in with a one-time password: a new password and the app's key, whoever
    does it. Returns the key."""
    client = world.browser()
    response = post_sign_in(client, username, one_time)
    assert response.headers["location"].startswith("/sign-in/set-up"), response.text
    page = client.get("/sign-in/set-up").text
    found = re.search(r'id="secret">([A-Z2-7 ]+)<', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None and token is not None
    key = found.group(1).replace(" ", "")
    done = client.post(
        "/sign-in/set-up",
        data={
            "csrf_token": token.group(1),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "code": totp.code_at(key, totp.time_step(world.console.clock())),
        },
    )
    assert done.status_code == 303, done.text
    return key


def two_admin_account(world: World, username: str, role: str) -> tuple[str, str]:
    """ada asks for an account, bea confirms it: the two halves of its one-time password."""
    ada, bea = world.sign_in("ada"), world.sign_in("bea")
    first = half(staff_post(ada, "/staff", username=username, role=role))
    second = half(staff_post(bea, f"/staff/{username}/confirm"))
    return first, second


# --- The command line: --by is a claim until the password and code prove it ---------------


@BOTH_BACKENDS
def test_one_shell_user_cannot_approve_by_naming_a_colleague(world: World) -> None:
    verified = world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    assert verified.exit_code == 0, verified.output
    # appy knows her own password and code, not adam's: naming adam proves nothing.
    forged = world.decide("approve", REF, "--by", "adam", stdin=world.creds("appy"))
    assert forged.exit_code == 1 and NOT_SIGNED_IN in forged.stderr
    assert world.account("adam").failed_logins == 1  # counted, as in the console
    world.held()


def test_without_credentials_no_decision_is_made(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    for stdin in ("", "\n\n", f"{world.passwords['adam']}\n"):
        refused = world.decide("approve", REF, "--by", "adam", stdin=stdin)
        assert refused.exit_code == 1, refused.output
    # Asked on the terminal: nothing typed is no sign-in either.
    assert world.run("approve", REF, "--by", "adam", input="").exit_code == 1
    world.held()


def test_a_right_password_with_a_wrong_code_is_refused_and_counted(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    right = world.staff.code("adam")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    adams = world.passwords["adam"]
    refused = world.decide("approve", REF, "--by", "adam", stdin=f"{adams}\n{wrong}\n")
    assert refused.exit_code == 1 and "code is not correct" in refused.stderr
    assert world.account("adam").failed_logins == 1
    world.held()


@BOTH_BACKENDS
def test_guessing_on_the_command_line_locks_the_account_as_the_console_does(
    world: World,
) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    for i in range(5):
        guess = world.decide("approve", REF, "--by", "adam", stdin=f"Guess-{i}-pass!\n000000\n")
        assert guess.exit_code == 1
    assert world.account("adam").locked
    # The right password and code are no use now, here or in the console.
    late = world.decide("approve", REF, "--by", "adam", stdin=world.creds("adam"))
    assert late.exit_code == 1 and NOT_SIGNED_IN in late.stderr
    assert post_sign_in(world.browser(), "adam", world.passwords["adam"]).status_code == 401
    with transaction(world.database.sessions) as session:
        addresses = set(session.scalars(select(SignInAttempt.address)).all())
    assert addresses == {cli_address(), "testclient"}  # who at the shell tried
    world.held()


def test_a_used_code_is_refused_the_second_time(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    seen = world.creds("adam")
    rejected = world.decide("reject", REF, "--by", "adam", "--reason", "x", stdin=seen)
    assert rejected.exit_code == 0  # adam's own decision, with his code...
    # ...which someone watching his screen then replays within the same 30 seconds.
    replay = world.decide("approve", REF, "--by", "adam", stdin=seen)
    assert replay.exit_code == 1 and "used already" in replay.stderr
    world.held()


def test_a_code_seen_in_the_console_cannot_be_replayed_on_the_command_line(
    world: World,
) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    world.console.clock.advance(seconds=30)
    client = world.browser()
    adams = world.passwords["adam"]
    post_sign_in(client, "adam", adams)
    code = world.staff.code("adam")
    assert submit_code(client, code).status_code == 303
    # A phished password and the code read over adam's shoulder, used straight away.
    replay = world.decide("approve", REF, "--by", "adam", stdin=f"{adams}\n{code}\n")
    assert replay.exit_code == 1 and "used already" in replay.stderr
    world.held()


def test_guesses_from_one_shell_account_are_throttled_across_staff_names(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    for i in range(20):
        world.decide("approve", REF, "--by", f"nobody{i}", stdin="Guess-pass-1!\n000000\n")
    throttled = world.decide("approve", REF, "--by", "adam", stdin=world.creds("adam"))
    assert throttled.exit_code == 1 and "too many failed sign-ins" in throttled.stderr
    assert world.account("adam").failed_logins == 0  # refused unchecked: no account touched
    world.held()


def test_an_account_not_yet_set_up_cannot_decide_with_its_one_time_password(
    world: World,
) -> None:
    with transaction(world.database.sessions) as session:
        create_staff(
            session,
            username="newbie",
            role=StaffRole.APPROVER,
            password="Given-Once-2026!",
            now=world.console.clock(),
        )
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    refused = world.decide("approve", REF, "--by", "newbie", stdin="Given-Once-2026!\n000000\n")
    assert refused.exit_code == 1 and "has not set up the account" in refused.stderr
    world.held()


# --- The first sign-in: a key made for that sign-in alone ----------------------------------


@BOTH_BACKENDS
def test_a_key_read_during_an_unfinished_first_sign_in_is_useless(world: World) -> None:
    one_time = "Given-Once-2026!"
    with transaction(world.database.sessions) as session:
        create_staff(
            session,
            username="owen",
            role=StaffRole.APPROVER,
            password=one_time,
            now=world.console.clock(),
        )
    # Someone who knows the one-time password reads the key, and walks away.
    snoop = world.browser()
    post_sign_in(snoop, "owen", one_time)
    stolen = re.search(r'id="secret">([A-Z2-7 ]+)<', snoop.get("/sign-in/set-up").text)
    assert stolen is not None
    stolen_key = stolen.group(1).replace(" ", "")
    # The owner's first sign-in: a key of their own, and a password of their own.
    world.console.clock.advance(seconds=30)
    own_key = claim(world, "owen", one_time)
    assert own_key != stolen_key and world.account("owen").totp_secret == own_key
    # The snoop's half-finished sign-in is over; the one-time password is spent.
    assert snoop.get("/sign-in/set-up").status_code == 401
    assert post_sign_in(world.browser(), "owen", one_time).status_code == 401
    # Even with the owner's new password (phished later), the stolen key gives wrong codes.
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    world.console.clock.advance(seconds=30)
    code = totp.code_at(stolen_key, totp.time_step(world.console.clock()))
    refused = world.decide("approve", REF, "--by", "owen", stdin=f"{NEW_PASSWORD}\n{code}\n")
    assert refused.exit_code == 1 and "code is not correct" in refused.stderr
    client = world.browser()
    post_sign_in(client, "owen", NEW_PASSWORD)
    assert submit_code(client, code).status_code == 401
    world.held()


# --- Two admins, and the lineage four eyes consults -----------------------------------------


def test_an_admin_alone_cannot_make_an_account_nor_sign_in_as_one(world: World) -> None:
    ada = world.sign_in("ada")
    first = half(staff_post(ada, "/staff", username="adam2", role="approver"))
    assert post_sign_in(world.browser(), "adam2", first).status_code == 401
    refused = staff_post(ada, "/staff/adam2/confirm")
    assert refused.status_code == 409 and "another administrator must confirm" in refused.text
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    assert world.decide("approve", REF, "--by", "adam2", stdin=f"{first}\n000000\n").exit_code == 1
    assert world.account("adam2").activated_at is None
    world.held()


@BOTH_BACKENDS
def test_an_admin_cannot_approve_through_an_account_they_asked_for(world: World) -> None:
    first, second = two_admin_account(world, "adam2", "approver")
    # Suppose ada learns the second half too (she stands beside the new starter), and
    # signs in as the new account before its owner does.
    claim(world, "adam2", first + second)
    verified = world.decide(*verify_args("ada"), stdin=world.creds("ada"))
    assert verified.exit_code == 0, verified.output  # an admin may record a call
    refused = world.decide(
        "approve", REF, "--by", "adam2", stdin=world.staff.stdin("adam2", NEW_PASSWORD)
    )
    assert refused.exit_code == 1
    assert "made or changed the other's account" in refused.stderr
    world.held()


def test_nor_through_an_account_they_made_once_they_are_an_approver_themselves(
    world: World,
) -> None:
    first, second = two_admin_account(world, "xavi", "verifier")
    claim(world, "xavi", first + second)
    xavi = world.staff.stdin("xavi", NEW_PASSWORD)
    assert world.decide(*verify_args("xavi"), stdin=xavi).exit_code == 0
    # ada becomes an approver: bea asks, a third admin confirms.
    world.add("cara", "admin")
    bea, cara = world.sign_in("bea"), world.sign_in("cara")
    staff_post(bea, "/staff/ada/role", role="approver")
    assert staff_post(cara, "/staff/ada/confirm").status_code == 303
    assert world.account("ada").role == "approver"
    refused = world.decide("approve", REF, "--by", "ada", stdin=world.creds("ada"))
    assert refused.exit_code == 1 and "made or changed the other's account" in refused.stderr
    world.held()


def test_an_admin_may_not_approve_what_someone_else_verified(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    refused = world.decide("approve", REF, "--by", "ada", stdin=world.creds("ada"))
    assert refused.exit_code == 1 and "admin and may not approve" in refused.stderr
    world.held()


def test_no_admin_confirms_a_change_to_their_own_account(world: World) -> None:
    ada, bea = world.sign_in("ada"), world.sign_in("bea")
    own = staff_post(ada, "/staff/ada/role", role="approver")
    assert own.status_code == 409 and "your own account" in own.text
    assert staff_post(bea, "/staff/ada/role", role="approver").status_code == 303
    self_confirm = staff_post(ada, "/staff/ada/confirm")
    assert self_confirm.status_code == 409 and "your own account" in self_confirm.text
    assert world.account("ada").role == "admin"
    world.held()


def test_a_new_account_cannot_take_a_departed_colleagues_name(world: World) -> None:
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    ada = world.sign_in("ada")
    assert staff_post(ada, "/staff/appy/disable").status_code == 303
    again = staff_post(ada, "/staff", username="appy", role="approver")
    assert again.status_code == 422 and "already exists" in again.text
    # Nor is there any way to rename an account onto a name in the history.
    assert staff_post(ada, "/staff/adam/rename", username="appy").status_code == 404
    world.held()


def test_the_shell_adds_only_the_first_two_admins(world: World) -> None:
    with transaction(world.database.sessions) as session:
        before = session.scalars(select(Staff.username)).all()
    for role in ("admin", "approver", "verifier"):
        added = world.run(
            "staff", "add", "mallory", "--role", role, "--password-stdin", input=f"{PASSWORD}\n"
        )
        assert added.exit_code == 1, added.output
    with transaction(world.database.sessions) as session:
        assert session.scalars(select(Staff.username)).all() == before
    world.held()


def test_an_unconfirmed_account_signs_in_nowhere(world: World) -> None:
    first = half(staff_post(world.sign_in("ada"), "/staff", username="mal", role="approver"))
    for password in (first, first * 2, PASSWORD):
        assert post_sign_in(world.browser(), "mal", password).status_code == 401
    world.decide(*verify_args("appy"), stdin=world.creds("appy"))
    refused = world.decide("approve", REF, "--by", "mal", stdin=f"{first}\n000000\n")
    assert refused.exit_code == 1 and NOT_SIGNED_IN in refused.stderr
    world.held()


# --- Telling accounts apart: one answer, one password check ---------------------------------


def _lock_and_disable(world: World) -> None:
    world.add("locky", "verifier")
    world.add("gone", "verifier")
    with transaction(world.database.sessions) as session:
        for staff in session.scalars(select(Staff).where(Staff.username.in_(["locky", "gone"]))):
            if staff.username == "locky":
                staff.locked, staff.failed_logins = True, 5
            else:
                staff.disabled = True
    half(staff_post(world.sign_in("ada"), "/staff", username="unconfirmed", role="approver"))


CASES = [  # (who, password): an unknown name, a wrong password, locked, disabled, unconfirmed
    ("nobody", PASSWORD),
    ("adam", "Wrong-password-1!"),
    ("locky", "Locky-Own-Secret-42!"),  # the right password, and still no way in
    ("gone", "Gone-Own-Secret-42!"),
    ("unconfirmed", PASSWORD),
]


def test_unknown_wrong_locked_disabled_and_unconfirmed_get_one_answer(world: World) -> None:
    _lock_and_disable(world)
    answers = set()
    for username, password in CASES:
        response = post_sign_in(world.browser(), username, password)
        body = re.sub(r'value="[^"]*"', 'value=""', response.text)
        answers.add((response.status_code, body))
    assert len(answers) == 1 and next(iter(answers))[0] == 401
    refusals = set()
    for username, password in CASES:
        result = world.decide("approve", REF, "--by", username, stdin=f"{password}\n000000\n")
        refusals.add((result.exit_code, result.stderr))
    assert refusals == {(1, f"Error: {NOT_SIGNED_IN}, or the account cannot be used now "
                            "(five wrong passwords or codes in a row lock it)\n")}  # fmt: skip
    world.held()


class CountingHasher(PasswordHasher):
    """Argon2 (cheapest parameters) that counts each password check."""

    checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        CountingHasher.checks += 1
        return super().verify(hash, password)


def test_every_way_in_costs_exactly_one_password_check(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lock_and_disable(world)
    hasher = CountingHasher.from_parameters(CHEAPEST)
    monkeypatch.setattr(staff_accounts, "_hasher", hasher)
    for username, password in [*CASES, ("adam", world.passwords["adam"])]:
        CountingHasher.checks = 0
        post_sign_in(world.browser(), username, password)
        assert CountingHasher.checks == 1, username
        CountingHasher.checks = 0
        world.decide("approve", REF, "--by", username, stdin=f"{password}\n000000\n")
        assert CountingHasher.checks == 1, username
    world.held()


def test_x_forwarded_for_from_a_peer_not_named_as_a_proxy_is_ignored(world: World) -> None:
    for i in range(20):  # twenty guesses, each claiming another address
        post_sign_in(
            world.browser(), f"nobody{i}", "Guess-1!", headers={"x-forwarded-for": f"10.9.0.{i}"}
        )
    throttled = post_sign_in(
        world.browser(), "adam", world.passwords["adam"], headers={"x-forwarded-for": "10.9.1.1"}
    )
    assert throttled.status_code == 429
    with transaction(world.database.sessions) as session:
        addresses = set(session.scalars(select(SignInAttempt.address)).all())
    assert addresses == {"testclient"}  # the peer, never the header
    world.held()


def test_x_forwarded_for_is_believed_only_from_a_named_proxy(world: World) -> None:
    proxied = make_console(
        world.database,
        clock=world.console.clock,
        second_factor="required",
        trusted_proxies=("10.0.0.1",),
        peer=("10.0.0.1", 443),
    )
    # Through the proxy: the client's own address, not what the client wrote further left.
    spoofed = {"x-forwarded-for": "198.51.100.7, 203.0.113.9"}
    for _ in range(20):
        post_sign_in(proxied.new_client(), "nobody", "Guess-1!", headers=spoofed)
    adams = world.passwords["adam"]
    assert post_sign_in(proxied.new_client(), "adam", adams, headers=spoofed).status_code == 429
    other = {"x-forwarded-for": "203.0.113.10"}
    assert post_sign_in(proxied.new_client(), "adam", adams, headers=other).status_code == 303
    # A peer that is not the proxy gets no say in its address, whatever it sends.
    direct = make_console(
        world.database,
        clock=world.console.clock,
        trusted_proxies=("10.0.0.1",),
        peer=("10.0.0.2", 5000),
    )
    post_sign_in(direct.client, "nobody", "Guess-1!", headers={"x-forwarded-for": "10.0.0.1"})
    with transaction(world.database.sessions) as session:
        addresses = set(session.scalars(select(SignInAttempt.address)).all())
    assert addresses == {"203.0.113.9", "203.0.113.10", "10.0.0.2"}
    world.held()


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    ok = settings_from_mapping({"console": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}})
    assert ok.console.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    for bad in (["proxy.local"], "127.0.0.1", [1]):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            settings_from_mapping({"console": {"trusted_proxies": bad}})
