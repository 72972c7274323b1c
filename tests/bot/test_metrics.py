"""The language model's calls are timed and their failures counted by kind."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from prometheus_client import REGISTRY

from bot.chat_model import ChatModelResponder, build_chat_model
from bot.metrics import timed_llm_call
from bot.turn import Conversation
from connectors.runtime import Runtime
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Ignore:
    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


@pytest.fixture
def hanging_llm() -> Iterator[str]:
    """An OpenAI-compatible server that does not answer until the test is over."""
    fake = FakeOpenAI(route=lambda _: ScriptedReply("はい", hold=True))
    with serve(fake.app()) as url:
        try:
            yield f"{url}/v1"
        finally:
            fake.release.set()


async def test_a_model_that_does_not_answer_in_time_is_counted_as_a_timeout(
    runtime: Runtime, hanging_llm: str
) -> None:
    model = build_chat_model("openai:gpt-4o-mini", base_url=hanging_llm, api_key="sk-test")
    conversation = Conversation(
        runtime.store, runtime.personas.published, ChatModelResponder(model, timeout=0.2)
    )
    timeouts = sample("tomo_llm_errors_total", purpose="reply", kind="timeout")
    errors = sample("tomo_llm_errors_total", purpose="reply", kind="error")

    result = await conversation.handle_text("hanako", "こんにちは", Ignore())

    assert result.unsure
    assert sample("tomo_llm_errors_total", purpose="reply", kind="timeout") - timeouts == 1
    assert sample("tomo_llm_errors_total", purpose="reply", kind="error") == errors


def test_a_successful_call_is_timed_and_not_counted_as_an_error() -> None:
    calls = sample("tomo_llm_seconds_count", purpose="test")
    errors = sample("tomo_llm_errors_total", purpose="test", kind="error")

    with timed_llm_call("test"):
        pass

    assert sample("tomo_llm_seconds_count", purpose="test") - calls == 1
    assert sample("tomo_llm_errors_total", purpose="test", kind="error") == errors


def test_a_failing_call_is_counted_as_an_error_and_raised_again() -> None:
    errors = sample("tomo_llm_errors_total", purpose="test", kind="error")

    with pytest.raises(RuntimeError), timed_llm_call("test"):
        raise RuntimeError("provider down")

    assert sample("tomo_llm_errors_total", purpose="test", kind="error") - errors == 1
