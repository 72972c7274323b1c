"""A language model that errors or hangs never leaves the customer in silence.

The customer gets the persona's honest short message and the conversation is
handed to staff (a card in Slack), on SQLite and on PostgreSQL. The model is a
fake OpenAI-compatible server on loopback that answers 500 or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import migrate, publish_preset
from tests.connectors.line.conftest import LineFake, open_tomo
from tests.connectors.slack.conftest import Clock, Desk, SlackFake, slack_settings_for
from tests.fakes import line_webhook as hook
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply


@pytest.fixture(params=["error", "timeout"])
def broken_llm(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeOpenAI, str]]:
    hangs = request.param == "timeout"
    fake = FakeOpenAI(route=lambda _: ScriptedReply(status=200 if hangs else 500, hold=hangs))
    with serve(fake.app()) as url:
        yield request.param, fake, f"{url}/v1"
        fake.release.set()  # let held answers go so the server can stop


@pytest.fixture
async def desk_with_broken_llm(
    data_dir: Path,
    line_fake: LineFake,
    slack_fake: SlackFake,
    broken_llm: tuple[str, FakeOpenAI, str],
    any_database_url: str,
) -> AsyncIterator[Desk]:
    await migrate(any_database_url)
    settings = slack_settings_for(
        data_dir,
        line_fake.url,
        slack_fake.url,
        database_url=any_database_url,
        llm="openai:gpt-4o-mini",
        llm_base_url=broken_llm[2],
        llm_api_key="sk-test",
        llm_timeout=1.0,
    )
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        yield Desk(tomo, line_fake.api, slack_fake.api, Clock())


async def test_a_failing_or_silent_model_gets_the_customer_an_honest_answer_and_a_person(
    desk_with_broken_llm: Desk, broken_llm: tuple[str, FakeOpenAI, str]
) -> None:
    desk = desk_with_broken_llm
    user = hook.user_id()

    await desk.customer_says(user, "この前買ったクリーム、夜に使っても大丈夫？")

    persona = desk.tomo.services.runtime.personas.published()
    (answer,) = desk.line.texts_to(user)
    assert answer in persona.lines.llm_error  # short, honest, in the persona's voice
    assert broken_llm[1].requests, "the model was asked"
    handoff = await desk.card_of(user)
    assert "bot_unsure" in handoff.reasons
    (card,) = desk.slack.cards()
    assert "この前買ったクリーム" in card.block_text()
