"""The tone check: does a text speak in the persona's voice?

`check_tone(text, persona)` is a pure function. It reads any text — a reply
tomo made, a staff message, another department's email draft — and returns
findings, each with the span it is about (code-point offsets into the text), a
kind, and a short reason in Japanese:

- register: the politeness level does not match the voice (タメ口 in a です・ます
  voice, です・ます in a タメ口 voice, a 敬語 voice without 敬語, …);
- forbidden_phrase: a phrase in `voice.never_phrases`;
- pushy_sales: urgency, scarcity, fear of loss, promised results or an
  unsolicited push, named with the persona boundary it goes against;
- emoji: emoji where the voice uses none, or more than the voice allows;
- address: the customer addressed with another suffix or pronoun than the
  voice's (〜さん where 〜様 is expected).

Quoted text (「…」 and 『…』) and the persona's own FAQ answers are not tomo's
voice: they are the customer's words and the brand's facts, quoted verbatim,
so nothing inside them is reported. The patterns and the reasons live in
`persona/data/tone.yaml`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml

from persona.schema import EmojiPolicy, Persona, Register


class FindingKind(StrEnum):
    REGISTER = "register"
    FORBIDDEN_PHRASE = "forbidden_phrase"
    PUSHY_SALES = "pushy_sales"
    EMOJI = "emoji"
    ADDRESS = "address"


@dataclass(frozen=True)
class Finding:
    """One place where a text leaves the persona's voice."""

    start: int
    end: int
    kind: FindingKind
    reason: str
    text: str  # text[start:end]

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "reason": self.reason,
        }


# -- the data file --------------------------------------------------------------


@dataclass(frozen=True)
class _PushyCategory:
    name: str
    pattern: re.Pattern[str]
    reason: str
    boundary_keywords: tuple[str, ...]


@dataclass(frozen=True)
class _Lexicon:
    polite_endings: re.Pattern[str]
    casual_endings: re.Pattern[str]
    neutral_endings: re.Pattern[str]
    neutral_sentences: frozenset[str]
    honorific_markers: re.Pattern[str]
    stiff_markers: re.Pattern[str]
    pushy: tuple[_PushyCategory, ...]
    suffixes: dict[str, str]
    pronouns: tuple[str, ...]
    not_address: tuple[str, ...]
    reasons: dict[str, str]


@functools.cache
def _lexicon() -> _Lexicon:
    raw: Any = yaml.safe_load(
        resources.files("persona").joinpath("data", "tone.yaml").read_text(encoding="utf-8")
    )
    register, address = raw["register"], raw["address"]
    return _Lexicon(
        polite_endings=re.compile(register["polite_endings"]),
        casual_endings=re.compile(register["casual_endings"]),
        neutral_endings=re.compile(register["neutral_endings"]),
        neutral_sentences=frozenset(register["neutral_sentences"]),
        honorific_markers=re.compile(register["honorific_markers"]),
        stiff_markers=re.compile(register["stiff_markers"]),
        pushy=tuple(
            _PushyCategory(
                category["category"],
                re.compile("|".join(f"(?:{p})" for p in category["patterns"])),
                category["reason"],
                tuple(category["boundary_keywords"]),
            )
            for category in raw["pushy_sales"]
        ),
        suffixes=dict(address["suffixes"]),
        pronouns=tuple(address["pronouns"]),
        not_address=tuple(address["not_address"]),
        reasons=dict(raw["reasons"]),
    )


# -- normalising while keeping offsets ------------------------------------------


