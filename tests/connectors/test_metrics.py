"""GET /metrics and what it counts: webhooks, the inbox, handoffs, the LLM, sends to LINE.

prometheus-client's metrics are process-wide, shared by every test: counters
are compared before and after (`delta`); the queue gauges are read from each
test's own database at scrape time, so their values are this test's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from bot.events import TextMessage
from connectors.line.client import LineApi
from connectors.line.sender import LineSender, SendPolicy
from connectors.metrics import refresh_queue_gauges, render
from connectors.settings import Settings
from memory.database import default_database_url, open_engine
from memory.queue import EventQueue, OutboxStatus
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, Tomo, line_settings_for, open_tomo
from tests.connectors.line.test_serve import running
from tests.fakes import line_webhook as hook
from tests.fakes.http_server import serve
from tests.fakes.line_api import ACCESS_TOKEN, Scripted
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def sample(name: str, **labels: str) -> float:
    """A sample of this process's metrics (0 for a label set not seen yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
async def tomo(data_dir: Path, line_fake: LineFake) -> AsyncIterator[Tomo]:
    settings = line_settings_for(data_dir, line_fake.url)
    publish_preset(settings)
    async with open_tomo(settings) as opened:
        yield opened


async def scrape(tomo: Tomo) -> Samples:
    response = await tomo.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return scraped(response.text)


