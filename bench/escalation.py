"""How well the escalation policy decides, on tomo's own labelled Japanese set.

Precision, recall and the false-escalation rate (non-escalations wrongly sent
to staff, over all non-escalations), overall and per reason, plus how long a
decision takes per message (sentence encoder + emotion lexicon + rules; the
first message includes loading both).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from bot.emotion import EmotionReader
from bot.escalation import Decision, EscalationContext, HandoffState, Priority, Reason, Turn
from bot.escalation_evidence import EscalationChecker
from bot.escalation_policy import EscalationPolicy, load_policy
from memory.embedding import SentenceEncoder

# Shipped inside the package (bench/data/), so `tomo bench escalation` works from any install.
LABELLED = Path(__file__).resolve().parent / "data" / "escalation_labelled.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelledTurn(_Strict):
    role: str
    text: str
    unsure: bool = False


class LabelledContext(_Strict):
    turns: tuple[LabelledTurn, ...] = ()
    bot_unsure: bool = False
    handoff: HandoffState = HandoffState.BOT

    def context(self) -> EscalationContext:
        return EscalationContext(
            turns=tuple(Turn(t.role, t.text, t.unsure) for t in self.turns),
            handoff=self.handoff,
            bot_unsure=self.bot_unsure,
        )


class LabelledItem(_Strict):
    """One message and what a careful support lead would decide."""

    text: str
    escalate: bool
    reasons: tuple[Reason, ...]
    priority: Priority | None
    context: LabelledContext = LabelledContext()
    tricky: str | None = None


class LabelledSet(_Strict):
    items: tuple[LabelledItem, ...]


def load_labelled(path: Path = LABELLED) -> tuple[LabelledItem, ...]:
    return LabelledSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).items


@dataclass(frozen=True)
class ReasonScore:
    reason: Reason
    labelled: int  # messages labelled with this reason
    predicted: int  # messages escalated with this reason
    correct: int
    false_escalations: int  # labelled non-escalations escalated with this reason

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class Miss:
    item: LabelledItem
    decision: Decision


@dataclass(frozen=True)
class EscalationReport:
    messages: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    urgent_labelled: int
    urgent_found: int  # labelled urgent and escalated as urgent
    tricky: int
    tricky_escalated: int
    per_reason: tuple[ReasonScore, ...]
    misses: tuple[Miss, ...]  # wrong escalate, or a labelled reason not found
    first_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else 0.0

    @property
    def false_escalation_rate(self) -> float:
        negatives = self.false_positives + self.true_negatives
        return self.false_positives / negatives if negatives else 0.0


def measure_escalation(
    path: Path = LABELLED,
    policy: EscalationPolicy | None = None,
    checker: EscalationChecker | None = None,
) -> EscalationReport:
    """Run the offline policy (rules + lexicon + embeddings) over a labelled set."""
    items = load_labelled(path)
    checker = checker or EscalationChecker(
        policy or load_policy()[0], SentenceEncoder(), EmotionReader()
    )
    decisions: list[Decision] = []
    timings: list[float] = []
    for item in items:
        started = time.perf_counter()
        decisions.append(checker.decide(item.text, item.context.context()))
        timings.append((time.perf_counter() - started) * 1000)

    pairs = list(zip(items, decisions, strict=True))
    per_reason = []
    for reason in Reason:
        labelled = sum(reason in item.reasons for item, _ in pairs)
        predicted = sum(reason in decision.reasons for _, decision in pairs)
        correct = sum(reason in item.reasons and reason in d.reasons for item, d in pairs)
        false = sum(not item.escalate and reason in d.reasons for item, d in pairs)
        per_reason.append(ReasonScore(reason, labelled, predicted, correct, false))
    misses = tuple(
        Miss(item, decision)
        for item, decision in pairs
        if item.escalate != decision.escalate or not set(item.reasons) <= set(decision.reasons)
    )
    rest = sorted(timings[1:]) or timings
    return EscalationReport(
        messages=len(items),
        true_positives=sum(i.escalate and d.escalate for i, d in pairs),
        false_positives=sum(not i.escalate and d.escalate for i, d in pairs),
        false_negatives=sum(i.escalate and not d.escalate for i, d in pairs),
        true_negatives=sum(not i.escalate and not d.escalate for i, d in pairs),
        urgent_labelled=sum(i.priority is Priority.URGENT for i, _ in pairs),
        urgent_found=sum(
            i.priority is Priority.URGENT and d.priority is Priority.URGENT for i, d in pairs
        ),
        tricky=sum(i.tricky is not None and not i.escalate for i, _ in pairs),
        tricky_escalated=sum(
            i.tricky is not None and not i.escalate and d.escalate for i, d in pairs
        ),
        per_reason=tuple(per_reason),
        misses=misses,
        first_ms=timings[0],
        p50_ms=statistics.median(rest),
        p95_ms=rest[int(0.95 * (len(rest) - 1))],
        max_ms=rest[-1],
    )
