"""Checks of a request against the registry, shown to staff beside the parser's problems."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.parsers import ROLES, RequestKind
from pcse_intake.workflows.batch_memo import batch_memo
from pcse_intake.workflows.fields import describe, get_path
from pcse_intake.workflows.lookalike import is_lookalike
from pcse_intake.workflows.models import Organisation, Person, Request, format_ref
from pcse_intake.workflows.registry import (
    branch_parent_code,
    main_contacts,
    organisation,
)
from pcse_intake.workflows.states import OPEN_STATES

# The codes this module owns; the parser's own codes (CONTRACT.md section 1) are kept apart.
REGISTRY_CODES = frozenset(
    {
        "unknown_ods_code",
        "closed_organisation",
        "name_mismatch",
        "current_email_not_on_record",
        "sender_not_on_record",
        "not_nhsmail_sender",
        "main_contact_not_on_record",
        "branch_parent_mismatch",
        "possible_duplicate",
        "already_true",
        "thread_sender_mismatch",
    }
)
# Problems recorded by staff actions rather than computed; they survive a recompute.
WORKFLOW_CODES = frozenset({"verification_failed"})

# The organisation a request changes (its `requests.ods_code`), per kind.
SUBJECT_ROLE: dict[RequestKind, str] = {
    RequestKind.EMAIL_CHANGE: "practice",
    RequestKind.MAIN_CONTACT_EXTENSION: "new_practice",
    RequestKind.BRANCH_SETUP: "branch",
    RequestKind.NEW_PRACTICE_SETUP: "new_practice",
}
# Roles that must already be on the registry (the others are what the request creates).
EXISTING_ROLES = frozenset({"practice", "existing_practice", "main_practice"})


class _Contacts:
    """Main contacts per organisation, read once per check run (several checks ask)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._held: dict[int, list[Person]] = {}

    def of(self, org: Organisation) -> list[Person]:
        if org.id not in self._held:
            memo = batch_memo(self.session)
            known = memo.main_contacts(org) if memo is not None else None
            self._held[org.id] = known if known is not None else main_contacts(self.session, org)
        return self._held[org.id]

    def has(self, org: Organisation, email: str | None) -> bool:
        """`registry.is_main_contact`, from the memo."""
        return bool(email) and any(p.email == (email or "").lower() for p in self.of(org))


