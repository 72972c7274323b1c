"""Handoffs to staff: persisted, so a restart loses nothing.

- `Handoff`: one row per time a conversation went to a person. While it is
  open (waiting for staff, or with a named staff member) the bot does not
  answer that customer. At most one handoff of a customer is open at a time:
  a partial unique index makes it so, across processes too. The row also
  remembers where its card is in Slack (channel and thread), which customer
  messages have reached that thread (`relayed_through`), and the timers and
  flags of the claim deadline (re-ping once, tell the customer once).

What the staff side sent (Slack events and clicks) is kept in
`memory/staff_events.py`.

What was said lives in `message`; a handoff keeps only its reasons and the
few words that showed them (findings). Forgetting a customer deletes their
handoffs too (`MemoryStore.forget_customer`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, func, or_, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col, delete, exists, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import Message, Role, UtcDateTime, utcnow


class HandoffState(StrEnum):
    """Who holds a handed-over conversation."""

    WAITING = "waiting_for_staff"  # nobody has taken it yet; the bot is silent
    STAFF = "staff"  # a named staff member holds it; the bot is silent
    BACK_TO_BOT = "back_to_bot"  # staff gave it back: the bot answers again
    RESOLVED = "resolved"  # done: the bot answers again


OPEN_STATES = (HandoffState.WAITING, HandoffState.STAFF)
CLOSED_STATES = (HandoffState.BACK_TO_BOT, HandoffState.RESOLVED)

# Filters `HandoffStore.find` understands (the admin's names included).
STATE_FILTERS: dict[str, tuple[HandoffState, ...]] = {
    "open": OPEN_STATES,
    "waiting": (HandoffState.WAITING,),
    "waiting_for_staff": (HandoffState.WAITING,),
    "with_staff": (HandoffState.STAFF,),
    "staff": (HandoffState.STAFF,),
    "closed": CLOSED_STATES,
    "back_to_bot": (HandoffState.BACK_TO_BOT,),
    "resolved": (HandoffState.RESOLVED,),
}

# SQLAlchemy stores an enum member by its name (WAITING), not its value.
_OPEN_SQL = "state IN ({})".format(", ".join(f"'{state.name}'" for state in OPEN_STATES))


class Handoff(SQLModel, table=True):
    """One handing over of a customer's conversation to staff."""

    __tablename__ = "handoff"
    __table_args__ = (
        # One open handoff per customer, whoever tries to open a second one.
        Index(
            "ux_handoff_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        Index("ix_handoff_thread", "slack_channel", "slack_thread_ts"),
    )

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    customer_id: str = Field(max_length=128, index=True)
    state: HandoffState = Field(default=HandoffState.WAITING, index=True)
    reasons: str = Field(default="", description="Reason values, comma-separated, first = main")
    priority: str = Field(default="normal", max_length=16)
    findings: str = Field(
        default="", description="What showed each reason, one a line (words of the rules only)"
    )
    after_hours: bool = Field(default=False, description="Opened outside business hours")
    suggested_reply: str | None = Field(
        default=None,
        description="A language model's draft of a first staff reply, written once before "
        "the card is posted (None: the persona's template is suggested)",
    )

    slack_channel: str | None = Field(default=None, max_length=64)
    slack_thread_ts: str | None = Field(default=None, max_length=32, description="The card's ts")
    relayed_through: int | None = Field(
        default=None, description="The newest customer message id that reached the thread"
    )
    card_version: int = Field(default=0, description="Bumped whenever the card should change")
    card_shown: int = Field(default=0, description="The card_version the posted card shows")
    desk_attempts: int = 0
    desk_retry_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    desk_error: str | None = Field(default=None, max_length=200)
    sync_lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)

    claimed_by: str | None = Field(default=None, max_length=64, description="Slack user id")
    claimed_by_name: str | None = Field(default=None, max_length=200)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_by_name: str | None = Field(default=None, max_length=200)

    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
    claim_due_at: datetime = Field(
        default_factory=utcnow, sa_type=UtcDateTime, description="Re-ping if unclaimed by then"
    )
    claimed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    repinged_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime, description="Found unclaimed past its deadline"
    )
    reping_posted_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime, description="The reminder reached the thread"
    )
    customer_reassured_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def reason_list(self) -> list[str]:
        return [reason for reason in self.reasons.split(",") if reason]

    def summary(self) -> dict[str, Any]:
        """JSON-ready, for the admin API and the CLI (no message content)."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "state": self.state.value,
            "reasons": self.reason_list,
            "priority": self.priority,
            "after_hours": self.after_hours,
            "claimed_by": self.claimed_by,
            "claimed_by_name": self.claimed_by_name,
            "closed_by_name": self.closed_by_name,
            "slack_channel": self.slack_channel,
            "slack_thread_ts": self.slack_thread_ts,
            "card_posted": self.slack_thread_ts is not None,
            "created_at": self.created_at.isoformat(),
            "claim_due_at": self.claim_due_at.isoformat(),
            "claimed_at": self.claimed_at.isoformat() if self.claimed_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "repinged": self.repinged_at is not None,
            "customer_reassured": self.customer_reassured_at is not None,
        }


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class HandoffStore:
    """Handoffs and staff events over the SQL engine the memory store opened."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- handoffs -------------------------------------------------------------

    async def open(
        self,
        customer_id: str,
        *,
        reasons: Sequence[str],
        priority: str,
        findings: Sequence[str] = (),
        claim_due_at: datetime,
        after_hours: bool = False,
        now: datetime | None = None,
    ) -> tuple[Handoff, bool]:
        """Open a handoff for the customer; (the open one, whether it is new).

        When one is open already (also one another process just opened), that
        one is returned and nothing new is made.
        """
        moment = now or utcnow()
        handoff = Handoff(
            customer_id=customer_id,
            reasons=",".join(dict.fromkeys(reasons)),
            priority=priority,
            findings="\n".join(findings),
            after_hours=after_hours,
            claim_due_at=claim_due_at,
            created_at=moment,
            updated_at=moment,
        )
        try:
            async with AsyncSession(self._engine, expire_on_commit=False) as session:
                session.add(handoff)
                await session.commit()
        except IntegrityError:
            existing = await self.open_for(customer_id)
            if existing is None:  # closed between the two statements: try once more
                return await self.open(
                    customer_id,
                    reasons=reasons,
                    priority=priority,
                    findings=findings,
                    claim_due_at=claim_due_at,
                    after_hours=after_hours,
                    now=now,
                )
            return existing, False
        return handoff, True

    async def get(self, handoff_id: str) -> Handoff | None:
        async with AsyncSession(self._engine) as session:
            return await session.get(Handoff, handoff_id)

    async def open_for(self, customer_id: str) -> Handoff | None:
        """The customer's open handoff (waiting or with staff), if any."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(Handoff).where(
                    col(Handoff.customer_id) == customer_id,
                    col(Handoff.state).in_(OPEN_STATES),
                )
            )
            return rows.first()

    async def by_thread(self, channel: str, thread_ts: str) -> Handoff | None:
        """The handoff whose card starts this Slack thread."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(Handoff).where(
                    col(Handoff.slack_channel) == channel,
                    col(Handoff.slack_thread_ts) == thread_ts,
                )
            )
            return rows.first()

    async def of_customer(self, customer_id: str) -> list[Handoff]:
        """Every handoff of a customer, oldest first."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(Handoff)
                .where(col(Handoff.customer_id) == customer_id)
                .order_by(col(Handoff.created_at))
            )
            return list(rows.all())

    async def find(self, state: str | None = None, *, limit: int = 200) -> list[Handoff]:
        """Handoffs newest first; `state` is one of STATE_FILTERS ("open", "with_staff", …).

        An unknown state raises ValueError (naming the known ones).
        """
        query = select(Handoff).order_by(col(Handoff.created_at).desc()).limit(limit)
        if state is not None:
            if state not in STATE_FILTERS:
                raise ValueError(f"unknown handoff state {state!r}; one of {sorted(STATE_FILTERS)}")
            query = query.where(col(Handoff.state).in_(STATE_FILTERS[state]))
        async with AsyncSession(self._engine) as session:
            return list((await session.exec(query)).all())

    async def count_per_reason(self) -> dict[str, int]:
        """How many handoffs each reason was part of (all time)."""
        async with AsyncSession(self._engine) as session:
            rows = (await session.exec(select(Handoff.reasons))).all()
        counts: dict[str, int] = {}
        for reasons in rows:
            for reason in reasons.split(","):
                if reason:
                    counts[reason] = counts.get(reason, 0) + 1
        return counts

    async def change(
        self,
        handoff_id: str,
        values: dict[str, Any],
        *,
        expected: Sequence[HandoffState] | None = None,
        still_null: Sequence[str] = (),
        bump_card: bool = False,
    ) -> Handoff | None:
        """Update a handoff if it is still in an `expected` state and the `still_null`
        columns are still empty; the updated row, or None when it had moved on.

        `bump_card`: the card in Slack must show the change (see `needing_desk`).
        """
        statement = update(Handoff).where(col(Handoff.id) == handoff_id)
        if expected is not None:
            statement = statement.where(col(Handoff.state).in_(list(expected)))
        for name in still_null:
            statement = statement.where(getattr(Handoff, name).is_(None))
        values = {"updated_at": utcnow(), **values}
        if bump_card:
            values["card_version"] = Handoff.card_version + 1
        if not await self._update(statement.values(values)):
            return None
        return await self.get(handoff_id)

    async def lease_sync(self, handoff_id: str, *, now: datetime, until: datetime) -> bool:
        """Take the right to talk to Slack about this handoff until `until` (one syncer at
        a time, across processes: two would post the card twice)."""
        taken = await self._update(
            update(Handoff)
            .where(
                col(Handoff.id) == handoff_id,
                or_(col(Handoff.sync_lease_until).is_(None), col(Handoff.sync_lease_until) <= now),
            )
            .values(sync_lease_until=until)
        )
        return taken == 1

    async def release_sync(self, handoff_id: str) -> None:
        await self._update(
            update(Handoff).where(col(Handoff.id) == handoff_id).values(sync_lease_until=None)
        )

    async def needing_desk(self, now: datetime, *, limit: int = 50) -> list[Handoff]:
        """Handoffs whose Slack side is behind — no card yet, a card to update, messages
        not yet in the thread, a reminder not yet posted — and not waiting for a retry."""
        backlog = exists(
            select(Message.id).where(
                col(Message.customer_id) == Handoff.customer_id,
                col(Message.role) != Role.STAFF,
                col(Message.id) > func.coalesce(Handoff.relayed_through, 0),
            )
        )
        posted = col(Handoff.slack_thread_ts).is_not(None)
        behind = or_(
            col(Handoff.state).in_(OPEN_STATES)
            & or_(
                col(Handoff.slack_thread_ts).is_(None),
                backlog,
                col(Handoff.repinged_at).is_not(None) & col(Handoff.reping_posted_at).is_(None),
            ),
            posted & (col(Handoff.card_version) > col(Handoff.card_shown)),
        )
        query = (
            select(Handoff)
            .where(behind)
            .where(or_(col(Handoff.desk_retry_at).is_(None), col(Handoff.desk_retry_at) <= now))
            .order_by(col(Handoff.created_at))
            .limit(limit)
        )
        async with AsyncSession(self._engine) as session:
            return list((await session.exec(query)).all())

    async def unclaimed_past_due(self, now: datetime) -> list[Handoff]:
        """Handoffs still waiting for staff after their claim deadline, not re-pinged yet."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(Handoff)
                .where(
                    col(Handoff.state) == HandoffState.WAITING,
                    col(Handoff.claim_due_at) <= now,
                    col(Handoff.repinged_at).is_(None),
                )
                .order_by(col(Handoff.claim_due_at))
            )
            return list(rows.all())

    async def forget_customer(self, customer_id: str) -> int:
        """Remove the customer's handoffs (their data is being forgotten)."""
        return await self._update(delete(Handoff).where(col(Handoff.customer_id) == customer_id))

    async def _update(self, statement: Any) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return _rowcount(result)


__all__ = [
    "CLOSED_STATES",
    "OPEN_STATES",
    "STATE_FILTERS",
    "Handoff",
    "HandoffState",
    "HandoffStore",
]
