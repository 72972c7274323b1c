"""The composition root: settings in, a running tomo out, in one lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.chat_model import ChatModelResponder, build_chat_model
from bot.offline import OfflineResponder
from bot.responder import Responder
from bot.turn import Conversation
from connectors.settings import Settings
from memory.embedding import SentenceEncoder
from memory.store import MemoryStore
from persona.repository import PersonaRepository


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: MemoryStore
    personas: PersonaRepository
    responder: Responder
    conversation: Conversation


def build_responder(settings: Settings, encoder: SentenceEncoder) -> Responder:
    """The offline responder, or one over the LangChain chat model TOMO_LLM names."""
    if settings.llm.strip().lower() == "offline":
        return OfflineResponder(encoder)
    model = build_chat_model(
        settings.llm,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout=settings.llm_timeout,
    )
    return ChatModelResponder(model, timeout=settings.llm_timeout)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the stores, build the responder and the conversation; close all on exit."""
    personas = PersonaRepository(settings.persona_dir)
    async with MemoryStore.open(
        database_url=settings.resolved_database_url,
        data_dir=settings.data_dir,
        chroma_url=settings.chroma_url,
        shards=settings.memory_shards,
        encoder_threads=settings.embedding_threads,
    ) as store:
        responder = build_responder(settings, store.encoder)
        conversation = Conversation(store, personas.published, responder)
        yield Runtime(settings, store, personas, responder, conversation)
