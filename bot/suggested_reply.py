"""The handoff card's suggested reply, drafted by the language model in the persona's voice.

With a chat model configured, the first staff reply the card suggests is
written by the model from the persona, why the conversation was handed over
(reasons, priority, the words that showed them), what tomo remembers about the
customer and the last messages. Staff may send it as it is, so a draft is used
only when it passes `vet_draft`: not empty, short, no placeholder to fill in,
and no tone finding that breaks the persona's boundaries or its voice
(forbidden phrases, pushy sales, the wrong register). Emoji and address
findings are left to the staff member who reads the draft before sending it.

A failing, slow, empty or rejected draft gives None: the card suggests the
persona's template (`bot.handoff_card.template_reply`), as offline. The card
waits for the draft at most `CARD_WAIT_LIMIT` seconds, whatever the configured
LLM timeout says: staff need the card sooner than a draft.

The prompt and the vetting are pure functions; `SuggestedReplyWriter` is the
one place the model is asked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from bot.escalation_policy import Priority, Reason
from bot.handoff_card import CardMaterial
from bot.metrics import timed_llm_call
from memory.handoffs import Handoff
from memory.models import Role
from persona.prompt import UNSURE_MARK, PromptMemory, PromptTurn, render_system_prompt
from persona.schema import Persona
from persona.tone import Finding, FindingKind, check_tone

log = logging.getLogger(__name__)

CARD_WAIT_LIMIT = 10.0  # seconds the first card waits for a draft, at most
MAX_DRAFT_CHARS = 300  # a first reply is a few sentences; longer is not what was asked for

# Tone findings that make a draft unusable: it would break a boundary or speak
# in another voice. Emoji and address slips are for the staff member to fix.
BLOCKING_FINDINGS = frozenset(
    {FindingKind.FORBIDDEN_PHRASE, FindingKind.PUSHY_SALES, FindingKind.REGISTER}
)

# Something left for a person to fill in ([担当者名], {name}, 〇〇): not sendable as is.
_PLACEHOLDER = re.compile(r"[\[\]{}［］｛｝]|〇〇|○○|●●|××|＿＿|__")
_QUOTES = {"「": "」", "『": "』", '"': '"', "“": "”"}

_RULES = """\
Task: this time you do not answer as tomo. A staff member (a person) of the brand
is taking this conversation over from tomo; the next message says why. Write the
first reply that staff member can send to the customer on LINE as it is:
- Japanese, in the voice above: its register, how it addresses the customer, its
  sentence endings, its emoji rule. The customer should hear the same voice.
- Short: one to three sentences, one LINE message, about 120 characters at most.
- Say honestly that a person from the staff is answering now, and take up what
  the customer said.
- Promise nothing staff cannot be sure of before they have checked: no refund,
  exchange, compensation, delivery date, diagnosis or legal answer. Offer to look
  into it; ask for what is needed (an order number, what happened) only if the
  conversation does not say it yet.
- No sales: recommend no product, create no urgency.
- State facts only from the FAQ above. Mention something remembered only where it
  helps; sensitive memories only if the customer brought them up now.
- Priority urgent, or someone may be at risk: calm and serious, their safety
  first, no emoji, no cheerfulness.
- Answer with the reply only: no quotation marks, no explanation, no placeholder
  such as [name] or 〇〇, no made-up staff name.
