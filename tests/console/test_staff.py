"""Staff accounts page (admins): add with the PCSE password rule, change role, disable, unlock."""

from __future__ import annotations

import httpx
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


def add_via_form(console: Console, username: str, password: str) -> httpx.Response:
    return console.client.post(
        "/staff",
        data={
            "csrf_token": csrf_of(console.client, "/staff"),
            "username": username,
            "role": "verifier",
            "password": password,
        },
    )


def test_admin_adds_an_account_that_can_then_sign_in(console: Console) -> None:
    admin(console)
    response = add_via_form(console, "new.person", PASSWORD)
    assert response.status_code == 303
    created = account(console, "new.person")
    assert created is not None and created.role == "verifier"
    assert created.password_hash.startswith("$argon2id$")
    assert post_sign_in(console.new_client(), "new.person", PASSWORD).status_code == 303


def test_a_password_breaking_the_pcse_rule_is_refused_with_the_reasons(console: Console) -> None:
    admin(console)
    response = add_via_form(console, "new.person", "alllowercaseletters")
    assert response.status_code == 422
    assert "upper-case letter" in response.text and "number" in response.text
    assert account(console, "new.person") is None


def test_a_taken_username_is_refused(console: Console) -> None:
    admin(console)
    response = add_via_form(console, "ada", PASSWORD)
    assert response.status_code == 422
    assert "already exists" in response.text


@BOTH_BACKENDS
def test_changing_a_role_is_audited_and_ends_their_sessions(console: Console) -> None:
    admin(console)
    console.add_staff("vera", "verifier")
    vera = console.sign_in("vera", client=console.new_client())
    response = console.client.post(
        "/staff/vera/role",
        data={"csrf_token": csrf_of(console.client, "/staff"), "role": "approver"},
    )
    assert response.status_code == 303
    changed = account(console, "vera")
    assert changed is not None and changed.role == "approver"
    assert vera.get("/").status_code == 401
    with transaction(console.database.sessions) as session:
        entry = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "staff_role_changed")
        ).one()
        assert (entry.actor, entry.before, entry.after) == (
            "ada",
            {"role": "verifier"},
            {"role": "approver"},
        )


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
