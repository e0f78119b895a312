"""Staff accounts: the PCSE password rule, Argon2 hashes, roles and what each may do."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import InvalidValue, NotPermitted, StaffExists
from pcse_intake.workflows.models import HistoryEntry, Staff, StaffRole
from pcse_intake.workflows.staff import (
    Action,
    check_password_rule,
    create_staff,
    hash_password,
    require_permission,
    verify_password,
)
from tests.workflows.conftest import NOW, PASSWORD


@pytest.mark.parametrize(
    ("password", "failure"),
    [
        ("Short-1!", "at least 12 characters"),
        ("no-upper-case-1!", "upper-case"),
        ("NO-LOWER-CASE-1!", "lower-case"),
        ("No-Numbers-Here!", "number"),
        ("NoSpecials12345", "one of"),
    ],
)
def test_the_password_rule_names_each_failure(password: str, failure: str) -> None:
    failures = check_password_rule(password)
    assert len(failures) == 1 and failure in failures[0]


def test_a_good_password_passes_and_the_faqs_en_dash_counts() -> None:
    assert check_password_rule(PASSWORD) == []
    assert check_password_rule("Abcdefghij1\u2013") == []


def test_hashes_are_argon2_and_verify_only_the_right_password() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD) and not verify_password(hashed, "wrong")
    assert not verify_password("not a hash", PASSWORD)


def test_creating_an_account_is_audited_without_the_hash(session: Session) -> None:
    staff = create_staff(
        session, username="dana", role=StaffRole.APPROVER, password=PASSWORD, now=NOW, by="root"
    )
    assert staff.role == "approver" and not staff.disabled
    [entry] = session.scalars(select(HistoryEntry)).all()
    assert entry.actor == "root" and entry.after == {"username": "dana", "role": "approver"}
    with pytest.raises(StaffExists):
        create_staff(session, username="dana", role=StaffRole.ADMIN, password=PASSWORD, now=NOW)
    with pytest.raises(InvalidValue, match="password"):
        create_staff(session, username="erin", role=StaffRole.ADMIN, password="weak", now=NOW)
    with pytest.raises(InvalidValue, match="staff name"):
        create_staff(
            session, username="has space", role=StaffRole.ADMIN, password=PASSWORD, now=NOW
        )


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (StaffRole.VERIFIER, [Action.VERIFY], [Action.APPROVE, Action.REJECT]),
        (StaffRole.APPROVER, [Action.VERIFY, Action.APPROVE, Action.REJECT], [Action.ADMINISTER]),
        # Admins make accounts, so they never approve or reject (four eyes).
        (
            StaffRole.ADMIN,
            [Action.ADMINISTER, Action.HOLD, Action.VERIFY, Action.CORRECT, Action.TRIAGE],
            [Action.APPROVE, Action.REJECT],
        ),
    ],
)
def test_each_role_may_do_only_its_own_actions(
    session: Session, role: StaffRole, allowed: list[Action], refused: list[Action]
) -> None:
    create_staff(session, username="who", role=role, password=PASSWORD, now=NOW)
    for action in allowed:
        assert require_permission(session, "who", action).username == "who"
    for action in refused:
        with pytest.raises(NotPermitted, match=f"may not {action.value}"):
            require_permission(session, "who", action)


def test_a_disabled_or_unknown_account_may_do_nothing(session: Session) -> None:
    create_staff(session, username="gone", role=StaffRole.ADMIN, password=PASSWORD, now=NOW)
    session.scalars(select(Staff)).one().disabled = True
    with pytest.raises(NotPermitted, match="disabled"):
        require_permission(session, "gone", Action.VERIFY)
    with pytest.raises(NotPermitted, match="no staff account"):
        require_permission(session, "nobody", Action.VERIFY)