"""


@dataclass(frozen=True)
class DraftRequest:
    """What a suggested reply is drafted from."""

    customer_name: str | None
    reasons: tuple[Reason, ...]  # the first is the main one
    priority: Priority
    findings: tuple[str, ...]  # what showed each reason
    memories: tuple[PromptMemory, ...]  # most relevant first
    history: tuple[PromptTurn, ...]  # the last messages, oldest first


def draft_request(handoff: Handoff, material: CardMaterial) -> DraftRequest:
    """The request for a handoff, from what its card is made of."""
    customer = material.customer
    return DraftRequest(
        customer_name=customer.name if customer else None,
        reasons=tuple(Reason(reason) for reason in handoff.reason_list),
        priority=Priority(handoff.priority),
        findings=tuple(line for line in handoff.findings.splitlines() if line),
        memories=tuple(
            PromptMemory(item.text, item.created_at, sensitive=bool(item.sensitivity))
            for item in material.recalled
        ),
        history=tuple(PromptTurn(m.role.value, m.text) for m in material.recent),
    )


def draft_prompt(persona: Persona, request: DraftRequest) -> list[SystemMessage | HumanMessage]:
    """The messages the model is asked with: the persona's prompt, then the handoff."""
    system = render_system_prompt(
        persona,
        customer_name=request.customer_name,
        memories=request.memories,
        history=request.history,
        rules=_RULES,
    )
    latest = next(
        (turn.text for turn in reversed(request.history) if turn.role == Role.CUSTOMER.value),
        "(none)",
    )
    reasons = ", ".join(reason.value for reason in request.reasons) or "(none given)"
    findings = "\n".join(f"- {line}" for line in request.findings) or "- (none)"
    handoff = (
        f"Handed over because: {reasons} (the first is the main reason)\n"
        f"Priority: {request.priority.value}\n"
        f"What showed it:\n{findings}\n\n"
        f"The customer's latest message:\n{latest}\n\n"
        "Write the staff member's reply now."
    )
    return [SystemMessage(system), HumanMessage(handoff)]


@dataclass(frozen=True)
class Vetted:
    """A draft as it may be sent, or why it may not (`rejected`, no message text)."""

    text: str | None
    rejected: str | None = None


def vet_draft(raw: str, persona: Persona) -> Vetted:
    """The model's answer cleaned up, or why it is not a reply staff can send as it is."""
    text = _unquoted(raw.replace(UNSURE_MARK, "").strip())
    if not text:
        return Vetted(None, "empty")
    if len(text) > MAX_DRAFT_CHARS:
        return Vetted(None, "too long")
    if _PLACEHOLDER.search(text):
        return Vetted(None, "placeholder")
    blocking = _blocking(check_tone(text, persona))
    if blocking:
        return Vetted(None, "tone: " + ", ".join(blocking))
    return Vetted(text)


def _unquoted(text: str) -> str:
    """Without one pair of quotes around the whole answer (the tone check skips quotes)."""
    closing = _QUOTES.get(text[:1])
    if closing and len(text) >= 2 and text.endswith(closing):
        return text[1:-1].strip()
    return text


def _blocking(findings: Sequence[Finding]) -> list[str]:
    return sorted({f.kind.value for f in findings if f.kind in BLOCKING_FINDINGS})


class SuggestedReplyWriter:
    """Asks the chat model for a suggested reply; None when there is no usable draft."""

    def __init__(self, model: BaseChatModel, *, timeout: float = 30.0) -> None:
        self._model = model
        self.time_limit = min(timeout, CARD_WAIT_LIMIT)

    async def draft(self, persona: Persona, request: DraftRequest) -> str | None:
        """A vetted draft, or None (logged at WARNING, without text): the template is used."""
        try:
            with timed_llm_call("suggestion"):
                answer = await asyncio.wait_for(
                    self._model.ainvoke(draft_prompt(persona, request)), timeout=self.time_limit
                )
            raw = answer.text
        except Exception as error:  # any provider failure or the time limit: the template
            log.warning(
                "suggested reply: the language model failed (%s); the persona's template is "
                "suggested",
                type(error).__name__,
            )
            return None
        vetted = vet_draft(raw, persona)
        if vetted.text is None:
            log.warning(
                "suggested reply: the draft was not usable (%s); the persona's template is "
                "suggested",
                vetted.rejected,
            )
        return vetted.text


__all__ = [
    "BLOCKING_FINDINGS",
    "CARD_WAIT_LIMIT",
    "DraftRequest",
    "SuggestedReplyWriter",
    "Vetted",
    "draft_prompt",
    "draft_request",
    "vet_draft",
]
