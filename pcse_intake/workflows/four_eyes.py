"""Four eyes at approval: the approver had no part in the request, and no hand in the accounts
of those who had (nor they in the approver's)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.workflows.errors import FourEyesViolation
from pcse_intake.workflows.models import Correction, Request, Staff
from pcse_intake.workflows.staff_changes import lineage


def check_four_eyes(session: Session, request: Request, approver: str) -> None:
    """FourEyesViolation unless `approver` is independent of everyone who verified or
    corrected `request`.

    Independent means: not the same account, and neither made, confirmed, re-roled nor reset
    the other's account. An admin who made an account could have signed in as it before its
    owner did, so the two accounts may be one person.
    """
    parts: list[tuple[str, str]] = []
    if request.verified_by:
        parts.append((request.verified_by, f"recorded the confirming call for {request.ref}"))
    correctors = session.scalars(
        select(Correction.staff).where(Correction.request_id == request.id).distinct()
    ).all()
    parts += [(name, f"corrected {request.ref}") for name in correctors]
    for name, part in parts:
        if name == approver:
            raise FourEyesViolation(f"{approver} {part}; a different person must approve it")
    mine = _account(session, approver)
    if mine is None:
        return
    my_lineage = lineage(session, mine.id)
    for name, part in parts:
        theirs = _account(session, name)
        if theirs is None:
            continue
        if theirs.id in my_lineage or mine.id in lineage(session, theirs.id):
            raise FourEyesViolation(
                f"{name} {part}, and one of {name} and {approver} made or changed the other's "
                "account, so they may be one person; someone else must approve it"
            )


def _account(session: Session, username: str) -> Staff | None:
    return session.scalars(select(Staff).where(Staff.username == username)).one_or_none()
