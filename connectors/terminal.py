"""The terminal chat: a customer talking to tomo through the same pipeline as LINE."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console

from bot.turn import Conversation

QUIT_WORDS = {"/quit", "/exit", "/q"}


class PrintedDelivery:
    """Delivers tomo's messages by printing them, one speech bubble a message."""

    def __init__(self, console: Console, speaker: str) -> None:
        self._console = console
        self._speaker = speaker

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        for message in messages:
            self._console.print(f"[bold magenta]{self._speaker}[/] {message}", highlight=False)


class SilentDelivery:
    """For --json: the reply is written as JSON by the loop, not printed as text."""

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


async def interactive_chat(
    conversation: Conversation,
    customer_id: str,
    display_name: str | None,
    speaker: str,
    console: Console,
) -> None:
    """Read lines typed by the customer until /quit or end of input."""
    delivery = PrintedDelivery(console, speaker)
    console.print("[dim]/quit で終了します。[/]")
    while True:
        try:
            text = await asyncio.to_thread(console.input, "[bold cyan]あなた>[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        text = text.strip()
        if not text:
            continue
        if text in QUIT_WORDS:
            return
        await conversation.handle_text(customer_id, text, delivery, display_name=display_name)


async def json_chat(
    conversation: Conversation,
    customer_id: str,
    display_name: str | None,
    source: TextIO = sys.stdin,
    sink: TextIO = sys.stdout,
) -> None:
    """One customer message per input line → one JSON object per output line."""
    delivery = SilentDelivery()
    while True:
        line = await asyncio.to_thread(source.readline)
        if not line:
            return
        text = line.strip()
        if not text:
            continue
        result = await conversation.handle_text(
            customer_id, text, delivery, display_name=display_name
        )
        sink.write(
            json.dumps({"reply": list(result.replies), "unsure": result.unsure}, ensure_ascii=False)
            + "\n"
        )
        sink.flush()
