"""Turns while the Chroma server (TOMO_CHROMA_URL) is down: answered, and memory made good later."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.memory_writer import MemoryWriter
from bot.turn import Conversation
from connectors.runtime import Runtime, open_runtime
from connectors.settings import Settings
from memory.models import MemoryStatus, Role
from memory.vectors import RETRY_SECONDS
from tests.conftest import publish_preset
from tests.fakes.chroma_server import ChromaServer

CAT = "うちの猫はミルクっていう名前です"


class Kept:
    """A delivery that keeps what reached the customer."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        self.messages.extend(messages)


@pytest.fixture
def customer() -> str:
    """A customer id of this test's own (the server's collections are shared)."""
    return f"U{uuid.uuid4().hex}"


@pytest.fixture
def server_settings(data_dir: Path, chroma_server: ChromaServer) -> Settings:
    settings = Settings(data_dir=data_dir, chroma_url=chroma_server.url, memory_shards=2)
    publish_preset(settings)
    return settings


@pytest.fixture
async def runtime(server_settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(server_settings) as opened:
        yield opened


def unavailable(operation: str) -> float:
    """tomo_memory_unavailable_total{operation} as /metrics would show it."""
    return (
        REGISTRY.get_sample_value("tomo_memory_unavailable_total", {"operation": operation}) or 0.0
    )


async def written(runtime: Runtime, seconds: float = 30.0) -> None:
    """Wait until no customer message waits for its memory write (the writer retries)."""
    deadline = time.monotonic() + seconds
    while await runtime.store.pending_memory_messages():
        assert time.monotonic() < deadline, "memory writes still pending"
        await asyncio.sleep(0.1)


async def test_a_turn_is_answered_without_memories_while_the_server_is_down(
    runtime: Runtime, customer: str, chroma_server: ChromaServer
) -> None:
    await runtime.store.touch_customer(customer, channel="line")
    await runtime.store.memory(customer).remember(CAT)
    chroma_server.stop()
    before = unavailable("recall")
    delivery = Kept()

    result = await runtime.conversation.handle_text(
        customer, "うちの猫の名前、覚えてる？", delivery
    )

    assert delivery.messages == list(result.replies) != []
    assert "ミルク" not in "".join(result.replies)  # no memory, and none made up
    assert unavailable("recall") - before == 1


async def test_the_log_says_memories_were_unavailable_without_what_the_customer_said(
    runtime: Runtime, customer: str, chroma_server: ChromaServer, caplog: pytest.LogCaptureFixture
) -> None:
    await runtime.store.touch_customer(customer, channel="line")
    await runtime.store.memory(customer).remember(CAT)
    chroma_server.stop()

    with caplog.at_level(logging.INFO):
        await runtime.conversation.handle_text(customer, "うちの猫の名前、覚えてる？", Kept())
        await runtime.conversation.handle_text(customer, "週末は山登りに行くのが好き", Kept())
        await runtime.conversation.memory_writer.settle(customer)

    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("answering without memories" in message for message in warnings)
    assert any("retried later" in message for message in warnings)
    assert not any(word in line for line in logged for word in ("猫", "ミルク", "山登り"))


async def test_what_was_said_while_the_server_was_down_is_remembered_once_when_it_is_back(
    runtime: Runtime, customer: str, chroma_server: ChromaServer
) -> None:
    chroma_server.stop()
    before = unavailable("write")

    result = await runtime.conversation.handle_text(customer, CAT, Kept())
    await runtime.conversation.memory_writer.settle(customer)  # does not wait for the server
    (pending,) = await runtime.store.pending_memory_messages()
    chroma_server.start()
    await written(runtime)

    memory = runtime.store.memory(customer)
    assert result.remembered and pending.text == CAT
    assert unavailable("write") - before >= 1
    assert [record.text for record in await memory.records()] == [CAT]
    assert [item.text for item in await memory.recall("猫の名前", k=5)] == [CAT]
    assert await memory.vector_count() == 1
    assert await runtime.store.pending_memory_messages() == []


async def test_a_write_that_gets_through_brings_the_kept_writes_with_it(
    runtime: Runtime, customer: str, chroma_server: ChromaServer
) -> None:
    writer = MemoryWriter(runtime.store, retry_seconds=3600)  # no timed retry in this test
    conversation = Conversation(
        runtime.store, runtime.personas.published, runtime.responder, memory_writer=writer
    )
    chroma_server.stop()
    await conversation.handle_text(customer, CAT, Kept())
    await writer.settle(customer)
    kept = writer.deferred
    chroma_server.start()
    await asyncio.sleep(RETRY_SECONDS)  # the vector store's own pause after a failure

    await conversation.handle_text(customer, "週末は山登りに行くのが好き", Kept())
    await written(runtime, seconds=10)
    await writer.drain()

    texts = {record.text for record in await runtime.store.memory(customer).records()}
    assert kept == 1
    assert texts == {CAT, "週末は山登りに行くのが好き"}


async def test_faq_answers_and_escalation_need_no_chroma_server(
    runtime: Runtime, customer: str, chroma_server: ChromaServer
) -> None:
    persona = runtime.personas.published()
    shipping = next(entry for entry in persona.faq if "送料" in entry.question)
    chroma_server.stop()

    answered = await runtime.conversation.handle_text(
        customer, "送料っていくらかかりますか？", Kept()
    )
    escalated = await runtime.conversation.handle_text(customer, "もう消えてしまいたい", Kept())

    assert shipping.answer in answered.replies[-1] and not answered.unsure
    assert escalated.handed_over
    assert await runtime.handoffs.handoffs.open_for(customer) is not None


async def test_tomo_starts_with_the_server_down_and_writes_what_was_left_pending_once_it_is_up(
    server_settings: Settings, customer: str, chroma_server: ChromaServer
) -> None:
    chroma_server.stop()
    async with open_runtime(server_settings) as first:  # a memory write left pending at shutdown
        await first.conversation.handle_text(customer, CAT, Kept())

    async with open_runtime(server_settings) as runtime:
        health = await runtime.store.health()
        chroma_server.start()
        await written(runtime)

        memory = runtime.store.memory(customer)
        assert health["vectors"] == "error: VectorsUnavailable"
        assert [record.text for record in await memory.records()] == [CAT]
        assert await memory.vector_count() == 1


async def test_a_backlog_meeting_the_server_down_is_kept_whole_and_written_once_it_is_back(
    runtime: Runtime, customer: str, chroma_server: ChromaServer
) -> None:
    writer = MemoryWriter(runtime.store, batch=2, retry_seconds=0.2, embed_ahead=True)
    texts = [
        CAT,
        "週末は山登りに行くのが好き",
        "来月、京都へ旅行に行きます",
        "肌が乾燥しやすくて困っています",
        "コーヒーはブラック派です",
        "娘が春に小学校へ入学します",
    ]
    await runtime.store.touch_customer(customer, channel="line")
    said = []
    for text in texts:
        said.append(
            await runtime.store.record_message(
                customer, Role.CUSTOMER, text, memory_status=MemoryStatus.PENDING
            )
        )
    chroma_server.stop()
    for message in said:  # batches of 2: the second is embedded ahead when the first fails
        writer.schedule(customer, message.id or 0)
    await writer.settle(customer)
    kept = writer.deferred
    still_pending = len(await runtime.store.pending_memory_messages())
    chroma_server.start()
    await written(runtime)
    await writer.drain()

    memory = runtime.store.memory(customer)
    assert (kept, still_pending) == (6, 6)
    assert sorted(record.text for record in await memory.records()) == sorted(texts)
    assert await memory.vector_count() == 6
