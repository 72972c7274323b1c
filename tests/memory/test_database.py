from __future__ import annotations

import pytest

from memory.database import async_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_an_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == expected
