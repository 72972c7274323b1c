"""Scale-out as operators run it: `tomo serve` and `tomo worker` processes over PostgreSQL.

Real processes, real HTTP, the machine's PostgreSQL (TOMO_TEST_DATABASE_URL;
skipped with the reason where it is not set). Each test gets its own new
database, migrated with `tomo db upgrade` as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.connectors.line.conftest import LineFake
from tests.connectors.line.test_serve import TOMO, _post, line_env, running
from tests.fakes import line_webhook as hook
from tests.fakes.chroma_server import ChromaServer
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply
from tests.fakes.waiting import wait_until

__all__ = ["line_env"]  # the fixture, used here too


@pytest.fixture
def pg_env(line_env: dict[str, str], postgres_url: str) -> dict[str, str]:
    """`line_env` on a new PostgreSQL database, after `tomo db upgrade`."""
    env = line_env | {"TOMO_DATABASE_URL": postgres_url}
    assert TOMO is not None
    done = subprocess.run(
        [TOMO, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "upgraded" in done.stdout
    return env


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        return list(connection.execute(query, params).fetchall())


def test_tomo_serve_refuses_an_unmigrated_postgresql_database_and_says_what_to_run(
    line_env: dict[str, str], postgres_url: str
) -> None:
    assert TOMO is not None
    env = line_env | {"TOMO_DATABASE_URL": postgres_url}

    refused = subprocess.run(
        [TOMO, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=120
    )
    upgraded = subprocess.run(
        [TOMO, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    current = subprocess.run(
        [TOMO, "db", "current", "--check"], env=env, capture_output=True, text=True, timeout=120
    )

    assert refused.returncode == 2
    assert "tomo db upgrade" in refused.stderr
    assert upgraded.returncode == 0
    assert current.returncode == 0, current.stdout + current.stderr


@dataclass
class SlowModel:
    """A model that answers every purpose sensibly, but hangs on the first customer reply."""

    fake: FakeOpenAI
    url: str
    reply_asked: threading.Event


@pytest.fixture
def slow_llm() -> Iterator[SlowModel]:
    asked = threading.Event()

    def route(body: dict[str, Any]) -> ScriptedReply:
        text = "\n".join(str(message["content"]) for message in body["messages"])
        if "decide whether" in text:
            return ScriptedReply(json.dumps({"escalate": False, "reasons": [], "note": ""}))
        if '"facts"' in text:
            return ScriptedReply(json.dumps({"facts": []}))
        if not asked.is_set():
            asked.set()
            return ScriptedReply("了解！", hold=True)
        return ScriptedReply("了解！確認してお知らせするね。")

    fake = FakeOpenAI(route=route)
    with serve(fake.app()) as url:
        yield SlowModel(fake, f"{url}/v1", asked)
        fake.release.set()


async def test_a_worker_killed_mid_turn_is_replaced_and_the_message_answered_exactly_once(
    pg_env: dict[str, str], line_fake: LineFake, slow_llm: SlowModel
) -> None:
    env = pg_env | {
        "TOMO_LLM": "openai:gpt-4o-mini",
        "TOMO_LLM_BASE_URL": slow_llm.url,
        "TOMO_LLM_API_KEY": "sk-test",
        "TOMO_LLM_TIMEOUT": "60",
    }
    user = hook.user_id()
    event = hook.text(user, "昨日頼んだハンドクリーム、いつ届く？")
    with running(env | {"TOMO_WORKERS": "0"}, "serve", "--port", "0") as server:
        server.wait_ready()
        with running(env, "worker") as doomed:
            doomed.wait_ready()
            assert (await _post(server.url, event)).status_code == 200
            # The worker is in the middle of the turn: it asked the model for the reply.
            await wait_until(slow_llm.reply_asked.is_set, within=60, what="the turn to start")
            os.kill(doomed.popen.pid, signal.SIGKILL)
            doomed.popen.wait()
        slow_llm.fake.release.set()
        assert line_fake.api.to(user) == []

        with running(env, "worker") as replacement:
            replacement.wait_ready()
            await wait_until(lambda: line_fake.api.to(user), within=60, what="the answer")
            await asyncio.sleep(1.0)  # anything sent twice would arrive by now

    assert len(line_fake.api.to(user)) == 1
    url = pg_env["TOMO_DATABASE_URL"]
    assert _sql(url, "SELECT status FROM inbox_event WHERE customer_id = %s", user) == [("DONE",)]
    stored = _sql(
        url, "SELECT count(*) FROM message WHERE customer_id = %s AND role = 'CUSTOMER'", user
    )
    assert stored == [(1,)]  # handled twice, stored once


async def test_many_processes_keep_each_customers_order_and_answer_every_message_once(
    pg_env: dict[str, str], line_fake: LineFake, chroma_server: ChromaServer
) -> None:
    env = pg_env | {"TOMO_CHROMA_URL": chroma_server.url, "TOMO_WORKERS": "2"}
    users = [hook.user_id() for _ in range(4)]
    said = {user: [f"{n}番目の質問です。送料はいくらですか？" for n in range(5)] for user in users}
    with (
        running(env, "serve", "--port", "0") as server,
        running(env, "worker") as first,
        running(env, "worker") as second,
    ):
        for process in (server, first, second):
            process.wait_ready()
        # Interleaved, one request each, as fast as the webhook takes them.
        for n in range(5):
            for user in users:
                event = hook.text(user, said[user][n], reply_token=line_fake.api.reply_token(user))
                assert (await _post(server.url, event)).status_code == 200
        url = pg_env["TOMO_DATABASE_URL"]
        await wait_until(
            lambda: (
                _sql(url, "SELECT count(*) FROM inbox_event WHERE status = 'PENDING'") == [(0,)]
            ),
            within=120,
            what="every event to be handled",
        )
        await asyncio.sleep(1.0)

    for user in users:
        stored = _sql(
            url,
            "SELECT text FROM message WHERE customer_id = %s AND role = 'CUSTOMER' ORDER BY id",
            user,
        )
        assert [text for (text,) in stored] == said[user]  # in order, each once
        assert 1 <= len(line_fake.api.to(user)) <= 5  # answered; bursts may join texts
    statuses = _sql(url, "SELECT DISTINCT status FROM inbox_event")
    assert statuses == [("DONE",)]


def _postgres_control() -> list[str] | None:
    """The command that stops/starts the machine's PostgreSQL cluster, if this user may."""
    tool = shutil.which("pg_ctlcluster")
    if tool is None or not Path("/etc/postgresql").is_dir() or os.geteuid() != 0:
        return None
    (version,) = os.listdir("/etc/postgresql")
    return [tool, "--skip-systemctl-redirect", version, "main"]


