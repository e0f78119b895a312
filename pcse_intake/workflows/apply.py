"""Applying an approved request to the registry, and the e-mails that tell people about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.errors import CannotApply, InvalidValue
from pcse_intake.workflows.fields import get_path, normalise_email
from pcse_intake.workflows.models import Organisation, Person, Request
from pcse_intake.workflows.models.request import ChangeStatus
from pcse_intake.workflows.registry import (
    find_or_create_person,
    is_main_contact,
    org_snapshot,
    org_type_of,
    organisation,
    record_org_change,
    set_main_contact,
)


@dataclass(frozen=True)
class Notice:
    """One e-mail approval queues: template, recipient, and what the template needs."""

    template: str
    to: str
    context: dict[str, Any] = field(default_factory=dict)


def format_when(moment: datetime) -> str:
    """'14:05 UTC on 23 November 2026', as a practice or a caseworker reads a time."""
    return f"{moment:%H:%M} UTC on {moment.day} {moment:%B %Y}"


def apply_change(
    session: Session, request: Request, *, by: str, now: datetime, effective_at: datetime
) -> list[Notice]:
    """Change the registry as the request asks; CannotApply (nothing changed) if it cannot."""
    kind = RequestKind(request.kind)
    if kind is RequestKind.EMAIL_CHANGE:
        return _email_change(session, request, by=by, now=now, effective_at=effective_at)
    if kind is RequestKind.BRANCH_SETUP:
        return _branch_setup(session, request, by=by, now=now)
    if kind is RequestKind.MAIN_CONTACT_EXTENSION:
        return _extension(session, request, by=by, now=now)
    if kind is RequestKind.NEW_PRACTICE_SETUP:
        return _new_practice(session, request, by=by, now=now)
    raise CannotApply(f"{request.ref} is of kind {request.kind}, which changes nothing")


def preview(session: Session, request: Request) -> list[tuple[str, str | None, str | None]]:
    """What approval would change, as (what, before, after) lines for staff to read."""
    f = request.fields
    kind = RequestKind(request.kind)
    if kind is RequestKind.EMAIL_CHANGE:
        org = organisation(session, get_path(f, "practice.ods_code"))
        return [
            (
                f"practice e-mail of {get_path(f, 'practice.ods_code')}",
                org.email if org else None,
                get_path(f, "practice.new_email"),
            )
        ]
    plans = {
        RequestKind.BRANCH_SETUP: ("branch", "branch"),
        RequestKind.MAIN_CONTACT_EXTENSION: ("new_practice", "existing_practice"),
        RequestKind.NEW_PRACTICE_SETUP: ("new_practice", "new_practice"),
    }
    org_role, contact_role = plans[kind]
    code = get_path(f, f"{org_role}.ods_code")
    org = organisation(session, code)
    lines: list[tuple[str, str | None, str | None]] = []
    if org is None:
        lines.append((f"organisation {code}", None, f"created: {get_path(f, f'{org_role}.name')}"))
    if kind is RequestKind.BRANCH_SETUP:
        parent = org.parent.ods_code if org is not None and org.parent is not None else None
        lines.append((f"parent of {code}", parent, get_path(f, "main_practice.ods_code")))
    held = ", ".join(p.email for p in _contacts(org)) if org is not None else None
    lines.append(
        (f"main contact of {code}", held or None, get_path(f, f"{contact_role}.main_contact.email"))
    )
    return lines


def _contacts(org: Organisation) -> list[Person]:
    return [r.person for r in org.roles if r.role == "main_contact"]


def _need(request: Request, path: str) -> str:
    value = get_path(request.fields, path)
    if not value:
        raise CannotApply(f"{request.ref} has no {path}; correct the request first")
    return str(value)


def _need_email(request: Request, path: str) -> str:
    """An address approval will write to: checked before anything is changed."""
    try:
        return normalise_email(_need(request, path))
    except InvalidValue as exc:
        raise CannotApply(f"{request.ref}: {exc}; correct {path} first") from None


def _email_change(
    session: Session, request: Request, *, by: str, now: datetime, effective_at: datetime
) -> list[Notice]:
    """Check everything now; write the address now only when there is no cooling-off period."""
    code = _need(request, "practice.ods_code")
    new = _need_email(request, "practice.new_email")
    if not new.endswith("@nhs.net"):
        # PCSE's rule: a practice e-mail is an nhs.net organisation address.
        raise CannotApply(f"{new} is not an nhs.net address, which a practice e-mail must be")
    org = organisation(session, code)
    if org is None:
        raise CannotApply(f"{code} is not in the registry, so its e-mail cannot be changed")
    _check_pharmacy_address(org, new)
    old = org.email
    request.change_old_email = old
    scheduled = effective_at > now
    if scheduled:
        # The old address may still stop it: pending_changes.apply_due_changes writes it later.
        request.change_status = ChangeStatus.SCHEDULED
    else:
        write_email_change(session, request, org, new, by=by, now=now)
    context = {
        "practice_name": org.name,
        "ods_code": org.ods_code,
        "new_email": new,
        "old_email": old,
        "effective_at": format_when(effective_at),
        "scheduled": scheduled,
    }
    notices = [Notice("email_change_confirmation", new, context)]
    if old and old != new:
        notices.append(Notice("email_change_notice", old, context))
    return notices


def write_email_change(
    session: Session, request: Request, org: Organisation, new: str, *, by: str, now: datetime
) -> None:
    """Put the new address on record, with its history, and mark the change applied."""
    before = org_snapshot(org)
    org.email = new
    org.updated_at = now
    record_org_change(session, org, before=before, actor=by, now=now, request=request)
    request.change_status = ChangeStatus.APPLIED
    request.change_applied_at = now


def _check_pharmacy_address(org: Organisation, new: str) -> None:
    """Battery case 32: a pharmacy's address is pharmacy.<its ODS code>@nhs.net, nothing else."""
    if org.org_type != "pharmacy":
        return
    expected = f"pharmacy.{org.ods_code.lower()}@nhs.net"
    if new != expected:
        raise CannotApply(
            f"{new} is not {expected}, the only e-mail address a pharmacy ({org.ods_code})"
            " may have on NHSmail"
        )


