"""`tomo customer …` run as a user runs it."""

from __future__ import annotations

import asyncio
import json

from connectors.runtime import open_runtime
from connectors.settings import Settings
from tests.connectors.test_cli import chat_json, tomo


def _seed(env: dict[str, str]) -> None:
    chat_json(env, "hanako", "うちの猫はミルクっていう名前です", "週末は山登りに行くのが好き")
    chat_json(env, "taro", "うちの猫はミルクっていう名前です")


def test_recall_prints_text_kind_score_and_provenance(subprocess_env: dict[str, str]) -> None:
    _seed(subprocess_env)
    done = tomo(subprocess_env, "customer", "recall", "hanako", "猫の名前", "--k", "1", "--json")
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)
    assert item["text"] == "うちの猫はミルクっていう名前です"
    assert item["kind"] == "episodic"
    assert item["author"] == "customer"
    assert item["source_message_id"] is not None
    assert 0 < item["score"] <= 1


def test_export_contains_everything_stored_about_the_customer(
    subprocess_env: dict[str, str],
) -> None:
    _seed(subprocess_env)
    done = tomo(subprocess_env, "customer", "export", "hanako")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["customer"]["id"] == "hanako"
    assert [m["text"] for m in data["messages"] if m["role"] == "customer"] == [
        "うちの猫はミルクっていう名前です",
        "週末は山登りに行くのが好き",
    ]
    assert {m["text"] for m in data["memories"]} == {
        "うちの猫はミルクっていう名前です",
        "週末は山登りに行くのが好き",
    }
    assert all(m["customer_id"] == "hanako" for m in data["memories"] + data["messages"])


def test_forget_leaves_nothing_of_the_customer_and_all_of_another(
    subprocess_env: dict[str, str], settings: Settings
) -> None:
    _seed(subprocess_env)
    done = tomo(subprocess_env, "customer", "forget", "hanako")
    assert done.returncode == 0, done.stderr
    assert "0 vectors left" in done.stdout

    async def inspect() -> tuple[object, ...]:
        async with open_runtime(settings) as runtime:
            store = runtime.store
            return (
                await store.customer("hanako"),
                await store.recent_messages("hanako"),
                await store.memory("hanako").records(),
                await store.memory("hanako").vector_count(),
                len(await store.memory("taro").records()),
                await store.memory("taro").vector_count(),
                await store.audit_log("hanako"),
            )

    customer, messages, memories, vectors, taros, taro_vectors, audit = asyncio.run(inspect())
    assert (customer, messages, memories, vectors) == (None, [], [], 0)
    assert (taros, taro_vectors) == (1, 1)
    (entry,) = audit  # type: ignore[misc]
    assert entry.action == "forget_customer"
    assert entry.actor.startswith("cli:")
    assert entry.count == 6  # 2 customer messages + 2 replies + 2 memories
    assert "ミルク" not in entry.detail


def test_an_unknown_customer_is_reported(subprocess_env: dict[str, str]) -> None:
    for command in ("show", "export", "forget"):
        done = tomo(subprocess_env, "customer", command, "nobody")
        assert done.returncode == 1
        assert "nobody" in done.stderr
