from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from memory.database import async_url, default_database_url, open_engine


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


async def test_a_database_error_does_not_quote_what_was_written(tmp_path: Path) -> None:
    engine = await open_engine(default_database_url(tmp_path))
    try:
        with pytest.raises(SQLAlchemyError) as raised:
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO no_such_table (said) VALUES (:said)"),
                    {"said": "うちの猫はモカです"},
                )
    finally:
        await engine.dispose()

    assert "no_such_table" in str(raised.value)
    assert "モカ" not in str(raised.value)
