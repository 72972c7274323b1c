"""The regression replay: test messages under draft and published, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from persona.presets import build_persona
from persona.regression import replay
from persona.schema import Persona


async def _echo_first_person(persona: Persona, message: str) -> Sequence[str]:
    return (f"{persona.voice.first_person}は「{message}」を聞いたよ",)


async def test_every_test_message_is_replayed_under_both_personas() -> None:
    published = build_persona("shinyu")
    draft = published.model_copy(
        update={"voice": published.voice.model_copy(update={"first_person": "ボク"})}
    )
    report = await replay(draft, published, _echo_first_person)
    assert [case.message for case in report.cases] == list(draft.test_messages)
    first = report.cases[0]
    assert first.before is not None
    assert (first.before.messages[0][:1], first.after.messages[0][:2]) == ("私", "ボク")
    assert all(case.changed for case in report.cases)


async def test_draft_replies_are_tone_checked() -> None:
    draft = build_persona("concierge")

    async def casual(persona: Persona, message: str) -> Sequence[str]:
        return ("わかったよ😊",)

    report = await replay(draft, None, casual, messages=["こんにちは"])
    (case,) = report.cases
    assert case.before is None
    assert [f.kind.value for f in case.after.findings] == ["register", "emoji"]
    assert report.findings == 2
    assert report.to_json()["cases"][0]["after"]["findings"][0]["kind"] == "register"


async def test_identical_replies_are_not_marked_changed() -> None:
    persona = build_persona("shinyu")
    report = await replay(persona, persona, _echo_first_person, messages=["やっほー"])
    assert [case.changed for case in report.cases] == [False]
