"""`tomo persona …` run as a user runs it: check (JSON findings), init with a language
model, publish with the regression replay, roll back — audited as the CLI user."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.persona_words import say
from connectors.runtime import open_runtime
from connectors.settings import Settings
from memory.models import AuditEntry
from persona.presets import build_persona
from persona.repository import PersonaRepository
from tests.conftest import publish_preset
from tests.connectors.test_cli import tomo
from tests.fakes.http_server import serve
from tests.fakes.openai_server import FakeOpenAI, ScriptedReply
from tests.fakes.persona_proposal import (
    COMMITMENT,
    FIRST_PERSON,
    RELATIONSHIP,
    as_answer,
    yaoya_proposal,
)


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


# -- init with a language model, publish and roll back: the admin's rules on the CLI ----


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve(fake.app()) as base_url:
        yield fake, f"{base_url}/v1"


def test_init_with_a_language_model_saves_its_persona_as_a_draft_and_shows_it(
    subprocess_env: dict[str, str], data_dir: Path, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    fake, base_url = fake_llm
    fake.route = lambda body: ScriptedReply(as_answer(yaoya_proposal()))
    env = {
        **subprocess_env,
        "TOMO_LLM": "openai:gpt-4o-mini",
        "TOMO_LLM_BASE_URL": base_url,
        "TOMO_LLM_API_KEY": "sk-test",
    }

    done = tomo(env, "persona", "init", "--relationship", RELATIONSHIP, "--commitment", COMMITMENT)

    assert done.returncode == 0, done.stderr
    assert FIRST_PERSON in done.stdout
    assert "tomo persona publish" in done.stdout
    repository = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
    draft = repository.draft()
    assert (draft.voice.first_person, draft.commitments[0].title) == (FIRST_PERSON, "朝採れ")
    assert repository.published_version() is None
    (request,) = fake.requests
    human = request["messages"][-1]["content"]
    assert RELATIONSHIP in human and "その日の朝に採れた野菜だけを並べる" in human


def _draft_with_findings(data_dir: Path) -> None:
    """Published 親友, and a draft whose farewell is in another register (a tone finding)."""
    _publish(data_dir, "shinyu")
    repository = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
    draft = repository.draft()
    lines = draft.lines.model_copy(update={"farewell": ("本日はありがとうございました。",)})
    repository.save_draft(draft.model_copy(update={"lines": lines}))


async def _audit(data_dir: Path) -> list[AuditEntry]:
    async with open_runtime(Settings(data_dir=data_dir)) as runtime:
        return await runtime.store.audit_log()


def test_publish_replays_the_test_messages_and_refuses_a_draft_with_findings(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _draft_with_findings(data_dir)

    done = tomo(subprocess_env, "persona", "publish", "--json")

    assert done.returncode == 1
    assert "--force" in done.stderr
    outcome = json.loads(done.stdout)
    assert (outcome["published"], outcome["regression"]["findings"]) == (False, 1)
    (farewell,) = [case for case in outcome["regression"]["cases"] if case["message"] == "またね〜"]
    assert farewell["after"]["reply"] == ["本日はありがとうございました。"]
    assert farewell["before"]["reply"] != farewell["after"]["reply"]
    assert [f["kind"] for f in farewell["after"]["findings"]] == ["register"]
    assert PersonaRepository(Settings(data_dir=data_dir).persona_dir).published_version() == 1


def test_publish_shows_the_replies_before_and_after_side_by_side(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _draft_with_findings(data_dir)

    done = tomo({**subprocess_env, "COLUMNS": "200"}, "persona", "publish")

    assert done.returncode == 1
    header = done.stdout.splitlines()[2]
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        say(f"table.{column}") for column in ("message", "before", "after", "findings")
    ]
    (farewell,) = [line for line in done.stdout.splitlines() if "またね〜" in line]
    assert "本日はありがとうございました。" in farewell


async def test_publish_with_force_publishes_and_the_audit_log_names_the_cli_user(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _draft_with_findings(data_dir)

    done = tomo(subprocess_env, "persona", "publish", "--force")

    assert done.returncode == 0, done.stderr
    assert PersonaRepository(Settings(data_dir=data_dir).persona_dir).published_version() == 2
    entry = (await _audit(data_dir))[-1]
    assert (entry.actor, entry.action) == (f"cli:{getpass.getuser()}", "persona_published")
    assert "version=2" in entry.detail and "forced=true" in entry.detail


async def test_rollback_is_audited_with_the_cli_user(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    _draft_with_findings(data_dir)
    PersonaRepository(Settings(data_dir=data_dir).persona_dir).publish()

    done = tomo(subprocess_env, "persona", "rollback", "1")

    assert done.returncode == 0, done.stderr
    assert PersonaRepository(Settings(data_dir=data_dir).persona_dir).published_version() == 1
    entry = (await _audit(data_dir))[-1]
    assert (entry.actor, entry.action) == (f"cli:{getpass.getuser()}", "persona_rolled_back")
    assert entry.detail == "version=1 from=2"


def test_init_offline_takes_the_commitments_from_a_file_word_for_word(
    subprocess_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    file = tmp_path / "commitments.txt"
    file.write_text(f"{COMMITMENT}\n\n量り売り: 必要な分だけ買える\n", encoding="utf-8")

    done = tomo(
        subprocess_env, "persona", "init", "--relationship", "親友", "--commitments", str(file)
    )

    assert done.returncode == 0, done.stderr
    published = PersonaRepository(Settings(data_dir=data_dir).persona_dir).published()
    assert [(c.title, c.body) for c in published.commitments] == [
        ("朝採れ", "その日の朝に採れた野菜だけを並べる"),
        ("量り売り", "必要な分だけ買える"),
    ]


def test_chat_leaves_an_unpublished_draft_alone_and_says_to_publish_it(
    subprocess_env: dict[str, str], data_dir: Path
) -> None:
    repository = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
    repository.save_draft(build_persona("concierge"))

    done = tomo(subprocess_env, "chat", "--json", stdin="こんにちは\n")

    assert done.returncode == 1
    assert "tomo persona publish" in done.stderr
    assert repository.published_version() is None
    assert repository.draft().relationship.word == "コンシェルジュ"
