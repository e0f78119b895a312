"""Reading and changing the registry: organisations by ODS code, people, main contacts."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import Organisation, Person, Request, Role

MAIN_CONTACT = "main_contact"

# ODS code shapes (CONTRACT.md section 1), most specific first.
_CODE_TYPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[A-Z][0-9]{5}[0-9]{3}$"), "gp"),  # a GP branch
    (re.compile(r"^[A-Z][0-9]{5}$"), "gp"),
    (re.compile(r"^F[A-Z0-9]{4}$"), "pharmacy"),
    (re.compile(r"^V[A-Z0-9]{5,6}$"), "dental"),
    (re.compile(r"^TP[A-Z0-9]{3,4}$"), "optical"),
)
_BRANCH = re.compile(r"^[A-Z][0-9]{5}[0-9]{3}$")


def org_type_of(code: str) -> str | None:
    """The organisation type an ODS code's shape implies, or None for no known shape."""
    for pattern, org_type in _CODE_TYPES:
        if pattern.match(code):
            return org_type
    return None


def branch_parent_code(code: str) -> str | None:
    """For a GP branch code (`A12345001`), its main practice's code (`A12345`)."""
    return code[:6] if _BRANCH.match(code) else None


def organisation(session: Session, code: str | None) -> Organisation | None:
    if not code:
        return None
    return session.scalars(
        select(Organisation).where(Organisation.ods_code == code.upper())
    ).one_or_none()


def person_by_email(session: Session, email: str | None) -> Person | None:
    if not email:
        return None
    return session.scalars(select(Person).where(Person.email == email.lower())).one_or_none()


def main_contacts(session: Session, org: Organisation) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .join(Role, Role.person_id == Person.id)
            .where(Role.organisation_id == org.id, Role.role == MAIN_CONTACT)
            .order_by(Person.id)
        )
    )


def is_main_contact(session: Session, org: Organisation, email: str | None) -> bool:
    return bool(email) and any(
        p.email == (email or "").lower() for p in main_contacts(session, org)
    )


def find_or_create_person(
    session: Session,
    *,
    name: str | None,
    email: str,
    actor: str,
    now: datetime,
    request: Request | None = None,
) -> tuple[Person, bool]:
    """The person with this e-mail, created if new; returns (person, created)."""
    existing = person_by_email(session, email)
    if existing is not None:
        return existing, False
    person = Person(name=name or email, email=email.lower(), created_at=now)
    session.add(person)
    session.flush()
    record(
        session,
        actor=actor,
        action="person_created",
        at=now,
        request=request,
        entity="person",
        entity_id=person.id,
        after={"name": person.name, "email": person.email},
    )
    return person, True


def set_main_contact(
    session: Session,
    *,
    org: Organisation,
    person: Person,
    actor: str,
    now: datetime,
    request: Request | None = None,
) -> bool:
    """Make `person` the organisation's one main contact; False when they already were.

    PCSE holds one main contact per organisation, so a previous one loses the role (the
    history row keeps who it was).
    """
    current = main_contacts(session, org)
    if [p.id for p in current] == [person.id]:
        return False
    for old in current:
        role = session.scalars(
            select(Role).where(
                Role.organisation_id == org.id, Role.person_id == old.id, Role.role == MAIN_CONTACT
            )
        ).one()
        session.delete(role)
    session.flush()
    session.add(
        Role(person_id=person.id, organisation_id=org.id, role=MAIN_CONTACT, created_at=now)
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="main_contact_set",
        request=request,
        at=now,
        entity="organisation",
        entity_id=org.id,
        before={"ods_code": org.ods_code, "main_contacts": [p.email for p in current]},
        after={"ods_code": org.ods_code, "main_contacts": [person.email]},
    )
    return True


def org_snapshot(org: Organisation) -> dict[str, object]:
    return {
        "ods_code": org.ods_code,
        "name": org.name,
        "org_type": org.org_type,
        "address": org.address,
        "postcode": org.postcode,
        "phone": org.phone,
        "email": org.email,
        "parent": org.parent.ods_code if org.parent is not None else None,
        "is_open": org.is_open,
    }


def record_org_change(
    session: Session,
    org: Organisation,
    *,
    before: dict[str, object] | None,
    actor: str,
    now: datetime,
    request: Request | None = None,
    action: str = "registry_changed",
) -> None:
    """History for one organisation: its snapshot before (None when new) and after."""
    session.flush()
    session.refresh(org)
    record(
        session,
        actor=actor,
        action=action,
        at=now,
        request=request,
        entity="organisation",
        entity_id=org.id,
        before=before,
        after=org_snapshot(org),
    )
