"""Battery 31-32: an e-mail change from elsewhere, or to a doubtful address, needs more proof.

Such a change is confirmed only by a call to the number on record, with a note of who at the
practice confirmed it; approval checks that call was made (and, as for every request, that a
different person approves it).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.errors import CannotApply, VerificationRefused
from pcse_intake.workflows.models import Request, VerificationCall

# Problem codes (checks.py, parsers/validate.py) that put an e-mail change in doubt.
DOUBTS: dict[str, str] = {
    "sender_not_on_record": "comes from an address we do not hold for the practice",
    "not_nhsmail_sender": "comes from outside NHSmail",
    "lookalike_sender": "comes from a domain that imitates nhs.net",
    "personal_nhsmail": "asks for a personal mailbox, not the practice's own",
    "not_nhsmail": "asks for an address outside nhs.net",
}

_ABOUT_NEW_ADDRESS = frozenset({"personal_nhsmail", "not_nhsmail"})  # not current_email's


def doubts(request: Request) -> list[str]:
    """Why this e-mail change needs the stricter call-back, in words; [] if it does not."""
    if request.kind != RequestKind.EMAIL_CHANGE:
        return []
    codes = {
        str(p.get("code"))
        for p in request.problems or []
        if p.get("code") not in _ABOUT_NEW_ADDRESS or p.get("field") == "practice.new_email"
    }
    return [why for code, why in DOUBTS.items() if code in codes]


def require_callback_with_note(request: Request, *, on_record: bool, note: str | None) -> None:
    """At the confirming call: refused unless on the number on record and with a note."""
    reasons = doubts(request)
    if not reasons:
        return
    why = f"{request.ref} " + " and ".join(reasons)
    if not on_record:
        raise VerificationRefused(
            f"{why}: it can be confirmed only by calling the number on record for the practice"
        )
    if note is None:
        raise VerificationRefused(
            f"{why}: say in the notes who at the practice confirmed the change on the call"
        )


def require_confirmed_callback(session: Session, request: Request) -> None:
    """At approval: the confirming call of a doubtful e-mail change met the rule above."""
    reasons = doubts(request)
    if not reasons:
        return
    call = session.scalars(
        select(VerificationCall)
        .where(VerificationCall.request_id == request.id, VerificationCall.outcome == "confirmed")
        .order_by(VerificationCall.at.desc(), VerificationCall.id.desc())
        .limit(1)
    ).first()
    if call is None or not call.phone_on_record or not (call.notes or "").strip():
        raise CannotApply(
            f"{request.ref} " + " and ".join(reasons) + ": it needs a confirmed call to the"
            " number on record with a note before it can be approved; reject it and ask the"
            " practice to write from the address we hold"
        )
