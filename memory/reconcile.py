"""Reconciling a new memory with what is already known: a pure decision.

- The same thing said again (same text, or nearly the same meaning) is not
  stored twice: the existing memory is touched instead.
- A fact that fills the same slot as older facts (「大阪に住んでいます」 then
  「東京に引っ越しました」, both `residence`) supersedes them: the old ones stay in
  history but leave recall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from memory.recall import normalise

DUPLICATE_SIMILARITY = 0.93


@dataclass(frozen=True)
class Known:
    """An active memory of the same customer."""

    id: str
    text: str
    key: str | None
    plain: str = field(init=False, repr=False, compare=False)  # the text normalised

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", normalise(self.text))


@dataclass(frozen=True)
class Plan:
    """What to do with a new memory."""

    duplicate_of: str | None  # touch this one, add nothing
    supersede: tuple[str, ...]  # add the new one, retire these


def reconcile(
    text: str,
    key: str | None,
    known: Sequence[Known],
    similarities: Sequence[float],
    replaces: Sequence[str] = (),
) -> Plan:
    """Decide how a new memory relates to the known ones (similarities align with known)."""
    plain = normalise(text)
    for item, similarity in zip(known, similarities, strict=True):
        same_slot = key is None or item.key is None or item.key == key
        if same_slot and (item.plain == plain or similarity >= DUPLICATE_SIMILARITY):
            return Plan(duplicate_of=item.id, supersede=())
    known_ids = {item.id for item in known}
    retired = [item.id for item in known if key is not None and item.key == key]
    retired += [memory_id for memory_id in replaces if memory_id in known_ids]
    return Plan(duplicate_of=None, supersede=tuple(dict.fromkeys(retired)))
