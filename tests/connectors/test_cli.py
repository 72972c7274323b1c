"""`tomo` run as a user runs it: a real subprocess, its own data folder, no network."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOMO = shutil.which("tomo", path=str(Path(sys.executable).parent))


def tomo(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert TOMO, "the tomo console script is installed beside this Python"
    return subprocess.run(
        [TOMO, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )


def chat_json(env: dict[str, str], customer: str, *lines: str) -> list[dict[str, object]]:
    done = tomo(env, "chat", "--customer", customer, "--json", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_chat_remembers_the_customer_across_runs(subprocess_env: dict[str, str]) -> None:
    first = chat_json(subprocess_env, "花子", "こんにちは", "うちの猫はミルクっていう名前です")
    second = chat_json(subprocess_env, "花子", "うちの猫の名前、覚えてる？")

    assert len(first) == 2
    assert all(set(answer) >= {"reply", "unsure"} for answer in first + second)
    assert "ミルク" in "".join(second[0]["reply"])  # type: ignore[arg-type]


def test_chat_starts_with_the_demo_persona_and_says_so(subprocess_env: dict[str, str]) -> None:
    done = tomo(subprocess_env, "chat", "--json", stdin="こんにちは\n")
    assert done.returncode == 0, done.stderr
    assert "親友" in done.stderr
    (answer,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert answer["unsure"] is False


def test_the_same_input_under_two_presets_gives_different_voices(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    replies = []
    for word in ("親友", "コンシェルジュ"):
        env = {**subprocess_env, "TOMO_DATA_DIR": str(tmp_path / word)}
        assert tomo(env, "persona", "init", "--relationship", word).returncode == 0
        replies.append(chat_json(env, "花子", "ありがとう！")[0]["reply"])
    assert replies[0] != replies[1]


def test_persona_init_then_show(subprocess_env: dict[str, str]) -> None:
    init = tomo(subprocess_env, "persona", "init", "--relationship", "家族のような見守り")
    shown = tomo(subprocess_env, "persona", "show")
    as_yaml = tomo(subprocess_env, "persona", "show", "--yaml")

    assert init.returncode == 0, init.stderr
    assert "家族" in init.stdout
    assert shown.returncode == 0, shown.stderr
    assert "つむぎ" in shown.stdout
    assert "relationship:" in as_yaml.stdout
    assert "word: 家族" in as_yaml.stdout


def test_persona_init_refuses_to_overwrite_without_force(subprocess_env: dict[str, str]) -> None:
    assert tomo(subprocess_env, "persona", "init", "--relationship", "親友").returncode == 0
    again = tomo(subprocess_env, "persona", "init", "--relationship", "応援団")
    forced = tomo(subprocess_env, "persona", "init", "--relationship", "応援団", "--force")

    assert again.returncode == 1
    assert "--force" in again.stderr
    assert forced.returncode == 0
    assert "応援団" in tomo(subprocess_env, "persona", "show").stdout


def test_persona_show_before_init_says_what_to_run(subprocess_env: dict[str, str]) -> None:
    done = tomo(subprocess_env, "persona", "show")
    assert done.returncode == 1
    assert "tomo persona init" in done.stderr


@pytest.mark.parametrize("spec", ["nonsense"])
def test_a_bad_llm_setting_fails_at_start_with_its_name(
    subprocess_env: dict[str, str], spec: str
) -> None:
    env = {**subprocess_env, "TOMO_LLM": spec}
    done = tomo(env, "chat", "--json", stdin="こんにちは\n")
    assert done.returncode != 0
    assert "TOMO_LLM" in done.stderr


def test_bench_reports_offline_turn_latency(subprocess_env: dict[str, str]) -> None:
    done = tomo(subprocess_env, "bench", "turn", "--customers", "1")
    assert done.returncode == 0, done.stderr
    assert "p95 ms" in done.stdout
    assert "7" in done.stdout  # one customer, seven turns
