"""A request's fields (`request`, CONTRACT.md section 1): paths, what is missing, plain words."""

from __future__ import annotations

import copy
import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from pcse_intake.parsers import ROLES, RequestKind
from pcse_intake.workflows.errors import InvalidValue

_PARTY_FIELDS = ("name", "ods_code", "org_type", "address", "phone", "current_email", "new_email")
_CONTACT_FIELDS = ("name", "email")
ORG_TYPES = ("gp", "dental", "optical", "pharmacy")

# Required leaf paths per kind, in the order the FAQ asks for them.
REQUIRED: dict[RequestKind, tuple[str, ...]] = {
    RequestKind.EMAIL_CHANGE: (
        "practice.name",
        "practice.ods_code",
        "practice.current_email",
        "practice.new_email",
    ),
    RequestKind.MAIN_CONTACT_EXTENSION: (
        "existing_practice.name",
        "existing_practice.ods_code",
        "existing_practice.main_contact.name",
        "existing_practice.main_contact.email",
        "existing_practice.address",
        "existing_practice.phone",
        "new_practice.ods_code",
        "new_practice.name",
        "new_practice.address",
    ),
    RequestKind.BRANCH_SETUP: (
        "main_practice.name",
        "main_practice.org_type",
        "main_practice.ods_code",
        "main_practice.main_contact.name",
        "main_practice.main_contact.email",
        "main_practice.address",
        "main_practice.phone",
        "branch.main_contact.name",
        "branch.main_contact.email",
        "branch.ods_code",
        "branch.name",
        "branch.address",
        "branch.phone",
    ),
    RequestKind.NEW_PRACTICE_SETUP: (
        "new_practice.name",
        "new_practice.address",
        "new_practice.ods_code",
        "new_practice.org_type",
        "new_practice.phone",
        "new_practice.main_contact.name",
        "new_practice.main_contact.email",
    ),
    RequestKind.UNKNOWN: (),
}

_OWNER: dict[str, str] = {
    "practice": "your practice",
    "existing_practice": "your existing practice",
    "new_practice": "the new practice",
    "main_practice": "your main practice",
    "branch": "the branch",
}

_THING: dict[str, str] = {
    "name": "name",
    "ods_code": "ODS code",
    "org_type": "organisation type (GP, dental, optical or pharmacy)",
    "address": "full address, with postcode",
    "phone": "telephone number",
    "current_email": "current practice e-mail address (the one we hold)",
    "new_email": "new practice e-mail address",
}


def possessive(owner: str) -> str:
    return f"{owner}'s"


def describe(path: str) -> str:
    """A dotted path in plain words: `new_practice.address` -> "the new practice's address"."""
    parts = path.split(".")
    owner = _OWNER.get(parts[0], parts[0].replace("_", " "))
    if len(parts) == 3 and parts[1] == "main_contact":
        if parts[2] == "name":
            return f"the name (with title) of {possessive(owner)} main contact"
        return f"the e-mail address of {possessive(owner)} main contact"
    thing = _THING.get(parts[-1], parts[-1].replace("_", " "))
    return f"{possessive(owner)} {thing}"


def valid_paths(kind: RequestKind | str) -> tuple[str, ...]:
    """Every leaf path staff may correct for this kind."""
    out: list[str] = []
    for role in ROLES[RequestKind(kind)]:
        out.extend(f"{role}.{f}" for f in _PARTY_FIELDS)
        out.extend(f"{role}.main_contact.{f}" for f in _CONTACT_FIELDS)
    return tuple(out)


def get_path(fields: dict[str, Any], path: str) -> Any:
    node: Any = fields
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def set_path(fields: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `fields` with `path` set (or removed when value is None or empty)."""
    out = copy.deepcopy(fields)
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if value in (None, ""):
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return _prune(out)


def _prune(tree: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_prune(v) if isinstance(v, dict) else v)
        for k, v in tree.items()
        if not (isinstance(v, dict) and not _prune(v)) and v not in (None, "")
    }


def leaves(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def compute_missing(kind: RequestKind | str, fields: dict[str, Any]) -> list[str]:
    return [p for p in REQUIRED[RequestKind(kind)] if get_path(fields, p) in (None, "")]


def merge(
    kind: RequestKind | str, fields: dict[str, Any], update: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """Later values from the same sender win; returns the new fields and {path: (before, after)}."""
    allowed = set(valid_paths(kind))
    out = copy.deepcopy(fields)
    changed: dict[str, tuple[Any, Any]] = {}
    for path, value in leaves(update).items():
        if path not in allowed or value in (None, ""):
            continue
        before = get_path(out, path)
        if before != value:
            out = set_path(out, path, value)
            changed[path] = (before, value)
    return out, changed


# Staff corrections are normalised to the contract's normal forms, like the parser's output.

_ODS = re.compile(r"^[A-Z0-9]{3,10}$")


def normalise_value(path: str, value: str | None) -> str | None:
    """The normal form of a value staff typed, or InvalidValue with the reason."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    leaf = path.rsplit(".", 1)[-1]
    if leaf in ("email", "current_email", "new_email"):
        return normalise_email(text)
    if leaf == "phone":
        return normalise_phone(text)
    if leaf == "ods_code":
        code = text.replace(" ", "").upper()
        if not _ODS.match(code):
            raise InvalidValue(f"{text!r} is not an ODS code")
        return code
    if leaf == "org_type":
        kind = text.lower()
        if kind not in ORG_TYPES:
            raise InvalidValue(f"organisation type must be one of {', '.join(ORG_TYPES)}")
        return kind
    return text


def required_text(text: str | None, *, missing: str) -> str:
    """Staff's free text (a reason, a note) on one line; InvalidValue(missing) if blank."""
    line = " ".join((text or "").split())
    if not line:
        raise InvalidValue(missing)
    return line


def normalise_email(text: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise InvalidValue("an e-mail address cannot contain line breaks")
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(f"{text!r} is not a valid e-mail address: {exc}") from None
    return checked.normalized.lower()


def normalise_phone(text: str) -> str:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        raise InvalidValue(f"{text!r} is not a telephone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidValue(f"{text!r} is not a valid UK telephone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def same_phone(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return normalise_phone(a) == normalise_phone(b)
    except InvalidValue:
        return False
