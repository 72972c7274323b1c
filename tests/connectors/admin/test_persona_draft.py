"""A whole persona drafted by a language model from a relationship definition, through
the API and the web admin, against a fake OpenAI-compatible server over loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.persona_words import say
from connectors.settings import Settings
from persona.presets import load_preset
from persona.schema import Commitment
from tests.conftest import publish_preset
from tests.connectors.admin.conftest import ADMIN_TOKEN, BEARER, Admin, _open
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply
from tests.fakes.persona_proposal import (
    COMMITMENT,
    FIRST_PERSON,
    GREETING,
    RELATIONSHIP,
    as_answer,
    yaoya_proposal,
)

DRAFT = "/api/persona/draft/relationship"


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve(fake.app()) as base_url:
        yield fake, f"{base_url}/v1"


@pytest.fixture
async def llm_admin(data_dir: Path, fake_llm: tuple[FakeOpenAI, str]) -> AsyncIterator[Admin]:
    _, base_url = fake_llm
    settings = Settings(
        data_dir=data_dir,
        admin_token=ADMIN_TOKEN,
        workers=0,
        llm="openai:gpt-4o-mini",
        llm_base_url=base_url,
        llm_api_key="sk-test",
    )
    publish_preset(settings)
    async for opened in _open(settings):
        yield opened


def _answer_with(reply: ScriptedReply) -> Any:
    return lambda body: reply


async def _draft(admin: Admin, **extra: Any) -> dict[str, Any]:
    response = await admin.client.post(
        DRAFT, json={"relationship": RELATIONSHIP, **extra}, headers=BEARER
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_models_persona_is_saved_as_a_draft_in_its_own_voice(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _answer_with(ScriptedReply(as_answer(yaoya_proposal())))

    body = await _draft(llm_admin, commitments=[COMMITMENT])

    personas = llm_admin.runtime.personas
    draft = personas.draft()
    assert (body["drafted_by"], body["llm_failure"]) == ("llm", None)
    assert (draft.voice.first_person, draft.relationship.word) == (FIRST_PERSON, "八百屋")
    assert draft.examples[0].tomo == GREETING
    assert draft.commitments == (
        Commitment(title="朝採れ", body="その日の朝に採れた野菜だけを並べる"),
    )
    assert draft.brand == "つむぎ" and draft.faq == personas.published().faq
    # Never published automatically.
    assert personas.published_version() == 1
    assert personas.published().voice.first_person == "私"
    assert body["note"] == say("start.drafted", asked=RELATIONSHIP, word=body["relationship"])
    assert fake.problems == []


async def test_the_prompt_holds_the_definition_the_commitments_and_the_closest_preset(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _answer_with(ScriptedReply(as_answer(yaoya_proposal())))

    body = await _draft(llm_admin, commitments=[COMMITMENT])

    (request,) = fake.requests
    system, human = (message["content"] for message in request["messages"])
    assert RELATIONSHIP in human
    assert "その日の朝に採れた野菜だけを並べる" in human
    example = load_preset(body["preset"])
    assert example["relationship"]["statement"] in system
    assert example["voice"]["first_person"] in system


async def test_drafting_is_audited_as_done_by_the_model(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _answer_with(ScriptedReply(as_answer(yaoya_proposal())))

    await _draft(llm_admin)

    entry = (await llm_admin.runtime.store.audit_log())[-1]
    assert (entry.actor, entry.action) == ("admin", "persona_draft_from_relationship")
    assert "drafted_by=llm" in entry.detail
    assert FIRST_PERSON not in entry.detail


def _missing_lines() -> str:
    proposal = yaoya_proposal()
    del proposal["lines"]
    return as_answer(proposal)


def _unknown_placeholder() -> str:
    proposal = yaoya_proposal()
    proposal["lines"]["greeting"] = ["{customer}、いらっしゃい！"]
    return as_answer(proposal)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("ごめんなさい、うまく作れませんでした。", id="not-json"),
        pytest.param(_missing_lines(), id="missing-lines"),
        pytest.param(_unknown_placeholder(), id="unknown-placeholder"),
    ],
)
async def test_an_answer_that_is_not_a_persona_falls_back_to_the_closest_preset_and_says_so(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str], answer: str
) -> None:
    fake, _ = fake_llm
    fake.route = _answer_with(ScriptedReply(answer))

    body = await _draft(llm_admin)

    assert (body["drafted_by"], body["llm_failure"]) == ("preset", "invalid")
    key = "start.fallback_preset" if body["exact"] else "start.fallback_closest"
    assert body["note"] == say(key, reason=say("failure.invalid"), word=body["relationship"])
    preset = load_preset(body["preset"])
    draft = llm_admin.runtime.personas.draft()
    assert draft.relationship.word == preset["relationship"]["word"]
    assert draft.voice.first_person == preset["voice"]["first_person"]
    assert draft.voice.first_person != FIRST_PERSON


async def test_a_failing_model_falls_back_to_the_closest_preset_and_says_why(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    fake.route = _answer_with(ScriptedReply(status=500))

    body = await _draft(llm_admin)

    assert (body["drafted_by"], body["llm_failure"]) == ("preset", "error")
    assert say("failure.error") in body["note"]
    assert llm_admin.runtime.personas.draft().relationship.word == body["relationship"]


async def test_drafted_lines_that_break_their_own_voice_are_shown_as_findings(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    proposal = yaoya_proposal()
    proposal["examples"][1]["tomo"] = "今だけ半額だよ！"  # a never-phrase of its own voice
    fake.route = _answer_with(ScriptedReply(as_answer(proposal)))

    body = await _draft(llm_admin)

    assert [(f["where"], f["kind"], f["text"]) for f in body["findings"]] == [
        ("examples[1].tomo", "forbidden_phrase", "今だけ")
    ]
    assert body["findings_note"] == say("start.findings", count=1)
    # Still saved, for the manager to fix before publishing.
    assert llm_admin.runtime.personas.draft().examples[1].tomo == "今だけ半額だよ！"


async def test_the_editor_shows_what_the_model_drafted_and_its_findings(
    llm_admin: Admin, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_llm
    proposal = yaoya_proposal()
    proposal["examples"][1]["tomo"] = "今だけ半額だよ！"
    fake.route = _answer_with(ScriptedReply(as_answer(proposal)))
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    login = await llm_admin.client.get("/admin/login")
    token = csrf.search(login.text)
    assert token
    await llm_admin.client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": token[1]})
    page = await llm_admin.client.get("/admin/persona")
    token = csrf.search(page.text)
    assert token

    response = await llm_admin.client.post(
        "/admin/persona/relationship", data={"relationship": RELATIONSHIP, "csrf": token[1]}
    )

    assert response.status_code == 200
    audited = re.search(r"preset=(\w+)", (await llm_admin.runtime.store.audit_log())[-1].detail)
    assert audited
    example = load_preset(audited[1])["relationship"]["word"]
    assert say("start.drafted", asked=RELATIONSHIP, word=example) in response.text
    assert say("start.findings", count=1) in response.text
    assert "<code>examples[1].tomo</code>" in response.text
    assert f'value="{FIRST_PERSON}"' in response.text
