"""A whole persona drafted by a language model from a free-text relationship definition.

The manager writes the relationship in their own words (ふらっと立ち寄れる近所の八百屋の
ような関係); the model writes the voice, boundaries, examples, offline lines and test
messages that follow from it, with the closest preset (already merged with the brand)
as its example. Structured output: the model answers JSON that a Pydantic parser
validates against the persona schema.

What is the brand's own — its name, its commitments and its FAQ — is never the
model's to write: it is copied from the example as the manager gave it, word for
word. A draft whose lines would not fill their placeholders is rejected, like an
answer that is not a persona. `own_line_findings` then tone-checks the persona's
own lines against itself; the caller shows those findings, it does not hide them.

Nothing here saves or publishes anything: the caller saves the draft as a draft.
"""

from __future__ import annotations

import asyncio
import json
import logging
import string
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import PydanticOutputParser
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.metrics import timed_llm_call
from bot.phrasing import speak
from persona.schema import Example, Lines, Persona, Relationship, Voice
from persona.tone import Finding, check_tone

log = logging.getLogger(__name__)

# A whole persona is a long answer: it gets more time than a reply to a customer.
DRAFT_TIMEOUT = 180.0

# The placeholders `bot.phrasing.speak` fills in.
PLACEHOLDERS = frozenset(
    {"you", "me", "brand", "memory", "answer", "memories", "topic", "count", "when", "what"}
)

# The persona's fields the brand owns: copied from the example, never drafted.
BRAND_FIELDS = ("brand", "commitments", "faq")

FailureKind = Literal["timeout", "error", "invalid"]


class PersonaProposal(BaseModel):
    """What the model writes: a persona without the brand's own fields."""

    model_config = ConfigDict(extra="ignore")

    relationship: Relationship
    voice: Voice
    boundaries: list[str] = Field(min_length=1, description="Lines tomo never crosses")
    examples: list[Example] = Field(min_length=3, description="Example exchanges in the voice")
    lines: Lines
    test_messages: list[str] = Field(
        min_length=5, description="Customer messages replayed on every publish"
    )


class DraftFailed(RuntimeError):
    """The model gave no usable persona: it failed, was too slow, or answered something else."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: FailureKind = kind
        self.detail = detail


_INSTRUCTIONS = """You write the persona of tomo, a brand's one-to-one conversation partner
with its customers on LINE. The brand's manager defines, in their own words, the
relationship the brand wants with its customers; the next message gives that
definition and the brand's commitments (こだわり). Draft the whole persona that
follows from the definition:

- relationship: `word` is one short Japanese word or phrase that names the
  relationship; `statement` says in full 「お客様と〇〇のような関係を築く」; `meaning`
  says what the relationship means in practice for how tomo talks and acts.
- voice: the register (casual, polite or honorific), the first person, how a
  customer is addressed (`address` must contain {{name}}), the emoji policy and
  emoji, typical sentence endings, phrases that sound like us and phrases we never
  say. All of it follows from the relationship.
- boundaries: what tomo never does, fitting the relationship and the commitments
  (no pushy sales or urgency, no promise beyond the FAQ, a person when it matters).
- examples: exchanges that show the voice.
- lines: what the offline responder says, each field a list of alternatives in the
  voice. Use only the placeholders the field descriptions name ({{you}} {{me}}
  {{brand}} {{memory}} {{answer}} {{memories}} {{topic}} {{count}} {{when}} {{what}});
  write no other curly braces.
- test_messages: customer messages that show whether a reply keeps the voice
  (greetings, thanks, a question the FAQ answers, something the customer shares,
  a worry, a complaint).

Rules:
- Write every text in natural Japanese; never translate the definition or the
  commitments into another language.
- Every example reply and every line must itself speak in the voice you define:
  its register, its first person, its form of address, its emoji rule, and none of
  its never-say phrases.
- The brand's name, commitments and FAQ are fixed: do not restate, change or add
  brand facts, prices or promises.
- The example below is the closest preset for the same brand. Follow its shape,
  its care and its level of detail, not its voice.

Example (JSON):
{example}

