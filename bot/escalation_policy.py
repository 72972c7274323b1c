"""The escalation policy: the YAML a manager edits, validated.

The default ships in `bot/data/escalation.yaml`. A company's own copy lives
next to its persona, at `<TOMO_DATA_DIR>/persona/escalation.yaml`, and
replaces the default whole when it exists. A bad file fails at load with the
field that is wrong, never half-applied.

The policy holds the business rules (topics with keywords, patterns and
example sentences; priorities; what the customer is told when someone may be
at risk). The Japanese language rules that keep tomo from being fooled by
hyperbole and negation, and the crisis floor that no policy can switch off,
live in `bot/escalation_lexicon.py`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from persona.schema import Register

POLICY_FILE = "escalation.yaml"


class Reason(StrEnum):
    """Why a conversation goes to a person."""

    CRISIS = "crisis"  # someone may be at risk (self-harm, violence)
    HEALTH_SAFETY = "health_safety"
    HUMAN_REQUEST = "human_request"
    ANGER_COMPLAINT = "anger_complaint"
    MONEY_CONTRACT = "money_contract"
    LEGAL = "legal"
    PRIVACY = "privacy"
    WARMTH = "warmth"  # grief, illness, distress: a person should answer
    ORDER_PROBLEM = "order_problem"
    REPEATED_CONFUSION = "repeated_confusion"
    BOT_UNSURE = "bot_unsure"
    NEEDS_JUDGMENT = "needs_judgment"


class Priority(StrEnum):
    """How soon staff must look."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Priority.NORMAL: 0, Priority.HIGH: 1, Priority.URGENT: 2}

PHONE_NUMBER = re.compile(r"\d{2,4}-\d{2,4}-\d{3,4}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Topic(_Strict):
    """One kind of message that goes to a person, as a manager describes it."""

    name: str = Field(min_length=1, description="Shown to staff, e.g. 返金・請求")
    reason: Reason
    priority: Priority | None = Field(
        default=None, description="Overrides the reason's default priority"
    )
    keywords: tuple[str, ...] = Field(default=(), description="Phrases matched as written")
    patterns: tuple[str, ...] = Field(default=(), description="Python regular expressions")
    examples: tuple[str, ...] = Field(
        default=(), description="Example messages, matched by meaning (embedding similarity)"
    )
    unless: tuple[str, ...] = Field(
        default=(), description="Regular expressions that cancel this topic when found"
    )
    threshold: float | None = Field(
        default=None, gt=0, le=1, description="Similarity needed; default similarity_threshold"
    )

    @field_validator("patterns", "unless")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"{pattern!r} is not a valid regular expression: {error}"
                ) from None
        return patterns

    @model_validator(mode="after")
    def _matches_something(self) -> Topic:
        if not (self.keywords or self.patterns or self.examples):
            raise ValueError("a topic needs keywords, patterns or examples")
        return self


class Confusion(_Strict):
    """When going round in circles means a person should step in."""

    unsure_turns: int = Field(
        default=2, ge=1, description="tomo said it did not know this many times recently"
    )
    window: int = Field(default=6, ge=2, description="How many recent turns are looked at")


class Care(_Strict):
    """What the customer is told, in each register, when this reason is found."""

    casual: str = Field(min_length=1)
    polite: str = Field(min_length=1)
    honorific: str = Field(min_length=1)

    def text(self, register: Register) -> str:
        match register:
            case Register.CASUAL:
                return self.casual
            case Register.POLITE:
                return self.polite
            case Register.HONORIFIC:
                return self.honorific


class CrisisCare(Care):
    """Care for someone who may be at risk: always names a public support line."""

    @field_validator("casual", "polite", "honorific")
    @classmethod
    def _names_a_support_line(cls, text: str) -> str:
        if not PHONE_NUMBER.search(text):
            raise ValueError(
                "must give a public support line with its number, e.g. いのちの電話 0570-783-556"
            )
        return text


class CareMessages(_Strict):
    crisis: CrisisCare
    health_safety: Care | None = None

    def for_reason(self, reason: Reason) -> Care | None:
        match reason:
            case Reason.CRISIS:
                return self.crisis
            case Reason.HEALTH_SAFETY:
                return self.health_safety
            case _:
                return None


class EscalationPolicy(_Strict):
    """Everything a manager decides about handing a conversation to staff."""

    priorities: dict[Reason, Priority] = Field(
        description="Default priority of each reason", min_length=len(Reason)
    )
    similarity_threshold: float = Field(
        default=0.7, gt=0, le=1, description="Example similarity that counts as a match"
    )
    confusion: Confusion = Confusion()
    emotions: dict[str, Reason] = Field(
        default_factory=dict,
        description="Emotion categories of the lexicon (ML-Ask: ikari, aware, …) → reason",
    )
    emotion_ignore: tuple[str, ...] = Field(
        default=(), description="Lexicon words that are ordinary in this business (荒れる)"
    )
    topics: tuple[Topic, ...] = Field(min_length=1)
    care: CareMessages

    @field_validator("priorities")
    @classmethod
    def _every_reason_has_one(cls, priorities: dict[Reason, Priority]) -> dict[Reason, Priority]:
        missing = [reason.value for reason in Reason if reason not in priorities]
        if missing:
            raise ValueError(f"missing priorities for: {', '.join(missing)}")
        if priorities[Reason.CRISIS] is not Priority.URGENT:
            raise ValueError("crisis must be urgent")
        return priorities

    @field_validator("topics")
    @classmethod
    def _names_are_unique(cls, topics: tuple[Topic, ...]) -> tuple[Topic, ...]:
        names = [topic.name for topic in topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"topic names must be unique: {', '.join(duplicates)}")
        return topics

    def priority_of(self, reason: Reason, topic: Topic | None = None) -> Priority:
        if topic is not None and topic.priority is not None:
            return topic.priority
        return self.priorities[reason]

    def threshold_of(self, topic: Topic) -> float:
        return topic.threshold if topic.threshold is not None else self.similarity_threshold


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the field."""


def parse_policy(text: str, source: str = POLICY_FILE) -> EscalationPolicy:
    """Validate a policy from YAML text; errors name the field (e.g. topics.2.reason)."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{source}: not valid YAML: {error}") from error
    try:
        return EscalationPolicy.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise PolicyError(f"{source}: {problems}") from error


def default_policy_text() -> str:
    return resources.files("bot").joinpath("data", POLICY_FILE).read_text(encoding="utf-8")


def policy_path(persona_dir: Path) -> Path:
    """Where a company's own policy lives: next to its persona."""
    return persona_dir / POLICY_FILE


def load_policy(persona_dir: Path | None = None) -> tuple[EscalationPolicy, str]:
    """The policy in force and where it came from: the company's copy, else the default."""
    if persona_dir is not None:
        path = policy_path(persona_dir)
        if path.is_file():
            return parse_policy(path.read_text(encoding="utf-8"), str(path)), str(path)
    return parse_policy(default_policy_text(), f"bot/data/{POLICY_FILE}"), "default"
