"""`tomo handoff …` run as a user runs it: a desk without Slack."""

from __future__ import annotations

import json

from tests.connectors.test_cli import chat_json, tomo


def test_a_handoff_is_listed_and_given_back_to_the_bot(subprocess_env: dict[str, str]) -> None:
    first = chat_json(subprocess_env, "hanako", "返金してください", "まだですか？")
    assert first[1]["reply"] == []  # the bot is silent while the handoff is open

    listed = tomo(subprocess_env, "handoff", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (handoff,) = json.loads(listed.stdout)
    assert (handoff["customer_id"], handoff["state"], handoff["reasons"]) == (
        "hanako",
        "waiting_for_staff",
        ["money_contract"],
    )

    back = tomo(subprocess_env, "handoff", "back", handoff["id"])
    assert back.returncode == 0, back.stderr
    again = chat_json(subprocess_env, "hanako", "送料はいくらですか？")
    assert "送料" in "".join(again[0]["reply"])  # type: ignore[arg-type]
    assert json.loads(tomo(subprocess_env, "handoff", "list", "--json").stdout) == []


def test_closing_a_closed_handoff_says_so(subprocess_env: dict[str, str]) -> None:
    chat_json(subprocess_env, "taro", "人と話したいです")
    (handoff,) = json.loads(tomo(subprocess_env, "handoff", "list", "--json").stdout)

    assert tomo(subprocess_env, "handoff", "resolve", handoff["id"]).returncode == 0
    again = tomo(subprocess_env, "handoff", "resolve", handoff["id"])

    assert again.returncode == 1
    assert "already closed" in again.stderr
