"""The handoff state machine: one owner at a time, pure."""

from __future__ import annotations

import pytest

from bot.handoff import Effect, HandoffEvent, Holder, Refusal, next_step
from memory.handoffs import HandoffState

WAITING = Holder(HandoffState.WAITING)
WITH_SATO = Holder(HandoffState.STAFF, "U_SATO")


def test_an_escalation_opens_a_handoff_waiting_for_staff_with_a_card() -> None:
    step = next_step(Holder(), HandoffEvent.ESCALATE)
    assert (step.state, step.effects) == (HandoffState.WAITING, {Effect.OPEN_CARD})


def test_an_escalation_after_a_closed_handoff_opens_a_new_one() -> None:
    step = next_step(Holder(HandoffState.RESOLVED, "U_SATO"), HandoffEvent.ESCALATE)
    assert (step.state, step.claimed_by) == (HandoffState.WAITING, None)


def test_an_urgent_escalation_while_open_alerts_staff_and_keeps_the_owner() -> None:
    step = next_step(WITH_SATO, HandoffEvent.ESCALATE)
    assert (step.state, step.claimed_by) == (HandoffState.STAFF, "U_SATO")
    assert step.effects == {Effect.ALERT_THREAD, Effect.UPDATE_CARD}


def test_claiming_a_waiting_handoff_gives_it_to_that_staff_member() -> None:
    step = next_step(WAITING, HandoffEvent.CLAIM, "U_SATO")
    assert (step.state, step.claimed_by, step.effects) == (
        HandoffState.STAFF,
        "U_SATO",
        {Effect.UPDATE_CARD},
    )


def test_claiming_it_again_changes_nothing() -> None:
    step = next_step(WITH_SATO, HandoffEvent.CLAIM, "U_SATO")
    assert step.accepted and not step.changed


def test_someone_else_cannot_claim_a_claimed_handoff() -> None:
    step = next_step(WITH_SATO, HandoffEvent.CLAIM, "U_TANAKA")
    assert (step.refusal, step.claimed_by) == (Refusal.ALREADY_CLAIMED, "U_SATO")


def test_replying_to_a_waiting_handoff_takes_it_and_delivers() -> None:
    step = next_step(WAITING, HandoffEvent.STAFF_REPLY, "U_SATO")
    assert (step.state, step.claimed_by) == (HandoffState.STAFF, "U_SATO")
    assert step.effects == {Effect.DELIVER_TO_CUSTOMER, Effect.UPDATE_CARD}


def test_a_colleague_replying_delivers_without_changing_the_owner() -> None:
    step = next_step(WITH_SATO, HandoffEvent.STAFF_REPLY, "U_TANAKA")
    assert (step.claimed_by, step.effects) == ("U_SATO", {Effect.DELIVER_TO_CUSTOMER})


@pytest.mark.parametrize(
    ("event", "state"),
    [
        (HandoffEvent.BACK_TO_BOT, HandoffState.BACK_TO_BOT),
        (HandoffEvent.RESOLVE, HandoffState.RESOLVED),
    ],
)
@pytest.mark.parametrize("current", [WAITING, WITH_SATO])
def test_back_to_bot_and_resolve_close_an_open_handoff(
    current: Holder, event: HandoffEvent, state: HandoffState
) -> None:
    step = next_step(current, event, "U_SATO")
    assert (step.state, step.effects) == (state, {Effect.UPDATE_CARD})


@pytest.mark.parametrize(
    "event",
    [HandoffEvent.CLAIM, HandoffEvent.STAFF_REPLY, HandoffEvent.BACK_TO_BOT, HandoffEvent.RESOLVE],
)
@pytest.mark.parametrize("state", [None, HandoffState.BACK_TO_BOT, HandoffState.RESOLVED])
def test_staff_actions_on_a_closed_handoff_are_refused(
    state: HandoffState | None, event: HandoffEvent
) -> None:
    step = next_step(Holder(state), event, "U_SATO")
    assert (step.refusal, step.state) == (Refusal.CLOSED, state)


def test_a_timeout_repings_and_reassures_once() -> None:
    assert next_step(WAITING, HandoffEvent.TIMEOUT).effects == {
        Effect.REPING,
        Effect.REASSURE_CUSTOMER,
    }
    repinged = Holder(HandoffState.WAITING, repinged=True)
    assert next_step(repinged, HandoffEvent.TIMEOUT).effects == frozenset()


def test_a_timeout_does_nothing_once_someone_holds_it() -> None:
    assert next_step(WITH_SATO, HandoffEvent.TIMEOUT).effects == frozenset()
