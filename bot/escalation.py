"""Should this message go to a person, why, and how soon: a pure decision.

`decide(message, context, policy, evidence)` looks at the customer's message,
the recent conversation, whether a handoff is already open and whether tomo
was unsure, under the manager's policy. Whatever needs a model — embedding
similarity to the policy's example sentences, the emotion lexicon — is
measured beforehand and passed in as `Evidence` (see
`bot/escalation_evidence.py`), so the decision itself is pure and tests
without fakes.

With a language model configured, its judgment is folded in by `merge`: it may
add reasons and may clear ones the rules found by wording alone, but never a
protected reason — someone at risk, a health or safety problem, a customer
asking for a person, tomo not knowing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot import escalation_lexicon as lexicon
from bot.escalation_policy import Care, EscalationPolicy, Priority, Reason, Topic

__all__ = [
    "PROTECTED",
    "Decision",
    "EscalationContext",
    "Evidence",
    "Finding",
    "HandoffState",
    "LlmJudgment",
    "Priority",
    "Reason",
    "Similarity",
    "Turn",
    "decide",
    "merge",
]

# Reasons only the rules' side can lift: no model may clear them.
PROTECTED = frozenset(
    {Reason.CRISIS, Reason.HEALTH_SAFETY, Reason.HUMAN_REQUEST, Reason.BOT_UNSURE}
)
_CARE_ORDER = (Reason.CRISIS, Reason.HEALTH_SAFETY)
_REASON_ORDER = {reason: index for index, reason in enumerate(Reason)}
# The same question again within this bigram overlap is a repeat.
SAME_QUESTION = 0.5


class HandoffState(StrEnum):
    """Who holds the conversation (the handoff itself lives elsewhere)."""

    BOT = "bot"
    WAITING_FOR_STAFF = "waiting_for_staff"
    STAFF = "staff"


@dataclass(frozen=True)
class Turn:
    """One earlier message: role is customer, tomo or staff."""

    role: str
    text: str
    unsure: bool = False  # tomo said it did not know


@dataclass(frozen=True)
class EscalationContext:
    """What the conversation around the message says."""

    turns: Sequence[Turn] = ()  # recent turns, oldest first, without this message
    handoff: HandoffState = HandoffState.BOT
    bot_unsure: bool = False  # tomo could not answer this message with confidence


@dataclass(frozen=True)
class Similarity:
    """How close the message came to one topic's example sentences."""

    score: float
    example: str


