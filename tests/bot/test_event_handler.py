"""Events that are not text, answered in the persona's voice (with fallbacks for older personas)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.event_handler import EventHandler, QuickReply
from bot.events import Follow, Media, MediaKind, Sticker
from connectors.runtime import Runtime
from persona.schema import Persona


class Recorded:
    """An EventDelivery that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], list[QuickReply]]] = []
        self.working = False

    async def deliver(
        self, customer_id: str, messages: Sequence[str], *, quick_replies: Sequence[QuickReply] = ()
    ) -> None:
        self.sent.append((customer_id, list(messages), list(quick_replies)))

    def show_working(self) -> None:
        self.working = True


class NoProfiles:
    async def display_name(self, customer_id: str) -> str | None:
        return None


def _handler(runtime: Runtime, persona: Persona) -> EventHandler:
    return EventHandler(runtime.store, lambda: persona, runtime.conversation, NoProfiles())


def _common(customer: str, event_id: str) -> dict[str, object]:
    return {"event_id": event_id, "customer_id": customer, "occurred_at": datetime.now(UTC)}


async def test_a_persona_without_sticker_lines_answers_a_sticker_with_small_talk(
    runtime: Runtime,
) -> None:
    published = runtime.personas.published()
    older = published.model_copy(
        update={"lines": published.lines.model_copy(update={"sticker": ()})}
    )
    delivery = Recorded()

    await _handler(runtime, older).handle(
        Sticker(**_common("c1", "e1"), message_id="m1", package_id="1", sticker_id="2"),  # type: ignore[arg-type]
        delivery,
    )

    (_, (said,), _) = delivery.sent[0]
    expected = {
        line.format(you="きみ", me="私", brand=older.brand) for line in older.lines.small_talk
    }
    assert said in expected


async def test_a_persona_without_media_lines_answers_honestly_with_its_unsure_line(
    runtime: Runtime,
) -> None:
    published = runtime.personas.published()
    older = published.model_copy(update={"lines": published.lines.model_copy(update={"media": ()})})
    delivery = Recorded()

    await _handler(runtime, older).handle(
        Media(**_common("c1", "e1"), message_id="m1", media=MediaKind.VIDEO),  # type: ignore[arg-type]
        delivery,
    )

    (_, (said,), buttons) = delivery.sent[0]
    assert said in {
        line.format(you="きみ", me="私", brand=older.brand) for line in older.lines.unsure
    }
    assert [button.data for button in buttons] == ["tomo=staff"]


async def test_a_new_friend_without_a_profile_name_is_still_greeted(runtime: Runtime) -> None:
    persona = runtime.personas.published()
    delivery = Recorded()

    await _handler(runtime, persona).handle(Follow(**_common("c2", "e2")), delivery)  # type: ignore[arg-type]

    (_, (said,), _) = delivery.sent[0]
    assert said in {
        line.format(you="きみ", me="私", brand=persona.brand) for line in persona.lines.follow
    }
    customer = await runtime.store.customer("c2")
    assert customer is not None and customer.active
