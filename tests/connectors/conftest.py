"""Fakes of LINE's and Slack's APIs on free ports, for every connectors test.

Each test ends by checking that tomo broke no part of the published contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.line.conftest import LineFake
from tests.connectors.slack.conftest import SlackFake
from tests.fakes.http_server import serve
from tests.fakes.line_api import FakeLineApi
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
def line_fake() -> Iterator[LineFake]:
    """The fake LINE Messaging API."""
    api = FakeLineApi()
    with serve(api.app()) as url:
        yield LineFake(api, url)
    assert api.problems == []


@pytest.fixture
def slack_fake() -> Iterator[SlackFake]:
    """The fake Slack Web API."""
    api = FakeSlackApi()
    with serve(api.app()) as url:
        yield SlackFake(api, url)
    assert api.problems == []
