"""Alembic migrations of tomo's SQL schema (SQLite and PostgreSQL alike).

Run them with `tomo db upgrade`; memory/schema.py drives Alembic from code
(no alembic.ini). A new migration: change the SQLModel tables, then
`.venv/bin/python -m memory.schema revision -m "what changed"` autogenerates
the next file in versions/ from the difference; read it before committing.
"""
