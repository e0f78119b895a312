"""The state machine table: the contract's states and transitions, and nothing else."""

from __future__ import annotations

import pytest

from pcse_intake.workflows.errors import IllegalTransition
from pcse_intake.workflows.models import RequestState as S
from pcse_intake.workflows.states import OPEN_STATES, TRANSITIONS, Event, is_open, transition


def test_the_happy_path_of_the_contract() -> None:
    state = transition(S.RECEIVED, Event.INFORMATION_NEEDED)
    assert state is S.AWAITING_INFORMATION
    state = transition(state, Event.INFORMATION_COMPLETE)
    assert state is S.AWAITING_VERIFICATION
    assert transition(state, Event.CALL_NO_ANSWER) is S.AWAITING_VERIFICATION
    state = transition(state, Event.CALL_CONFIRMED)
    assert state is S.VERIFIED
    assert transition(state, Event.APPROVED) is S.COMPLETED


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_every_open_state_can_be_rejected(state: S) -> None:
    assert transition(state, Event.REJECTED) is S.REJECTED


@pytest.mark.parametrize("state", [S.COMPLETED, S.REJECTED, S.CANCELLED])
def test_closed_states_allow_nothing(state: S) -> None:
    """Nothing but stopping an approved e-mail change that is still waiting."""
    assert not is_open(state)
    for event in Event:
        if (state, event) == (S.COMPLETED, Event.CHANGE_STOPPED):
            assert transition(state, event) is S.CANCELLED
            continue
        with pytest.raises(IllegalTransition, match=f"is {state.value}"):
            transition(state, event, ref="PCSE-000001")


def test_approval_needs_verification_and_says_so() -> None:
    with pytest.raises(IllegalTransition, match="cannot approve it; it must be verified"):
        transition(S.AWAITING_VERIFICATION, Event.APPROVED, ref="PCSE-000001")
    with pytest.raises(IllegalTransition):
        transition(S.RECEIVED, Event.CALL_CONFIRMED)


def test_a_change_after_verification_means_verifying_again() -> None:
    assert transition(S.VERIFIED, Event.DETAILS_CHANGED) is S.AWAITING_VERIFICATION


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.RECEIVED, Event.APPROVED)] = S.COMPLETED  # type: ignore[index]
