"""Handing a conversation to staff and back: the pure state machine, and what bot/ needs.

One owner holds a conversation at a time. The bot holds it until the
escalation policy (or tomo being unsure) opens a handoff; then it waits for
staff, a named staff member takes it (「対応する」, or by replying in the
thread), and it goes back to the bot (「ボットに戻す」) or is resolved
(「解決済み」) — both give the conversation back to the bot. While a handoff
is open the bot does not answer; the customer's messages go to the thread.

`next_step` says, for the handoff as it stands and one event, what the state
becomes and what must happen around it (effects); the I/O lives in
`bot/handoff_service.py`. The Protocols here are what bot/ needs from the
edges: a staff desk (Slack) and a way to reach a customer (LINE push).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.escalation_policy import Priority, Reason
from memory.handoffs import CLOSED_STATES, OPEN_STATES, HandoffState

__all__ = [
    "CustomerMessenger",
    "DeskThread",
    "DeskUnavailable",
    "Effect",
    "HandoffCard",
    "HandoffEvent",
    "HandoffState",
    "HintKind",
    "Holder",
    "PostKind",
    "Refusal",
    "StaffDesk",
    "StaffHint",
    "StaffMember",
    "Step",
    "ThreadPost",
    "next_step",
]


class HandoffEvent(StrEnum):
    """What can happen to a handoff."""

    ESCALATE = "escalate"  # the policy (or tomo being unsure) sends the conversation to staff
    CLAIM = "claim"  # 「対応する」: a named staff member takes it
    STAFF_REPLY = "staff_reply"  # staff wrote in the thread: it reaches the customer
    BACK_TO_BOT = "back_to_bot"  # 「ボットに戻す」
    RESOLVE = "resolve"  # 「解決済み」
    TIMEOUT = "timeout"  # nobody took it within the claim time


class Effect(StrEnum):
    """What must happen around a step (done by the handoff service)."""

    OPEN_CARD = "open_card"  # post the handoff card in the staff channel
    UPDATE_CARD = "update_card"  # the card shows the new state / owner
    ALERT_THREAD = "alert_thread"  # something urgent came up while the handoff was open
    DELIVER_TO_CUSTOMER = "deliver_to_customer"  # the staff reply goes to the customer
    REPING = "reping"  # remind staff in the thread
    REASSURE_CUSTOMER = "reassure_customer"  # tell the customer they are not forgotten


class Refusal(StrEnum):
    """Why an event does not apply (told to the staff member who caused it)."""

    ALREADY_CLAIMED = "already_claimed"  # someone else holds it
    CLOSED = "closed"  # it went back to the bot or was resolved


@dataclass(frozen=True)
class Holder:
    """Who holds the conversation now: `state` None when no handoff is open."""

    state: HandoffState | None = None
    claimed_by: str | None = None
    repinged: bool = False


@dataclass(frozen=True)
class Step:
    """The outcome of one event."""

    state: HandoffState | None
    claimed_by: str | None
    effects: frozenset[Effect] = frozenset()
    refusal: Refusal | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @property
    def changed(self) -> bool:
        """The state or the owner changed (the store must be updated)."""
        return Effect.UPDATE_CARD in self.effects or Effect.OPEN_CARD in self.effects


def _refuse(current: Holder, refusal: Refusal) -> Step:
    return Step(current.state, current.claimed_by, frozenset(), refusal)


def _same(current: Holder, *effects: Effect) -> Step:
    return Step(current.state, current.claimed_by, frozenset(effects))


def next_step(current: Holder, event: HandoffEvent, actor: str | None = None) -> Step:
    """The next state of a handoff for one event, and what must happen around it.

    `actor` is the staff member (Slack user id) behind CLAIM and STAFF_REPLY.
    """
    state = current.state
    is_open = state in OPEN_STATES
    match event:
        case HandoffEvent.ESCALATE:
            if is_open:  # only urgent news reaches here while open (see escalation.decide)
                return _same(current, Effect.ALERT_THREAD, Effect.UPDATE_CARD)
            return Step(HandoffState.WAITING, None, frozenset({Effect.OPEN_CARD}))
        case HandoffEvent.TIMEOUT:
            if state is HandoffState.WAITING and not current.repinged:
                return _same(current, Effect.REPING, Effect.REASSURE_CUSTOMER)
            return _same(current)
    if not is_open:
        return _refuse(current, Refusal.CLOSED)
    match event:
        case HandoffEvent.CLAIM:
            if state is HandoffState.STAFF:
                if current.claimed_by == actor:
                    return _same(current)
                return _refuse(current, Refusal.ALREADY_CLAIMED)
            return Step(HandoffState.STAFF, actor, frozenset({Effect.UPDATE_CARD}))
        case HandoffEvent.STAFF_REPLY:
            if state is HandoffState.WAITING:  # replying is taking it
                return Step(
                    HandoffState.STAFF,
                    actor,
                    frozenset({Effect.DELIVER_TO_CUSTOMER, Effect.UPDATE_CARD}),
                )
            return _same(current, Effect.DELIVER_TO_CUSTOMER)
        case HandoffEvent.BACK_TO_BOT:
            return Step(
                HandoffState.BACK_TO_BOT, current.claimed_by, frozenset({Effect.UPDATE_CARD})
            )
        case HandoffEvent.RESOLVE:
            return Step(HandoffState.RESOLVED, current.claimed_by, frozenset({Effect.UPDATE_CARD}))
    raise AssertionError(f"unhandled handoff event {event}")  # pragma: no cover


def is_closed(state: HandoffState | None) -> bool:
    return state is None or state in CLOSED_STATES


# -- what the staff desk shows and receives ---------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    """A person on the staff side (a Slack user)."""

    id: str
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class CardMessage:
    """One message of the conversation, as the card shows it."""

    role: str  # customer, tomo, staff
    text: str
    at: datetime


@dataclass(frozen=True)
class HandoffCard:
    """Everything the staff member needs to take over, for the desk to lay out."""

    handoff_id: str
    customer_id: str
    customer_name: str | None
    channel: str  # line, terminal
    known_since: datetime
    now: datetime
    state: HandoffState
    reasons: tuple[Reason, ...]
    priority: Priority
    findings: tuple[str, ...]  # what showed each reason
    messages: tuple[CardMessage, ...]  # the last messages, oldest first
    memories: tuple[str, ...]  # what tomo remembers of them, most relevant first
    claimed_by: StaffMember | None = None
    closed_by: StaffMember | None = None
    staff_expected: str | None = None  # outside business hours: when the customer was told
    suggested_reply: str | None = None  # a first answer in the persona's voice


@dataclass(frozen=True)
class DeskThread:
    """Where a handoff's card is: the thread staff reply in."""

    channel: str
    ts: str


