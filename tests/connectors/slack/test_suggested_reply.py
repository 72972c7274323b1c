"""The card's suggested reply with a language model configured (TOMO_LLM=openai:…).

The model is a fake OpenAI-compatible server on loopback; LINE and Slack are
their fakes too. Offline, the template is suggested (test_handoff_desk.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memory.handoffs import Handoff
from persona.schema import Persona
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, open_tomo
from tests.connectors.slack.conftest import Clock, Desk, SlackFake, slack_settings_for
from tests.fakes import line_webhook as hook
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply
from tests.fakes.waiting import wait_until

STAFF = {"user": "U0STAFF001", "name": "sato"}
SAID = "返金してください"
DRAFT = (
    "お待たせ！ここからはスタッフが話を聞くね。"
    "返金のこと、いっしょに確認するから、注文番号を教えてくれる？"
)
JUDGMENT = json.dumps(
    {"escalate": True, "reasons": ["money_contract"], "priority": "normal", "note": "返金の希望"}
)


def _text(body: dict[str, Any]) -> str:
    return "\n".join(str(message["content"]) for message in body["messages"])


def _is_draft(body: dict[str, Any]) -> bool:
    return "Write the staff member's reply now." in _text(body)


def _routes(draft: ScriptedReply) -> Callable[[dict[str, Any]], ScriptedReply | None]:
    """The draft for the suggested-reply request, a judgment for the escalation check,
    no facts for the memory writer."""

    def route(body: dict[str, Any]) -> ScriptedReply | None:
        if _is_draft(body):
            return draft
        if "decide whether" in _text(body):
            return ScriptedReply(JUDGMENT)
        if '"facts"' in _text(body):
            return ScriptedReply(json.dumps({"facts": []}))
        return None

    return route


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(route=_routes(ScriptedReply(DRAFT)))
    with serve(fake.app()) as url:
        yield fake, f"{url}/v1"
        fake.release.set()  # a held answer must not keep the server from stopping
    assert fake.problems == []


@pytest.fixture
def llm_timeout() -> float:
    return 10.0


@pytest.fixture
async def llm_desk(
    data_dir: Path,
    line_fake: LineFake,
    slack_fake: SlackFake,
    fake_llm: tuple[FakeOpenAI, str],
    llm_timeout: float,
) -> AsyncIterator[Desk]:
    _, base_url = fake_llm
    settings = slack_settings_for(
        data_dir,
        line_fake.url,
        slack_fake.url,
        llm="openai:gpt-4o-mini",
        llm_base_url=base_url,
        llm_api_key="sk-test",
        llm_timeout=llm_timeout,
    )
    publish_preset(settings)
    clock = Clock()
    async with open_tomo(settings) as tomo:
        tomo.services.runtime.handoffs.clock = clock
        yield Desk(tomo, line_fake.api, slack_fake.api, clock)


def _persona(desk: Desk) -> Persona:
    return desk.tomo.services.runtime.personas.published()


def _template(desk: Desk) -> str:
    (suggestion,) = _persona(desk).lines.staff_reply_suggestion
    return suggestion.format(you="きみ")


async def _handed_over(desk: Desk) -> tuple[str, Handoff]:
    user = hook.user_id()
    await desk.customer_says(user, SAID)
    return user, await desk.card_of(user)


def _draft_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [body for body in fake.requests if _is_draft(body)]


async def test_with_a_language_model_the_card_suggests_its_draft(llm_desk: Desk) -> None:
    _, handoff = await _handed_over(llm_desk)

    (card,) = llm_desk.slack.cards()
    assert DRAFT in card.block_text()
    assert _template(llm_desk) not in card.block_text()
    assert handoff.suggested_reply == DRAFT


async def test_the_draft_is_asked_with_the_voice_the_reason_and_what_the_customer_said(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm

    await _handed_over(llm_desk)

    (request,) = _draft_requests(fake)
    system, user = request["messages"]
    voice = _persona(llm_desk).voice
    assert (system["role"], user["role"]) == ("system", "user")
    assert "、".join(voice.sentence_endings) in system["content"]
    assert "、".join(voice.never_phrases) in system["content"]
    assert "money_contract" in user["content"]
    assert SAID in user["content"]


async def test_pressing_send_sends_the_draft_to_the_customer_on_line(llm_desk: Desk) -> None:
    user, handoff = await _handed_over(llm_desk)

    await llm_desk.click("tomo_send_suggestion", handoff, **STAFF)
    await llm_desk.settled()

    push = llm_desk.line.to(user)[-1]
    assert (push.via, push.texts) == ("push", [DRAFT])


async def test_the_draft_is_written_once_and_kept_when_the_card_changes(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    _, handoff = await _handed_over(llm_desk)
    assert handoff.slack_thread_ts is not None

    await llm_desk.click("tomo_claim", handoff, **STAFF)
    await llm_desk.settled()

    ts = handoff.slack_thread_ts
    await wait_until(lambda: llm_desk.slack.updates_of(ts), what="the card update")
    assert DRAFT in llm_desk.slack.updates_of(ts)[-1].block_text()
    assert len(_draft_requests(fake)) == 1


async def test_a_language_model_error_leaves_the_template_on_the_card(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _routes(ScriptedReply(status=500))

    user, handoff = await _handed_over(llm_desk)
    await llm_desk.click("tomo_send_suggestion", handoff, **STAFF)
    await llm_desk.settled()

    assert _draft_requests(fake)  # it was asked
    (card,) = llm_desk.slack.cards()
    assert _template(llm_desk) in card.block_text()
    assert handoff.suggested_reply is None
    assert llm_desk.line.texts_to(user)[-1] == _template(llm_desk)


@pytest.mark.parametrize("llm_timeout", [0.5])
async def test_a_model_that_does_not_answer_in_time_leaves_the_template_on_the_card(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _routes(ScriptedReply(DRAFT, hold=True))

    _, handoff = await _handed_over(llm_desk)

    assert _draft_requests(fake)
    (card,) = llm_desk.slack.cards()
    assert _template(llm_desk) in card.block_text()
    assert DRAFT not in card.block_text()
    assert handoff.suggested_reply is None


async def test_a_draft_with_a_forbidden_phrase_leaves_the_template_on_the_card(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    forbidden = _persona(llm_desk).voice.never_phrases[0]
    draft = f"お待たせ！返金のこと、{forbidden}すぐ確認するね"
    fake.route = _routes(ScriptedReply(draft))

    _, handoff = await _handed_over(llm_desk)

    assert _draft_requests(fake)
    (card,) = llm_desk.slack.cards()
    assert _template(llm_desk) in card.block_text()
    assert forbidden not in card.block_text()
    assert handoff.suggested_reply is None


async def test_falling_back_to_the_template_is_logged_without_what_was_said(
    llm_desk: Desk, fake_llm: tuple[FakeOpenAI, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, _ = fake_llm
    forbidden = _persona(llm_desk).voice.never_phrases[0]
    draft = f"お待たせ！返金のこと、{forbidden}すぐ確認するね"
    fake.route = _routes(ScriptedReply(draft))

    with caplog.at_level(logging.WARNING, logger="bot.suggested_reply"):
        await _handed_over(llm_desk)

    (record,) = [r for r in caplog.records if r.name == "bot.suggested_reply"]
    assert record.levelno == logging.WARNING
    assert "forbidden_phrase" in record.getMessage()
    assert SAID not in record.getMessage()
    assert draft not in record.getMessage()