@dataclass(frozen=True)
class Evidence:
    """What models measured about the message, before deciding.

    `similarities`: topic name → best match among its examples.
    `emotions`: the lexicon's emotion category (ML-Ask: ikari, aware, …) →
    the words found for it.
    """

    similarities: Mapping[str, Similarity] = field(default_factory=dict)
    emotions: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One reason found, how urgent it is, and what showed it (for staff)."""

    reason: Reason
    priority: Priority
    source: str


@dataclass(frozen=True)
class Decision:
    """The outcome: escalate or not, why, how soon, and care to give first.

    `reasons` and `priority` are what drive this escalation (empty and None
    when not escalating). `findings` keeps everything noticed, also while a
    handoff is open and nothing new escalates. `care` is what the customer is
    told first when someone may be at risk or hurt (see the policy's `care`).
    """

    escalate: bool
    reasons: tuple[Reason, ...]
    priority: Priority | None
    findings: tuple[Finding, ...]
    care: Care | None = None
    handoff_open: bool = False

    def as_json(self, text: str) -> dict[str, Any]:
        """The `tomo escalation check --jsonl` line for this decision."""
        return {
            "text": text,
            "escalate": self.escalate,
            "reasons": [reason.value for reason in self.reasons],
            "priority": self.priority.value if self.priority else None,
        }


@dataclass(frozen=True)
class LlmJudgment:
    """A language model's reading of the message (see `bot/escalation_llm.py`)."""

    escalate: bool
    reasons: tuple[Reason, ...] = ()
    priority: Priority | None = None
    note: str = ""


def decide(
    message: str,
    context: EscalationContext,
    policy: EscalationPolicy,
    evidence: Evidence | None = None,
) -> Decision:
    """Decide whether this customer message goes to a person, and why."""
    evidence = evidence or Evidence()
    prepared = lexicon.prepare(message)
    findings = [
        Finding(Reason.CRISIS, Priority.URGENT, f"安全: 「{hit}」")
        for hit in lexicon.crisis_hits(prepared)
    ]
    positive = lexicon.is_positive(
        [category for category, words in evidence.emotions.items() if words]
    )
    for topic in policy.topics:
        found = _topic_finding(topic, prepared, policy, evidence, positive)
        if found is not None:
            findings.append(found)
    findings.extend(_emotion_findings(prepared, policy, evidence, positive))
    findings.extend(_conversation_findings(prepared.text, context, policy))
    return _decision(findings, context.handoff is not HandoffState.BOT, policy)


def _topic_finding(
    topic: Topic,
    prepared: lexicon.Prepared,
    policy: EscalationPolicy,
    evidence: Evidence,
    positive: bool,
) -> Finding | None:
    if any(re.search(pattern, prepared.text) for pattern in topic.unless):
        return None
    priority = policy.priority_of(topic.reason, topic)
    # Grief stays grief whatever good news follows it.
    aside_counts = topic.reason in (Reason.CRISIS, Reason.WARMTH)
    for keyword in topic.keywords:
        hit = lexicon.keyword_hit(prepared, keyword, aside_counts=aside_counts)
        if hit is not None:
            return Finding(topic.reason, priority, f"{topic.name}: 「{hit.text}」")
    for pattern in topic.patterns:
        hit = lexicon.pattern_hit(prepared, re.compile(pattern), aside_counts=aside_counts)
        if hit is not None:
            return Finding(topic.reason, priority, f"{topic.name}: 「{hit.text}」")
    similar = evidence.similarities.get(topic.name)
    # Meaning alone is the weakest signal: a happy message does not escalate on it.
    if similar is not None and similar.score >= policy.threshold_of(topic) and not positive:
        return Finding(
            topic.reason,
            priority,
            f"{topic.name}: 例文に近い {similar.score:.2f}「{similar.example}」",
        )
    return None


def _emotion_findings(
    prepared: lexicon.Prepared,
    policy: EscalationPolicy,
    evidence: Evidence,
    positive: bool,
) -> Iterable[Finding]:
    if positive:
        return
    for category, reason in policy.emotions.items():
        words = [
            word
            for word in evidence.emotions.get(category, ())
            if word.rstrip("≈") not in policy.emotion_ignore and _counts(prepared, word)
        ]
        if words:
            yield Finding(
                reason, policy.priority_of(reason), f"感情 {category}: {'、'.join(words)}"
            )


def _counts(prepared: lexicon.Prepared, word: str) -> bool:
    """Whether an emotion word (as the lexicon gives it, often a dictionary form)
    appears in the message's point, not negated (「怒ってない」)."""
    if word.endswith("*CVS"):  # ML-Ask's own mark for a negated emotion word
        return False
    plain = word.rstrip("≈")
    stem = plain[:-1] if len(plain) > 1 and plain[-1] in "いうくすつぬぶむるぐ" else plain
    text = prepared.text
    start = text.find(stem)
    while start >= 0:
        end = start + len(stem)
        # skip the inflection the dictionary form hides: 怒る → 怒っ|て|ない
        inflected = re.match(r"[ぁ-ゖ]{0,2}", text[end:])
        tail = end + (inflected.end() if inflected else 0)
        if prepared.counts(start) and not (
            lexicon.is_negated(text, end) or lexicon.is_negated(text, tail)
        ):
            return True
        start = text.find(stem, start + 1)
    # Not in the message as written: a loose match of the lexicon (「このまま」
    # read as わがまま≈) is not trusted.
    return False


def _conversation_findings(
    text: str, context: EscalationContext, policy: EscalationPolicy
) -> Iterable[Finding]:
    if context.bot_unsure:
        yield Finding(
            Reason.BOT_UNSURE, policy.priority_of(Reason.BOT_UNSURE), "tomo が答えられない"
        )
    recent = list(context.turns)[-policy.confusion.window :]
    tomo_turns = [turn for turn in recent if turn.role == "tomo"]
    if not tomo_turns:
        return
    unsure = sum(turn.unsure for turn in tomo_turns)
    priority = policy.priority_of(Reason.REPEATED_CONFUSION)
    asked_again = unsure > 0 and any(
        lexicon.bigram_overlap(text, turn.text) >= SAME_QUESTION
        for turn in recent
        if turn.role == "customer"
    )
    if lexicon.says_repeat(text):
        yield Finding(Reason.REPEATED_CONFUSION, priority, "話がかみ合っていない（繰り返し）")
    elif unsure and lexicon.says_lost(text):
        yield Finding(Reason.REPEATED_CONFUSION, priority, "わからないまま（tomo も答えられず）")
    elif asked_again:
        yield Finding(Reason.REPEATED_CONFUSION, priority, "同じ質問をもう一度")
    elif unsure >= policy.confusion.unsure_turns and not lexicon.is_closing(text):
        yield Finding(Reason.REPEATED_CONFUSION, priority, f"tomo が {unsure} 回答えられず")


def _decision(
    findings: Sequence[Finding], handoff_open: bool, policy: EscalationPolicy
) -> Decision:
    if not findings:
        return Decision(False, (), None, (), handoff_open=handoff_open)
    ordered = sorted(findings, key=lambda f: (-f.priority.rank, _REASON_ORDER[f.reason]))
    priority = ordered[0].priority
    care = next(
        (
            care
            for reason in _CARE_ORDER
            if any(f.reason is reason for f in ordered)
            and (care := policy.care.for_reason(reason)) is not None
        ),
        None,
    )
    # While a person already holds the conversation, only what cannot wait
    # goes to them again; the rest reaches them in the thread anyway.
    if handoff_open and priority is not Priority.URGENT:
        return Decision(False, (), None, tuple(ordered), care, handoff_open)
    reasons = tuple(dict.fromkeys(f.reason for f in ordered))
    return Decision(True, reasons, priority, tuple(ordered), care, handoff_open)


def merge(rule: Decision, judgment: LlmJudgment | None, policy: EscalationPolicy) -> Decision:
    """Fold a language model's judgment into the rules' decision.

    The model may add reasons (at least at the policy's priority for them) and
    may clear reasons the rules found by wording alone; it can never clear a
    protected reason (crisis, health and safety, a request for a person, tomo
    not knowing) nor lower their priority. No judgment (the model failed): the
    rules' decision stands.
    """
    if judgment is None:
        return rule
    agreed = set(judgment.reasons) if judgment.escalate else set()
    kept = [f for f in rule.findings if f.reason in PROTECTED or f.reason in agreed]
    note = f"（{judgment.note}）" if judgment.note else ""
    added = [
        Finding(
            reason,
            max(
                policy.priority_of(reason),
                judgment.priority or Priority.NORMAL,
                key=lambda p: p.rank,
            ),
            f"言語モデルの判断{note}",
        )
        for reason in agreed
        if not any(f.reason is reason for f in kept)
    ]
    return _decision([*kept, *added], rule.handoff_open, policy)
