"""The Japanese emotion lexicon: ML-Ask over MeCab + IPAdic from wheels, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.emotion import EmotionReader


def test_anger_words_are_found() -> None:
    assert "ikari" in EmotionReader().read("本当に腹が立つ")


def test_a_message_without_emotion_words_gives_nothing() -> None:
    assert EmotionReader().read("送料はいくらですか") == {}


def test_reading_writes_no_cache_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    EmotionReader().read("悲しくて眠れない")
    assert list(tmp_path.iterdir()) == []
