"""A customer who sends many short texts in a row gets one considered answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, line_settings_for, open_tomo
from tests.fakes import line_webhook as hook
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply

FRAGMENTS = [
    "あの",
    "すみません",
    "昨日注文した",
    "ハンドクリームなんですけど",
    "まだ届いてなくて",
    "いつ頃",
    "届きますか？",
    "急ぎではないです",
    "ただ",
    "旅行に持っていきたくて",
]


@pytest.fixture
def llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(route=lambda _: ScriptedReply("了解！確認してみるね。"))
    with serve(fake.app()) as url:
        yield fake, f"{url}/v1"
    assert fake.problems == []


async def test_ten_texts_sent_a_moment_apart_are_answered_once_considering_all_of_them(
    data_dir: Path, line_fake: LineFake, llm: tuple[FakeOpenAI, str]
) -> None:
    fake, llm_url = llm
    settings = line_settings_for(
        data_dir,
        line_fake.url,
        burst_seconds=0.8,
        llm="openai:gpt-4o-mini",
        llm_base_url=llm_url,
        llm_api_key="sk-test",
    )
    publish_preset(settings)
    user = hook.user_id()
    events = [
        hook.text(user, words, reply_token=line_fake.api.reply_token(user)) for words in FRAGMENTS
    ]
    async with open_tomo(settings) as tomo:
        for event in events:  # one webhook request each, as LINE sends them
            assert (await tomo.post(event)).status_code == 200
            await asyncio.sleep(0.1)
        await tomo.idle()
        history = await tomo.services.runtime.store.recent_messages(user, 30)

    assert len(line_fake.api.to(user)) == 1, "one answer, not one per fragment"
    customer = [message for message in history if message.role.value == "customer"]
    assert [message.text for message in customer] == FRAGMENTS  # each kept as sent
    assert [message.line_message_id for message in customer] == [
        event["message"]["id"] for event in events
    ]  # so unsending one still finds it
    reply_prompts = [
        request
        for request in fake.requests
        if all(fragment in request["messages"][-1]["content"] for fragment in FRAGMENTS)
    ]
    assert reply_prompts, "the model read the whole burst in one request"


async def test_without_a_pause_to_wait_for_each_text_is_answered_on_its_own(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, burst_seconds=0.0)
    publish_preset(settings)
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        for words in ("送料はいくらですか？", "ありがとう！"):
            await tomo.post(hook.text(user, words, reply_token=line_fake.api.reply_token(user)))
            await tomo.idle()

    assert len(line_fake.api.to(user)) == 2
