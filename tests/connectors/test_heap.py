from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from connectors.heap import freeze_start_up_objects


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


@pytest.mark.usefixtures("thawed")
def test_start_up_objects_are_frozen_and_start_up_garbage_is_not() -> None:
    kept = _Node()
    garbage = weakref.ref(_Node())

    frozen = freeze_start_up_objects()

    assert garbage() is None  # collected, not frozen for good
    assert frozen == gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # out of every pass now
