"""Staff accounts page (admins): a new account or role takes a second admin; disable, unlock;
the first sign-in replaces the one-time password."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import HistoryEntry, Staff
from tests.console.conftest import BOTH_BACKENDS, PASSWORD, Console, csrf_of, post_sign_in


def admin(console: Console) -> Console:
    console.add_staff("ada", "admin")
    console.sign_in("ada")
    return console


def account(console: Console, username: str) -> Staff | None:
    with transaction(console.database.sessions) as session:
        return session.scalars(select(Staff).where(Staff.username == username)).one_or_none()


def ask_for(console: Console, username: str, role: str = "verifier") -> httpx.Response:
    return console.client.post(
        "/staff",
        data={"csrf_token": csrf_of(console.client, "/staff"), "username": username, "role": role},
    )


def half_shown(response: httpx.Response) -> str:
    match = re.search(r'id="password-half">([A-Z0-9]+)<', response.text)
    assert match is not None, response.text
    return match.group(1)


def second_admin(console: Console) -> TestClient:
    console.add_staff("bea", "admin")
    return console.sign_in("bea", client=console.new_client())


def test_a_new_account_needs_a_second_admin_and_each_holds_half_its_password(
    console: Console,
) -> None:
    admin(console)
    asked = ask_for(console, "new.person")
    assert asked.status_code == 200 and "Waiting for a second admin" in asked.text
    first = half_shown(asked)
    created = account(console, "new.person")
    assert created is not None and created.activated_at is None
    # Not usable yet: the half the asking admin holds (nor anything else) signs no one in.
    assert post_sign_in(console.new_client(), "new.person", first).status_code == 401
    own = console.client.post(
        "/staff/new.person/confirm", data={"csrf_token": csrf_of(console.client, "/staff")}
    )
    assert own.status_code == 409 and "another administrator must confirm" in own.text
    bea = second_admin(console)
    confirmed = bea.post("/staff/new.person/confirm", data={"csrf_token": csrf_of(bea, "/staff")})
    assert confirmed.status_code == 200
    second = half_shown(confirmed)
    assert second != first and len(first) == len(second) == 10
    for half in (first, second):
        assert post_sign_in(console.new_client(), "new.person", half).status_code == 401
    person = console.new_client()
    response = post_sign_in(person, "new.person", first + second)
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/sign-in/set-up"
    )
    assert person.get("/").status_code == 401  # nothing but the set-up until it is done
    with transaction(console.database.sessions) as session:
        actions = session.scalars(
            select(HistoryEntry.action).where(HistoryEntry.entity == "staff")
        ).all()
        actors = session.scalars(
            select(HistoryEntry.actor).where(HistoryEntry.action == "staff_created")
        ).all()
    assert "staff_requested" in actions and actors[-1] == "bea"


def test_the_first_sign_in_replaces_the_one_time_password_with_one_following_the_rule(
    console: Console,
) -> None:
    admin(console)
    first = half_shown(ask_for(console, "new.person"))
    bea = second_admin(console)
    second = half_shown(
        bea.post("/staff/new.person/confirm", data={"csrf_token": csrf_of(bea, "/staff")})
    )
    person = console.new_client()
    post_sign_in(person, "new.person", first + second)
    token = re.search(r'name="csrf_token" value="([^"]+)"', person.get("/sign-in/set-up").text)
    assert token is not None

    def choose(new: str, again: str) -> httpx.Response:
        return person.post(
            "/sign-in/set-up",
            data={"csrf_token": token.group(1), "new_password": new, "new_password_again": again},
        )

    weak = choose("alllowercaseletters", "alllowercaseletters")
    assert weak.status_code == 422
    assert "upper-case letter" in weak.text and "number" in weak.text
    assert "not the same" in choose(PASSWORD, PASSWORD + "x").text
    assert choose(PASSWORD, PASSWORD).status_code == 303
    assert person.get("/").status_code == 200
    assert post_sign_in(console.new_client(), "new.person", first + second).status_code == 401
    assert post_sign_in(console.new_client(), "new.person", PASSWORD).status_code == 303


def test_a_taken_username_is_refused(console: Console) -> None:
    admin(console)
    response = ask_for(console, "ada")
    assert response.status_code == 422
    assert "already exists" in response.text


@BOTH_BACKENDS
def test_changing_a_role_needs_a_second_admin_is_audited_and_ends_their_sessions(
    console: Console,
) -> None:
    admin(console)
    console.add_staff("vera", "verifier")
    vera = console.sign_in("vera", client=console.new_client())
    response = console.client.post(
        "/staff/vera/role",
        data={"csrf_token": csrf_of(console.client, "/staff"), "role": "approver"},
    )
    assert response.status_code == 303 and "role_change_requested" in response.headers["location"]
    waiting = account(console, "vera")
    assert waiting is not None and waiting.role == "verifier"
    assert vera.get("/").status_code == 200
    bea = second_admin(console)
    confirmed = bea.post("/staff/vera/confirm", data={"csrf_token": csrf_of(bea, "/staff")})
    assert confirmed.status_code == 303
    changed = account(console, "vera")
    assert changed is not None and changed.role == "approver"
    assert vera.get("/").status_code == 401
    with transaction(console.database.sessions) as session:
        entry = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "staff_role_changed")
        ).one()
        assert (entry.actor, entry.before, entry.after) == (
            "bea",
            {"role": "verifier"},
            {"role": "approver"},
        )
        assert entry.note == "asked by ada, confirmed by bea"


def test_a_waiting_change_can_be_withdrawn_and_a_withdrawn_account_never_works(
    console: Console,
) -> None:
    admin(console)
    ask_for(console, "new.person")
    token = csrf_of(console.client, "/staff")
    assert (
        console.client.post("/staff/new.person/withdraw", data={"csrf_token": token}).status_code
        == 303
    )
    bea = second_admin(console)
    late = bea.post("/staff/new.person/confirm", data={"csrf_token": csrf_of(bea, "/staff")})
    assert late.status_code == 409
    enable = bea.post("/staff/new.person/enable", data={"csrf_token": csrf_of(bea, "/staff")})
    assert enable.status_code == 409
    gone = account(console, "new.person")
    assert gone is not None and gone.disabled and gone.activated_at is None


def test_an_admin_cannot_disable_or_demote_themselves(console: Console) -> None:
    admin(console)
    token = csrf_of(console.client, "/staff")
    assert console.client.post("/staff/ada/disable", data={"csrf_token": token}).status_code == 409
    demote = console.client.post("/staff/ada/role", data={"csrf_token": token, "role": "verifier"})
    assert demote.status_code == 409
    kept = account(console, "ada")
    assert kept is not None and kept.role == "admin" and not kept.disabled


def test_disable_then_enable_restores_sign_in(console: Console) -> None:
    admin(console)
    console.add_staff("vera", "verifier")
    token = csrf_of(console.client, "/staff")
    assert console.client.post("/staff/vera/disable", data={"csrf_token": token}).status_code == 303
    assert post_sign_in(console.new_client(), "vera", PASSWORD).status_code == 401
    assert console.client.post("/staff/vera/enable", data={"csrf_token": token}).status_code == 303
    assert post_sign_in(console.new_client(), "vera", PASSWORD).status_code == 303


def test_unknown_account_or_change_is_refused(console: Console) -> None:
    admin(console)
    token = csrf_of(console.client, "/staff")
    assert (
        console.client.post("/staff/nobody/unlock", data={"csrf_token": token}).status_code == 409
    )
    assert console.client.post("/staff/ada/explode", data={"csrf_token": token}).status_code == 404


def test_the_staff_page_lists_accounts_with_their_state(console: Console) -> None:
    admin(console)
    console.add_staff("vera", "verifier")
    for i in range(5):
        post_sign_in(console.new_client(), "vera", f"Wrong-{i}-pass!")
    page = console.client.get("/staff").text
    assert "vera" in page and "Locked" in page and "Unlock" in page
