"""What the console answers to each sign-in outcome; the checks themselves are shared with the
command line (`workflows.authentication`)."""

from __future__ import annotations

from pcse_intake.workflows.authentication import (
    LOCK_AFTER_FAILURES,
    NOT_RECOGNISED,
    Outcome,
    SignInResult,
    check_password,
    reauthenticate,
)

__all__ = [
    "CODE_LOCK_MESSAGE",
    "REFUSALS",
    "Outcome",
    "SignInResult",
    "check_password",
    "reauthenticate",
    "refusal",
]

# The one answer to a wrong password, an unknown name, and a locked, disabled or unconfirmed
# account alike: telling them apart would tell an outsider which names are accounts.
NOT_RECOGNISED_MESSAGE = (
    "The username or password is not correct, or the account cannot be used now. "
    f"{LOCK_AFTER_FAILURES} wrong passwords in a row lock an account until an administrator "
    "unlocks it."
)

# What each refusal shows, in plain English, and its status code.
REFUSALS: dict[Outcome, tuple[int, str]] = {
    **dict.fromkeys(NOT_RECOGNISED, (401, NOT_RECOGNISED_MESSAGE)),
    Outcome.THROTTLED: (
        429,
        "There have been too many failed sign-ins from your network. Wait 15 minutes, "
        "then try again.",
    ),
    Outcome.WRONG_CODE: (
        401,
        "The code is not correct. Enter the 6-digit code your authenticator app shows now.",
    ),
    Outcome.REPLAYED_CODE: (
        401,
        "That code has already been used. Wait for your app to show a new code, then enter it.",
    ),
    Outcome.CODE_TOO_LATE: (
        401,
        "You took too long to enter the code. Sign in again with your password, then enter "
        "a new code.",
    ),
}
# After a right password the person has shown who they are: a lock can be named then.
CODE_LOCK_MESSAGE = (
    f"A wrong password or code was entered {LOCK_AFTER_FAILURES} times in a row, so the "
    "account is now locked. Ask an administrator to unlock it."
)


def refusal(outcome: Outcome, *, after_password: bool = False) -> tuple[int, str]:
    """The status code and message for a refused attempt."""
    if after_password and outcome in (Outcome.NOW_LOCKED, Outcome.LOCKED):
        return 403, CODE_LOCK_MESSAGE
    return REFUSALS[outcome]
