"""A handoff laid out in Slack's Block Kit, and the words of its thread: pure functions.

The words live in `connectors/slack/data/words.yaml`. Customer text is
escaped for Slack's mrkdwn (&, <, >) and cut to Block Kit's limits, so what a
customer writes can never break or mention anything in Slack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.handoff import HandoffCard, HintKind, PostKind, StaffHint, StaffMember, ThreadPost
from memory.handoffs import HandoffState

CLAIM = "tomo_claim"
BACK_TO_BOT = "tomo_back_to_bot"
RESOLVE = "tomo_resolve"
SEND_SUGGESTION = "tomo_send_suggestion"
ACTIONS = (CLAIM, BACK_TO_BOT, RESOLVE, SEND_SUGGESTION)

SECTION_LIMIT = 3000  # characters of a section's text
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
MESSAGE_LIMIT = 400  # one quoted message on the card
TEXT_LIMIT = 3500  # a thread message (Slack truncates past 40,000; keep threads readable)


@cache
def words() -> dict[str, Any]:
    text = resources.files("connectors.slack").joinpath("data", "words.yaml")
    loaded: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return loaded


def escape(text: str) -> str:
    """Text as Slack shows it literally (mrkdwn control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]+))?>")


def unescape(text: str) -> str:
    """What a person typed in Slack, as the customer should read it: Slack's links
    (<https://…|label>) become plain text, its escapes are undone."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        shown = target.split(":", 1)[1] if target.startswith(("mailto:", "tel:")) else target
        return shown if not label or label == shown else f"{label} ({shown})"

    text = _LINK.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(staff: StaffMember | None) -> str:
    if staff is None:
        return "—"
    return f"<@{staff.id}>"


@dataclass(frozen=True)
class Layout:
    """The chat.postMessage / chat.update arguments of a card."""

    text: str  # the notification and fallback text
    blocks: list[dict[str, Any]]


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def state_line(card: HandoffCard) -> str:
    w = words()["states"]
    who = card.claimed_by if card.state is HandoffState.STAFF else card.closed_by
    return str(w[card.state.value]).format(staff=mention(who or card.claimed_by))


def lay_out(card: HandoffCard, zone: ZoneInfo) -> Layout:
    """The card: who, why, what was said, what tomo remembers, and the buttons."""
    w = words()
    c = w["card"]
    name = card.customer_name or c["unnamed"]
    reasons = "、".join(w["reasons"].get(reason.value, reason.value) for reason in card.reasons)
    priority = w["priorities"][card.priority.value]
    days = (card.now.astimezone(zone).date() - card.known_since.astimezone(zone).date()).days
    known = c["known_today"] if days <= 0 else c["known_days"].format(days=days)
    channel = w["channels"].get(card.channel, card.channel)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": cut(c["header"].format(priority=priority, name=name), HEADER_LIMIT),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                _field(f"{c['customer']}\n{escape(name)}（`{escape(card.customer_id)}`）"),
                _field(f"{c['channel']}\n{channel}"),
                _field(f"{c['reasons']}\n{reasons or '—'}"),
                _field(f"{c['priority']}\n{priority}"),
                _field(f"{c['known']}\n{known}"),
                _field(f"{c['state']}\n{state_line(card)}"),
            ],
        },
    ]
    if card.findings:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(escape("\n".join(card.findings)))],
            }
        )
    if card.staff_expected:
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(c["after_hours"].format(when=card.staff_expected))],
            }
        )
    blocks.append(_section(f"{c['messages']}\n{_messages(card, zone) or c['no_messages']}"))
    memories = "\n".join(f"• {escape(cut(text, MESSAGE_LIMIT))}" for text in card.memories)
    blocks.append(_section(f"{c['memories']}\n{memories or c['no_memories']}"))
    open_now = card.state in (HandoffState.WAITING, HandoffState.STAFF)
    if open_now and card.suggested_reply:
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(f"{c['suggestion']}\n> {escape(card.suggested_reply)}"),
                "accessory": _button(
                    SEND_SUGGESTION, w["buttons"]["send_suggestion"], card.handoff_id
                ),
            }
        )
    if open_now:
        buttons = []
        if card.state is HandoffState.WAITING:
            buttons.append(_button(CLAIM, w["buttons"]["claim"], card.handoff_id, "primary"))
        buttons.append(_button(BACK_TO_BOT, w["buttons"]["back_to_bot"], card.handoff_id))
        buttons.append(_button(RESOLVE, w["buttons"]["resolve"], card.handoff_id))
        blocks.append({"type": "actions", "block_id": "tomo_handoff", "elements": buttons})
        blocks.append({"type": "context", "elements": [_mrkdwn(c["how_to"])]})
    text = c["fallback"].format(name=name, reasons=reasons or "—")
    return Layout(f"{priority} {text}", blocks)


def _field(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, FIELD_LIMIT)}


def _messages(card: HandoffCard, zone: ZoneInfo) -> str:
    roles = words()["roles"]
    lines = [
        f"> *{roles.get(m.role, m.role)}* {m.at.astimezone(zone):%H:%M}  "
        f"{escape(cut(m.text, MESSAGE_LIMIT)).replace(chr(10), ' ')}"
        for m in card.messages
    ]
    # Keep the newest when the section would be too long.
    while lines and len("\n".join(lines)) > SECTION_LIMIT - 200:
        lines.pop(0)
    return "\n".join(lines)


def post_text(post: ThreadPost) -> str:
    """One thread message's text."""
    w = words()
    p = w["posts"]
    match post.kind:
        case PostKind.CUSTOMER:
            return cut(p["customer"].format(text=escape(post.text)), TEXT_LIMIT)
        case PostKind.TOMO:
            return cut(p["tomo"].format(text=escape(post.text)), TEXT_LIMIT)
        case PostKind.REPING:
            return str(p["reping"].format(minutes=post.minutes))
        case PostKind.ALERT:
            reasons = "、".join(w["reasons"].get(r.value, r.value) for r in post.reasons)
            return str(p["alert"].format(reasons=reasons))
        case PostKind.SENT:
            return cut(
                p["sent"].format(staff=mention(post.staff), text=escape(post.text)), TEXT_LIMIT
            )
        case PostKind.UNDELIVERED:
            return str(p["undelivered"].format(staff=mention(post.staff)))


def hint_text(hint: StaffHint) -> str:
    h = words()["hints"]
    match hint.kind:
        case HintKind.ALREADY_CLAIMED:
            return str(h["already_claimed"].format(owner=mention(hint.owner)))
        case HintKind.CLOSED:
            return str(h["closed"])
        case HintKind.NOTE_SAVED:
            return str(h["note_saved"])
        case HintKind.TONE:
            findings = "\n".join(f"• {escape(finding)}" for finding in hint.findings)
            return str(h["tone"].format(findings=findings))
