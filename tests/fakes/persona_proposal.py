"""What a language model drafting a persona answers: a 八百屋 persona, as JSON text.

Built from the 親友 preset with its own relationship, first person and greeting, so
that a test can tell the model's voice from any preset's.
"""

from __future__ import annotations

import json
from typing import Any

from persona.presets import build_persona

RELATIONSHIP = "ふらっと立ち寄れる近所の八百屋のような関係"
COMMITMENT = "朝採れ: その日の朝に採れた野菜だけを並べる"
FIRST_PERSON = "おいら"
GREETING = "いらっしゃい！今日は朝採れのトマトがいい顔してるよ😊"


def yaoya_proposal() -> dict[str, Any]:
    """The persona fields a model writes (no brand, commitments or FAQ)."""
    proposal = build_persona("shinyu").model_dump(
        mode="json", exclude={"brand", "commitments", "faq"}
    )
    proposal["relationship"] = {
        "word": "八百屋",
        "statement": "お客様と近所の八百屋のような関係を築く",
        "meaning": "ふらっと立ち寄って世間話ができて、旬のことを気軽に聞ける存在。",
        "aliases": [],
    }
    proposal["voice"]["first_person"] = FIRST_PERSON
    proposal["examples"][0]["tomo"] = GREETING
    return proposal


def as_answer(proposal: dict[str, Any]) -> str:
    """How chat models often wrap JSON: in a fenced block."""
    return "```json\n" + json.dumps(proposal, ensure_ascii=False, indent=1) + "\n```"
