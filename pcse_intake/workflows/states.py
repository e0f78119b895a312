"""The request state machine as an explicit table: (state, event) -> next state."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from pcse_intake.workflows.errors import IllegalTransition
from pcse_intake.workflows.models.request import RequestState

S = RequestState


class Event(StrEnum):
    INFORMATION_NEEDED = "information_needed"  # fields are missing: the practice was asked
    INFORMATION_COMPLETE = "information_complete"  # nothing missing any more
    DETAILS_CHANGED = "details_changed"  # a reply or a correction changed a field
    CALL_CONFIRMED = "call_confirmed"
    CALL_NO_ANSWER = "call_no_answer"
    CALL_FAILED = "call_failed"
    APPROVED = "approved"
    REJECTED = "rejected"
    # An approved e-mail change was stopped in its cooling-off period (pending_changes.py).
    CHANGE_STOPPED = "change_stopped"


OPEN_STATES: frozenset[RequestState] = frozenset(
    {S.RECEIVED, S.AWAITING_INFORMATION, S.AWAITING_VERIFICATION, S.VERIFIED}
)

_TABLE: dict[tuple[RequestState, Event], RequestState] = {
    (S.RECEIVED, Event.INFORMATION_NEEDED): S.AWAITING_INFORMATION,
    (S.RECEIVED, Event.INFORMATION_COMPLETE): S.AWAITING_VERIFICATION,
    (S.AWAITING_INFORMATION, Event.INFORMATION_NEEDED): S.AWAITING_INFORMATION,
    (S.AWAITING_INFORMATION, Event.INFORMATION_COMPLETE): S.AWAITING_VERIFICATION,
    (S.AWAITING_INFORMATION, Event.DETAILS_CHANGED): S.AWAITING_INFORMATION,
    # A correction or reply can also leave a field missing again.
    (S.AWAITING_VERIFICATION, Event.INFORMATION_NEEDED): S.AWAITING_INFORMATION,
    (S.AWAITING_VERIFICATION, Event.DETAILS_CHANGED): S.AWAITING_VERIFICATION,
    (S.AWAITING_VERIFICATION, Event.CALL_CONFIRMED): S.VERIFIED,
    (S.AWAITING_VERIFICATION, Event.CALL_NO_ANSWER): S.AWAITING_VERIFICATION,
    # A failed call is recorded and blocks verification; staff then reject (docs/workflow.md).
    (S.AWAITING_VERIFICATION, Event.CALL_FAILED): S.AWAITING_VERIFICATION,
    # What was verified is no longer what would be applied: verify again.
    (S.VERIFIED, Event.DETAILS_CHANGED): S.AWAITING_VERIFICATION,
    (S.VERIFIED, Event.INFORMATION_NEEDED): S.AWAITING_INFORMATION,
    (S.VERIFIED, Event.APPROVED): S.COMPLETED,
    # Only while the change waits: pending_changes.py checks that before asking.
    (S.COMPLETED, Event.CHANGE_STOPPED): S.CANCELLED,
}
for _open in OPEN_STATES:
    _TABLE[(_open, Event.REJECTED)] = S.REJECTED

TRANSITIONS: Mapping[tuple[RequestState, Event], RequestState] = MappingProxyType(_TABLE)

_WHAT: dict[Event, str] = {
    Event.INFORMATION_NEEDED: "ask for missing information",
    Event.INFORMATION_COMPLETE: "move on to verification",
    Event.DETAILS_CHANGED: "change its details",
    Event.CALL_CONFIRMED: "record a verification call",
    Event.CALL_NO_ANSWER: "record a verification call",
    Event.CALL_FAILED: "record a verification call",
    Event.APPROVED: "approve it",
    Event.REJECTED: "reject it",
    Event.CHANGE_STOPPED: "stop its change",
}

_NEEDS: dict[Event, str] = {
    Event.CALL_CONFIRMED: "awaiting_verification",
    Event.CALL_NO_ANSWER: "awaiting_verification",
    Event.CALL_FAILED: "awaiting_verification",
    Event.APPROVED: "verified",
    Event.REJECTED: "open",
    Event.CHANGE_STOPPED: "an approved e-mail change that has not yet taken effect",
}


def transition(
    state: RequestState | str, event: Event, *, ref: str = "the request"
) -> RequestState:
    """The state after `event`, or IllegalTransition with a sentence staff can act on."""
    current = RequestState(state)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        needs = _NEEDS.get(event)
        hint = f"; it must be {needs}" if needs else ""
        raise IllegalTransition(f"{ref} is {current.value}: cannot {_WHAT[event]}{hint}") from None


def is_open(state: RequestState | str) -> bool:
    return RequestState(state) in OPEN_STATES
