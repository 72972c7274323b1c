"""Recalling for a customer while the vector memory may be down.

A turn must still be answered when the Chroma server cannot be reached: tomo
answers without memories (no guessing from a partial picture), says so in the
log without anything the customer said, and counts it
(`tomo_memory_unavailable_total{operation="recall"}`).
"""

from __future__ import annotations

import logging

from bot.metrics import MEMORY_UNAVAILABLE
from memory.customer_memory import CustomerMemory, Recalled
from memory.vectors import VectorsUnavailable

log = logging.getLogger(__name__)


async def recall_or_nothing(memory: CustomerMemory, query: str, k: int) -> list[Recalled]:
    """The customer's memories that best match the query; none if the vector memory is down."""
    try:
        return await memory.recall(query, k)
    except VectorsUnavailable as error:
        MEMORY_UNAVAILABLE.labels(operation="recall").inc()
        log.warning("%s; answering without memories", error)
        return []
