"""The staff desk in Slack: `bot.handoff.StaffDesk` over the Web API seam."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.handoff import (
    DeskThread,
    DeskUnavailable,
    HandoffCard,
    PostKind,
    StaffHint,
    StaffMember,
    ThreadPost,
)
from connectors.slack.card import hint_text, lay_out, post_text
from connectors.slack.client import SlackApi


class SlackDesk:
    """Handoff cards in one channel (SLACK_HANDOFF_CHANNEL); each card's thread is its talk."""

    def __init__(self, api: SlackApi, channel: str, zone: ZoneInfo) -> None:
        self._api = api
        self._channel = channel
        self._zone = zone

    async def open_card(self, card: HandoffCard) -> DeskThread:
        layout = lay_out(card, self._zone)
        answer = await self._api.post_message(
            channel=self._channel, text=layout.text, blocks=layout.blocks, unfurl_links=False
        )
        channel, ts = answer.get("channel"), answer.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            raise DeskUnavailable("chat.postMessage: no channel or ts in the answer")
        return DeskThread(channel, ts)

    async def update_card(self, thread: DeskThread, card: HandoffCard) -> None:
        layout = lay_out(card, self._zone)
        await self._api.update(
            channel=thread.channel, ts=thread.ts, text=layout.text, blocks=layout.blocks
        )

    async def post(self, thread: DeskThread, post: ThreadPost) -> None:
        # A reminder and an alert also show in the channel, where people look.
        broadcast = post.kind in (PostKind.REPING, PostKind.ALERT)
        await self._api.post_message(
            channel=thread.channel,
            thread_ts=thread.ts,
            text=post_text(post),
            reply_broadcast=broadcast,
            unfurl_links=False,
        )

    async def hint(self, thread: DeskThread, staff: StaffMember, hint: StaffHint) -> None:
        await self._api.post_ephemeral(
            channel=thread.channel, user=staff.id, thread_ts=thread.ts, text=hint_text(hint)
        )
