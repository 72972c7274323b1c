"""The handoff around a turn: open it, keep the bot silent, keep the staff desk in step.

The turn (`bot/turn.py`) asks `intercept` before the responder: with a
handoff open, the customer's message goes to the staff thread and the bot
says nothing (unless the message is urgent: then the care message is sent and
staff are alerted); with none open, the escalation policy decides, and an
escalation opens a handoff and gives the customer the bridging message in the
persona's voice (the policy's care message when someone may be at risk; when
staff will answer, outside business hours). A reply tomo was unsure of opens a
handoff too (`after_unsure`).

The staff desk (Slack) is kept in step by `sync`: post the card, relay what
was said since, post a due reminder, update the card. Each of these is written
down before it is tried, so a desk that is down only delays them: `upkeep`
(a periodic task) retries, re-pings handoffs nobody took in time and tells
their customers, once, that they have not been forgotten. With no desk
configured (the terminal chat, tests) handoffs are still opened, recorded and
answered honestly; they wait for a desk.

Staff actions (take over, reply, back to bot, resolve) are in
`bot/staff_actions.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.business_hours import BusinessHours, say_when
from bot.escalation import Decision, EscalationContext, Turn
from bot.escalation import HandoffState as OwnerState
from bot.escalation_evidence import EscalationChecker
from bot.escalation_policy import Priority
from bot.handoff import (
    CustomerMessenger,
    DeskThread,
    DeskUnavailable,
    Effect,
    HandoffCard,
    HandoffEvent,
    Holder,
    PostKind,
    StaffDesk,
    ThreadPost,
    next_step,
)
from bot.handoff_card import CardMaterial, build_card, gather_material
from bot.handoff_words import handoff_words, persona_lines
from bot.metrics import HANDOFFS, SEND_RETRIES
from bot.phrasing import speak
from bot.suggested_reply import SuggestedReplyWriter, draft_request
from memory.handoffs import Handoff, HandoffState, HandoffStore
from memory.models import Customer, Message, Role, utcnow
from memory.store import MemoryStore
from persona.schema import Persona

log = logging.getLogger(__name__)

MAX_DESK_BACKOFF = timedelta(minutes=10)
RELAY_BATCH = 20  # messages relayed per sync; the rest on the next


@dataclass(frozen=True)
class HandoffConfig:
    """Timings of the handoff (from settings)."""

    hours: BusinessHours
    claim_after: timedelta = timedelta(minutes=15)  # unclaimed this long → re-ping
    desk_retry: timedelta = timedelta(seconds=15)  # first wait after the desk failed; doubles
    sync_lease: timedelta = timedelta(seconds=60)
    card_messages: int = 8
    card_memories: int = 5


@dataclass(frozen=True)
class Intercepted:
    """The turn stops here: what tomo says now (possibly nothing) and the open handoff."""

    messages: tuple[str, ...]
    handoff: Handoff
    opened: bool  # this turn opened it


@dataclass
class UpkeepReport:
    synced: int = 0
    repinged: int = 0
    errors: list[str] = field(default_factory=list)


def owner_state(handoff: Handoff | None) -> OwnerState:
    """The escalation policy's view of who holds the conversation."""
    if handoff is None or not handoff.is_open:
        return OwnerState.BOT
    return OwnerState.STAFF if handoff.state is HandoffState.STAFF else OwnerState.WAITING_FOR_STAFF


def holder(handoff: Handoff | None) -> Holder:
    if handoff is None:
        return Holder()
    return Holder(handoff.state, handoff.claimed_by, handoff.repinged_at is not None)


def turns(history: Sequence[Message]) -> tuple[Turn, ...]:
    return tuple(Turn(message.role.value, message.text, message.unsure) for message in history)