async def test_a_signed_line_webhook_is_timed_by_channel_and_status(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    before = sample("tomo_webhook_seconds_count", channel="line", status="200")

    response = await tomo.post(
        hook.text(user, "こんにちは", reply_token=line_fake.api.reply_token(user))
    )
    await tomo.idle()

    assert response.status_code == 200
    samples = await scrape(tomo)
    count = value(samples, "tomo_webhook_seconds_count", channel="line", status="200")
    assert count >= 1
    assert count - before == 1


async def test_a_refused_line_webhook_is_timed_under_its_status(tomo: Tomo) -> None:
    before = sample("tomo_webhook_seconds_count", channel="line", status="400")
    raw = hook.body(hook.text(hook.user_id(), "こんにちは"))

    response = await tomo.client.post(
        "/line/webhook", content=raw, headers={"x-line-signature": "bm90IHRoZSBzaWduYXR1cmU="}
    )

    assert response.status_code == 400
    assert sample("tomo_webhook_seconds_count", channel="line", status="400") - before == 1


async def test_events_not_handled_yet_show_as_inbox_depth_and_age(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, workers=0)  # stored, never handled
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        await tomo.post(hook.text(hook.user_id(), "こんにちは"), hook.text(hook.user_id(), "やあ"))
        samples = await scrape(tomo)

    assert value(samples, "tomo_inbox_depth") == 2
    assert value(samples, "tomo_inbox_oldest_age_seconds") > 0
    assert value(samples, "tomo_inbox_failed") == 0
    assert value(samples, "tomo_outbox_depth") == 0
    assert value(samples, "tomo_outbox_oldest_age_seconds") == 0


async def test_handled_events_leave_the_inbox_gauges_at_zero(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    await tomo.post(hook.text(user, "こんにちは", reply_token=line_fake.api.reply_token(user)))
    await tomo.idle()

    samples = await scrape(tomo)

    assert value(samples, "tomo_inbox_depth") == 0
    assert value(samples, "tomo_inbox_oldest_age_seconds") == 0
    assert value(samples, "tomo_outbox_depth") == 0


async def test_a_handoff_is_counted_by_its_reason_and_shows_as_open(tomo: Tomo) -> None:
    before = sample("tomo_handoffs_total", reason="money_contract")

    await tomo.post(hook.text(hook.user_id(), "返金してください"))
    await tomo.idle()

    samples = await scrape(tomo)
    assert value(samples, "tomo_handoffs_total", reason="money_contract") - before == 1
    assert value(samples, "tomo_handoffs_open") == 1


async def test_a_second_message_to_an_open_handoff_opens_no_new_one(tomo: Tomo) -> None:
    user = hook.user_id()
    await tomo.post(hook.text(user, "返金してください"))
    await tomo.idle()
    before = sample("tomo_handoffs_total", reason="money_contract")

    await tomo.post(hook.text(user, "返金をお願いします"))
    await tomo.idle()

    assert sample("tomo_handoffs_total", reason="money_contract") == before


@pytest.fixture
def failing_llm() -> Iterator[str]:
    """An OpenAI-compatible server that answers every request 500; yields its base URL."""
    fake = FakeOpenAI(route=lambda _: ScriptedReply(status=500))
    with serve(fake.app()) as url:
        yield f"{url}/v1"
    assert fake.problems == []


async def test_a_failing_language_model_is_counted_as_an_error_of_the_reply(
    data_dir: Path, line_fake: LineFake, failing_llm: str
) -> None:
    settings = line_settings_for(
        data_dir,
        line_fake.url,
        llm="openai:gpt-4o-mini",
        llm_base_url=failing_llm,
        llm_api_key="sk-test",
        llm_timeout=5.0,
    )
    publish_preset(settings)
    errors = sample("tomo_llm_errors_total", purpose="reply", kind="error")
    calls = sample("tomo_llm_seconds_count", purpose="reply")

    async with open_tomo(settings) as tomo:
        await tomo.post(hook.text(hook.user_id(), "最近どう？"))
        await tomo.idle()
        samples = await scrape(tomo)

    assert value(samples, "tomo_llm_errors_total", purpose="reply", kind="error") - errors == 1
    assert value(samples, "tomo_llm_seconds_count", purpose="reply") - calls == 1


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[EventQueue]:
    engine = await open_engine(default_database_url(tmp_path))
    try:
        yield EventQueue(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sender(queue: EventQueue, line_fake: LineFake) -> AsyncIterator[LineSender]:
    async with LineApi.open(
        base_url=line_fake.url, access_token=ACCESS_TOKEN, request_timeout=5
    ) as api:
        # One try per send: a 500 puts the message back in the outbox at once.
        yield LineSender(api, queue, SendPolicy(attempts=1, backoff_seconds=0.01))


async def test_a_line_500_then_200_counts_one_send_error_and_one_retry(
    sender: LineSender, queue: EventQueue, line_fake: LineFake
) -> None:
    user = hook.user_id()
    line_fake.api.script("push", Scripted(500))
    errors = sample("tomo_send_errors_total", channel="line", status="500")
    retries = sample("tomo_send_retries_total", channel="line")
    event = TextMessage(
        event_id=hook.event_id(),
        customer_id=user,
        occurred_at=datetime.now(UTC),
        reply_token=None,
        message_id=hook.message_id(),
        text="こんにちは",
    )

    await sender.delivery(event).deliver(user, ["おまたせ！"])
    assert line_fake.api.to(user) == []
    deadline = time.monotonic() + 10
    while not line_fake.api.to(user) and time.monotonic() < deadline:
        await sender.flush(user)  # sends once the postponed row is due
        await asyncio.sleep(0.01)

    (delivered,) = line_fake.api.to(user)
    assert delivered.texts == ["おまたせ！"]
    assert sample("tomo_send_errors_total", channel="line", status="500") - errors == 1
    assert sample("tomo_send_retries_total", channel="line") - retries == 1
    (row,) = await queue.outbox(user)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


async def test_tomo_worker_serves_metrics_on_its_own_port(
    subprocess_env: dict[str, str], data_dir: Path, line_fake: LineFake
) -> None:
    publish_preset(Settings(data_dir=data_dir))
    env = subprocess_env | {
        "LINE_CHANNEL_SECRET": hook.CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE": line_fake.url,
    }
    with running(env, "worker", "--metrics-port", "0") as worker:
        worker.wait_ready()
        (url,) = [
            line.removeprefix("tomo: metrics on ")
            for line in worker.lines
            if line.startswith("tomo: metrics on ")
        ]
        async with httpx.AsyncClient() as client:
            response = await client.get(url)

    assert response.status_code == 200
    samples = scraped(response.text)
    assert value(samples, "tomo_inbox_depth") == 0  # read from the store, not NaN
    assert value(samples, "tomo_handoffs_open") == 0
    assert "# TYPE tomo_send_errors_total counter" in response.text


async def test_a_store_that_cannot_be_read_leaves_the_queue_gauges_unknown(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}")
    try:
        read = await refresh_queue_gauges(engine)
    finally:
        await engine.dispose()

    assert read is False
    samples = scraped(render().decode())
    assert math.isnan(value(samples, "tomo_inbox_depth"))
    assert math.isnan(value(samples, "tomo_handoffs_open"))
