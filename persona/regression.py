"""Regression on publish: replay the persona's test messages under the draft and the
published persona, tone-check every reply, and put them side by side.

How a reply is made is not this room's business: the caller passes a function
(persona, message) → the reply's messages. Nothing here sends or stores anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from persona.schema import Persona
from persona.tone import Finding, check_tone

# (persona, customer message) → the messages tomo would send.
ReplyFunction = Callable[[Persona, str], Awaitable[Sequence[str]]]

# How many replies are made at once (a language model behind `reply` may be slow).
CONCURRENCY = 4


@dataclass(frozen=True)
class ReplayedReply:
    """One reply to one test message under one persona, with its tone findings."""

    messages: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def text(self) -> str:
        """The reply as checked: its messages separated by blank lines."""
        return "\n\n".join(self.messages)

    def to_json(self) -> dict[str, Any]:
        return {
            "reply": list(self.messages),
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass(frozen=True)
class RegressionCase:
    """A test message, what the published persona says (before) and the draft (after)."""

    message: str
    before: ReplayedReply | None  # None when nothing is published yet
    after: ReplayedReply

    @property
    def changed(self) -> bool:
        return self.before is None or self.before.messages != self.after.messages

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json(),
            "changed": self.changed,
        }


@dataclass(frozen=True)
class RegressionReport:
    cases: tuple[RegressionCase, ...]

    @property
    def findings(self) -> int:
        """Tone findings in the draft's replies (the ones publishing would bring in)."""
        return sum(len(case.after.findings) for case in self.cases)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": len(self.cases),
            "findings": self.findings,
            "changed": sum(case.changed for case in self.cases),
            "cases": [case.to_json() for case in self.cases],
        }


async def _replayed(persona: Persona, message: str, reply: ReplyFunction) -> ReplayedReply:
    messages = tuple(await reply(persona, message))
    return ReplayedReply(messages, tuple(check_tone("\n\n".join(messages), persona)))


async def replay(
    draft: Persona,
    published: Persona | None,
    reply: ReplyFunction,
    messages: Sequence[str] | None = None,
) -> RegressionReport:
    """Replay `messages` (default: the draft's test messages) under both personas."""
    wanted = list(draft.test_messages if messages is None else messages)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(persona: Persona, message: str) -> ReplayedReply:
        async with gate:
            return await _replayed(persona, message, reply)

    after = await asyncio.gather(*(one(draft, message) for message in wanted))
    if published is None:
        return RegressionReport(
            tuple(RegressionCase(m, None, a) for m, a in zip(wanted, after, strict=True))
        )
    before = await asyncio.gather(*(one(published, message) for message in wanted))
    return RegressionReport(
        tuple(RegressionCase(m, b, a) for m, b, a in zip(wanted, before, after, strict=True))
    )
