"""`tomo escalation check` and `tomo bench escalation`, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from bot.escalation_policy import default_policy_text
from tests.connectors.test_cli import tomo


def check(env: dict[str, str], *lines: str) -> list[dict[str, object]]:
    done = tomo(env, "escalation", "check", "--jsonl", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_check_writes_one_json_object_per_message(subprocess_env: dict[str, str]) -> None:
    answers = check(
        subprocess_env,
        "この香り、死ぬほど好き",
        "返品じゃなくて、もう1個買いたい",
        "人と話すのが苦手なのでLINEで助かる",
        "",
        "もう消えてしまいたい",
    )
    assert answers == [
        {"text": "この香り、死ぬほど好き", "escalate": False, "reasons": [], "priority": None},
        {
            "text": "返品じゃなくて、もう1個買いたい",
            "escalate": False,
            "reasons": [],
            "priority": None,
        },
        {
            "text": "人と話すのが苦手なのでLINEで助かる",
            "escalate": False,
            "reasons": [],
            "priority": None,
        },
        {
            "text": "もう消えてしまいたい",
            "escalate": True,
            "reasons": ["crisis"],
            "priority": "urgent",
        },
    ]


def test_check_without_jsonl_shows_what_the_customer_is_told(
    subprocess_env: dict[str, str],
) -> None:
    done = tomo(subprocess_env, "escalation", "check", stdin="死にたい\n")
    assert done.returncode == 0, done.stderr
    assert "urgent" in done.stdout
    assert "0570-783-556" in done.stdout


def test_check_uses_the_company_policy_next_to_the_persona(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    own = default_policy_text().replace("      - 特別に\n", "      - 特別に\n      - 名入れ\n")
    (data_dir / "persona").mkdir(parents=True)
    (data_dir / "persona" / "escalation.yaml").write_text(own, encoding="utf-8")
    (answer,) = check(subprocess_env, "名入れはできますか")
    assert answer["reasons"] == ["needs_judgment"]


def test_a_bad_company_policy_fails_naming_the_field(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    (data_dir / "persona").mkdir(parents=True)
    bad = default_policy_text().replace("  legal: high", "  legal: soon")
    (data_dir / "persona" / "escalation.yaml").write_text(bad, encoding="utf-8")
    done = tomo(subprocess_env, "escalation", "check", "--jsonl", stdin="こんにちは\n")
    assert done.returncode == 2
    assert "priorities.legal" in done.stderr


def test_bench_reports_precision_recall_and_false_escalations(
    subprocess_env: dict[str, str],
) -> None:
    done = tomo(subprocess_env, "bench", "escalation")
    assert done.returncode == 0, done.stderr
    for column in ("precision", "recall", "false escalations", "p95 ms", "needs_judgment"):
        assert column in done.stdout
