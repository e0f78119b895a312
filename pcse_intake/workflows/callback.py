"""The number to call back: always from the registry, never only from the e-mail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.errors import VerificationRefused
from pcse_intake.workflows.fields import get_path
from pcse_intake.workflows.models import InboundMessage, Request
from pcse_intake.workflows.registry import organisation

# Whom PCSE phones, in order of preference (the FAQ: "we will call the new practice").
CALL_ORDER: dict[RequestKind, tuple[str, ...]] = {
    RequestKind.EMAIL_CHANGE: ("practice",),
    RequestKind.MAIN_CONTACT_EXTENSION: ("new_practice", "existing_practice"),
    RequestKind.BRANCH_SETUP: ("main_practice", "branch"),
    RequestKind.NEW_PRACTICE_SETUP: ("new_practice", "existing_practice"),
    RequestKind.UNKNOWN: (),
}


@dataclass(frozen=True)
class NumberOnRecord:
    phone: str  # E.164
    ods_code: str
    organisation_name: str


def number_on_record(session: Session, request: Request) -> NumberOnRecord | None:
    for role in CALL_ORDER[RequestKind(request.kind)]:
        org = organisation(session, get_path(request.fields, f"{role}.ods_code"))
        if org is not None and org.phone:
            return NumberOnRecord(org.phone, org.ods_code, org.name)
    return None


def numbers_in_email(request: Request, texts: Iterable[str] = ()) -> list[str]:
    """Numbers the e-mail gave: shown to staff as unverified, never used as the call-back.

    Both the parsed phone fields and any number written anywhere in the e-mail's text
    ("call me on 07700 900123", a signature) count: a fraudster's number can sit anywhere.
    """
    found: list[str] = []
    for role in CALL_ORDER[RequestKind(request.kind)]:
        phone = get_path(request.fields, f"{role}.phone")
        if phone and phone not in found:
            found.append(phone)
    for text in texts:
        for match in phonenumbers.PhoneNumberMatcher(
            text, "GB", leniency=phonenumbers.Leniency.POSSIBLE
        ):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
    return found


def email_texts(session: Session, request: Request) -> list[str]:
    """The text of every message filed on the request, as the parser read it."""
    results = session.scalars(
        select(InboundMessage.parse_result).where(InboundMessage.request_id == request.id)
    )
    return [
        str((result or {}).get("full_text") or (result or {}).get("body_text") or "")
        for result in results
    ]


def refuse_a_number_from_the_email(
    session: Session, request: Request, called: str, *, admin: bool, note: str | None
) -> str | None:
    """A number the e-mail itself gave cannot be the call-back number (battery 30).

    Calling it would let whoever wrote the e-mail answer the check on it. Only when an
    independent source gives the same number (the ODS record of a practice not yet in
    ours) may an admin record it, saying which source: an audited override, whose words
    for the history this returns. Another number not on record stays allowed, with a note.
    """
    if called not in numbers_in_email(request, email_texts(session, request)):
        return None
    if not admin or note is None:
        raise VerificationRefused(
            f"{called} was given in the e-mail itself, so a call to it proves nothing; "
            "call the number on record (only an admin may use this number, with a note "
            "naming the independent source that gives it)"
        )
    return "override: a number also given in the e-mail"
