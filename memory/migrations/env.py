"""Alembic's environment: migrations run on the connection memory/schema.py hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from memory import database  # noqa: F401  (registers every table on SQLModel.metadata)


def _render_item(kind: str, item: Any, autogen: Any) -> str | Literal[False]:
    """Write SQLModel's string type as `AutoString(...)` (imported by the template)."""
    if kind == "type" and isinstance(item, AutoString):
        return f"AutoString(length={item.length})" if item.length else "AutoString()"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tomo db upgrade` (memory/schema.py)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