{format_instructions}"""


def _example_json(example: Persona) -> str:
    shown = example.model_dump(mode="json", exclude=set(BRAND_FIELDS))
    return json.dumps(shown, ensure_ascii=False, indent=1)


def _request_text(relationship: str, example: Persona) -> str:
    commitments = "\n".join(f"- {c.title}: {c.body}" for c in example.commitments) or "- (none)"
    return (
        f"Relationship definition: {relationship}\n"
        f"Brand: {example.brand}\n"
        f"The brand's commitments (こだわり):\n{commitments}"
    )


def _placeholder_problems(lines: Lines) -> list[str]:
    problems = []
    for field, alternatives in lines:
        for index, line in enumerate(alternatives):
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(line) if name}
            except ValueError:
                problems.append(f"lines.{field}[{index}]: unbalanced braces")
                continue
            unknown = names - PLACEHOLDERS
            if unknown:
                problems.append(f"lines.{field}[{index}]: unknown {sorted(unknown)}")
    return problems


class PersonaDrafter:
    """Asks a chat model for a whole persona; the one place that prompt is made."""

    def __init__(self, model: BaseChatModel, *, timeout: float = DRAFT_TIMEOUT) -> None:
        self._model = model
        self._timeout = timeout
        self._parser: PydanticOutputParser[PersonaProposal] = PydanticOutputParser(
            pydantic_object=PersonaProposal
        )

    def prompt(self, relationship: str, example: Persona) -> list[SystemMessage | HumanMessage]:
        system = _INSTRUCTIONS.format(
            example=_example_json(example),
            format_instructions=self._parser.get_format_instructions(),
        )
        return [SystemMessage(system), HumanMessage(_request_text(relationship, example))]

    async def draft(self, relationship: str, example: Persona) -> Persona:
        """The drafted persona, with the example's brand, commitments and FAQ.

        Raises DraftFailed (timeout, error, or an answer that is not a valid persona).
        """
        try:
            with timed_llm_call("persona_draft"):
                answer = await asyncio.wait_for(
                    self._model.ainvoke(self.prompt(relationship, example)),
                    timeout=self._timeout,
                )
        except TimeoutError as error:
            raise DraftFailed("timeout", "no answer in time") from error
        except Exception as error:  # any provider failure: the caller falls back
            kind: FailureKind = "timeout" if "Timeout" in type(error).__name__ else "error"
            raise DraftFailed(kind, type(error).__name__) from error
        try:
            proposal = self._parser.parse(answer.text)
            persona = Persona.model_validate(
                {
                    **proposal.model_dump(mode="json", by_alias=True),
                    **example.model_dump(mode="json", include=set(BRAND_FIELDS)),
                }
            )
        except (ValueError, ValidationError) as error:
            # OutputParserException is a ValueError; the answer's content is not logged.
            raise DraftFailed("invalid", type(error).__name__) from error
        problems = _placeholder_problems(persona.lines)
        if problems:
            raise DraftFailed("invalid", "; ".join(problems))
        return persona


# -- the persona's own lines against its own voice ---------------------------------


@dataclass(frozen=True)
class LineFinding:
    """A tone finding in one of the persona's own lines or example replies."""

    where: str  # examples[0].tomo, lines.greeting[1]
    text: str  # the line as spoken (placeholders filled)
    finding: Finding

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "line": self.text, **self.finding.to_json()}


# Sample values for the placeholders, so that a line is checked as a customer reads it.
_SAMPLE: dict[str, Any] = {
    "memory": "肌が乾燥してる",
    "memories": "- 猫を飼っている",
    "topic": "猫",
    "count": 1,
    "when": "明日の9時",
    "what": "写真",
}


def own_line_findings(persona: Persona) -> list[LineFinding]:
    """Tone findings in the persona's example replies and offline lines, checked
    against the persona itself (each line spoken to a named and an unnamed customer)."""
    spoken: list[tuple[str, str]] = [
        (f"examples[{index}].tomo", example.tomo) for index, example in enumerate(persona.examples)
    ]
    answer = persona.faq[0].answer if persona.faq else "550円です"
    for field, alternatives in persona.lines:
        for index, line in enumerate(alternatives):
            for name in (None, "花子"):
                text = speak(
                    persona, [line], seed="check", customer_name=name, answer=answer, **_SAMPLE
                )
                spoken.append((f"lines.{field}[{index}]", text))
    found: list[LineFinding] = []
    seen: set[tuple[str, str]] = set()
    for where, text in spoken:
        if (where, text) in seen:
            continue
        seen.add((where, text))
        found += [LineFinding(where, text, finding) for finding in check_tone(text, persona)]
    return found
