"""Read-only questions the admin asks the relational store: customer lists with
counts, a page of messages, and the dashboard's numbers.

Each query names one customer or only counts; no message text leaves here
except the one customer's own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import Customer, MemoryRecord, Message, Role


@dataclass(frozen=True)
class CustomerSummary:
    customer: Customer
    messages: int
    memories: int

    def to_json(self) -> dict[str, Any]:
        return {
            **customer_json(self.customer),
            "messages": self.messages,
            "memories": self.memories,
        }


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "channel": customer.channel,
        "display_name": customer.display_name,
        "preferred_name": customer.preferred_name,
        "name": customer.name,
        "active": customer.active,
        "created_at": customer.created_at.isoformat(),
        "last_seen_at": customer.last_seen_at.isoformat(),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role.value,
        "text": message.text,
        "unsure": message.unsure,
        "created_at": message.created_at.isoformat(),
    }


async def customers(engine: AsyncEngine, *, limit: int, offset: int) -> list[CustomerSummary]:
    """Customers, most recently seen first, with how many messages and memories each has."""
    messages = (
        select(Message.customer_id, func.count().label("n"))
        .group_by(col(Message.customer_id))
        .subquery()
    )
    memories = (
        select(MemoryRecord.customer_id, func.count().label("n"))
        .where(col(MemoryRecord.superseded_by).is_(None))
        .group_by(col(MemoryRecord.customer_id))
        .subquery()
    )
    query = (
        select(Customer, messages.c.n, memories.c.n)
        .outerjoin(messages, messages.c.customer_id == Customer.id)
        .outerjoin(memories, memories.c.customer_id == Customer.id)
        .order_by(col(Customer.last_seen_at).desc(), col(Customer.id))
        .limit(limit)
        .offset(offset)
    )
    async with AsyncSession(engine) as session:
        rows = (await session.exec(query)).all()
    return [CustomerSummary(customer, int(m or 0), int(r or 0)) for customer, m, r in rows]


async def customer_count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return int((await session.exec(select(func.count()).select_from(Customer))).one())


@dataclass(frozen=True)
class DayCount:
    day: date
    customer: int
    tomo: int


@dataclass(frozen=True)
class Dashboard:
    customers: int
    messages: int
    memories: int
    days: tuple[DayCount, ...]  # oldest first, every day of the window
    tomo_turns: int  # tomo's messages in the window
    unsure_turns: int  # of those, the ones where tomo was unsure

    @property
    def unsure_share(self) -> float | None:
        return self.unsure_turns / self.tomo_turns if self.tomo_turns else None

    @property
    def busiest_day(self) -> int:
        return max((day.customer + day.tomo for day in self.days), default=0)


async def dashboard(
    engine: AsyncEngine, *, days: int = 14, tz: tzinfo = UTC, now: datetime | None = None
) -> Dashboard:
    """Counts for the dashboard over the last `days` days (calendar days in `tz`)."""
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tz)
    async with AsyncSession(engine) as session:
        total_customers = (await session.exec(select(func.count()).select_from(Customer))).one()
        total_messages = (await session.exec(select(func.count()).select_from(Message))).one()
        total_memories = (
            await session.exec(
                select(func.count())
                .select_from(MemoryRecord)
                .where(col(MemoryRecord.superseded_by).is_(None))
            )
        ).one()
        recent = (
            await session.exec(
                select(Message.created_at, Message.role, Message.unsure).where(
                    col(Message.created_at) >= since
                )
            )
        ).all()
    per_day = {first + timedelta(days=n): [0, 0] for n in range(days)}
    tomo_turns = unsure = 0
    for created_at, role, was_unsure in recent:
        counts = per_day.get(created_at.astimezone(tz).date())
        if counts is None:
            continue
        if role is Role.TOMO or role == Role.TOMO.value:
            counts[1] += 1
            tomo_turns += 1
            unsure += bool(was_unsure)
        elif role is Role.CUSTOMER or role == Role.CUSTOMER.value:
            counts[0] += 1
    return Dashboard(
        int(total_customers),
        int(total_messages),
        int(total_memories),
        tuple(DayCount(day, c, t) for day, (c, t) in sorted(per_day.items())),
        tomo_turns,
        unsure,
    )


async def customer_summary(engine: AsyncEngine, customer_id: str) -> CustomerSummary | None:
    """One customer with how many messages and (current) memories they have."""
    async with AsyncSession(engine) as session:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            return None
        message_count = (
            await session.exec(
                select(func.count())
                .select_from(Message)
                .where(col(Message.customer_id) == customer_id)
            )
        ).one()
        memory_count = (
            await session.exec(
                select(func.count())
                .select_from(MemoryRecord)
                .where(
                    col(MemoryRecord.customer_id) == customer_id,
                    col(MemoryRecord.superseded_by).is_(None),
                )
            )
        ).one()
    return CustomerSummary(customer, int(message_count), int(memory_count))
