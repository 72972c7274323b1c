"""`tomo persona check [FILE|-]` run as a user runs it: JSON findings on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.settings import Settings
from tests.conftest import publish_preset
from tests.connectors.test_cli import tomo


def _publish(data_dir: Path, preset: str = "concierge") -> None:
    publish_preset(Settings(data_dir=data_dir), preset)


def test_check_reads_stdin_and_prints_findings_as_json(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _publish(data_dir)
    done = tomo(subprocess_env, "persona", "check", stdin="花子さん、今だけだよ😊\n")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["version"] == 1
    assert [(f["kind"], f["text"]) for f in report["findings"]] == [
        ("address", "さん"),
        ("forbidden_phrase", "今だけ"),
        ("forbidden_phrase", "だよ"),
        ("emoji", "😊"),
    ]
    assert all(f["reason"] for f in report["findings"])


def test_check_reads_a_file(subprocess_env: dict[str, str], data_dir: Path, tmp_path: Path) -> None:
    _publish(data_dir)
    draft = tmp_path / "mail.txt"
    draft.write_text("いつもご利用いただき、誠にありがとうございます。", encoding="utf-8")
    done = tomo(subprocess_env, "persona", "check", str(draft))
    assert (done.returncode, json.loads(done.stdout)["findings"]) == (0, [])


def test_check_without_a_published_persona_fails_with_a_message(
    subprocess_env: dict[str, str],
) -> None:
    done = tomo(subprocess_env, "persona", "check", stdin="こんにちは")
    assert done.returncode == 2
    assert "tomo persona init" in done.stderr


def test_check_of_a_missing_file_fails_with_its_name(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _publish(data_dir)
    done = tomo(subprocess_env, "persona", "check", "nowhere.txt")
    assert done.returncode == 2
    assert "nowhere.txt" in done.stderr
