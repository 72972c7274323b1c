"""Latency of one offline turn, end to end through the real stores.

A fresh data folder, the demo persona, and a mix of greetings, FAQ questions,
things customers share and memory questions, spread over several customers.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from connectors.runtime import open_runtime
from connectors.settings import Settings
from persona.presets import build_persona
from persona.repository import PersonaRepository

MESSAGES = (
    "こんにちは",
    "送料はいくらですか？",
    "うちの猫はミルクっていう名前です",
    "最近、肌が乾燥して困ってる",
    "うちの猫の名前、覚えてる？",
    "来月の新商品はいつ出ますか？",
    "ありがとう！",
)


@dataclass(frozen=True)
class TurnTimings:
    turns: int
    first_ms: float  # includes loading the encoder and Chroma
    p50_ms: float
    p95_ms: float
    max_ms: float


class _Discard:
    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


async def measure_offline_turns(customers: int = 20, data_dir: Path | None = None) -> TurnTimings:
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=data_dir or Path(scratch), llm="offline")
        repository = PersonaRepository(settings.persona_dir)
        repository.save_draft(build_persona("shinyu"))
        repository.publish()
        timings: list[float] = []
        async with open_runtime(settings) as runtime:
            for customer in range(customers):
                for text in MESSAGES:
                    started = time.perf_counter()
                    await runtime.conversation.handle_text(f"bench-{customer}", text, _Discard())
                    timings.append((time.perf_counter() - started) * 1000)
    rest = sorted(timings[1:])
    return TurnTimings(
        turns=len(timings),
        first_ms=timings[0],
        p50_ms=statistics.median(rest),
        p95_ms=rest[int(0.95 * (len(rest) - 1))],
        max_ms=rest[-1],
    )
