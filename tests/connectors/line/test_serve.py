"""`tomo serve` and `tomo worker` as a company runs them: real processes, real HTTP."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from connectors.settings import Settings
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import ACCESS_TOKEN
from tests.fakes.waiting import wait_until

TOMO = shutil.which("tomo", path=str(Path(sys.executable).parent))
LISTENING = re.compile(r"tomo: listening on (http://\S+)")


@pytest.fixture
def line_env(subprocess_env: dict[str, str], data_dir: Path, line_fake: LineFake) -> dict[str, str]:
    publish_preset(Settings(data_dir=data_dir))
    return subprocess_env | {
        "LINE_CHANNEL_SECRET": hook.CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE": line_fake.url,
        "TOMO_LINE_RETRY_SECONDS": "0.01",
        "TOMO_INBOX_POLL_SECONDS": "0.05",
        "TOMO_BURST_SECONDS": "0",
    }


class Process:
    """A running `tomo` command; its output is collected for the assertion messages."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self.lines: list[str] = []
        self._first = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip())
            found = LISTENING.search(line)
            if found:
                self.url = found.group(1)
            if found or "worker(s) running" in line:
                self._first.set()
        self._first.set()

    def wait_ready(self, within: float = 60) -> None:
        if not self._first.wait(within) or self.popen.poll() is not None:
            raise AssertionError("tomo did not start:\n" + "\n".join(self.lines))

    def close(self) -> None:
        self._reader.join(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def running(env: dict[str, str], *args: str) -> Iterator[Process]:
    assert TOMO is not None
    popen = subprocess.Popen(
        [TOMO, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    process = Process(popen)
    try:
        yield process
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        process.close()


async def _post(url: str, *events: dict[str, object]) -> httpx.Response:
    raw = hook.body(*events)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return await client.post("/line/webhook", content=raw, headers=hook.headers(raw))


async def test_tomo_serve_answers_a_signed_webhook_through_the_line_api(
    line_env: dict[str, str], line_fake: LineFake
) -> None:
    user = hook.user_id()
    with running(line_env, "serve", "--port", "0") as server:
        server.wait_ready()

        response = await _post(
            server.url,
            hook.text(user, "送料はいくらですか？", reply_token=line_fake.api.reply_token(user)),
        )
        await wait_until(lambda: line_fake.api.to(user), within=30, what="the answer")

        async with httpx.AsyncClient(base_url=server.url) as client:
            health = await client.get("/healthz")
    assert response.status_code == 200
    (answer,) = line_fake.api.to(user)
    assert answer.via == "reply" and "送料" in answer.texts[0]
    assert health.json()["status"] == "ok"
    assert hook.CHANNEL_SECRET not in server.output and ACCESS_TOKEN not in server.output


async def test_an_event_stored_by_a_server_killed_before_handling_it_is_answered_once_after_restart(
    line_env: dict[str, str], line_fake: LineFake
) -> None:
    user = hook.user_id()
    with running(line_env | {"TOMO_WORKERS": "0"}, "serve", "--port", "0") as doomed:
        doomed.wait_ready()
        response = await _post(doomed.url, hook.text(user, "送料はいくらですか？"))
        os.kill(doomed.popen.pid, signal.SIGKILL)
        doomed.popen.wait()
    assert response.status_code == 200

    with running(line_env, "serve", "--port", "0") as restarted:
        restarted.wait_ready()
        await wait_until(lambda: line_fake.api.to(user), within=30, what="the answer")

    assert len(line_fake.api.to(user)) == 1


async def test_tomo_worker_handles_what_a_webhook_only_server_stores(
    line_env: dict[str, str], line_fake: LineFake
) -> None:
    user = hook.user_id()
    with (
        running(line_env | {"TOMO_WORKERS": "0"}, "serve", "--port", "0") as server,
        running(line_env, "worker") as worker,
    ):
        server.wait_ready()
        worker.wait_ready()

        await _post(server.url, hook.text(user, "送料はいくらですか？"))
        await wait_until(lambda: line_fake.api.to(user), within=30, what="the answer")

    assert len(line_fake.api.to(user)) == 1


def test_tomo_serve_refuses_to_start_with_half_the_line_settings(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    publish_preset(Settings(data_dir=data_dir))
    env = subprocess_env | {"LINE_CHANNEL_SECRET": hook.CHANNEL_SECRET}
    assert TOMO is not None

    done = subprocess.run(
        [TOMO, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert "LINE_CHANNEL_ACCESS_TOKEN is not set" in done.stderr


def test_tomo_serve_refuses_to_start_without_a_published_persona(
    subprocess_env: dict[str, str],
) -> None:
    assert TOMO is not None

    done = subprocess.run(
        [TOMO, "serve", "--port", "0"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "tomo persona init" in done.stderr
