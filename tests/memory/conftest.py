from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memory.database import default_database_url
from memory.store import MemoryStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    """An embedded store (SQLite + Chroma, 4 collections) knowing hanako and taro."""
    async with MemoryStore.open(
        database_url=default_database_url(tmp_path), data_dir=tmp_path, shards=4
    ) as opened:
        for customer in ("hanako", "taro"):
            await opened.touch_customer(customer, channel="terminal")
        yield opened
