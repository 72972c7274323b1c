"""The composition root: settings in, a running tomo out, in one lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from langchain_core.language_models import BaseChatModel

from bot.chat_model import ChatModelResponder, build_chat_model
from bot.emotion import EmotionReader
from bot.escalation_evidence import EscalationChecker
from bot.escalation_policy import load_policy
from bot.facts import FactExtractor
from bot.handoff_service import HandoffConfig, HandoffService
from bot.memory_writer import MemoryWriter
from bot.offline import OfflineResponder
from bot.persona_draft import DRAFT_TIMEOUT, PersonaDrafter
from bot.responder import Responder
from bot.suggested_reply import SuggestedReplyWriter
from bot.turn import Conversation
from connectors.settings import Settings
from memory.embedding import SentenceEncoder
from memory.handoffs import HandoffStore
from memory.store import MemoryStore
from persona.repository import PersonaRepository


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: MemoryStore
    personas: PersonaRepository
    responder: Responder
    conversation: Conversation
    handoffs: HandoffService


def _is_offline(settings: Settings) -> bool:
    return settings.llm.strip().lower() == "offline"


def _chat_model(settings: Settings) -> BaseChatModel:
    return build_chat_model(
        settings.llm,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout=settings.llm_timeout,
    )


def build_responder(settings: Settings, encoder: SentenceEncoder) -> Responder:
    """The offline responder, or one over the LangChain chat model TOMO_LLM names."""
    if _is_offline(settings):
        return OfflineResponder(encoder)
    return ChatModelResponder(_chat_model(settings), timeout=settings.llm_timeout)


def build_handoffs(
    settings: Settings, store: MemoryStore, personas: PersonaRepository
) -> HandoffService:
    """The escalation policy in force and the handoff service around it (no desk yet)."""
    policy, _ = load_policy(settings.persona_dir)
    checker = EscalationChecker(
        policy,
        store.encoder,
        EmotionReader(),
        None if _is_offline(settings) else _chat_model(settings),
        llm_timeout=settings.llm_timeout,
    )
    config = HandoffConfig(
        hours=settings.business,
        claim_after=timedelta(minutes=settings.handoff_claim_minutes),
    )
    suggestions = (
        None
        if _is_offline(settings)
        else SuggestedReplyWriter(_chat_model(settings), timeout=settings.llm_timeout)
    )
    return HandoffService(
        store,
        HandoffStore(store.engine),
        checker,
        personas.published,
        config,
        suggestions=suggestions,
    )


def build_fact_extractor(settings: Settings) -> FactExtractor | None:
    """With a model configured, facts are extracted from what customers say."""
    if _is_offline(settings):
        return None
    return FactExtractor(_chat_model(settings), timeout=settings.llm_timeout)


def build_persona_drafter(settings: Settings) -> PersonaDrafter | None:
    """With a model configured, a relationship definition becomes a whole drafted persona."""
    if _is_offline(settings):
        return None
    timeout = max(settings.llm_timeout, DRAFT_TIMEOUT)  # a whole persona is a long answer
    model = build_chat_model(
        settings.llm,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeout=timeout,
    )
    return PersonaDrafter(model, timeout=timeout)


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
        # The embedded default migrates itself; a database the operator named
        # (TOMO_DATABASE_URL) is changed only by `tomo db upgrade`.
        migrate=settings.database_url is None,
    ) as store:
        responder = build_responder(settings, store.encoder)
        writer = MemoryWriter(store, build_fact_extractor(settings))
        # Memory writes a crash left unfinished are made good before new turns.
        await writer.recover()
        handoffs = build_handoffs(settings, store, personas)
        conversation = Conversation(
            store, personas.published, responder, memory_writer=writer, handoffs=handoffs
        )
        try:
            yield Runtime(settings, store, personas, responder, conversation, handoffs)
        finally:
            await writer.drain()