class HandoffService:
    """Opens handoffs in turns, keeps the staff desk in step, and watches the claim time."""

    def __init__(
        self,
        store: MemoryStore,
        handoffs: HandoffStore,
        checker: EscalationChecker,
        persona: Callable[[], Persona],
        config: HandoffConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
        suggestions: SuggestedReplyWriter | None = None,
    ) -> None:
        self.store = store
        self.handoffs = handoffs
        self.checker = checker
        self.persona = persona
        self.config = config
        self.clock = clock
        self.desk: StaffDesk | None = None
        self._messengers: dict[str, CustomerMessenger] = {}
        # With a chat model: the card's suggested reply is drafted by it (else the template).
        self.suggestions = suggestions

    # -- wiring (the composition root) -------------------------------------------------

    def connect_desk(self, desk: StaffDesk | None) -> None:
        """Where staff see handoffs (Slack); None: handoffs wait for one."""
        self.desk = desk

    def connect_messenger(self, channel: str, messenger: CustomerMessenger) -> None:
        """How customers of one channel ("line") are reached outside a turn."""
        self._messengers[channel] = messenger

    def messenger(self, channel: str) -> CustomerMessenger | None:
        return self._messengers.get(channel)

    # -- the turn --------------------------------------------------------------------------

    async def intercept(
        self, customer: Customer, text: str, history: Sequence[Message], persona: Persona
    ) -> Intercepted | None:
        """Before the responder: None lets the bot answer; otherwise the turn stops here."""
        current = await self.handoffs.open_for(customer.id)
        context = EscalationContext(turns=turns(history), handoff=owner_state(current))
        if current is not None:
            # A person holds it: only the rules look (an urgent word must not wait for a model).
            decision = self.checker.decide(text, context)
            return await self._while_open(customer, current, decision, persona)
        decision = await self.checker.check(text, context)
        if not decision.escalate:
            return None
        handoff, opened = await self._open(customer, decision)
        if not opened:  # another process opened one a moment ago: it holds the turn
            return Intercepted((), handoff, False)
        return Intercepted(self._bridging(persona, customer, decision), handoff, True)

    async def after_unsure(
        self, customer: Customer, text: str, history: Sequence[Message], persona: Persona
    ) -> Intercepted | None:
        """tomo answered without knowing (and said staff will check): open a handoff.

        The unsure reply already told the customer; outside business hours this
        adds when staff will answer.
        """
        context = EscalationContext(turns=turns(history), bot_unsure=True)
        decision = self.checker.decide(text, context)
        if not decision.escalate:
            return None
        handoff, opened = await self._open(customer, decision)
        now = self.clock()
        extra: tuple[str, ...] = ()
        if opened and not self.config.hours.is_open(now):
            extra = (self._line(persona, customer, "handoff_when", handoff.id, now),)
        return Intercepted(extra, handoff, opened)

    async def _while_open(
        self, customer: Customer, current: Handoff, decision: Decision, persona: Persona
    ) -> Intercepted:
        if not decision.escalate:  # relayed by the sync that follows the turn
            return Intercepted((), current, False)
        step = next_step(holder(current), HandoffEvent.ESCALATE)
        reasons = dict.fromkeys([*current.reason_list, *(r.value for r in decision.reasons)])
        values: dict[str, Any] = {"reasons": ",".join(reasons)}
        if decision.priority is not None:
            values["priority"] = decision.priority.value
        updated = await self.handoffs.change(
            current.id, values, bump_card=Effect.UPDATE_CARD in step.effects
        )
        if (
            Effect.ALERT_THREAD in step.effects
            and self.desk is not None
            and current.slack_thread_ts
        ):
            try:
                await self.desk.post(
                    _thread(current),
                    ThreadPost(
                        PostKind.ALERT, reasons=decision.reasons, priority=decision.priority
                    ),
                )
            except DeskUnavailable as error:  # the card update (priority) still follows
                log.warning("could not alert the handoff thread: %s", error.reason)
        messages: tuple[str, ...] = ()
        if decision.care is not None:
            now = self.clock()
            care = decision.care.text(persona.voice.politeness)
            if not self.config.hours.is_open(now):
                messages = (care, self._line(persona, customer, "handoff_when", current.id, now))
            else:
                messages = (care,)
        return Intercepted(messages, updated or current, False)

    async def _open(self, customer: Customer, decision: Decision) -> tuple[Handoff, bool]:
        now = self.clock()
        hours = self.config.hours
        handoff, opened = await self.handoffs.open(
            customer.id,
            reasons=[reason.value for reason in decision.reasons],
            priority=(decision.priority or Priority.NORMAL).value,
            findings=[f"{finding.reason.value}: {finding.source}" for finding in decision.findings],
            claim_due_at=hours.claim_due(now, self.config.claim_after),
            after_hours=not hours.is_open(now),
            now=now,
        )
        if opened:
            log.info(
                "handoff opened (%s, %s)", handoff.priority, ",".join(handoff.reason_list) or "-"
            )
            for reason in handoff.reason_list or ["unspecified"]:
                HANDOFFS.labels(reason=reason).inc()
        return handoff, opened

    def _bridging(
        self, persona: Persona, customer: Customer, decision: Decision
    ) -> tuple[str, ...]:
        """What the customer is told as the handoff opens: honest about who answers and when."""
        now = self.clock()
        open_now = self.config.hours.is_open(now)
        seed = f"{customer.id}:{now.isoformat()}"
        if decision.care is not None:
            care = decision.care.text(persona.voice.politeness)
            if open_now:
                return (care,)
            return (care, self._line(persona, customer, "handoff_when", seed, now))
        name = "handoff" if open_now else "handoff_after_hours"
        return (self._line(persona, customer, name, seed, now),)

    def staff_expected(self, at: datetime) -> str:
        """When staff are next there, in words (今日の9時, 明日の9時, 月曜日の9時)."""
        hours = self.config.hours
        return say_when(at, hours.next_opening(at), hours, handoff_words().when)

    def _line(
        self, persona: Persona, customer: Customer, name: str, seed: str, now: datetime
    ) -> str:
        return speak(
            persona,
            persona_lines(persona, name),
            seed=seed,
            customer_name=customer.name,
            when=self.staff_expected(now),
        )

    # -- keeping the desk in step ---------------------------------------------------------

    async def sync_customer(self, customer_id: str) -> None:
        """After a turn: bring the customer's open handoff up to date on the desk."""
        handoff = await self.handoffs.open_for(customer_id)
        if handoff is not None:
            await self.sync(handoff.id)

    async def sync(self, handoff_id: str) -> bool:
        """Card, relays, reminder, card update — whatever the desk is behind on.

        False when the desk could not be reached (retried by `upkeep`) or another
        process is syncing this handoff right now.
        """
        desk = self.desk
        if desk is None:
            return False
        now = self.clock()
        if not await self.handoffs.lease_sync(
            handoff_id, now=now, until=now + self.config.sync_lease
        ):
            return False
        try:
            handoff = await self.handoffs.get(handoff_id)
            if handoff is None:
                return True
            await self._sync(desk, handoff)
        except DeskUnavailable as error:
            await self._desk_failed(handoff_id, error)
            return False
        except Exception as error:  # a bug must not cost the customer's turn; retried later
            log.exception("keeping the staff desk in step failed")
            await self._desk_failed(handoff_id, DeskUnavailable(type(error).__name__))
            return False
        finally:
            await self.handoffs.release_sync(handoff_id)
        return True

    async def _sync(self, desk: StaffDesk, handoff: Handoff) -> None:
        if handoff.slack_thread_ts is None:
            if not handoff.is_open:
                return  # closed before its card was ever posted: nothing to show staff
            material = await self._material(handoff)
            handoff = await self._draft_suggestion(handoff, material)
            card, newest = await self.card(handoff, material)
            thread = await desk.open_card(card)
            changed = await self.handoffs.change(
                handoff.id,
                {
                    "slack_channel": thread.channel,
                    "slack_thread_ts": thread.ts,
                    "relayed_through": newest,
                    "card_shown": handoff.card_version,
                    "desk_attempts": 0,
                    "desk_retry_at": None,
                    "desk_error": None,
                },
            )
            log.info("handoff card posted")
            handoff = changed or handoff
        thread = _thread(handoff)
        if handoff.is_open:
            if handoff.repinged_at is not None and handoff.reping_posted_at is None:
                waiting_since = handoff.claim_due_at - self.config.claim_after
                minutes = round((handoff.repinged_at - waiting_since).total_seconds() / 60)
                await desk.post(thread, ThreadPost(PostKind.REPING, minutes=minutes))
                handoff = (
                    await self.handoffs.change(handoff.id, {"reping_posted_at": self.clock()})
                    or handoff
                )
            handoff = await self._relay(desk, handoff, thread)
        if handoff.card_version > handoff.card_shown:
            card, _ = await self.card(handoff)
            await desk.update_card(thread, card)
            await self.handoffs.change(handoff.id, {"card_shown": handoff.card_version})
        if handoff.desk_attempts:
            await self.handoffs.change(
                handoff.id, {"desk_attempts": 0, "desk_retry_at": None, "desk_error": None}
            )

    async def _relay(self, desk: StaffDesk, handoff: Handoff, thread: DeskThread) -> Handoff:
        backlog = await self._backlog(handoff)
        for message in backlog:
            kind = PostKind.CUSTOMER if message.role is Role.CUSTOMER else PostKind.TOMO
            await desk.post(thread, ThreadPost(kind, message.text))
            handoff = (
                await self.handoffs.change(handoff.id, {"relayed_through": message.id}) or handoff
            )
        return handoff

    async def _backlog(self, handoff: Handoff) -> list[Message]:
        """Messages of the customer and tomo the thread has not seen yet, oldest first."""
        recent = await self.store.recent_messages(handoff.customer_id, RELAY_BATCH)
        after = handoff.relayed_through or 0
        return [m for m in recent if m.id is not None and m.id > after and m.role is not Role.STAFF]

    async def _desk_failed(self, handoff_id: str, error: DeskUnavailable) -> None:
        handoff = await self.handoffs.get(handoff_id)
        attempts = (handoff.desk_attempts if handoff else 0) + 1
        delay = min(self.config.desk_retry * 2 ** (attempts - 1), MAX_DESK_BACKOFF)
        if error.retry_after is not None:
            delay = max(delay, timedelta(seconds=error.retry_after))
        SEND_RETRIES.labels(channel="slack").inc()
        await self.handoffs.change(
            handoff_id,
            {
                "desk_attempts": attempts,
                "desk_retry_at": self.clock() + delay,
                "desk_error": error.reason[:200],
            },
        )
        log.warning(
            "the staff desk could not be reached (%s); retrying in %.0f s",
            error.reason,
            delay.total_seconds(),
        )

    async def _material(self, handoff: Handoff) -> CardMaterial:
        config = self.config
        return await gather_material(
            self.store, handoff, messages=config.card_messages, memories=config.card_memories
        )

    async def _draft_suggestion(self, handoff: Handoff, material: CardMaterial) -> Handoff:
        """Before the first card: the model drafts the suggested reply, once per handoff
        (bounded in time; without a usable draft the card suggests the template)."""
        writer = self.suggestions
        if writer is None or handoff.suggested_reply is not None:
            return handoff
        draft = await writer.draft(self.persona(), draft_request(handoff, material))
        if draft is None:
            return handoff
        kept = await self.handoffs.change(
            handoff.id, {"suggested_reply": draft}, still_null=["suggested_reply"]
        )
        return kept or await self.handoffs.get(handoff.id) or handoff

    async def card(
        self, handoff: Handoff, material: CardMaterial | None = None
    ) -> tuple[HandoffCard, int | None]:
        """The card for a handoff, and the newest message id it shows."""
        now = self.clock()
        expected = self.staff_expected(handoff.created_at) if handoff.after_hours else None
        return await build_card(
            self.store,
            self.persona(),
            handoff,
            now=now,
            staff_expected=expected,
            messages=self.config.card_messages,
            memories=self.config.card_memories,
            material=material,
        )

    # -- the periodic task -----------------------------------------------------------------

    async def upkeep(self) -> UpkeepReport:
        """Re-ping handoffs nobody took in time (telling their customers once), and bring
        every handoff the desk is behind on up to date."""
        report = UpkeepReport()
        now = self.clock()
        for handoff in await self.handoffs.unclaimed_past_due(now):
            try:
                if await self._timeout(handoff, now):
                    report.repinged += 1
            except Exception as error:  # one handoff's failure does not stop the others
                log.exception("re-ping of a handoff failed")
                report.errors.append(type(error).__name__)
        if self.desk is not None:
            for handoff in await self.handoffs.needing_desk(now):
                if await self.sync(handoff.id):
                    report.synced += 1
        return report

    async def _timeout(self, handoff: Handoff, now: datetime) -> bool:
        step = next_step(holder(handoff), HandoffEvent.TIMEOUT)
        if Effect.REPING not in step.effects:
            return False
        # Claimed once, across processes: whoever sets repinged_at does the rest.
        marked = await self.handoffs.change(
            handoff.id,
            {"repinged_at": now},
            expected=[HandoffState.WAITING],
            still_null=["repinged_at"],
        )
        if marked is None:
            return False
        if Effect.REASSURE_CUSTOMER in step.effects:
            await self._reassure(marked, now)
        if self.desk is not None:
            await self.sync(marked.id)  # posts the reminder (or leaves it to the next upkeep)
        return True

    async def _reassure(self, handoff: Handoff, now: datetime) -> None:
        told = await self.handoffs.change(
            handoff.id, {"customer_reassured_at": now}, still_null=["customer_reassured_at"]
        )
        if told is None:
            return
        customer = await self.store.customer(handoff.customer_id)
        if customer is None:
            return
        persona = self.persona()
        line = self._line(persona, customer, "handoff_reassure", handoff.id, now)
        await self.store.record_message(customer.id, Role.TOMO, line)
        await self.tell_customer(customer, [line])

    async def tell_customer(self, customer: Customer, texts: Sequence[str]) -> bool:
        """Send words to a customer outside a turn; False when their channel cannot be reached."""
        messenger = self._messengers.get(customer.channel)
        if messenger is None:
            log.info(
                "no messenger for %s customers: message kept in the history only", customer.channel
            )
            return False
        await messenger.push(customer.id, texts)
        return True


def _thread(handoff: Handoff) -> DeskThread:
    if handoff.slack_channel is None or handoff.slack_thread_ts is None:
        raise ValueError("the handoff has no card yet")
    return DeskThread(handoff.slack_channel, handoff.slack_thread_ts)