async def test_postgresql_restarting_under_running_processes_loses_no_message(
    pg_env: dict[str, str], line_fake: LineFake
) -> None:
    control = _postgres_control()
    if control is None:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster, /etc/postgresql and root")
    users = [hook.user_id() for _ in range(3)]
    before, during, after = (hook.text(user, "送料はいくらですか？") for user in users)
    with (
        running(pg_env | {"TOMO_WORKERS": "0"}, "serve", "--port", "0") as server,
        running(pg_env, "worker") as worker,
    ):
        server.wait_ready()
        worker.wait_ready()
        assert (await _post(server.url, before)).status_code == 200
        await wait_until(lambda: line_fake.api.to(users[0]), within=60, what="the first answer")

        await asyncio.to_thread(_run, [*control, "stop", "-m", "fast"])
        try:
            refused = await _post(server.url, during)
        finally:
            await asyncio.to_thread(_run, [*control, "start"])
        assert refused.status_code >= 500  # LINE delivers it again, as it does for errors

        # LINE's redelivery: the same event until it is acknowledged.
        async def redelivered() -> bool:
            return (await _post(server.url, during)).status_code == 200

        await _eventually(redelivered, within=60)
        assert (await _post(server.url, after)).status_code == 200
        for user in users[1:]:
            await wait_until(lambda user=user: line_fake.api.to(user), within=90, what="answers")
        await asyncio.sleep(1.0)
        assert worker.popen.poll() is None and server.popen.poll() is None

    assert [len(line_fake.api.to(user)) for user in users] == [1, 1, 1]


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, timeout=60)


async def _eventually(check: Callable[[], Awaitable[bool]], *, within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not acknowledged within {within} s")
        await asyncio.sleep(0.5)
