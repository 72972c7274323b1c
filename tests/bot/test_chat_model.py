from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from bot.chat_model import (
    ChatModelResponder,
    LlmConfigError,
    build_chat_model,
    parse_llm_spec,
    split_reply,
)
from bot.turn import Conversation
from connectors.runtime import Runtime, build_responder
from connectors.settings import Settings
from tests.fakes.chat_model import RecordingChatModel
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply


class Ignore:
    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve(fake.app()) as base_url:
        yield fake, f"{base_url}/v1"


async def test_the_openai_provider_talks_to_an_openai_compatible_server(
    runtime: Runtime, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base_url = fake_openai
    fake.replies.append(ScriptedReply("やっほー！\n\n今日はどうしたの？"))
    settings = Settings(
        data_dir=runtime.settings.data_dir,
        llm="openai:gpt-4o-mini",
        llm_base_url=base_url,
        llm_api_key="sk-test",
    )
    conversation = Conversation(
        runtime.store, runtime.personas.published, build_responder(settings, runtime.store.encoder)
    )

    result = await conversation.handle_text("hanako", "こんにちは", Ignore())

    assert result.replies == ("やっほー！", "今日はどうしたの？")
    assert not result.unsure
    (request,) = fake.requests
    assert fake.problems == []
    assert request["model"] == "gpt-4o-mini"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert runtime.personas.published().relationship.statement in request["messages"][0]["content"]
    assert request["messages"][1]["content"] == "こんにちは"


async def test_a_provider_error_gets_an_honest_message_and_marks_the_turn_unsure(
    runtime: Runtime, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base_url = fake_openai
    fake.replies.extend([ScriptedReply(status=500), ScriptedReply(status=500)])
    model = build_chat_model("openai:gpt-4o-mini", base_url=base_url, api_key="sk-test", timeout=5)
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model)
    )

    result = await conversation.handle_text("hanako", "こんにちは", Ignore())

    persona = runtime.personas.published()
    assert result.unsure
    assert any(result.replies[0].startswith(line.split("{")[0]) for line in persona.lines.llm_error)


async def test_the_model_can_say_it_is_unsure(runtime: Runtime) -> None:
    model = RecordingChatModel(script=["[[unsure]]ごめんね、それは確かなことが言えないや"])
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model)
    )

    result = await conversation.handle_text("hanako", "新商品はいつ出る？", Ignore())

    assert result.unsure
    assert result.replies == ("ごめんね、それは確かなことが言えないや",)


async def test_an_exception_inside_the_model_is_never_silence(runtime: Runtime) -> None:
    model = RecordingChatModel(script=[TimeoutError("slow")])
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model)
    )

    result = await conversation.handle_text("hanako", "こんにちは", Ignore())

    assert result.unsure
    assert result.replies and result.replies[0].strip()


def test_a_long_answer_is_cut_into_at_most_five_messages() -> None:
    parts = split_reply("\n\n".join(str(i) for i in range(8)))
    assert len(parts) == 5
    assert parts[-1] == "4\n\n5\n\n6\n\n7"


@pytest.mark.parametrize("spec", ["openai", "openai:", ":gpt", ""])
def test_a_malformed_llm_setting_names_the_variable(spec: str) -> None:
    with pytest.raises(LlmConfigError, match="TOMO_LLM"):
        parse_llm_spec(spec)


def test_a_provider_without_its_package_says_which_package() -> None:
    with pytest.raises(LlmConfigError, match="TOMO_LLM"):
        build_chat_model("google_vertexai:gemini-2.5-flash", api_key="x")


def test_openai_without_a_key_names_the_key_setting() -> None:
    with pytest.raises(LlmConfigError, match="TOMO_LLM_API_KEY"):
        build_chat_model("openai:gpt-4o-mini")
