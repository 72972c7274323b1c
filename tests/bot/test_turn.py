from __future__ import annotations

from collections.abc import Sequence

from bot.chat_model import ChatModelResponder
from bot.turn import Conversation
from connectors.runtime import Runtime
from memory.models import Role
from tests.fakes.chat_model import RecordingChatModel


class Collected:
    """A delivery that keeps what was delivered, and what memory held at that moment."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.delivered: list[tuple[str, list[str]]] = []
        self.memories_at_delivery: list[int] = []

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        self.delivered.append((customer_id, list(messages)))
        records = await self.runtime.store.memory(customer_id).records()
        self.memories_at_delivery.append(len(records))


async def test_a_turn_records_both_sides_and_delivers_the_reply(runtime: Runtime) -> None:
    delivery = Collected(runtime)

    result = await runtime.conversation.handle_text("hanako", "こんにちは", delivery)

    assert delivery.delivered == [("hanako", list(result.replies))]
    messages = await runtime.store.recent_messages("hanako")
    assert [(m.role, m.text) for m in messages] == [
        (Role.CUSTOMER, "こんにちは"),
        *[(Role.TOMO, reply) for reply in result.replies],
    ]


async def test_what_the_customer_said_is_remembered_after_the_reply_is_delivered(
    runtime: Runtime,
) -> None:
    delivery = Collected(runtime)

    result = await runtime.conversation.handle_text(
        "hanako", "うちの猫はミルクっていう名前です", delivery
    )

    assert result.remembered
    assert delivery.memories_at_delivery == [0]
    await runtime.conversation.memory_writer.drain()
    (record,) = await runtime.store.memory("hanako").records()
    assert record.text == "うちの猫はミルクっていう名前です"
    assert record.source_message_id is not None


async def test_a_greeting_is_not_remembered(runtime: Runtime) -> None:
    result = await runtime.conversation.handle_text("hanako", "こんにちは", Collected(runtime))
    assert not result.remembered
    assert await runtime.store.memory("hanako").records() == []


async def test_the_customer_is_created_on_first_contact_with_their_display_name(
    runtime: Runtime,
) -> None:
    await runtime.conversation.handle_text(
        "U123", "こんにちは", Collected(runtime), channel="line", display_name="花子"
    )
    customer = await runtime.store.customer("U123")
    assert customer is not None
    assert (customer.channel, customer.display_name) == ("line", "花子")


async def test_a_customer_who_says_their_name_is_called_by_it(runtime: Runtime) -> None:
    await runtime.conversation.handle_text("u1", "私の名前は花子です", Collected(runtime))
    result = await runtime.conversation.handle_text("u1", "ありがとう！", Collected(runtime))
    customer = await runtime.store.customer("u1")
    assert customer is not None
    assert customer.preferred_name == "花子"
    assert "花子ちゃん" in "".join(result.replies)


async def test_the_chat_model_gets_a_prompt_with_the_persona_and_recalled_memories(
    runtime: Runtime,
) -> None:
    await runtime.store.touch_customer("hanako", channel="terminal")
    await runtime.store.memory("hanako").remember("うちの猫はミルクっていう名前です")
    model = RecordingChatModel(script=["ミルクちゃんだよね！"])
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model)
    )

    result = await conversation.handle_text(
        "hanako", "うちの猫の名前、覚えてる？", Collected(runtime)
    )

    (prompt,) = model.prompts
    system = str(prompt[0].content)
    persona = runtime.personas.published()
    assert persona.relationship.statement in system
    assert persona.voice.first_person in system
    assert "うちの猫はミルクっていう名前です" in system
    assert prompt[-1].content == "うちの猫の名前、覚えてる？"
    assert result.replies == ("ミルクちゃんだよね！",)


async def test_history_reaches_the_chat_model(runtime: Runtime) -> None:
    model = RecordingChatModel(script=["うん！", "もちろん"])
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model)
    )
    await conversation.handle_text("hanako", "今日は雨だね", Collected(runtime))
    await conversation.handle_text("hanako", "さっき何の話したっけ？", Collected(runtime))

    system = str(model.prompts[1][0].content)
    assert "customer: 今日は雨だね" in system
    assert "tomo: うん！" in system
