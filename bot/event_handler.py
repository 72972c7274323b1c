"""What tomo does with each kind of customer event.

Text becomes a turn (`Conversation.handle_text`). Everything else is answered
here, in the persona's voice: a sticker gets a warm answer; a photo, video,
voice message, file or location is acknowledged honestly (tomo cannot see
inside it), remembered as sent, and a person is offered; a new friend is
greeted by the name on their profile and a returning one welcomed back; an
unfollow marks the customer inactive; an unsent message is forgotten with every
memory made from it; a tapped "talk to staff" button is answered as if typed.

The persona's words are in its YAML lines; the neutral words (what a photo is
called in the history, the staff button) are in `bot/data/events.yaml`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs

import yaml

from bot.events import (
    Event,
    Follow,
    Media,
    Postback,
    Sticker,
    TextMessage,
    Unfollow,
    Unknown,
    Unsend,
)
from bot.phrasing import speak
from bot.turn import Conversation, Said
from memory.models import Role, utcnow
from memory.store import MemoryStore
from persona.schema import Persona

log = logging.getLogger(__name__)

STAFF_POSTBACK = "tomo=staff"  # the data of tomo's own "talk to staff" button


@dataclass(frozen=True)
class QuickReply:
    """A button under tomo's last message; tapping it sends `data` (and shows `text`)."""

    label: str
    data: str
    text: str


class EventDelivery(Protocol):
    """Delivers tomo's answer to one event (a `bot.turn.Delivery`, plus buttons)."""

    async def deliver(
        self,
        customer_id: str,
        messages: Sequence[str],
        *,
        quick_replies: Sequence[QuickReply] = (),
    ) -> None: ...

    def show_working(self) -> None:
        """Show the customer that an answer is being made (LINE's loading animation)."""


class Profiles(Protocol):
    """Looks up what a customer is called on their channel."""

    async def display_name(self, customer_id: str) -> str | None: ...


class Forgetter(Protocol):
    """Removes what the channel side still holds of a customer (inbox, outbox)."""

    async def forget_customer(self, customer_id: str) -> int: ...


@dataclass(frozen=True)
class EventWords:
    """The neutral words of `bot/data/events.yaml`."""

    media_words: dict[str, str]
    history: dict[str, str]
    memory: dict[str, str]
    staff_label: str
    staff_request: str


@cache
def event_words() -> EventWords:
    raw: Any = yaml.safe_load(
        resources.files("bot").joinpath("data", "events.yaml").read_text(encoding="utf-8")
    )
    return EventWords(
        media_words=dict(raw["media_words"]),
        history=dict(raw["history"]),
        memory=dict(raw["memory"]),
        staff_label=str(raw["staff_button"]["label"]),
        staff_request=str(raw["staff_button"]["request"]),
    )


def staff_button() -> QuickReply:
    """The "talk to staff" button tomo offers when a person's judgment may be needed."""
    words = event_words()
    return QuickReply(label=words.staff_label, data=STAFF_POSTBACK, text=words.staff_request)


