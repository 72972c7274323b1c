"""POST /line/webhook: only genuine LINE requests get in, each event once, answered at once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.settings import Settings
from memory.queue import InboxEvent
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, Tomo, line_settings_for, open_tomo
from tests.fakes import line_webhook as hook
from tests.fakes.chroma_server import ChromaServer
from tests.fakes.waiting import wait_until


async def _inbox(tomo: Tomo) -> list[InboxEvent]:
    async with AsyncSession(tomo.services.runtime.store.engine) as session:
        return list((await session.exec(select(InboxEvent))).all())


async def test_a_request_without_a_signature_is_refused_and_nothing_is_stored(tomo: Tomo) -> None:
    raw = hook.body(hook.text(hook.user_id(), "こんにちは"))

    response = await tomo.client.post(
        "/line/webhook", content=raw, headers={"content-type": "application/json"}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "missing x-line-signature"},
    )
    assert await _inbox(tomo) == []


async def test_a_request_signed_with_another_secret_is_refused_and_nothing_is_stored(
    tomo: Tomo,
) -> None:
    raw = hook.body(hook.text(hook.user_id(), "こんにちは"))

    response = await tomo.client.post(
        "/line/webhook", content=raw, headers=hook.headers(raw, secret="not-the-channel-secret")
    )

    assert (response.status_code, response.json()) == (400, {"detail": "invalid x-line-signature"})
    assert await _inbox(tomo) == []


async def test_a_body_changed_after_signing_is_refused(tomo: Tomo) -> None:
    user = hook.user_id()
    raw = hook.body(hook.text(user, "こんにちは"))
    signed = hook.headers(raw)
    tampered = raw.replace("こんにちは".encode(), "さようなら".encode())

    response = await tomo.client.post("/line/webhook", content=tampered, headers=signed)

    assert response.status_code == 400
    assert await _inbox(tomo) == []


async def test_a_correctly_signed_body_that_is_not_json_is_refused_with_a_reason(
    tomo: Tomo,
) -> None:
    raw = b"events=1&destination=U0"

    response = await tomo.client.post("/line/webhook", content=raw, headers=hook.headers(raw))

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "the body is not a JSON LINE webhook"},
    )


async def test_a_correctly_signed_json_body_without_events_is_refused(tomo: Tomo) -> None:
    raw = json.dumps({"destination": hook.DESTINATION}).encode()

    response = await tomo.client.post("/line/webhook", content=raw, headers=hook.headers(raw))

    assert response.status_code == 400


async def test_a_body_over_the_size_limit_is_refused_with_413_and_not_read_further(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, line_max_body_bytes=4096)
    publish_preset(settings)
    raw = hook.body(hook.text(hook.user_id(), "あ" * 2000))
    async with open_tomo(settings) as tomo:
        response = await tomo.client.post("/line/webhook", content=raw, headers=hook.headers(raw))

        assert (response.status_code, response.json()) == (
            413,
            {"detail": "the body is larger than 4096 bytes"},
        )
        assert await _inbox(tomo) == []


async def test_the_verify_button_request_without_events_is_acknowledged(tomo: Tomo) -> None:
    response = await tomo.post()

    assert (response.status_code, response.json()) == (200, {})


async def test_an_event_is_stored_and_acknowledged_before_it_is_handled(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, workers=0)
    publish_preset(settings)
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        response = await tomo.post(hook.text(user, "こんにちは"))

        assert response.status_code == 200
        (stored,) = await _inbox(tomo)
        assert (stored.customer_id, stored.kind, stored.status) == (user, "text", "pending")
    assert line_fake.api.calls == []


async def test_the_same_event_posted_twice_is_answered_once(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    event = hook.text(user, "こんにちは", reply_token=line_fake.api.reply_token(user))

    first = await tomo.post(event)
    second = await tomo.post(event)
    await tomo.idle()

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(line_fake.api.to(user)) == 1
    assert len(await _inbox(tomo)) == 1


async def test_a_redelivered_event_is_answered_once(tomo: Tomo, line_fake: LineFake) -> None:
    user = hook.user_id()
    original = hook.text(user, "こんにちは", reply_token=line_fake.api.reply_token(user))
    redelivered = {**original, "deliveryContext": {"isRedelivery": True}}

    await tomo.post(original)
    await tomo.idle()
    response = await tomo.post(redelivered)
    await tomo.idle()

    assert response.status_code == 200
    assert len(line_fake.api.to(user)) == 1


async def test_a_redelivered_event_whose_first_delivery_was_lost_is_answered(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    late = hook.text(user, "こんにちは", redelivery=True, reply_token="expired-long-ago")

    await tomo.post(late)

    await wait_until(lambda: line_fake.api.to(user), what="the answer", within=15)
    (answer,) = line_fake.api.to(user)
    assert answer.via == "push"


async def test_unknown_and_future_event_types_are_acknowledged_and_not_stored(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    events = [
        hook.unknown(user, "messageEdited"),
        hook.unknown(user, "somethingLineAddsNextYear", whatever={"nested": [1, 2]}),
        hook.unknown(
            user, "beacon", replyToken="rt", beacon={"hwid": "d41d8cd98f", "type": "enter"}
        ),
    ]

    response = await tomo.post(*events)

    assert (response.status_code, response.json()) == (200, {})
    assert await _inbox(tomo) == []
    assert line_fake.api.calls == []


async def test_group_and_room_chats_are_ignored_by_default(tomo: Tomo, line_fake: LineFake) -> None:
    response = await tomo.post(
        hook.group_text("C" + "1" * 32, hook.user_id(), "みなさんこんにちは")
    )

    assert response.status_code == 200
    assert await _inbox(tomo) == []


async def test_when_the_inbox_cannot_be_written_line_is_asked_to_deliver_again(tomo: Tomo) -> None:
    async with tomo.services.runtime.store.engine.begin() as connection:
        await connection.execute(text("DROP TABLE inbox_event"))

    response = await tomo.post(hook.text(hook.user_id(), "こんにちは"))

    assert response.status_code == 503


async def test_healthz_reports_the_stores_and_the_queues(tomo: Tomo) -> None:
    response = await tomo.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "stores": {"sql": "ok", "vectors": "ok"},
        "inbox": {"pending": 0, "failed": 0},
        "outbox": {"pending": 0, "failed": 0},
        "status": "ok",
    }


async def test_healthz_stays_200_while_the_vector_memory_is_down_and_says_degraded(
    data_dir: Path, line_fake: LineFake, chroma_server: ChromaServer
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, chroma_url=chroma_server.url)
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        chroma_server.stop()
        response = await tomo.client.get("/healthz")
        user = hook.user_id()
        await tomo.post(hook.text(user, "送料はいくらですか？"))
        await tomo.idle()

    assert response.status_code == 200  # webhooks are still stored and answered
    report = response.json()
    assert report["status"] == "degraded"
    assert report["stores"]["sql"] == "ok" and report["stores"]["vectors"].startswith("error")
    assert len(line_fake.api.to(user)) == 1


async def test_without_line_settings_the_webhook_says_line_is_not_configured(
    settings: Settings,
) -> None:
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        response = await tomo.post(hook.text(hook.user_id(), "こんにちは"))

    assert response.status_code == 503
    assert "LINE_CHANNEL_SECRET" in response.json()["detail"]
