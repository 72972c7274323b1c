"""What staff do with a handoff: take it, answer in the thread, give it back, resolve it.

The Slack connector calls these after it has acknowledged Slack's request.
Each action runs the pure state machine (`bot.handoff.next_step`) and applies
the outcome with a compare-and-set on the stored state, so two people
clicking at once, or one click arriving twice, change it once.

- 「対応する」: the staff member becomes the conversation's one owner.
- A reply in the handoff thread goes to the customer (LINE push) and is
  recorded as a staff message; replying to a handoff nobody took is taking it.
  A reply that starts with `メモ:` / `note:` is not sent: it is kept as a
  staff note in the customer's memory. A reply that strays from the persona's
  voice is sent, and the staff member gets a private hint.
- 「ボットに戻す」 / 「解決済み」: the bot answers the customer again.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from bot.handoff import (
    DeskThread,
    DeskUnavailable,
    Effect,
    HandoffEvent,
    HintKind,
    PostKind,
    Refusal,
    StaffHint,
    StaffMember,
    Step,
    ThreadPost,
    next_step,
)
from bot.handoff_card import suggested_reply
from bot.handoff_service import HandoffService, holder
from bot.handoff_words import handoff_words
from memory.handoffs import Handoff, HandoffState
from memory.models import Author, MemoryKind, Role
from persona.tone import check_tone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What came of one staff action."""

    handled: bool  # False: not about a handoff tomo knows (another thread, an old card)
    state: HandoffState | None = None
    refusal: Refusal | None = None
    delivered: bool = False  # words reached the customer's channel (its outbox)
    note_saved: bool = False


IGNORED = Outcome(handled=False)


def staff_note(text: str) -> str | None:
    """The note when a reply starts with メモ: / note: (any width, any case); else None."""
    folded = unicodedata.normalize("NFKC", text).lstrip()
    for prefix in handoff_words().note_prefixes:
        wanted = unicodedata.normalize("NFKC", prefix).casefold()
        if folded.casefold().startswith(wanted):
            return folded[len(wanted) :].strip()
    return None


