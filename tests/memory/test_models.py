"""The relational records' own rules: memory ids."""

from __future__ import annotations

import time
import uuid

from memory.models import MemoryRecord, time_ordered_id


def test_a_memory_id_is_a_uuid7_in_32_hex_digits() -> None:
    memory_id = time_ordered_id()

    parsed = uuid.UUID(memory_id)
    assert memory_id == parsed.hex and len(memory_id) == 32
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_a_memory_id_starts_with_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    memory_id = time_ordered_id()
    after = time.time_ns() // 1_000_000

    assert before <= uuid.UUID(memory_id).int >> 80 <= after


def test_memory_ids_made_later_sort_after_earlier_ones() -> None:
    earlier = [time_ordered_id() for _ in range(50)]
    time.sleep(0.002)
    later = [time_ordered_id() for _ in range(50)]

    assert max(earlier) < min(later)
    assert len(set(earlier + later)) == 100  # the random part tells apart ids of one millisecond


def test_a_new_memory_record_gets_a_time_ordered_id() -> None:
    record = MemoryRecord(customer_id="U1", text="猫を飼っています")

    assert uuid.UUID(record.id).version == 7
