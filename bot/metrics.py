"""What tomo counts and times, for `GET /metrics` (Prometheus text format).

One module holds every metric so that a newcomer (and the README's table)
finds them in one place. They live in prometheus-client's default registry:
each process (`tomo serve`, `tomo worker`) exposes its own, and Prometheus
adds them up across processes. Queue depth and age are read from the shared
SQL store at scrape time (see connectors/metrics.py), so any process reports
the whole system's inbox.

Labels are small fixed sets (channel names, reasons, outcomes): never a
customer id or anything a customer said.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

WEBHOOK_SECONDS = Histogram(
    "tomo_webhook_seconds",
    "Time from a webhook request arriving to its acknowledgement (stored in the inbox).",
    ["channel", "status"],
    buckets=_FAST,
)
TURN_SECONDS = Histogram(
    "tomo_turn_seconds",
    "Time to handle one customer turn: recall, decide, answer, put the answer in the outbox.",
    ["channel"],
    buckets=_SLOW,
)
BURST_MESSAGES = Histogram(
    "tomo_burst_messages",
    "How many customer messages one turn answered (a burst is answered as one turn).",
    buckets=(1, 2, 3, 5, 10, 20),
)
LLM_SECONDS = Histogram(
    "tomo_llm_seconds",
    "Time of one chat-model call, successful or not.",
    ["purpose"],
    buckets=_SLOW,
)
LLM_ERRORS = Counter(
    "tomo_llm_errors_total",
    "Chat-model calls that failed or timed out (purpose reply: the customer got the "
    "persona's honest error line and a handoff).",
    # purpose: reply | escalation | facts | suggestion | persona_draft; kind: timeout | error
    ["purpose", "kind"],
)
HANDOFFS = Counter(
    "tomo_handoffs_total",
    "Handoffs to staff opened, by reason.",
    ["reason"],
)
SEND_ERRORS = Counter(
    "tomo_send_errors_total",
    "Calls to LINE or Slack that failed (HTTP status, or 'network').",
    ["channel", "status"],
)
SEND_RETRIES = Counter(
    "tomo_send_retries_total",
    "Sends put back in the outbox (or the handoff queue) to be tried again later.",
    ["channel"],
)
MEMORY_UNAVAILABLE = Counter(
    "tomo_memory_unavailable_total",
    "Times the vector memory could not be reached; turns answered without memories, "
    "writes left to be retried.",
    ["operation"],  # operation: recall | write
)
INBOX_EVENTS = Counter(
    "tomo_inbox_events_total",
    "Inbox events finished by this process, by outcome.",
    ["outcome"],  # outcome: done | retried | given_up | already_answered
)

# What is waiting, for the whole system: read from the shared SQL store (at
# scrape time by `tomo serve`, every few seconds by `tomo worker`), so every
# process reports the same values; aggregate them across processes with max,
# not sum. NaN when the store could not be read.
INBOX_DEPTH = Gauge(
    "tomo_inbox_depth",
    "Customer events stored and not handled yet (waiting, or waiting to be retried).",
)
INBOX_OLDEST_AGE = Gauge(
    "tomo_inbox_oldest_age_seconds",
    "How long the oldest unhandled customer event has waited since it arrived (0: none).",
)
INBOX_FAILED = Gauge(
    "tomo_inbox_failed",
    "Customer events given up on after the allowed attempts, still kept (TOMO_INBOX_KEEP_DAYS).",
)
OUTBOX_DEPTH = Gauge(
    "tomo_outbox_depth",
    "Messages to customers stored and not delivered yet.",
)
OUTBOX_OLDEST_AGE = Gauge(
    "tomo_outbox_oldest_age_seconds",
    "How long the oldest undelivered message to a customer has waited (0: none).",
)
HANDOFFS_OPEN = Gauge(
    "tomo_handoffs_open",
    "Handoffs open now: waiting for staff, or held by a staff member.",
)


@contextmanager
def timed_llm_call(purpose: str) -> Iterator[None]:
    """Time one chat-model call (LLM_SECONDS) and count its failure (LLM_ERRORS).

    Wrap the call only, not the parsing of its answer: a parse failure is the
    caller's to report. A cancelled call is timed but not counted as failed.
    """
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        kind = "timeout" if _is_timeout(error) else "error"
        LLM_ERRORS.labels(purpose=purpose, kind=kind).inc()
        raise
    finally:
        LLM_SECONDS.labels(purpose=purpose).observe(time.perf_counter() - started)


def _is_timeout(error: BaseException) -> bool:
    # asyncio.wait_for raises TimeoutError; providers' clients raise their own
    # (openai.APITimeoutError, httpx.ReadTimeout), named so but not subclasses of it.
    return isinstance(error, TimeoutError) or "Timeout" in type(error).__name__
