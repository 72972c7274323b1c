"""Facts about a customer, extracted by a language model with structured output.

The model gets what the customer said plus what is already known, and answers
JSON that a Pydantic parser validates. Fact texts stay in the customer's own
language (Japanese stays Japanese). Offline there is no extractor: what the
customer said is remembered as an episodic memory instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import PydanticOutputParser
from pydantic import BaseModel, Field

from bot.metrics import timed_llm_call
from memory.models import MemoryRecord

log = logging.getLogger(__name__)


class ExtractedFact(BaseModel):
    text: str = Field(description="The fact, in the customer's own language and words")
    kind: str = Field(default="fact", description="fact or event")
    key: str | None = Field(
        default=None,
        description="A stable snake_case slot, e.g. residence, pet_cat_name, skin_type, birthday",
    )
    sensitivity: str | None = Field(
        default=None, description="health, family, money, religion_politics, identity, or null"
    )
    event_date: str | None = Field(default=None, description="YYYY-MM-DD or --MM-DD, for events")
    replaces: list[str] = Field(
        default_factory=list, description="ids of known facts this one makes untrue"
    )


class Extraction(BaseModel):
    facts: list[ExtractedFact] = Field(default_factory=list)


_INSTRUCTIONS = """You keep a customer's memory for a brand's conversation partner.
From the customer's message, extract lasting facts about the customer (preferences,
family, pets and their names, skin type, plans, where they live, dates that matter
such as birthdays). Ignore greetings, questions about products and small talk.
Write each fact in the customer's own language, close to their own words; never
translate. Give a fact the same `key` as a known fact when it is about the same
thing, and list in `replaces` the ids of known facts it makes untrue (e.g. they
moved). Mark health, family, money, religion/politics and identity facts with
`sensitivity`. If there is nothing to keep, return {{"facts": []}}.

Known facts (id: key: text):
{known}

{format_instructions}"""


class FactExtractor:
    """Asks a chat model for the facts in one customer message."""

    def __init__(self, model: BaseChatModel, *, timeout: float = 30.0) -> None:
        self._model = model
        self._timeout = timeout
        self._parser: PydanticOutputParser[Extraction] = PydanticOutputParser(
            pydantic_object=Extraction
        )

    def prompt(
        self, text: str, known: Sequence[MemoryRecord]
    ) -> list[SystemMessage | HumanMessage]:
        listing = "\n".join(f"{m.id}: {m.key or '-'}: {m.text}" for m in known) or "(none)"
        system = _INSTRUCTIONS.format(
            known=listing, format_instructions=self._parser.get_format_instructions()
        )
        return [SystemMessage(system), HumanMessage(text)]

    async def extract(self, text: str, known: Sequence[MemoryRecord]) -> list[ExtractedFact]:
        """The facts in the message; raises on a model or parse failure (the caller retries)."""
        with timed_llm_call("facts"):
            answer = await asyncio.wait_for(
                self._model.ainvoke(self.prompt(text, known)), timeout=self._timeout
            )
        extraction: Extraction = self._parser.parse(answer.text)
        return extraction.facts
