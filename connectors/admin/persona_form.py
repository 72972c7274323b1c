"""The persona editor's form: a persona as form values, and form values back into a
persona (over the draft, so what the form does not show — lines, FAQ,
commitments — is kept as it is)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from persona.schema import Persona

# Form fields holding one item per line.
LIST_FIELDS = {
    "voice.sentence_endings": ("voice", "sentence_endings"),
    "voice.use_phrases": ("voice", "use_phrases"),
    "voice.never_phrases": ("voice", "never_phrases"),
    "boundaries": (None, "boundaries"),
    "test_messages": (None, "test_messages"),
}
TEXT_FIELDS = {
    "brand": (None, "brand"),
    "relationship.word": ("relationship", "word"),
    "relationship.statement": ("relationship", "statement"),
    "relationship.meaning": ("relationship", "meaning"),
    "voice.register": ("voice", "register"),
    "voice.first_person": ("voice", "first_person"),
    "voice.address": ("voice", "address"),
    "voice.address_unknown": ("voice", "address_unknown"),
    "voice.emoji": ("voice", "emoji"),
}
EMPTY_EXAMPLE_ROWS = 1

Form = Mapping[str, Sequence[str]]


def form_values(persona: Persona) -> dict[str, Any]:
    """What the editor shows for a persona."""
    data = persona.model_dump(mode="json")
    values: dict[str, Any] = {}
    for name, (section, key) in TEXT_FIELDS.items():
        values[name] = (data[section] if section else data)[key]
    for name, (section, key) in LIST_FIELDS.items():
        values[name] = "\n".join((data[section] if section else data)[key])
    values["voice.emoji_set"] = " ".join(data["voice"]["emoji_set"])
    values["examples"] = [(e["customer"], e["tomo"]) for e in data["examples"]]
    return values


def submitted_values(form: Form) -> dict[str, Any]:
    """What the editor shows again after a submission that did not validate."""
    values: dict[str, Any] = {name: _one(form, name) for name in [*TEXT_FIELDS, *LIST_FIELDS]}
    values["voice.emoji_set"] = _one(form, "voice.emoji_set")
    values["examples"] = _examples(form)
    return values


def persona_data(form: Form, base: Persona) -> dict[str, Any]:
    """The persona the form describes, as data to validate (the rest comes from `base`)."""
    data = base.model_dump(mode="json")
    for name, (section, key) in TEXT_FIELDS.items():
        (data[section] if section else data)[key] = _one(form, name).strip()
    for name, (section, key) in LIST_FIELDS.items():
        (data[section] if section else data)[key] = _lines(_one(form, name))
    data["voice"]["emoji_set"] = _one(form, "voice.emoji_set").split()
    data["examples"] = [{"customer": customer, "tomo": tomo} for customer, tomo in _examples(form)]
    return data


def _one(form: Form, name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _examples(form: Form) -> list[tuple[str, str]]:
    customers = form.get("example.customer", [])
    replies = form.get("example.tomo", [])
    pairs = []
    for customer, tomo in zip(customers, replies, strict=False):
        if customer.strip() or tomo.strip():
            pairs.append((customer.strip(), tomo.strip()))
    return pairs
