"""A stand-in language model for benchmarks: an OpenAI-compatible server that takes a fixed time.

`POST /v1/chat/completions` sleeps, then answers. tomo asks a model for three
things in a LINE turn; the purpose is read from the prompt, as
tests/connectors/line/test_scale_out.py does:

- the escalation judgment ("decide whether …"): `{"escalate": false, …}`, after `aux_ms`;
- fact extraction (a prompt asking for `"facts"`): `{"facts": []}`, after `aux_ms`;
- anything else is the customer's reply: a short Japanese answer, after `reply_ms`.

`GET /stats` counts the calls by purpose. Run it in its own process
(`python -m bench.fake_llm --reply-ms 500 --aux-ms 500`) so that a busy load
generator does not stretch its sleeps; the first line on stdout is
`fake-llm: listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import time
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bench.line_harness import serve_in_thread

REPLY = "ありがとう！確認してお知らせするね。"


def purpose(body: dict[str, Any]) -> str:
    """reply, escalation or facts: what tomo asked the model for."""
    text = "\n".join(str(message.get("content", "")) for message in body.get("messages", []))
    if "decide whether" in text:
        return "escalation"
    if '"facts"' in text:
        return "facts"
    return "reply"


def fake_llm_app(reply_ms: float, aux_ms: float) -> FastAPI:
    app = FastAPI()
    calls: Counter[str] = Counter()
    busy = {"now": 0, "most": 0}

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        kind = purpose(body)
        calls[kind] += 1
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        try:
            await asyncio.sleep((reply_ms if kind == "reply" else aux_ms) / 1000)
        finally:
            busy["now"] -= 1
        content = {
            "escalation": json.dumps({"escalate": False, "reasons": [], "note": ""}),
            "facts": json.dumps({"facts": []}),
        }.get(kind, REPLY)
        return JSONResponse(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )

    @app.get("/stats")
    async def stats() -> JSONResponse:
        return JSONResponse({"calls": dict(calls), "most_at_once": busy["most"]})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reply-ms", type=float, default=500.0)
    parser.add_argument("--aux-ms", type=float, default=500.0)
    options = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve_in_thread(fake_llm_app(options.reply_ms, options.aux_ms)) as url:
        print(f"fake-llm: listening on {url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
