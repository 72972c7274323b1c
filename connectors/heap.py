"""Keeping what start-up made out of the garbage collector's full passes.

A started tomo (app, runtime, encoder loaded) holds ~368,000 objects the
collector tracks: modules, SQLAlchemy's and Chroma's machinery, LangChain,
FastAPI. They live as long as the process, yet each full collection walked
them all: 176 ms with the GIL held, so every turn in flight stood still that
long. Python starts a full collection every few hundred thousand allocations;
a memory writer working through a backlog met ~5 every 10,000 memories.
Frozen, a full collection walks only what was made since (2026-11-25).
"""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> int:
    """Collect what start-up left behind, then freeze the rest; returns how many were frozen.

    Call once a process has started. Objects frozen stay for good (the
    collector never looks at them again), so garbage is collected first.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
