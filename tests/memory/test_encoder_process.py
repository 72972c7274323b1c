"""The encoder in a child process: the same vectors as here, and it survives its child dying."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import numpy as np
import pytest

from memory.embedding import shared_encoder
from memory.encoder_process import EncoderProcess

TEXTS = ["うちの猫はミルクっていう名前です", "肌が乾燥しやすくて", "来月、京都に行きます"]


@pytest.fixture
async def process() -> AsyncIterator[EncoderProcess]:
    encoder_process = EncoderProcess(shared_encoder())
    yield encoder_process
    await encoder_process.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_the_child_gives_exactly_the_vectors_this_process_gives(
    process: EncoderProcess,
) -> None:
    vectors = await process.encode(TEXTS)

    assert process.pid is not None and process.pid != os.getpid()
    assert process.encoded == len(TEXTS)
    assert np.array_equal(vectors, shared_encoder().encode(TEXTS))


async def test_when_the_child_dies_the_texts_are_embedded_here_and_a_new_child_starts(
    process: EncoderProcess,
) -> None:
    await process.encode(TEXTS[:1])
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)

    vectors = await process.encode(TEXTS)
    between = process.pid
    again = await process.encode(TEXTS)

    assert np.array_equal(vectors, shared_encoder().encode(TEXTS))
    assert np.array_equal(again, vectors)
    assert between is None  # the dead child was let go...
    assert process.pid not in (None, first)  # ...and a new one embedded the last texts
    assert process.encoded == 1 + len(TEXTS)  # the texts embedded here are not counted


async def test_closing_stops_the_child(process: EncoderProcess) -> None:
    await process.encode(TEXTS)
    pid = process.pid
    assert pid is not None

    await process.close()

    assert process.pid is None
    assert not alive(pid)


async def test_a_question_given_up_midway_does_not_hand_its_answer_to_the_next(
    process: EncoderProcess,
) -> None:
    await process.encode(TEXTS[:1])  # the child is up
    slow = ["肌が乾燥しやすくて困っています。" * 500] * len(TEXTS)  # ~1 s to embed
    given_up = asyncio.create_task(process.encode(slow))
    await asyncio.sleep(0.2)  # asked, not yet answered
    given_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await given_up

    answer = await process.encode(TEXTS)  # as many texts: a stale answer would fit

    assert np.array_equal(answer, shared_encoder().encode(TEXTS))