class PostKind(StrEnum):
    """What a message in the handoff thread is."""

    CUSTOMER = "customer"  # what the customer wrote while the handoff is open
    TOMO = "tomo"  # what tomo told the customer (care, bridging) while it is open
    REPING = "reping"  # nobody took it in time
    ALERT = "alert"  # something urgent came up while open
    SENT = "sent"  # a staff member sent the card's suggested reply (text: what was sent)
    UNDELIVERED = "undelivered"  # a staff reply could not be sent to the customer


@dataclass(frozen=True)
class ThreadPost:
    """One message for the handoff thread."""

    kind: PostKind
    text: str = ""
    reasons: tuple[Reason, ...] = ()
    priority: Priority | None = None
    minutes: int = 0  # REPING: how long it has waited
    staff: StaffMember | None = None  # SENT, UNDELIVERED: who wrote it


class HintKind(StrEnum):
    """What one staff member is told privately (an ephemeral message)."""

    ALREADY_CLAIMED = "already_claimed"  # someone else holds it (owner: who)
    CLOSED = "closed"  # it is back with the bot or resolved: nothing was sent
    NOTE_SAVED = "note_saved"  # the メモ: reply was kept in the customer's memory, not sent
    TONE = "tone"  # the reply was sent, but strays from the persona's voice (findings)


@dataclass(frozen=True)
class StaffHint:
    kind: HintKind
    owner: StaffMember | None = None
    findings: tuple[str, ...] = ()


class DeskUnavailable(Exception):
    """The staff desk cannot be reached now (network, 5xx, rate limit, bad config): retry later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class StaffDesk(Protocol):
    """Where staff see handoffs (Slack). Every method raises DeskUnavailable when it
    cannot reach the desk; the handoff service retries later."""

    async def open_card(self, card: HandoffCard) -> DeskThread:
        """Post the handoff card; its thread is where the conversation continues."""
        ...

    async def update_card(self, thread: DeskThread, card: HandoffCard) -> None:
        """Show the card's new state (who took it, back to bot, resolved)."""
        ...

    async def post(self, thread: DeskThread, post: ThreadPost) -> None:
        """Post one message in the handoff's thread."""
        ...

    async def hint(self, thread: DeskThread, staff: StaffMember, hint: StaffHint) -> None:
        """Tell one staff member something only they see (an ephemeral message)."""
        ...


class CustomerMessenger(Protocol):
    """Sends words to a customer outside a turn (staff replies, reassurance): a LINE push."""

    async def push(self, customer_id: str, texts: Sequence[str]) -> None: ...
