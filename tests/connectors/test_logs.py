"""The log: JSON lines for collectors, text for people, and never a secret or a customer's words."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.logs import LogFormat, configure_logging
from connectors.settings import Settings
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, open_tomo
from tests.connectors.line.test_serve import running
from tests.connectors.slack.conftest import Clock, Desk, SlackFake, slack_settings_for
from tests.fakes import line_webhook as hook
from tests.fakes import slack_events as slack
from tests.fakes.line_api import ACCESS_TOKEN
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN

ADMIN_TOKEN = "test-admin-token-0123456789"  # a test value


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after the test."""
    root = logging.getLogger()
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = (root.handlers[:], root.level)
    loggers = {name: logging.getLogger(name) for name in names}
    kept = {name: (lg.handlers[:], lg.propagate, lg.level) for name, lg in loggers.items()}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, (handlers, propagate, level) in kept.items():
        loggers[name].handlers[:] = handlers
        loggers[name].propagate = propagate
        loggers[name].level = level


def lines_of(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("restored_logging")
def test_a_json_log_line_has_time_level_logger_and_message() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=stream)

    logging.getLogger("tomo.test").warning("inbox is %d deep", 3)

    (line,) = lines_of(stream)
    assert {key: line[key] for key in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "tomo.test",
        "message": "inbox is 3 deep",
    }
    written = datetime.fromisoformat(line["time"])
    assert written.utcoffset() == timedelta(0)
    assert "exception" not in line


@pytest.mark.usefixtures("restored_logging")
def test_a_json_log_line_carries_the_exception_on_the_same_line() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=stream)

    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("tomo.test").exception("could not do it")

    (line,) = lines_of(stream)
    assert line["message"] == "could not do it"
    assert line["exception"].startswith("Traceback")
    assert "ValueError: broken" in line["exception"]


@pytest.mark.usefixtures("restored_logging")
def test_uvicorns_loggers_write_in_the_same_format() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=stream)

    logging.getLogger("uvicorn.error").info("Application startup complete.")

    (line,) = lines_of(stream)
    assert (line["logger"], line["message"]) == ("uvicorn.error", "Application startup complete.")


@pytest.mark.usefixtures("restored_logging")
def test_the_text_format_is_level_logger_and_message_on_one_line() -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.TEXT, stream=stream)

    logging.getLogger("tomo.test").info("handoff opened")
    logging.getLogger("tomo.test").debug("not shown at info")

    assert stream.getvalue() == "INFO tomo.test: handoff opened\n"


def test_the_log_format_is_read_from_tomo_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOMO_LOG_FORMAT", "json")

    assert Settings().log_format is LogFormat.JSON


def test_the_log_format_defaults_to_text() -> None:
    assert Settings().log_format is LogFormat.TEXT


async def test_tomo_serve_with_json_logs_writes_only_json_lines_uvicorns_included(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    publish_preset(Settings(data_dir=data_dir))
    env = subprocess_env | {"TOMO_WORKERS": "0"}

    with running(env, "serve", "--port", "0", "--log-format", "json") as server:
        server.wait_ready()

    logged = [line for line in server.lines if line and not line.startswith("tomo: ")]
    records = [json.loads(line) for line in logged]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(
        record["logger"] == "uvicorn.error" and "startup complete" in record["message"]
        for record in records
    )


# -- nothing secret, nothing said ------------------------------------------------------

CUSTOMER_SAYS = "返金してください。注文番号はZX-4417です"
CUSTOMER_ALSO_SAYS = "うちの猫はモカっていう名前です"
STAFF_SAYS = "お待たせしました、担当の山田が確認しますね"


@pytest.fixture
async def desk(data_dir: Path, line_fake: LineFake, slack_fake: SlackFake) -> AsyncIterator[Desk]:
    settings = slack_settings_for(data_dir, line_fake.url, slack_fake.url, admin_token=ADMIN_TOKEN)
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        yield Desk(tomo, line_fake.api, slack_fake.api, Clock())


def _logged_at_info(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter()
    texts = []
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + formatter.formatException(record.exc_info)
            texts.append(text)
    return texts


async def test_no_secret_and_nothing_anyone_said_is_logged_at_info_or_above(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    handed_over, chatting = hook.user_id(), hook.user_id()

    await desk.customer_says(handed_over, CUSTOMER_SAYS)
    handoff = await desk.card_of(handed_over)
    response, _ = await desk.reply(handoff, STAFF_SAYS)
    assert response.status_code == 200
    await desk.settled()
    await desk.customer_says(chatting, CUSTOMER_ALSO_SAYS)
    await desk.tomo.runtime_settled(chatting)
    api = await desk.client.get(
        f"/api/customers/{chatting}/messages", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )

    assert api.status_code == 200
    assert STAFF_SAYS in desk.line.texts_to(handed_over)  # the words did travel, unlogged
    logged = _logged_at_info(caplog)
    assert any("handoff opened" in text for text in logged)  # the log was captured
    secrets = {
        "customer's words": ["ZX-4417", "返金してください", CUSTOMER_ALSO_SAYS, "モカ"],
        "staff's words": [STAFF_SAYS, "山田"],
        "LINE channel secret": [hook.CHANNEL_SECRET],
        "LINE access token": [ACCESS_TOKEN],
        "Slack tokens and secret": [BOT_TOKEN, APP_TOKEN, slack.SIGNING_SECRET],
        "admin token": [ADMIN_TOKEN],
    }
    leaks = {
        what: [text for text in logged if any(word in text for word in words)]
        for what, words in secrets.items()
    }
    assert {what: texts for what, texts in leaks.items() if texts} == {}
