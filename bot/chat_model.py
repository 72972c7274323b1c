"""A responder over any LangChain chat model (`TOMO_LLM=<provider>:<model>`).

The model is built once with `init_chat_model`; this is the one outbound seam
to LLM providers. A failing or slow model never leaves the customer in
silence: they get the persona's honest `llm_error` line and the turn is
marked unsure.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from bot.metrics import timed_llm_call
from bot.phrasing import speak
from bot.responder import LINE_MESSAGES_PER_CALL, Reply, TurnContext
from persona.prompt import UNSURE_MARK, PromptMemory, PromptTurn, render_system_prompt

log = logging.getLogger(__name__)


class LlmConfigError(ValueError):
    """TOMO_LLM or its companions are not usable."""


def parse_llm_spec(spec: str) -> tuple[str, str]:
    """'openai:gpt-4o-mini' → ('openai', 'gpt-4o-mini')."""
    provider, separator, model = spec.partition(":")
    if not separator or not provider or not model:
        raise LlmConfigError(
            f"TOMO_LLM={spec!r}: expected 'offline' or '<provider>:<model>', "
            "e.g. openai:gpt-4o-mini"
        )
    return provider, model


def build_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> BaseChatModel:
    """Build the chat model named by TOMO_LLM (any init_chat_model provider)."""
    provider, model = parse_llm_spec(spec)
    options: dict[str, Any] = {"timeout": timeout, "max_retries": 1}
    if base_url:
        options["base_url"] = base_url
    if api_key:
        options["api_key"] = api_key
    try:
        chat_model: BaseChatModel = init_chat_model(model, model_provider=provider, **options)
    except ImportError as error:
        raise LlmConfigError(f"TOMO_LLM={spec!r} needs its LangChain package: {error}") from error
    except Exception as error:  # e.g. openai without a key: say which setting fixes it
        raise LlmConfigError(
            f"TOMO_LLM={spec!r} could not be set up ({type(error).__name__}: {error}); "
            "check TOMO_LLM_API_KEY (or the provider's own key variable) and TOMO_LLM_BASE_URL"
        ) from error
    return chat_model


def split_reply(text: str) -> tuple[str, ...]:
    """The model's answer as LINE messages: blank-line separated, at most five."""
    parts = [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    if len(parts) > LINE_MESSAGES_PER_CALL:
        parts = [
            *parts[: LINE_MESSAGES_PER_CALL - 1],
            "\n\n".join(parts[LINE_MESSAGES_PER_CALL - 1 :]),
        ]
    return tuple(parts)


class ChatModelResponder:
    """Answers with a LangChain chat model prompted with the persona."""

    def __init__(self, model: BaseChatModel, *, timeout: float = 30.0) -> None:
        self._model = model
        self._timeout = timeout

    def prompt(self, context: TurnContext) -> list[SystemMessage | HumanMessage]:
        """The messages sent to the model for this turn."""
        system = render_system_prompt(
            context.persona,
            customer_name=context.customer_name,
            memories=[
                PromptMemory(m.text, m.created_at, sensitive=bool(m.sensitivity))
                for m in context.memories
            ],
            history=[PromptTurn(m.role.value, m.text) for m in context.history],
        )
        return [SystemMessage(system), HumanMessage(context.text)]

    async def respond(self, context: TurnContext) -> Reply:
        try:
            with timed_llm_call("reply"):
                answer = await asyncio.wait_for(
                    self._model.ainvoke(self.prompt(context)), timeout=self._timeout
                )
            text = answer.text if hasattr(answer, "text") else str(answer.content)
        except Exception as error:  # any provider failure: honest message, never silence
            log.warning("LLM call failed: %s", type(error).__name__)
            return _unsure(context, context.persona.lines.llm_error)
        unsure = UNSURE_MARK in text
        messages = split_reply(text.replace(UNSURE_MARK, "").strip())
        if not messages:
            return _unsure(context, context.persona.lines.unsure)
        return Reply(messages, unsure=unsure)


def _unsure(context: TurnContext, alternatives: Sequence[str]) -> Reply:
    """One of the persona's honest lines, with the turn marked unsure."""
    line = speak(
        context.persona, alternatives, seed=context.text, customer_name=context.customer_name
    )
    return Reply((line,), unsure=True)