@dataclass(frozen=True)
class _Normalised:
    """NFKC text with, for each of its characters, the offset it came from."""

    text: str
    origin: tuple[int, ...]
    length: int  # of the original text

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised [start, end)."""
        first = self.origin[start]
        last = self.origin[end - 1] + 1 if end > start else first
        return first, last


def _normalise(text: str) -> _Normalised:
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for normalised in unicodedata.normalize("NFKC", char):
            chars.append(normalised)
            origin.append(index)
    return _Normalised("".join(chars), tuple(origin), len(text))


# -- emoji ------------------------------------------------------------------------

_EMOJI_CHAR = (
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, symbols and more
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats (☀ ✨ ❤ ♪ ☆)
    "\u2300-\u23ff"  # ⌚ ⏰
    "\u2b00-\u2bff"  # ⭐ ⬆
    "\u3297\u3299"  # ㊗ ㊙
)
_EMOJI = re.compile(
    f"[{_EMOJI_CHAR}](?:[\ufe0f\U0001f3fb-\U0001f3ff]|\u200d[{_EMOJI_CHAR}])*\ufe0f?"
)
# What may stand after the last emoji of a message and still leave it "at the end".
_TRAILING = "。．.！!？?…‥〜~ーｰ―」』)）\"'　 \t\n"

_SENTENCE_END = re.compile(f"[。．！!？?…‥\\n]+|{_EMOJI.pattern}")
_STRIP = _TRAILING + "、,wｗ笑"
_QUOTE = re.compile(r"「[^「」]*」|『[^『』]*』")
_PARAGRAPH = re.compile(r"\n[ \t　]*\n")
# A list item (「- 猫を飼っている」) is a fragment, not a sentence with a register.
_LIST_ITEM = re.compile(r"(?m)^[ \t　]*[-・•*＊][ \t　].*$")


# -- the check ----------------------------------------------------------------------


def check_tone(text: str, persona: Persona) -> list[Finding]:
    """Everything in `text` that does not sound like `persona`, in order of position."""
    exempt = _exempt_spans(text, persona)
    normalised = _normalise(text)
    findings: list[Finding] = []
    findings += _forbidden(text, normalised, persona)
    findings += _pushy(text, normalised, persona, covered=findings)
    forbidden = [finding.span for finding in findings]
    # A never-phrase or sales push that is also a register slip (だよ, ご購入ください)
    # is said once.
    findings += [
        finding
        for finding in _register(text, persona)
        if not _overlaps_any(finding.start, finding.end, forbidden)
    ]
    findings += _emoji(text, persona)
    findings += _address(text, normalised, persona)
    kept = [f for f in findings if not _inside_any(f.start, f.end, exempt)]
    return sorted(kept, key=lambda f: (f.start, f.end, f.kind.value))


def _finding(text: str, start: int, end: int, kind: FindingKind, reason: str) -> Finding:
    return Finding(start, end, kind, reason, text[start:end])


def _exempt_spans(text: str, persona: Persona) -> list[tuple[int, int]]:
    spans = [match.span() for match in _QUOTE.finditer(text)]
    for entry in persona.faq:
        answer = entry.answer.strip()
        if not answer:
            continue
        start = text.find(answer)
        while start != -1:
            spans.append((start, start + len(answer)))
            start = text.find(answer, start + 1)
    return spans


def _inside_any(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(outer_start <= start and end <= outer_end for outer_start, outer_end in spans)


def _overlaps_any(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < outer_end and outer_start < end for outer_start, outer_end in spans)


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    if not needle:
        return
    start = haystack.find(needle)
    while start != -1:
        yield start
        start = haystack.find(needle, start + len(needle))


def _forbidden(text: str, normalised: _Normalised, persona: Persona) -> list[Finding]:
    template = _lexicon().reasons["forbidden"]
    found = []
    for phrase in persona.voice.never_phrases:
        needle = unicodedata.normalize("NFKC", phrase).strip().lower()
        for position in _find_all(normalised.text.lower(), needle):
            start, end = normalised.span(position, position + len(needle))
            found.append(
                _finding(
                    text, start, end, FindingKind.FORBIDDEN_PHRASE, template.format(phrase=phrase)
                )
            )
    return found


def _boundary(persona: Persona, keywords: Sequence[str]) -> str | None:
    for boundary in persona.boundaries:
        if any(keyword in boundary for keyword in keywords):
            return boundary
    return None


def _pushy(
    text: str, normalised: _Normalised, persona: Persona, *, covered: Sequence[Finding]
) -> list[Finding]:
    lexicon = _lexicon()
    already = [finding.span for finding in covered]
    found = []
    for category in lexicon.pushy:
        boundary = _boundary(persona, category.boundary_keywords)
        reason = (
            lexicon.reasons["pushy_with_boundary"].format(
                what=category.reason, boundary=boundary.rstrip("。")
            )
            if boundary
            else lexicon.reasons["pushy"].format(what=category.reason)
        )
        for match in category.pattern.finditer(normalised.text):
            start, end = normalised.span(*match.span())
            if _overlaps_any(start, end, already):
                continue  # the persona's own never-phrase already says it
            already.append((start, end))
            found.append(_finding(text, start, end, FindingKind.PUSHY_SALES, reason))
    return found


# -- register ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int  # after stripping trailing punctuation, emoji and laughter
    text: str


def _sentences(text: str) -> list[_Sentence]:
    # Quotes are blanked out (same length) so that 「…」 neither ends nor counts as a sentence.
    def blank(match: re.Match[str]) -> str:
        return "\u3000" * len(match.group())

    blanked = _LIST_ITEM.sub(blank, _QUOTE.sub(blank, text))
    sentences = []
    start = 0
    for boundary in [*_SENTENCE_END.finditer(blanked), None]:
        end = boundary.start() if boundary else len(blanked)
        piece = blanked[start:end]
        stripped = piece.rstrip(_STRIP)
        lead = len(stripped) - len(stripped.lstrip(_STRIP))
        if stripped.strip():
            sentences.append(_Sentence(start + lead, start + len(stripped), stripped[lead:]))
        if boundary:
            start = boundary.end()
    return sentences


def _register_examples(persona: Persona) -> str:
    endings = [ending.lstrip("〜~") for ending in persona.voice.sentence_endings[:3]]
    return "・".join(f"〜{ending}" for ending in endings) or "〜だよ・〜だね"


def _register(text: str, persona: Persona) -> list[Finding]:
    lexicon = _lexicon()
    reasons = lexicon.reasons
    politeness = persona.voice.politeness
    found: list[Finding] = []
    polite_sentences: list[_Sentence] = []
    honorific_seen = False
    for sentence in _sentences(text):
        body = unicodedata.normalize("NFKC", sentence.text).strip()
        if body in lexicon.neutral_sentences or lexicon.neutral_endings.search(body):
            continue
        honorific = lexicon.honorific_markers.search(sentence.text)
        honorific_seen = honorific_seen or honorific is not None
        polite = lexicon.polite_endings.search(sentence.text)
        casual = None if polite else lexicon.casual_endings.search(sentence.text)
        if polite:
            polite_sentences.append(sentence)

        def at(match: re.Match[str], sentence: _Sentence = sentence) -> tuple[int, int]:
            return sentence.start + match.start(), sentence.start + match.end()

        if politeness is Register.CASUAL:
            if honorific:
                start, end = at(honorific)
                reason = reasons["honorific_in_casual"]
            elif polite:
                start, end = at(polite)
                reason = reasons["polite_in_casual"]
            else:
                continue
            examples = _register_examples(persona)
            found.append(
                _finding(
                    text,
                    start,
                    end,
                    FindingKind.REGISTER,
                    reason.format(ending=text[start:end], examples=examples),
                )
            )
        elif casual:
            start, end = at(casual)
            key = "casual_in_polite" if politeness is Register.POLITE else "casual_in_honorific"
            found.append(
                _finding(
                    text,
                    start,
                    end,
                    FindingKind.REGISTER,
                    reasons[key].format(ending=text[start:end]),
                )
            )
        elif politeness is Register.POLITE:
            stiff = lexicon.stiff_markers.search(sentence.text)
            if stiff:
                start, end = at(stiff)
                found.append(
                    _finding(
                        text,
                        start,
                        end,
                        FindingKind.REGISTER,
                        reasons["stiff_in_polite"].format(ending=text[start:end]),
                    )
                )
    if politeness is Register.HONORIFIC and len(polite_sentences) >= 2 and not honorific_seen:
        first = polite_sentences[0]
        found.append(
            _finding(text, first.start, first.end, FindingKind.REGISTER, reasons["no_honorific"])
        )
    return found


# -- emoji ------------------------------------------------------------------------------------


def _emoji(text: str, persona: Persona) -> list[Finding]:
    reasons = _lexicon().reasons
    policy = persona.voice.emoji
    if policy is EmojiPolicy.OFTEN:
        return []
    found = []
    if policy is EmojiPolicy.NONE:
        for match in _EMOJI.finditer(text):
            found.append(_finding(text, *match.span(), FindingKind.EMOJI, reasons["emoji_none"]))
        return found
    # Sparing: at most one per message (paragraph), at the end of it or of one of its lines.
    start = 0
    paragraphs = [*_PARAGRAPH.finditer(text), None]
    for separator in paragraphs:
        end = separator.start() if separator else len(text)
        matches = list(_EMOJI.finditer(text, start, end))
        for index, match in enumerate(matches):
            # The end of a line counts as the end (a message may be a short list).
            rest_of_line = text[match.end() : end].split("\n", 1)[0]
            at_end = not _EMOJI.sub("", rest_of_line).strip(_TRAILING)
            if index > 0:
                reason = reasons["emoji_sparing_extra"]
            elif not at_end:
                reason = reasons["emoji_sparing_middle"]
            else:
                continue
            found.append(_finding(text, *match.span(), FindingKind.EMOJI, reason))
        if separator:
            start = separator.end()
    return found


# -- address ---------------------------------------------------------------------------------

_NAME_CHAR = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u4e00-\u9fff\u3005A-Za-z0-9}]")
_HIRAGANA = re.compile(r"[\u3041-\u309f]")


def _address(text: str, normalised: _Normalised, persona: Persona) -> list[Finding]:
    lexicon = _lexicon()
    voice = persona.voice
    plain = normalised.text
    expected_suffix = voice.address.replace("{name}", "").strip()
    expected_kind = lexicon.suffixes.get(expected_suffix, expected_suffix)
    ignored: list[tuple[int, int]] = []
    for word in lexicon.not_address:
        for position in _find_all(plain, word):
            ignored.append((position, position + len(word)))
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    for pronoun in lexicon.pronouns:
        if pronoun == voice.address_unknown:
            continue
        for position in _find_all(plain, pronoun):
            end = position + len(pronoun)
            inside_word = position > 0 and _HIRAGANA.match(plain[position - 1])
            if _HIRAGANA.match(pronoun[0]) and inside_word:
                continue  # すきみたい is not きみ
            if _overlaps_any(position, end, ignored):
                continue
            taken.append((position, end))
            start, stop = normalised.span(position, end)
            found.append(
                _finding(
                    text,
                    start,
                    stop,
                    FindingKind.ADDRESS,
                    lexicon.reasons["address_pronoun"].format(
                        used=pronoun, expected=voice.address_unknown
                    ),
                )
            )

    suffixes = sorted(lexicon.suffixes, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(suffix) for suffix in suffixes))
    for match in pattern.finditer(plain):
        position, end = match.span()
        suffix = match.group()
        if lexicon.suffixes[suffix] == expected_kind:
            continue
        if position == 0 or not _NAME_CHAR.match(plain[position - 1]):
            continue  # no name before it
        if _overlaps_any(position, end, ignored) or _overlaps_any(position, end, taken):
            continue
        start, stop = normalised.span(position, end)
        found.append(
            _finding(
                text,
                start,
                stop,
                FindingKind.ADDRESS,
                lexicon.reasons["address_suffix"].format(
                    used=f"〜{suffix}", expected=f"〜{expected_suffix}"
                ),
            )
        )
    return found
