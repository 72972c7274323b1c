"""A language model's judgment on whether a message should go to a person.

The model answers in JSON text, parsed with LangChain's JsonOutputParser (not
`with_structured_output`, which not every chat model implements). A failing,
slow or nonsensical answer gives no judgment: the rules' decision stands.
Unknown reasons in an answer are dropped, not trusted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import JsonOutputParser

from bot.escalation import EscalationContext, LlmJudgment
from bot.escalation_policy import EscalationPolicy, Priority, Reason
from bot.metrics import timed_llm_call

log = logging.getLogger(__name__)

_REASON_IDS = frozenset(reason.value for reason in Reason)
_PRIORITY_IDS = frozenset(priority.value for priority in Priority)

_REASONS = {
    Reason.CRISIS: "someone may be at risk: wishes to die or disappear, self-harm, violence",
    Reason.HEALTH_SAFETY: "a health or safety problem: skin reaction, swallowed, injury, fire",
    Reason.HUMAN_REQUEST: "the customer asks to talk to a person (staff, operator, phone)",
    Reason.ANGER_COMPLAINT: "anger, a complaint, distrust",
    Reason.MONEY_CONTRACT: "refunds, charges, billing errors, contracts",
    Reason.LEGAL: "lawyers, lawsuits, consumer centres, laws, police",
    Reason.PRIVACY: "personal data: deletion, disclosure, leaks, someone else's data",
    Reason.WARMTH: "grief, illness, loneliness, distress: a person should answer warmly",
    Reason.ORDER_PROBLEM: "an order went wrong: not arrived, broken, wrong or missing item",
    Reason.REPEATED_CONFUSION: "the customer and the bot are going round in circles",
    Reason.BOT_UNSURE: "the bot does not know the answer",
    Reason.NEEDS_JUDGMENT: "needs a decision by staff: exceptions, bulk orders, press, partners",
}

_INSTRUCTIONS = """\
You help a Japanese customer-support chatbot decide whether the customer's
latest message must be handed to a human staff member, and why.

Reasons (use these exact ids):
{reasons}

Priorities: "urgent" (someone may be at risk or hurt), "high", "normal".

Read Japanese as a native speaker would. Hyperbole is not a crisis:
「死ぬほど好き」「可愛すぎて消えそう」 are praise. Negation cancels a topic:
「返品じゃなくて、もう1個買いたい」 is a purchase, 「返金は大丈夫」 declines a
refund. 「人と話すのが苦手なのでLINEで助かる」 does not ask for a person.
Ordinary questions the bot can answer from its FAQ (shipping, how to return,
payment methods) do not need a human.
{topics}
Answer with JSON only, no prose:
{{"escalate": true or false, "reasons": ["reason id", ...],
 "priority": "urgent" | "high" | "normal" | null,
 "note": "one short line in Japanese for staff"}}
"""


def _instructions(policy: EscalationPolicy | None) -> str:
    reasons = "\n".join(f"- {reason.value}: {meaning}" for reason, meaning in _REASONS.items())
    topics = ""
    if policy is not None:
        named = "\n".join(f"- {topic.name} → {topic.reason.value}" for topic in policy.topics)
        topics = f"\nThe company's own topics that go to staff:\n{named}\n"
    return _INSTRUCTIONS.format(reasons=reasons, topics=topics)


def _conversation(message: str, context: EscalationContext) -> str:
    lines = [
        f"[{turn.role}{' (unsure)' if turn.unsure else ''}] {turn.text}"
        for turn in context.turns[-6:]
    ]
    history = "\n".join(lines) if lines else "(none)"
    return (
        f"Conversation so far:\n{history}\n\n"
        f"Handoff state: {context.handoff.value}; "
        f"bot unsure about this message: {str(context.bot_unsure).lower()}\n\n"
        f"Customer's latest message:\n{message}"
    )


def parse_judgment(raw: Any) -> LlmJudgment | None:
    """A judgment from the model's parsed JSON; None when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("escalate"), bool):
        return None
    reasons = raw.get("reasons") or []
    known = tuple(
        dict.fromkeys(
            Reason(value) for value in reasons if isinstance(value, str) and value in _REASON_IDS
        )
    )
    priority = raw.get("priority")
    note = raw.get("note")
    return LlmJudgment(
        escalate=raw["escalate"],
        reasons=known,
        priority=Priority(priority)
        if isinstance(priority, str) and priority in _PRIORITY_IDS
        else None,
        note=note.strip()[:200] if isinstance(note, str) else "",
    )


async def judge_with_llm(
    model: BaseChatModel,
    message: str,
    context: EscalationContext,
    policy: EscalationPolicy | None = None,
    *,
    time_limit: float = 30.0,
) -> LlmJudgment | None:
    """Ask the model; None when it fails, times out or answers something else."""
    prompt = [SystemMessage(_instructions(policy)), HumanMessage(_conversation(message, context))]
    try:
        with timed_llm_call("escalation"):
            answer = await asyncio.wait_for(model.ainvoke(prompt), timeout=time_limit)
        raw = JsonOutputParser().parse(answer.text)
    except Exception as error:  # any provider or parse failure: the rules decide alone
        log.warning("escalation judgment by the language model failed: %s", type(error).__name__)
        return None
    judgment = parse_judgment(raw)
    if judgment is None:
        log.warning("escalation judgment by the language model was not usable")
    return judgment