def problem(code: str, field: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": field, "message": message}


def registry_problems(
    session: Session,
    *,
    kind: RequestKind | str,
    fields: dict[str, Any],
    sender: str | None,
    request_id: int | None = None,
) -> list[dict[str, Any]]:
    """Every registry check for this request, in a stable order."""
    kind = RequestKind(kind)
    if kind is RequestKind.UNKNOWN:
        return []
    out: list[dict[str, Any]] = []
    orgs: dict[str, Organisation] = {}
    for role in ROLES[kind]:
        code = get_path(fields, f"{role}.ods_code")
        if not code:
            continue
        org = _organisation(session, code)
        if org is None:
            if role in EXISTING_ROLES:
                out.append(
                    problem(
                        "unknown_ods_code",
                        f"{role}.ods_code",
                        f"{code} is not in the registry: check {describe(role + '.ods_code')}",
                    )
                )
            continue
        orgs[role] = org
        if not org.is_open:
            out.append(
                problem(
                    "closed_organisation",
                    f"{role}.ods_code",
                    f"{code} ({org.name}) is closed in the registry",
                )
            )
        name = get_path(fields, f"{role}.name")
        if name and not names_match(name, org.name):
            out.append(
                problem(
                    "name_mismatch",
                    f"{role}.name",
                    f"the e-mail says {name!r} but the registry holds {org.name!r} for {code}",
                )
            )
    contacts = _Contacts(session)
    out.extend(_kind_checks(contacts, kind, fields, orgs))
    out.extend(_sender_checks(contacts, kind, sender, orgs))
    out.extend(_duplicate_check(session, kind, fields, request_id))
    return out


def _organisation(session: Session, code: str) -> Organisation | None:
    memo = batch_memo(session)
    if memo is not None:
        known, org = memo.organisation(code.upper())
        if known:
            return org
    return organisation(session, code)


def _kind_checks(
    contacts: _Contacts, kind: RequestKind, fields: dict[str, Any], orgs: dict[str, Organisation]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if kind is RequestKind.EMAIL_CHANGE and "practice" in orgs:
        org = orgs["practice"]
        current = get_path(fields, "practice.current_email")
        new = get_path(fields, "practice.new_email")
        if current and org.email and current != org.email:
            out.append(
                problem(
                    "current_email_not_on_record",
                    "practice.current_email",
                    f"the registry holds {org.email} for {org.ods_code}, not {current}",
                )
            )
        if new and org.email and new == org.email:
            out.append(problem("already_true", "practice.new_email", f"{new} is already on record"))
    contact_roles = {
        RequestKind.MAIN_CONTACT_EXTENSION: "existing_practice",
        RequestKind.BRANCH_SETUP: "main_practice",
        RequestKind.NEW_PRACTICE_SETUP: "existing_practice",
    }
    role = contact_roles.get(kind)
    if role and role in orgs:
        email = get_path(fields, f"{role}.main_contact.email")
        if email and not contacts.has(orgs[role], email):
            held = ", ".join(p.email for p in contacts.of(orgs[role])) or "nobody"
            out.append(
                problem(
                    "main_contact_not_on_record",
                    f"{role}.main_contact.email",
                    f"{email} is not the main contact we hold for {orgs[role].ods_code}"
                    f" (we hold {held})",
                )
            )
    if kind is RequestKind.BRANCH_SETUP:
        out.extend(_branch_checks(contacts, fields, orgs))
    target_role = {
        RequestKind.MAIN_CONTACT_EXTENSION: ("new_practice", "existing_practice"),
        RequestKind.NEW_PRACTICE_SETUP: ("new_practice", "new_practice"),
    }.get(kind)
    if target_role and target_role[0] in orgs:
        email = get_path(fields, f"{target_role[1]}.main_contact.email")
        org = orgs[target_role[0]]
        if email and contacts.has(org, email):
            out.append(
                problem(
                    "already_true",
                    f"{target_role[1]}.main_contact.email",
                    f"{email} is already the main contact for {org.ods_code}",
                )
            )
    return out


def _branch_checks(
    contacts: _Contacts, fields: dict[str, Any], orgs: dict[str, Organisation]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    branch_code = get_path(fields, "branch.ods_code")
    main_code = get_path(fields, "main_practice.ods_code")
    if branch_code and main_code and branch_parent_code(branch_code) != main_code:
        out.append(
            problem(
                "branch_parent_mismatch",
                "branch.ods_code",
                f"branch code {branch_code} does not belong to main practice {main_code}",
            )
        )
    branch = orgs.get("branch")
    if branch is not None and branch.parent is not None and branch.parent.ods_code != main_code:
        out.append(
            problem(
                "branch_parent_mismatch",
                "branch.ods_code",
                f"the registry holds {branch.ods_code} as a branch of {branch.parent.ods_code}",
            )
        )
    email = get_path(fields, "branch.main_contact.email")
    if branch is not None and email and contacts.has(branch, email):
        out.append(
            problem(
                "already_true",
                "branch.main_contact.email",
                f"{email} is already the main contact for {branch.ods_code}",
            )
        )
    return out


_SENDER_ROLES: dict[RequestKind, tuple[str, ...]] = {
    RequestKind.EMAIL_CHANGE: ("practice",),
    RequestKind.MAIN_CONTACT_EXTENSION: ("existing_practice", "new_practice"),
    RequestKind.BRANCH_SETUP: ("main_practice", "branch"),
    RequestKind.NEW_PRACTICE_SETUP: ("existing_practice", "new_practice"),
}


def _sender_checks(
    contacts: _Contacts, kind: RequestKind, sender: str | None, orgs: dict[str, Organisation]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not sender:
        return [problem("sender_not_on_record", None, "the message has no sender address")]
    if not sender.endswith("@nhs.net"):
        out.append(
            problem(
                "not_nhsmail_sender",
                None,
                f"the sender {sender} is not an NHSmail (@nhs.net) address",
            )
        )
        domain = sender.rpartition("@")[2]
        if is_lookalike(domain):
            out.append(
                problem(
                    "lookalike_sender",
                    None,
                    f"the sender's domain {domain} looks like nhs.net but is not it:"
                    " treat the request as a possible impersonation",
                )
            )
    known = [orgs[r] for r in _SENDER_ROLES[kind] if r in orgs]
    if known and not any(sender == org.email or contacts.has(org, sender) for org in known):
        codes = ", ".join(o.ods_code for o in known)
        out.append(
            problem(
                "sender_not_on_record",
                None,
                f"the sender {sender} is neither the practice e-mail nor the main contact"
                f" we hold for {codes}",
            )
        )
    return out


def _duplicate_check(
    session: Session, kind: RequestKind, fields: dict[str, Any], request_id: int | None
) -> list[dict[str, Any]]:
    code = get_path(fields, f"{SUBJECT_ROLE[kind]}.ods_code")
    if not code:
        return []
    memo = batch_memo(session)
    known = memo.open_of(kind.value, code) if memo is not None else None
    if known is not None:
        others = [i for i in known if i != request_id]
    else:
        others = _open_others(session, kind, code, request_id)
    if not others:
        return []
    refs = ", ".join(format_ref(i) for i in others)
    return [
        problem(
            "possible_duplicate",
            f"{SUBJECT_ROLE[kind]}.ods_code",
            f"another open request of this kind for {code}: {refs}",
        )
    ]


def _open_others(
    session: Session, kind: RequestKind, code: str, request_id: int | None
) -> list[int]:
    query = select(Request.id).where(
        Request.kind == kind.value,
        Request.ods_code == code,
        Request.state.in_([s.value for s in OPEN_STATES]),
    )
    if request_id is not None:
        query = query.where(Request.id != request_id)
    return list(session.scalars(query.order_by(Request.id)))


_NOISE = re.compile(r"[^a-z0-9 ]+")


def names_match(given: str, held: str) -> bool:
    """Loose comparison: case, punctuation, '&'/'and' and word order do not matter."""

    def words(text: str) -> set[str]:
        cleaned = _NOISE.sub(" ", text.lower().replace("&", " and "))
        return {w for w in cleaned.split() if w not in {"the", "and"}}

    a, b = words(given), words(held)
    return bool(a and b) and (a <= b or b <= a)


def recompute_problems(
    session: Session, request: Request, *, keep_parser: bool = True
) -> list[dict[str, Any]]:
    """The parser's problems (kept) and the workflow's, plus the registry checks run again now."""
    kept = [
        p
        for p in request.problems or []
        if p.get("code") in WORKFLOW_CODES or (keep_parser and p.get("code") not in REGISTRY_CODES)
    ]
    fresh = registry_problems(
        session,
        kind=request.kind,
        fields=request.fields,
        sender=request.sender,
        request_id=request.id,
    )
    return kept + fresh
