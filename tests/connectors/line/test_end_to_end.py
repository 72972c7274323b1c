"""A LINE channel end to end: signed webhooks in over HTTP, answers out to the fake LINE API."""

from __future__ import annotations

import asyncio
import socket
import sys
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, update

from memory.models import Customer, utcnow
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, Tomo, line_settings_for, open_tomo
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import Scripted
from tests.fakes.waiting import wait_until


async def test_a_new_friend_is_greeted_by_the_name_on_their_profile(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    line_fake.api.profiles[user] = "花子"
    token = line_fake.api.reply_token(user)

    response = await tomo.post(hook.follow(user, reply_token=token))

    assert response.status_code == 200
    await wait_until(lambda: line_fake.api.to(user), what="the greeting", within=15)
    (greeting,) = line_fake.api.to(user)
    assert greeting.via == "reply"
    assert "花子ちゃん" in greeting.texts[0]


async def test_a_text_is_answered_through_the_reply_endpoint_after_the_loading_animation(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    token = line_fake.api.reply_token(user)

    await tomo.post(hook.text(user, "送料はいくらですか？", reply_token=token))

    await wait_until(
        lambda: "reply" in line_fake.api.endpoints_for(user), what="the answer", within=15
    )
    calls = line_fake.api.endpoints_for(user)
    assert [call for call in calls if call != "profile"] == ["loading", "reply"]
    assert line_fake.api.loading == [{"chatId": user, "loadingSeconds": 20}]
    assert "送料" in line_fake.api.texts_to(user)[0]


async def test_a_friend_who_unblocks_is_welcomed_back_not_greeted_as_new(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    line_fake.api.profiles[user] = "花子"
    persona = tomo.services.runtime.personas.published()

    await tomo.post(hook.follow(user, unblocked=True, reply_token=line_fake.api.reply_token(user)))

    await wait_until(lambda: line_fake.api.to(user), what="the welcome", within=15)
    (said,) = line_fake.api.texts_to(user)
    welcome_back = {
        line.format(you="花子ちゃん", me="私", brand=persona.brand)
        for line in persona.lines.welcome_back
    }
    assert said in welcome_back


async def test_a_customer_known_before_who_follows_again_is_welcomed_back(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    await tomo.post(hook.text(user, "こんにちは"))
    await tomo.idle()
    persona = tomo.services.runtime.personas.published()

    await tomo.post(hook.follow(user, reply_token=line_fake.api.reply_token(user)))
    await tomo.idle()

    said = line_fake.api.texts_to(user)[-1]
    welcome_back = {
        line.format(you="きみ", me="私", brand=persona.brand) for line in persona.lines.welcome_back
    }
    assert said in welcome_back


async def test_an_expired_reply_token_is_answered_by_push_with_a_stored_retry_key(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    token = line_fake.api.reply_token(user)
    line_fake.api.expire(token)

    await tomo.post(hook.text(user, "送料はいくらですか？", reply_token=token))
    await tomo.idle()

    (answer,) = line_fake.api.to(user)
    (row,) = await tomo.services.queue.outbox(user)
    assert (answer.via, answer.retry_key) == ("push", row.retry_key)


async def test_a_500_then_200_from_line_delivers_exactly_one_message_with_one_key(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    line_fake.api.script("push", Scripted(500))

    await tomo.post(hook.text(user, "送料はいくらですか？"))  # no reply token: a push
    await tomo.idle()

    assert len(line_fake.api.to(user)) == 1
    pushes = [call for call in line_fake.api.calls if call.endpoint == "push"]
    assert [call.status for call in pushes] == [500, 200]
    assert len({call.retry_key for call in pushes}) == 1


async def test_two_messages_of_one_customer_posted_together_are_answered_as_one_turn(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    first = hook.text(user, "送料はいくらですか？", reply_token=line_fake.api.reply_token(user))
    second = hook.text(
        user, "ギフト包装はできますか？", reply_token=line_fake.api.reply_token(user)
    )

    await tomo.post(first, second)
    await tomo.idle()

    deliveries = line_fake.api.to(user)
    assert [item.via for item in deliveries] == ["reply"], "one answer, not one per message"
    history = await tomo.services.runtime.store.recent_messages(user, 10)
    assert [message.role.value for message in history][:2] == ["customer", "customer"]
    assert {message.role.value for message in history[2:]} == {"tomo"}


async def test_events_stored_by_a_process_that_stopped_are_answered_once_after_restart(
    data_dir: Path, line_fake: LineFake
) -> None:
    user = hook.user_id()
    storing_only = line_settings_for(data_dir, line_fake.url, workers=0)
    publish_preset(storing_only)
    async with open_tomo(storing_only) as before_the_crash:
        await before_the_crash.post(hook.text(user, "送料はいくらですか？"))
    assert line_fake.api.to(user) == []

    async with open_tomo(line_settings_for(data_dir, line_fake.url)) as after_restart:
        await after_restart.idle()
    async with open_tomo(line_settings_for(data_dir, line_fake.url)) as once_more:
        await once_more.idle()

    assert len(line_fake.api.to(user)) == 1


async def test_a_customer_held_by_a_worker_that_was_killed_is_answered_once_after_restart(
    data_dir: Path, line_fake: LineFake
) -> None:
    user = hook.user_id()
    storing_only = line_settings_for(data_dir, line_fake.url, workers=0)
    publish_preset(storing_only)
    async with open_tomo(storing_only) as crashed:
        await crashed.post(hook.text(user, "送料はいくらですか？"))
        # A worker of a process on this machine took the customer, then was killed -9.
        dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await dead.wait()
        holder = f"{socket.gethostname()}:{dead.pid}:killed/0"
        assert await crashed.services.queue.claim_lane(holder, timedelta(hours=1)) == user

    async with open_tomo(line_settings_for(data_dir, line_fake.url)) as restarted:
        await restarted.idle()

    assert len(line_fake.api.to(user)) == 1


async def test_a_sticker_gets_a_warm_answer_in_the_personas_voice(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    persona = tomo.services.runtime.personas.published()

    await tomo.post(
        hook.sticker(user, keywords=["Happy"], reply_token=line_fake.api.reply_token(user))
    )
    await tomo.idle()

    (said,) = line_fake.api.texts_to(user)
    assert said in {
        line.format(you="きみ", me="私", brand=persona.brand) for line in persona.lines.sticker
    }
    history = await tomo.services.runtime.store.recent_messages(user, 10)
    assert history[0].text == "（スタンプ：Happy）"


async def test_a_message_sticker_is_answered_like_the_words_on_it(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()

    await tomo.post(hook.sticker(user, words="送料はいくらですか？"))
    await tomo.idle()

    assert "送料" in line_fake.api.texts_to(user)[0]


async def test_a_photo_is_acknowledged_honestly_remembered_and_a_person_offered(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    persona = tomo.services.runtime.personas.published()

    await tomo.post(hook.media(user, "image", reply_token=line_fake.api.reply_token(user)))
    await tomo.idle()

    (answer,) = line_fake.api.to(user)
    assert answer.texts[0] in {
        line.format(you="きみ", me="私", brand=persona.brand) for line in persona.lines.media
    }
    button = answer.messages[-1]["quickReply"]["items"][0]["action"]
    assert (button["label"], button["data"]) == ("スタッフと話す", "tomo=staff")
    memories = await tomo.services.runtime.store.memory(user).records()
    assert [memory.text for memory in memories] == ["写真を送ってくれた"]


async def test_tapping_the_staff_button_is_answered_as_if_the_customer_asked_for_staff(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()

    await tomo.post(hook.postback(user, "tomo=staff", reply_token=line_fake.api.reply_token(user)))
    await tomo.idle()

    assert len(line_fake.api.to(user)) == 1
    history = await tomo.services.runtime.store.recent_messages(user, 10)
    assert history[0].text == "スタッフと話したいです"


async def test_a_postback_tomo_did_not_make_is_acknowledged_without_an_answer(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()

    await tomo.post(
        hook.postback(user, "richmenu=coupon", reply_token=line_fake.api.reply_token(user))
    )
    await tomo.idle()

    assert line_fake.api.calls == []


async def test_an_unfollow_marks_the_customer_inactive_and_keeps_their_data_by_default(
    tomo: Tomo,
) -> None:
    user = hook.user_id()
    await tomo.post(hook.text(user, "うちの猫はミルクっていう名前です"))
    await tomo.idle()

    await tomo.post(hook.unfollow(user))
    await tomo.idle()

    customer = await tomo.services.runtime.store.customer(user)
    assert customer is not None and customer.active is False
    assert len(await tomo.services.runtime.store.recent_messages(user, 10)) == 2


async def test_with_zero_retention_an_unfollow_forgets_the_customer_at_once(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, unfollowed_retention_days=0)
    publish_preset(settings)
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        await tomo.post(hook.text(user, "うちの猫はミルクっていう名前です"))
        await tomo.idle()
        await tomo.runtime_settled(user)

        await tomo.post(hook.unfollow(user))
        await tomo.idle()

        store = tomo.services.runtime.store
        assert await store.customer(user) is None
        assert await store.memory(user).vector_count() == 0
        assert await tomo.services.queue.outbox(user) == []


async def test_an_unfollowed_customer_is_forgotten_once_the_retention_period_is_over(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, unfollowed_retention_days=30)
    publish_preset(settings)
    kept, expired = hook.user_id(), hook.user_id()
    async with open_tomo(settings) as tomo:
        await tomo.post(hook.text(kept, "こんにちは"), hook.text(expired, "こんにちは"))
        await tomo.post(hook.unfollow(kept), hook.unfollow(expired))
        await tomo.idle()
        store = tomo.services.runtime.store
        async with store.engine.begin() as connection:
            await connection.execute(
                update(Customer)
                .where(col(Customer.id) == expired)
                .values(last_seen_at=utcnow() - timedelta(days=31))
            )

        handler = tomo.services.handler
        assert handler is not None
        assert await handler.forget_unfollowed() == 1

        assert await store.customer(expired) is None
        assert await store.customer(kept) is not None


async def test_an_unsent_message_is_deleted_with_every_memory_made_from_it(
    tomo: Tomo, line_fake: LineFake
) -> None:
    user = hook.user_id()
    await tomo.post(hook.text(user, "うちの猫はミルクっていう名前です", message="4242"))
    await tomo.idle()
    await tomo.runtime_settled(user)
    store = tomo.services.runtime.store
    assert [m.text for m in await store.memory(user).records()] != []

    await tomo.post(hook.unsend(user, "4242"))
    await tomo.idle()

    texts = [message.text for message in await store.recent_messages(user, 10)]
    assert "うちの猫はミルクっていう名前です" not in texts
    assert await store.memory(user).records() == []
    assert await store.memory(user).vector_count() == 0


async def test_an_unsent_photo_takes_its_memory_with_it(tomo: Tomo) -> None:
    user = hook.user_id()
    await tomo.post(hook.media(user, "image", message="777"))
    await tomo.idle()

    await tomo.post(hook.unsend(user, "777"))
    await tomo.idle()

    assert await tomo.services.runtime.store.memory(user).records() == []