class StaffActions:
    """Applies what staff did in Slack to handoffs, customers and the desk."""

    def __init__(self, service: HandoffService) -> None:
        self._service = service

    async def claim(self, handoff_id: str, staff: StaffMember) -> Outcome:
        """「対応する」: the staff member takes the conversation over."""
        return await self._act(handoff_id, staff, HandoffEvent.CLAIM)

    async def back_to_bot(self, handoff_id: str, staff: StaffMember) -> Outcome:
        """「ボットに戻す」: the bot answers the customer again."""
        return await self._act(handoff_id, staff, HandoffEvent.BACK_TO_BOT)

    async def resolve(self, handoff_id: str, staff: StaffMember) -> Outcome:
        """「解決済み」: done; the bot answers the customer again."""
        return await self._act(handoff_id, staff, HandoffEvent.RESOLVE)

    async def send_suggestion(self, handoff_id: str, staff: StaffMember) -> Outcome:
        """The card's suggested reply, sent by this staff member (who takes it over)."""
        handoff = await self._service.handoffs.get(handoff_id)
        if handoff is None:
            return IGNORED
        customer = await self._service.store.customer(handoff.customer_id)
        text = suggested_reply(
            self._service.persona(), handoff, customer.name if customer else None
        )
        return await self._say(handoff, staff, text, announce=True)

    async def reply_in_thread(
        self, channel: str, thread_ts: str, staff: StaffMember, text: str
    ) -> Outcome:
        """A staff member wrote in a Slack thread: if it is a handoff's, it reaches the customer."""
        handoff = await self._service.handoffs.by_thread(channel, thread_ts)
        if handoff is None or not text.strip():
            return IGNORED
        note = staff_note(text)
        if note is not None:
            return await self._keep_note(handoff, staff, note)
        return await self._say(handoff, staff, text, announce=False)

    # -- the steps ---------------------------------------------------------------------------

    async def _act(self, handoff_id: str, staff: StaffMember, event: HandoffEvent) -> Outcome:
        for _ in range(3):  # a concurrent change: look again and re-decide
            handoff = await self._service.handoffs.get(handoff_id)
            if handoff is None:
                return IGNORED
            step = next_step(holder(handoff), event, staff.id)
            if not step.accepted:
                await self._refused(handoff, staff, step)
                return Outcome(True, handoff.state, step.refusal)
            if not step.changed:
                return Outcome(True, handoff.state)
            updated = await self._apply(handoff, staff, step)
            if updated is not None:
                log.info("handoff %s by staff (%s)", event.value, updated.state.value)
                await self._service.sync(updated.id)
                return Outcome(True, updated.state)
        return Outcome(True, None)

    async def _apply(self, handoff: Handoff, staff: StaffMember, step: Step) -> Handoff | None:
        now = self._service.clock()
        values: dict[str, object] = {"state": step.state}
        if step.state is HandoffState.STAFF:
            values |= {"claimed_by": staff.id, "claimed_by_name": staff.name, "claimed_at": now}
        elif step.state is not None and step.state is not handoff.state:
            values |= {"closed_by": staff.id, "closed_by_name": staff.name, "closed_at": now}
        return await self._service.handoffs.change(
            handoff.id,
            values,
            expected=[handoff.state],
            bump_card=Effect.UPDATE_CARD in step.effects,
        )

    async def _say(
        self, handoff: Handoff, staff: StaffMember, text: str, *, announce: bool
    ) -> Outcome:
        service = self._service
        for _ in range(3):
            step = next_step(holder(handoff), HandoffEvent.STAFF_REPLY, staff.id)
            if not step.accepted:
                await self._refused(handoff, staff, step)
                return Outcome(True, handoff.state, step.refusal)
            if not step.changed:
                break
            updated = await self._apply(handoff, staff, step)
            if updated is not None:
                handoff = updated
                break
            reloaded = await service.handoffs.get(handoff.id)
            if reloaded is None:
                return IGNORED
            handoff = reloaded
        customer = await service.store.customer(handoff.customer_id)
        if customer is None:
            return IGNORED
        await service.store.record_message(customer.id, Role.STAFF, text)
        delivered = await service.tell_customer(customer, [text])
        # Past this point the words are on their way: nothing may fail the request
        # (a retry would send them twice).
        try:
            await self._after_saying(handoff, staff, text, delivered=delivered, announce=announce)
        except Exception:
            log.exception("telling staff about a sent reply failed")
        return Outcome(True, handoff.state, delivered=delivered)

    async def _after_saying(
        self, handoff: Handoff, staff: StaffMember, text: str, *, delivered: bool, announce: bool
    ) -> None:
        service = self._service
        desk = service.desk
        if desk is not None and handoff.slack_channel and handoff.slack_thread_ts:
            thread = DeskThread(handoff.slack_channel, handoff.slack_thread_ts)
            try:
                if announce:
                    await desk.post(thread, ThreadPost(PostKind.SENT, text, staff=staff))
                if not delivered:
                    await desk.post(thread, ThreadPost(PostKind.UNDELIVERED, text, staff=staff))
                findings = tuple(
                    dict.fromkeys(finding.reason for finding in check_tone(text, service.persona()))
                )
                if findings:
                    await desk.hint(thread, staff, StaffHint(HintKind.TONE, findings=findings))
            except DeskUnavailable as error:
                log.warning("could not tell staff about a reply: %s", error.reason)
        await service.sync(handoff.id)

    async def _keep_note(self, handoff: Handoff, staff: StaffMember, note: str) -> Outcome:
        service = self._service
        if note:
            await service.store.memory(handoff.customer_id).remember(
                note, kind=MemoryKind.STAFF_NOTE, author=Author.STAFF
            )
            await service.store.audit(
                actor=f"staff:{staff.id}",
                action="staff_note",
                customer_id=handoff.customer_id,
                count=1,
            )
            await self._hint(handoff, staff, StaffHint(HintKind.NOTE_SAVED))
        return Outcome(True, handoff.state, note_saved=bool(note))

    async def _refused(self, handoff: Handoff, staff: StaffMember, step: Step) -> None:
        if step.refusal is Refusal.ALREADY_CLAIMED and handoff.claimed_by:
            owner = StaffMember(handoff.claimed_by, handoff.claimed_by_name)
            await self._hint(handoff, staff, StaffHint(HintKind.ALREADY_CLAIMED, owner=owner))
        else:
            await self._hint(handoff, staff, StaffHint(HintKind.CLOSED))

    async def _hint(self, handoff: Handoff, staff: StaffMember, hint: StaffHint) -> None:
        desk = self._service.desk
        if desk is None or not (handoff.slack_channel and handoff.slack_thread_ts):
            return
        try:
            await desk.hint(DeskThread(handoff.slack_channel, handoff.slack_thread_ts), staff, hint)
        except DeskUnavailable as error:
            log.warning("could not hint a staff member: %s", error.reason)


__all__ = ["IGNORED", "Outcome", "StaffActions", "staff_note"]
