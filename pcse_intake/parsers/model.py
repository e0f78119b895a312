"""The frozen dataclasses a parse produces, and their JSON form from CONTRACT.md section 1."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class RequestKind(StrEnum):
    EMAIL_CHANGE = "email_change"
    MAIN_CONTACT_EXTENSION = "main_contact_extension"
    BRANCH_SETUP = "branch_setup"
    NEW_PRACTICE_SETUP = "new_practice_setup"
    UNKNOWN = "unknown"


class AuthVerdict(StrEnum):
    """What our own MTA's Authentication-Results header said about DMARC."""

    PASS = "pass"
    FAIL = "fail"
    NONE = "none"  # no header from our MTA, or no dmarc result in it


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Party:
    """An organisation as the e-mail describes it; every field is optional."""

    name: str | None = None
    ods_code: str | None = None
    org_type: str | None = None
    address: str | None = None
    phone: str | None = None
    main_contact: Contact | None = None
    current_email: str | None = None
    new_email: str | None = None


@dataclass(frozen=True)
class Problem:
    code: str
    field: str | None
    message: str


# The party roles each kind carries in `request`, in the order the contract lists them.
ROLES: dict[RequestKind, tuple[str, ...]] = {
    RequestKind.EMAIL_CHANGE: ("practice",),
    RequestKind.MAIN_CONTACT_EXTENSION: ("existing_practice", "new_practice"),
    RequestKind.BRANCH_SETUP: ("main_practice", "branch"),
    RequestKind.NEW_PRACTICE_SETUP: ("new_practice", "existing_practice"),
    RequestKind.UNKNOWN: (),
}


@dataclass(frozen=True)
class ParsedEmail:
    """Everything the parser read from one raw message.

    `parties` maps a role ("practice", "branch", ...) to what the e-mail says about it;
    `body_text` is the plain text of what the sender wrote (quotes, signatures and
    disclaimers removed), for staff to read beside the parsed fields.
    """

    kind: RequestKind
    parties: tuple[tuple[str, Party], ...] = ()
    missing: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    sender: str | None = None
    sender_name: str | None = None
    reply_to: str | None = None
    sender_header: str | None = None  # the Sender header's address, when there is one
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    automated: bool = False
    auth_verdict: AuthVerdict = AuthVerdict.NONE
    body_text: str = ""
    full_text: str = ""  # the whole decoded text, quotes included, for display

    def party(self, role: str) -> Party | None:
        return dict(self.parties).get(role)

    def has_problem(self, code: str) -> bool:
        return any(p.code == code for p in self.problems)

    def request_json(self) -> dict[str, Any]:
        """`request` as CONTRACT.md prints it: only emitted fields, never empty strings."""
        return {role: party_to_json(party) for role, party in self.parties}

    def to_json(self) -> dict[str, Any]:
        """The object `pcse-intake parse` prints."""
        return {
            "kind": self.kind.value,
            "request": self.request_json(),
            "missing": list(self.missing),
            "problems": [
                {"code": p.code, "field": p.field, "message": p.message} for p in self.problems
            ],
            "sender": self.sender,
            "message_id": self.message_id,
            "subject": self.subject,
        }


def party_to_json(party: Party) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(party):
        value = getattr(party, f.name)
        if isinstance(value, Contact):
            contact = {k: v for k, v in (("name", value.name), ("email", value.email)) if v}
            if contact:
                out[f.name] = contact
        elif value:
            out[f.name] = value
    return out


def party_from_json(data: dict[str, Any]) -> Party:
    """The inverse of `party_to_json`, for stored requests and staff corrections."""
    contact = data.get("main_contact")
    return Party(
        name=data.get("name"),
        ods_code=data.get("ods_code"),
        org_type=data.get("org_type"),
        address=data.get("address"),
        phone=data.get("phone"),
        main_contact=Contact(contact.get("name"), contact.get("email")) if contact else None,
        current_email=data.get("current_email"),
        new_email=data.get("new_email"),
    )


@dataclass(frozen=True)
class ParseOptions:
    """What a deployment tells the parser; passed in, never read from a global."""

    max_message_bytes: int = 36_700_160
    authserv_ids: tuple[str, ...] = ()  # empty: trust the top-most Authentication-Results
    our_addresses: tuple[str, ...] = field(default=("pcse.datamanager@nhs.net",))
