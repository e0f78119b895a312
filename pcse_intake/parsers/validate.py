"""The contract's checks on extracted parties: problem codes and missing required fields."""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from pcse_intake.parsers.model import Party, Problem, RequestKind
from pcse_intake.parsers.normalise import phone_is_valid
from pcse_intake.parsers.personal import looks_personal

ODS_PATTERNS: dict[str, re.Pattern[str]] = {
    "gp": re.compile(r"^[A-Z][0-9]{5}$"),
    "gp_branch": re.compile(r"^[A-Z][0-9]{5}[0-9]{3}$"),
    "pharmacy": re.compile(r"^F[A-Z0-9]{4}$"),
    "dental": re.compile(r"^V[A-Z0-9]{5,6}$"),
    "optical": re.compile(r"^TP[A-Z0-9]{3,4}$"),
}
# Which org_type each pattern is compatible with.
_PATTERN_TYPES = {
    "gp": {"gp"},
    "gp_branch": {"gp"},
    "pharmacy": {"pharmacy"},
    "dental": {"dental"},
    "optical": {"optical"},
}

# Required leaf paths per role, in the contract's order.
_CONTACT = ("main_contact.name", "main_contact.email")
REQUIRED: dict[RequestKind, dict[str, tuple[str, ...]]] = {
    RequestKind.EMAIL_CHANGE: {"practice": ("name", "ods_code", "current_email", "new_email")},
    RequestKind.MAIN_CONTACT_EXTENSION: {
        "existing_practice": ("name", "ods_code", *_CONTACT, "address", "phone"),
        "new_practice": ("ods_code", "name", "address"),
    },
    RequestKind.BRANCH_SETUP: {
        "main_practice": ("name", "org_type", "ods_code", *_CONTACT, "address", "phone"),
        "branch": (*_CONTACT, "ods_code", "name", "address", "phone"),
    },
    RequestKind.NEW_PRACTICE_SETUP: {
        "new_practice": ("name", "address", "ods_code", "org_type", "phone", *_CONTACT),
    },
    RequestKind.UNKNOWN: {},
}


def ods_kinds(code: str) -> set[str]:
    return {kind for kind, pattern in ODS_PATTERNS.items() if pattern.match(code)}


@lru_cache(maxsize=512)
def email_is_valid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def missing(kind: RequestKind, parties: dict[str, Party]) -> tuple[str, ...]:
    out: list[str] = []
    for role, paths in REQUIRED[kind].items():
        party = parties.get(role, Party())
        for path in paths:
            if not _leaf(party, path):
                out.append(f"{role}.{path}")
    return tuple(out)


def _leaf(party: Party, path: str) -> str | None:
    if path.startswith("main_contact."):
        contact = party.main_contact
        return getattr(contact, path.split(".", 1)[1]) if contact else None
    value = getattr(party, path)
    return value if isinstance(value, str) and value else None


def problems(kind: RequestKind, parties: dict[str, Party]) -> list[Problem]:
    out: list[Problem] = []
    for role, party in parties.items():
        out.extend(_party_problems(role, party))
    if kind is RequestKind.BRANCH_SETUP:
        main = parties.get("main_practice")
        branch = parties.get("branch")
        code = branch.ods_code if branch else None
        main_code = main.ods_code if main else None
        # a code that matches no pattern is only `invalid_ods_code` (gold convention)
        extends_main = bool(
            code and main_code and ODS_PATTERNS["gp_branch"].match(code) and code[:6] == main_code
        )
        if code and main_code and ods_kinds(code) and not extends_main:
            out.append(
                Problem(
                    "branch_code_mismatch",
                    "branch.ods_code",
                    f"Branch code {code} is not the main practice code {main_code} "
                    "followed by three digits.",
                )
            )
    return out


def _party_problems(role: str, party: Party) -> list[Problem]:
    out: list[Problem] = []
    code = party.ods_code
    if code:
        kinds = ods_kinds(code)
        if not kinds:
            out.append(
                Problem(
                    "invalid_ods_code",
                    f"{role}.ods_code",
                    f"{code} is not an ODS code (GP A12345, branch A12345001, pharmacy "
                    "F1234, dental V123456, optical TP123).",
                )
            )
        elif party.org_type and not any(party.org_type in _PATTERN_TYPES[k] for k in kinds):
            out.append(
                Problem(
                    "ods_code_type_mismatch",
                    f"{role}.ods_code",
                    f"{code} is not the code of a {party.org_type} organisation.",
                )
            )
    for name in ("current_email", "new_email"):
        value = getattr(party, name)
        if not value:
            continue
        path = f"{role}.{name}"
        if not email_is_valid(value):
            out.append(Problem("invalid_email", path, f"{value} is not a valid e-mail address."))
            continue
        if not value.endswith("@nhs.net"):
            out.append(Problem("not_nhsmail", path, f"{value} is not an nhs.net address."))
        elif name == "new_email" and looks_personal(value, party.ods_code):
            out.append(
                Problem(
                    "personal_nhsmail",
                    path,
                    f"{value} looks like a person's mailbox, not the practice's own.",
                )
            )
    contact = party.main_contact
    if contact and contact.email and not email_is_valid(contact.email):
        out.append(
            Problem(
                "invalid_email",
                f"{role}.main_contact.email",
                f"{contact.email} is not a valid e-mail address.",
            )
        )
    if party.phone and not phone_is_valid(party.phone):
        out.append(
            Problem("invalid_phone", f"{role}.phone", f"{party.phone} is not a valid UK number.")
        )
    return out
