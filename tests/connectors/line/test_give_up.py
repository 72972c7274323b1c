"""A message that fails every attempt still gets the customer an honest answer and a person."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.handoffs import Handoff
from memory.queue import InboxEvent, InboxStatus
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, line_settings_for, open_tomo
from tests.fakes import line_webhook as hook
from tests.fakes.chroma_server import ChromaServer
from tests.fakes.waiting import wait_until


async def test_a_request_that_keeps_failing_is_answered_honestly_and_handed_to_staff(
    data_dir: Path, line_fake: LineFake, chroma_server: ChromaServer
) -> None:
    settings = line_settings_for(data_dir, line_fake.url, chroma_url=chroma_server.url)
    publish_preset(settings)
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        await tomo.post(hook.text(user, "うちの猫はミルクっていう名前です"))
        await tomo.idle()
        await tomo.runtime_settled(user)
        # Forgetting needs the vector memory: with its server down, every attempt fails.
        chroma_server.stop()
        await tomo.post(hook.text(user, "猫のことは忘れてください"))
        await wait_until(lambda: len(line_fake.api.to(user)) == 2, within=60, what="an answer")
        await tomo.idle()
        async with AsyncSession(tomo.services.runtime.store.engine) as session:
            events = list((await session.exec(select(InboxEvent))).all())
            handoffs = list((await session.exec(select(Handoff))).all())
        persona = tomo.services.runtime.personas.published()

    _, answer = line_fake.api.to(user)
    assert answer.texts[0] in persona.lines.llm_error  # short, honest, a person will answer
    assert [event.status for event in events] == [InboxStatus.DONE, InboxStatus.FAILED]
    assert [(handoff.customer_id, "bot_unsure" in handoff.reasons) for handoff in handoffs] == [
        (user, True)
    ]
