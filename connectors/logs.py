"""How `tomo serve` and `tomo worker` write their log: text for people, JSON for collectors.

`TOMO_LOG_FORMAT=json` (or `--log-format json`) writes one JSON object a line
to stderr: `time` (ISO 8601, UTC), `level`, `logger`, `message`, and
`exception` (the traceback) when there is one. uvicorn's own loggers go
through the same handler, so every line of a process has one format.

What tomo logs at INFO and above names no secret and nothing a customer or a
staff member said (tests/connectors/test_logs.py holds it to that).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            # Cached on the record, as logging.Formatter does, for its other handlers.
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(
    level: str, log_format: LogFormat = LogFormat.TEXT, *, stream: TextIO | None = None
) -> None:
    """One handler on the root logger, in the chosen format; uvicorn's loggers hand their
    records to it instead of printing their own (run uvicorn with `log_config=None`)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(handlers=[handler], force=True)
    logging.getLogger().setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)  # the root's level, until uvicorn sets its own


__all__ = ["JsonFormatter", "LogFormat", "configure_logging", "formatter"]