class EventHandler:
    """Handles one customer event; the workers call it in each customer's order."""

    def __init__(
        self,
        store: MemoryStore,
        persona: Callable[[], Persona],
        conversation: Conversation,
        profiles: Profiles,
        *,
        unfollowed_retention_days: int | None = None,
        forgetters: Sequence[Forgetter] = (),
    ) -> None:
        self._store = store
        self._persona = persona
        self._conversation = conversation
        self._profiles = profiles
        self._retention_days = unfollowed_retention_days
        self._forgetters = tuple(forgetters)

    async def handle(self, event: Event, delivery: EventDelivery) -> None:
        """Handle one event, answering (if at all) through `delivery`."""
        match event:
            case TextMessage():
                await self._text(event, delivery)
            case Sticker():
                await self._sticker(event, delivery)
            case Media():
                await self._media(event, delivery)
            case Follow():
                await self._follow(event, delivery)
            case Unfollow():
                await self._unfollow(event)
            case Postback():
                await self._postback(event, delivery)
            case Unsend():
                await self._unsend(event)
            case Unknown():
                log.info("ignored a %s event of type %r", event.channel, event.type)

    async def forget_unfollowed(self) -> int:
        """Forget customers who unfollowed longer ago than the retention setting allows."""
        if self._retention_days is None:
            return 0
        cutoff = utcnow() - timedelta(days=self._retention_days)
        forgotten = 0
        for customer_id in await self._store.inactive_customer_ids(before=cutoff):
            await self._forget(customer_id, reason="retention")
            forgotten += 1
        return forgotten

    async def _text(self, event: TextMessage, delivery: EventDelivery) -> None:
        await self._turn(event, event.text, delivery, line_message_id=event.message_id)

    async def _turn(
        self,
        event: TextMessage | Sticker | Postback,
        text: str,
        delivery: EventDelivery,
        *,
        line_message_id: str | None,
    ) -> None:
        delivery.show_working()
        name = await self._new_name(event.customer_id)
        await self._conversation.handle_text(
            event.customer_id,
            text,
            delivery,
            channel=event.channel,
            display_name=name,
            message_id=line_message_id,
        )

    async def handle_burst(self, events: Sequence[TextMessage], delivery: EventDelivery) -> None:
        """Answer texts one customer sent in quick succession as one turn (oldest first)."""
        if len(events) == 1:
            await self.handle(events[0], delivery)
            return
        first = events[0]
        delivery.show_working()
        name = await self._new_name(first.customer_id)
        await self._conversation.handle_burst(
            first.customer_id,
            [Said(event.text, event.message_id) for event in events],
            delivery,
            channel=first.channel,
            display_name=name,
        )

    async def _sticker(self, event: Sticker, delivery: EventDelivery) -> None:
        if event.text:  # a message sticker carries the customer's own words: a turn
            await self._turn(event, event.text, delivery, line_message_id=event.message_id)
            return
        words = event_words()
        history = (
            words.history["sticker_keywords"].format(keywords="、".join(event.keywords[:5]))
            if event.keywords
            else words.history["sticker"]
        )
        customer, _ = await self._record_customer_message(event, history)
        persona = self._persona()
        line = speak(
            persona,
            persona.lines.sticker or persona.lines.small_talk,
            seed=event.event_id,
            customer_name=customer,
        )
        await self._answer(event.customer_id, [line], delivery)

    async def _media(self, event: Media, delivery: EventDelivery) -> None:
        words = event_words()
        what = words.media_words[event.media.value]
        history = words.history["media"].format(what=what)
        customer, message_id = await self._record_customer_message(event, history)
        await self._store.memory(event.customer_id).remember(
            words.memory["media"].format(what=what), source_message_id=message_id
        )
        persona = self._persona()
        line = speak(
            persona,
            persona.lines.media or persona.lines.unsure,
            seed=event.event_id,
            customer_name=customer,
            what=what,
        )
        await self._answer(event.customer_id, [line], delivery, quick_replies=[staff_button()])

    async def _follow(self, event: Follow, delivery: EventDelivery) -> None:
        known = await self._store.customer(event.customer_id)
        name = await self._profiles.display_name(event.customer_id)
        customer, _ = await self._store.touch_customer(
            event.customer_id, channel=event.channel, display_name=name
        )
        await self._store.set_customer_active(event.customer_id, True, display_name=name)
        persona = self._persona()
        returning = event.unblocked or known is not None
        lines = persona.lines
        alternatives = (
            lines.welcome_back or lines.greeting_returning
            if returning
            else lines.follow or lines.greeting
        )
        line = speak(
            persona,
            alternatives,
            seed=event.event_id,
            customer_name=customer.preferred_name or name or customer.display_name,
        )
        await self._answer(event.customer_id, [line], delivery)

    async def _unfollow(self, event: Unfollow) -> None:
        if not await self._store.set_customer_active(event.customer_id, False):
            return
        if self._retention_days == 0:
            await self._forget(event.customer_id, reason="unfollow")

    async def _postback(self, event: Postback, delivery: EventDelivery) -> None:
        if parse_qs(event.data) == parse_qs(STAFF_POSTBACK):
            await self._turn(event, event_words().staff_request, delivery, line_message_id=None)
            return
        # A button tomo did not make (the company's rich menu…): nothing to say to it.
        log.info("ignored a postback tomo does not know (%d characters)", len(event.data))

    async def _unsend(self, event: Unsend) -> None:
        removed = await self._store.forget_line_message(event.customer_id, event.message_id)
        log.info(
            "an unsent message was forgotten: %d message(s), %d memory(ies)",
            removed.messages,
            removed.memories,
        )

    async def _record_customer_message(
        self, event: Sticker | Media, history: str
    ) -> tuple[str | None, int | None]:
        """Record a non-text message in the history: (name to address them by, message id)."""
        name = await self._new_name(event.customer_id)
        customer, _ = await self._store.touch_customer(
            event.customer_id, channel=event.channel, display_name=name
        )
        record = await self._store.record_message(event.customer_id, Role.CUSTOMER, history)
        if record.id is not None:
            await self._store.set_line_message_id(record.id, event.message_id)
        return customer.name, record.id

    async def _answer(
        self,
        customer_id: str,
        lines: list[str],
        delivery: EventDelivery,
        *,
        quick_replies: Sequence[QuickReply] = (),
    ) -> None:
        for line in lines:
            await self._store.record_message(customer_id, Role.TOMO, line)
        await delivery.deliver(customer_id, lines, quick_replies=quick_replies)

    async def _new_name(self, customer_id: str) -> str | None:
        """The profile's display name, looked up only while tomo does not know one."""
        customer = await self._store.customer(customer_id)
        if customer is not None and customer.display_name:
            return None
        return await self._profiles.display_name(customer_id)

    async def _forget(self, customer_id: str, *, reason: str) -> None:
        await self._store.forget_customer(customer_id, actor=f"retention:{reason}")
        for forgetter in self._forgetters:
            await forgetter.forget_customer(customer_id)
        log.info("forgot an unfollowed customer's data (%s)", reason)