def _branch_setup(session: Session, request: Request, *, by: str, now: datetime) -> list[Notice]:
    main_code = _need(request, "main_practice.ods_code")
    code = _need(request, "branch.ods_code")
    email = _need_email(request, "branch.main_contact.email")
    main = organisation(session, main_code)
    if main is None:
        raise CannotApply(f"main practice {main_code} is not in the registry")
    branch = _ensure_org(
        session, request, role="branch", code=code, by=by, now=now, org_type="gp", parent=main
    )
    person, existing_account = _link_main_contact(
        session, request, branch, role="branch", email=email, by=by, now=now
    )
    return [
        Notice(
            "branch_access",
            person.email,
            {
                "contact_name": person.name,
                "branch_name": branch.name,
                "branch_ods": branch.ods_code,
                "main_practice_name": main.name,
                "existing_account": existing_account,
            },
        )
    ]


def _extension(session: Session, request: Request, *, by: str, now: datetime) -> list[Notice]:
    existing_code = _need(request, "existing_practice.ods_code")
    code = _need(request, "new_practice.ods_code")
    email = _need_email(request, "existing_practice.main_contact.email")
    existing = organisation(session, existing_code)
    if existing is None:
        raise CannotApply(f"existing practice {existing_code} is not in the registry")
    if not is_main_contact(session, existing, email):
        # Extending is how a main contact gains another practice: only the one we hold may.
        raise CannotApply(
            f"{email} is not the main contact we hold for {existing_code}; only that person's"
            " access can be extended (correct the request, or reject it)"
        )
    new_org = _ensure_org(
        session,
        request,
        role="new_practice",
        code=code,
        by=by,
        now=now,
        org_type=org_type_of(code) or existing.org_type,
    )
    person, _ = _link_main_contact(
        session, request, new_org, role="existing_practice", email=email, by=by, now=now
    )
    return [
        Notice(
            "main_contact_extension_confirmation",
            person.email,
            {
                "contact_name": person.name,
                "new_practice_name": new_org.name,
                "new_ods": new_org.ods_code,
                "existing_practice_name": existing.name,
            },
        )
    ]


def _new_practice(session: Session, request: Request, *, by: str, now: datetime) -> list[Notice]:
    code = _need(request, "new_practice.ods_code")
    email = _need_email(request, "new_practice.main_contact.email")
    org_type = get_path(request.fields, "new_practice.org_type") or org_type_of(code) or "gp"
    org = _ensure_org(
        session, request, role="new_practice", code=code, by=by, now=now, org_type=org_type
    )
    person, existing_account = _link_main_contact(
        session, request, org, role="new_practice", email=email, by=by, now=now
    )
    return [
        Notice(
            "new_practice_access",
            person.email,
            {
                "contact_name": person.name,
                "practice_name": org.name,
                "ods_code": org.ods_code,
                "existing_account": existing_account,
            },
        )
    ]


def _ensure_org(
    session: Session,
    request: Request,
    *,
    role: str,
    code: str,
    by: str,
    now: datetime,
    org_type: str,
    parent: Organisation | None = None,
) -> Organisation:
    """The organisation with `code`, created from the request when the registry lacks it.

    An organisation already held keeps its registry name, address and phone (the ODS
    extract is the better source); only a missing parent is set.
    """
    org = organisation(session, code)
    if org is None:
        org = Organisation(
            ods_code=code,
            name=_need(request, f"{role}.name"),
            org_type=org_type,
            address=get_path(request.fields, f"{role}.address"),
            postcode=_postcode(get_path(request.fields, f"{role}.address")),
            phone=get_path(request.fields, f"{role}.phone"),
            parent_id=parent.id if parent is not None else None,
            is_open=True,
            source="request",
            created_at=now,
            updated_at=now,
        )
        session.add(org)
        record_org_change(
            session,
            org,
            before=None,
            actor=by,
            now=now,
            request=request,
            action="organisation_created",
        )
        return org
    if parent is not None and org.parent_id != parent.id:
        before = org_snapshot(org)
        org.parent_id = parent.id
        org.updated_at = now
        record_org_change(session, org, before=before, actor=by, now=now, request=request)
    return org


def _link_main_contact(
    session: Session,
    request: Request,
    org: Organisation,
    *,
    role: str,
    email: str,
    by: str,
    now: datetime,
) -> tuple[Person, bool]:
    """Make the request's contact (found or created) the organisation's main contact.

    Returns the person and whether they already had an account (a role somewhere).
    """
    name = get_path(request.fields, f"{role}.main_contact.name")
    person, created = find_or_create_person(
        session, name=name, email=email, actor=by, now=now, request=request
    )
    existing_account = not created and bool(person.roles)
    set_main_contact(session, org=org, person=person, actor=by, now=now, request=request)
    return person, existing_account


def _postcode(address: str | None) -> str | None:
    if not address:
        return None
    last = address.rsplit(",", 1)[-1].strip()
    return last if 5 <= len(last) <= 8 and any(c.isdigit() for c in last) else None
