"""Memory is written after the reply, off its path, and survives a crash in between."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence

import numpy as np

from bot.chat_model import build_chat_model
from bot.facts import FactExtractor
from bot.memory_writer import EXTRACTIONS_AT_ONCE, MemoryWriter
from bot.offline import OfflineResponder
from bot.turn import Conversation
from connectors.runtime import Runtime, open_runtime
from connectors.settings import Settings
from memory.models import Author, MemoryKind, MemoryStatus, Role
from tests.conftest import publish_preset
from tests.fakes.chat_model import RecordingChatModel
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply
from tests.fakes.waiting import wait_until


class Ignore:
    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


def _facts(*facts: dict[str, object]) -> str:
    return json.dumps({"facts": list(facts)}, ensure_ascii=False)


def _with_extractor(runtime: Runtime, model: RecordingChatModel) -> Conversation:
    writer = MemoryWriter(runtime.store, FactExtractor(model))
    return Conversation(
        runtime.store,
        runtime.personas.published,
        OfflineResponder(runtime.store.encoder),
        memory_writer=writer,
    )


async def test_a_contradicting_fact_supersedes_the_old_one(runtime: Runtime) -> None:
    model = RecordingChatModel(
        script=[
            _facts({"text": "大阪に住んでいます", "key": "residence"}),
            _facts({"text": "東京に引っ越しました", "key": "residence"}),
        ]
    )
    conversation = _with_extractor(runtime, model)
    await conversation.handle_text("hanako", "大阪に住んでいます", Ignore())
    await conversation.handle_text("hanako", "東京に引っ越しました", Ignore())
    await conversation.memory_writer.drain()
    memory = runtime.store.memory("hanako")

    recalled = [item.text for item in await memory.recall("どこに住んでいますか", k=5)]
    history = {record.text: record for record in await memory.records()}

    assert recalled == ["東京に引っ越しました"]
    assert history["大阪に住んでいます"].superseded_by == history["東京に引っ越しました"].id
    assert history["東京に引っ越しました"].author is Author.EXTRACTED
    assert history["東京に引っ越しました"].kind is MemoryKind.FACT


async def test_the_extractor_is_shown_what_is_already_known(runtime: Runtime) -> None:
    model = RecordingChatModel(
        script=[_facts({"text": "猫の名前はミルク", "key": "pet_cat_name"}), _facts()]
    )
    conversation = _with_extractor(runtime, model)
    await conversation.handle_text("hanako", "うちの猫はミルクっていう名前です", Ignore())
    await conversation.handle_text("hanako", "最近ミルクが元気でうれしい", Ignore())
    await conversation.memory_writer.drain()

    second_prompt = str(model.prompts[1][0].content)
    assert "pet_cat_name: 猫の名前はミルク" in second_prompt


async def test_a_fact_said_twice_is_stored_once(runtime: Runtime) -> None:
    model = RecordingChatModel(
        script=[
            _facts({"text": "乾燥肌です", "key": "skin_type", "sensitivity": None}),
            _facts({"text": "乾燥肌です", "key": "skin_type"}),
        ]
    )
    conversation = _with_extractor(runtime, model)
    await conversation.handle_text("hanako", "私、乾燥肌なんです", Ignore())
    await conversation.handle_text("hanako", "乾燥肌なんですよね", Ignore())
    await conversation.memory_writer.drain()

    assert [r.text for r in await runtime.store.memory("hanako").records()] == ["乾燥肌です"]


async def test_offline_near_duplicates_are_merged(runtime: Runtime) -> None:
    await runtime.conversation.handle_text("hanako", "うちの猫はミルクっていう名前です", Ignore())
    await runtime.conversation.handle_text("hanako", "うちの猫はミルクっていう名前です！", Ignore())
    await runtime.conversation.memory_writer.drain()

    assert len(await runtime.store.memory("hanako").records()) == 1


async def test_japanese_is_kept_as_the_customer_wrote_it(runtime: Runtime) -> None:
    text = "来月、京都の祖母の家に行きます🍵 ｶﾀｶﾅも「かぎかっこ」もそのまま"
    await runtime.conversation.handle_text("hanako", text, Ignore())
    await runtime.conversation.memory_writer.drain()
    (record,) = await runtime.store.memory("hanako").records()
    assert record.text == text


async def test_a_failing_extractor_leaves_the_message_pending_for_recovery(
    runtime: Runtime,
) -> None:
    model = RecordingChatModel(script=[ConnectionError("model down"), _facts()])
    conversation = _with_extractor(runtime, model)

    await conversation.handle_text("hanako", "週末は山登りに行くのが好き", Ignore())
    await conversation.memory_writer.drain()
    (pending,) = await runtime.store.pending_memory_messages()

    recovered = await conversation.memory_writer.recover()

    assert pending.text == "週末は山登りに行くのが好き"
    assert recovered == 1
    assert await runtime.store.pending_memory_messages() == []
    assert [r.text for r in await runtime.store.memory("hanako").records()] == [
        "週末は山登りに行くのが好き"
    ]


CRASH_AFTER_REPLY = textwrap.dedent(
    """
    import asyncio, os, sys
    from connectors.runtime import open_runtime
    from connectors.settings import Settings

    class CrashAfterDelivery:
        async def deliver(self, customer_id, messages):
            print(messages[0], flush=True)
            os._exit(9)  # the process dies after the reply, before memory is written

    async def main():
        async with open_runtime(Settings()) as runtime:
            await runtime.conversation.handle_text(
                "hanako", "うちの猫はミルクっていう名前です", CrashAfterDelivery()
            )

    asyncio.run(main())
    """
)


def test_a_crash_between_the_reply_and_the_memory_write_is_made_good(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    publish_preset(settings)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_REPLY],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert crashed.stdout.strip()  # the customer got the reply

    async def reopen() -> tuple[list[MemoryStatus | None], list[str]]:
        async with open_runtime(settings) as runtime:
            messages = await runtime.store.recent_messages("hanako")
            recalled = await runtime.store.memory("hanako").recall("猫の名前")
        return [m.memory_status for m in messages], [item.text for item in recalled]

    statuses, recalled = asyncio.run(reopen())

    assert MemoryStatus.PENDING not in statuses
    assert recalled[0] == "うちの猫はミルクっていう名前です"


async def test_the_model_is_asked_about_a_batchs_messages_side_by_side(runtime: Runtime) -> None:
    fake = FakeOpenAI(  # answers each message with itself as a fact, once released
        route=lambda body: ScriptedReply(
            _facts({"text": body["messages"][-1]["content"], "key": None}), hold=True
        )
    )
    pets = ("猫", "犬", "うさぎ", "インコ", "金魚", "ハムスター")
    texts = [f"{pet}を飼っています" for pet in pets]
    with serve(fake.app()) as base_url:
        model = build_chat_model(
            "openai:gpt-4o-mini", base_url=f"{base_url}/v1", api_key="sk-test", timeout=30
        )
        writer = MemoryWriter(runtime.store, FactExtractor(model))
        said = []
        for n, text in enumerate(texts):
            await runtime.store.touch_customer(f"c{n}", channel="terminal")
            said.append(
                await runtime.store.record_message(
                    f"c{n}", Role.CUSTOMER, text, memory_status=MemoryStatus.PENDING
                )
            )
        for message in said:  # queued together: one batch
            assert message.id is not None
            writer.schedule(message.customer_id, message.id)

        await wait_until(
            lambda: len(fake.requests) >= EXTRACTIONS_AT_ONCE,
            what="questions held at once",
            within=15,
        )
        await asyncio.sleep(0.5)  # time for a fifth question to arrive, were it asked
        assert len(fake.requests) == EXTRACTIONS_AT_ONCE  # no more than that at once
        fake.release.set()
        await writer.drain()

    assert fake.problems == []
    assert sorted(request["messages"][-1]["content"] for request in fake.requests) == sorted(texts)
    for n, text in enumerate(texts):
        (record,) = await runtime.store.memory(f"c{n}").records()
        assert (record.text, record.author) == (text, Author.EXTRACTED)
    assert await runtime.store.pending_memory_messages() == []


async def test_under_a_backlog_the_next_batch_is_embedded_in_another_process_meanwhile(
    runtime: Runtime,
) -> None:
    writer = MemoryWriter(runtime.store, batch=4, embed_ahead=True)
    pets = ("猫", "犬", "うさぎ", "インコ", "金魚", "ハムスター", "亀", "フェレット", "文鳥", "蛇")
    said = []
    for n, pet in enumerate(pets):
        await runtime.store.touch_customer(f"c{n}", channel="terminal")
        said.append(
            await runtime.store.record_message(
                f"c{n}", Role.CUSTOMER, f"{pet}を飼っています", memory_status=MemoryStatus.PENDING
            )
        )
    for message in said:  # queued together: batches of 4, 4 and 2
        assert message.id is not None
        writer.schedule(message.customer_id, message.id)
    await writer.drain()

    assert writer.encoder_process is not None
    assert writer.encoder_process.encoded == 6  # the first batch was embedded here
    assert writer.encoder_process.pid is None  # drain stopped the child
    assert await runtime.store.pending_memory_messages() == []
    for n, message in enumerate(said):
        memory = runtime.store.memory(f"c{n}")
        (record,) = await memory.records()
        vectors = runtime.store.vectors.vectors(f"c{n}", [record.id])
        assert record.text == message.text and record.source_message_id == message.id
        # (Embedded alone rather than among a batch's, a text's vector can differ in the last bit.)
        here = runtime.store.encoder.encode([message.text])[0]
        np.testing.assert_allclose(vectors[record.id], here, atol=1e-6)
        assert [item.text for item in await memory.recall("ペット", k=5)] == [message.text]
