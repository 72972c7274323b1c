"""The persona: who tomo is for one company.

A persona starts from a relationship definition — one Japanese word such as
親友 or 応援団 — and spells out the voice that follows from it, the brand's
commitments, the boundaries tomo never crosses, example exchanges, the FAQ it
may answer from, and the lines the offline responder speaks.

All user-facing Japanese lives in YAML data files (presets, brands); this module
only holds the shape and its validation.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True
    )


class Register(StrEnum):
    """Politeness register of the voice."""

    CASUAL = "casual"  # タメ口: 〜だよ、〜だね
    POLITE = "polite"  # です・ます
    HONORIFIC = "honorific"  # 敬語: 〜でございます、〜いたします


class EmojiPolicy(StrEnum):
    NONE = "none"
    SPARING = "sparing"  # at most one, at the end of a message
    OFTEN = "often"


class Relationship(_Frozen):
    """The relationship definition the whole persona follows from."""

    word: str = Field(min_length=1, description="The one word, e.g. 親友")
    statement: str = Field(min_length=1, description="お客様と〇〇のような関係を築く, in full")
    meaning: str = Field(default="", description="What this relationship means in practice")
    aliases: tuple[str, ...] = Field(
        default=(), description="Other words that pick this preset (e.g. 家族のような見守り)"
    )


class Voice(_Frozen):
    """How tomo speaks."""

    # "register" is the YAML key; the attribute is renamed because pydantic's
    # BaseModel already has a `register`.
    politeness: Register = Field(alias="register")
    first_person: str = Field(min_length=1, description="e.g. 私, わたくし, ボク")
    address: str = Field(
        description="How a customer whose name is known is addressed; {name} is replaced",
    )
    address_unknown: str = Field(
        min_length=1, description="How a customer is addressed when the name is not known"
    )
    emoji: EmojiPolicy
    emoji_set: tuple[str, ...] = ()
    sentence_endings: tuple[str, ...] = Field(default=(), description="Typical endings")
    use_phrases: tuple[str, ...] = Field(default=(), description="Phrases that sound like us")
    never_phrases: tuple[str, ...] = Field(default=(), description="Phrases we never say")

    @field_validator("address")
    @classmethod
    def _address_names_the_customer(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("address must contain {name}, e.g. {name}さん")
        return value

    def addressing(self, name: str | None) -> str:
        """The form of address for a customer (name known or not)."""
        return self.address.format(name=name) if name else self.address_unknown


class Commitment(_Frozen):
    """One of the brand's こだわり."""

    title: str
    body: str


class Example(_Frozen):
    """An example exchange that shows the voice."""

    customer: str
    tomo: str


class FaqEntry(_Frozen):
    """A question tomo may answer, with the answer it must not go beyond."""

    question: str
    answer: str
    variants: tuple[str, ...] = Field(default=(), description="Other ways customers ask")


class Lines(_Frozen):
    """What the offline responder says, in this voice.

    Each field is a list of alternatives. Placeholders: {you} (the form of
    address), {me} (first person), {memory} (a customer's own words, quoted),
    {answer} (an FAQ answer), {brand} (the brand name), {memories} (a list of
    what tomo remembers), {topic} and {count} (what was forgotten), {when} (when
    staff will answer, outside business hours).
    """

    greeting: tuple[str, ...] = Field(min_length=1)
    greeting_returning: tuple[str, ...] = Field(min_length=1)
    thanks: tuple[str, ...] = Field(min_length=1)
    farewell: tuple[str, ...] = Field(min_length=1)
    acknowledge: tuple[str, ...] = Field(
        min_length=1, description="After the customer shares something"
    )
    small_talk: tuple[str, ...] = Field(min_length=1, description="Friendly chat with no request")
    remembered: tuple[str, ...] = Field(
        min_length=1, description="Recalling what they told us; uses {memory}"
    )
    not_remembered: tuple[str, ...] = Field(min_length=1)
    faq: tuple[str, ...] = Field(min_length=1, description="Framing an FAQ answer; uses {answer}")
    unsure: tuple[str, ...] = Field(min_length=1, description="Honest 'I don't know'")
    llm_error: tuple[str, ...] = Field(min_length=1, description="When the language model fails")
    memory_list: tuple[str, ...] = Field(
        min_length=1, description="What tomo remembers, when asked; uses {memories}"
    )
    memory_list_empty: tuple[str, ...] = Field(min_length=1)
    forgot_topic: tuple[str, ...] = Field(
        min_length=1, description="Confirms a topic was forgotten; uses {topic} and {count}"
    )
    forgot_nothing: tuple[str, ...] = Field(min_length=1, description="Nothing about {topic}")
    forget_all_confirm: tuple[str, ...] = Field(
        min_length=1, description="Asks before forgetting everything about the customer"
    )
    forgot_all: tuple[str, ...] = Field(min_length=1)
    forget_all_cancelled: tuple[str, ...] = Field(min_length=1)
    name_learned: tuple[str, ...] = Field(
        default=(), description="After the customer says what to call them; uses {you}"
    )
    follow_up: tuple[str, ...] = Field(
        default=(),
        description="After greeting a returning customer, asking after something they "
        "shared (never sensitive); uses {memory}",
    )
    sticker: tuple[str, ...] = Field(
        default=(), description="A warm answer to a sticker; without it, small_talk is used"
    )
    media: tuple[str, ...] = Field(
        default=(),
        description="Thanks for a photo, video, voice message, file or location, saying "
        "honestly that tomo cannot see it and that staff can; uses {what}; without it, "
        "unsure is used",
    )
    follow: tuple[str, ...] = Field(
        default=(),
        description="Greeting someone who just added the account as a friend; without it, "
        "greeting is used",
    )
    welcome_back: tuple[str, ...] = Field(
        default=(),
        description="Welcoming back someone who unblocked the account or was known before; "
        "without it, greeting_returning is used",
    )
    handoff: tuple[str, ...] = Field(
        default=(),
        description="Telling the customer, honestly, that a person (staff) takes over now "
        "and will answer in this chat; without it, a neutral line of the register is used",
    )
    handoff_after_hours: tuple[str, ...] = Field(
        default=(),
        description="The same outside business hours, saying when staff will answer; "
        "uses {when} (e.g. 明日の9時)",
    )
    handoff_when: tuple[str, ...] = Field(
        default=(),
        description="A short addition outside business hours (after an unsure answer or a "
        "care message): when staff will answer; uses {when}",
    )
    handoff_reassure: tuple[str, ...] = Field(
        default=(),
        description="Said once when nobody has taken the handoff in time: the customer has "
        "not been forgotten",
    )
    staff_reply_suggestion: tuple[str, ...] = Field(
        default=(),
        description="A first reply staff may send from the handoff card, in this voice",
    )


class Persona(_Frozen):
    """A complete persona: relationship, voice, brand, boundaries and knowledge."""

    brand: str = Field(min_length=1, description="The company or brand name")
    relationship: Relationship
    voice: Voice
    commitments: tuple[Commitment, ...] = ()
    boundaries: tuple[str, ...] = Field(default=(), description="Lines tomo never crosses")
    examples: tuple[Example, ...] = ()
    faq: tuple[FaqEntry, ...] = ()
    lines: Lines
    test_messages: tuple[str, ...] = Field(
        default=(), description="Messages replayed on every publish (regression)"
    )
