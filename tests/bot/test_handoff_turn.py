"""The turn with handoffs, no Slack configured: one owner at a time, told honestly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.business_hours import BusinessHours
from bot.escalation_policy import load_policy
from bot.handoff import StaffMember
from bot.staff_actions import StaffActions
from bot.turn import TurnResult
from connectors.runtime import Runtime
from memory.handoffs import HandoffState
from memory.models import Role
from persona.schema import Register

SATO = StaffMember("U_SATO", "sato")


class Kept:
    """A delivery that keeps what reached the customer."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        self.messages.extend(messages)


async def _say(runtime: Runtime, text: str, customer: str = "hanako") -> TurnResult:
    return await runtime.conversation.handle_text(customer, text, Kept())


async def test_hyperbole_is_answered_by_the_bot(runtime: Runtime) -> None:
    result = await _say(runtime, "この香り、死ぬほど好き")

    assert result.replies and not result.handed_over
    assert await runtime.handoffs.handoffs.open_for("hanako") is None


async def test_someone_at_risk_gets_the_care_message_and_an_urgent_handoff(
    runtime: Runtime,
) -> None:
    delivery = Kept()

    result = await runtime.conversation.handle_text("hanako", "もう消えてしまいたい", delivery)

    policy, _ = load_policy(None)
    assert delivery.messages == [policy.care.crisis.text(Register.CASUAL)]
    assert result.handed_over
    handoff = await runtime.handoffs.handoffs.open_for("hanako")
    assert handoff is not None
    assert (handoff.state, handoff.priority, handoff.reason_list[0]) == (
        HandoffState.WAITING,
        "urgent",
        "crisis",
    )


async def test_without_a_desk_the_handoff_waits_and_the_customer_is_told(
    runtime: Runtime,
) -> None:
    persona = runtime.personas.published()

    result = await _say(runtime, "返金してください")

    assert result.replies[0] in {line.format(you="きみ", me="私") for line in persona.lines.handoff}
    handoff = await runtime.handoffs.handoffs.open_for("hanako")
    assert handoff is not None and handoff.slack_thread_ts is None
    assert handoff.reason_list == ["money_contract"]


async def test_the_bot_is_silent_while_a_handoff_is_open(runtime: Runtime) -> None:
    await _say(runtime, "返金してください")

    result = await _say(runtime, "送料はいくらですか？")

    assert result.replies == () and result.handed_over
    history = await runtime.store.recent_messages("hanako", 10)
    assert [(m.role, m.text) for m in history][-1] == (Role.CUSTOMER, "送料はいくらですか？")


async def test_an_unsure_answer_hands_over_to_staff(runtime: Runtime) -> None:
    persona = runtime.personas.published()

    result = await _say(runtime, "来月の新商品の発売日はいつですか？")

    assert result.unsure and result.handed_over
    assert result.replies[0].startswith(tuple(line.split("{")[0] for line in persona.lines.unsure))
    handoff = await runtime.handoffs.handoffs.open_for("hanako")
    assert handoff is not None and handoff.reason_list[0] == "bot_unsure"


async def test_back_to_bot_lets_the_bot_answer_again(runtime: Runtime) -> None:
    await _say(runtime, "返金してください")
    handoff = await runtime.handoffs.handoffs.open_for("hanako")
    assert handoff is not None

    outcome = await StaffActions(runtime.handoffs).back_to_bot(handoff.id, SATO)
    result = await _say(runtime, "送料はいくらですか？")

    assert outcome.state is HandoffState.BACK_TO_BOT
    assert "送料" in result.replies[0] and not result.handed_over


async def test_an_urgent_message_while_with_staff_gets_care_and_raises_the_priority(
    runtime: Runtime,
) -> None:
    await _say(runtime, "返金してください")
    handoff = await runtime.handoffs.handoffs.open_for("hanako")
    assert handoff is not None
    await StaffActions(runtime.handoffs).claim(handoff.id, SATO)

    result = await _say(runtime, "もう死にたい")

    assert "いのちの電話" in result.replies[0]
    raised = await runtime.handoffs.handoffs.get(handoff.id)
    assert raised is not None
    assert (raised.state, raised.claimed_by, raised.priority) == (
        HandoffState.STAFF,
        "U_SATO",
        "urgent",
    )
    assert raised.reason_list[:2] == ["money_contract", "crisis"]


async def test_outside_business_hours_the_customer_is_told_when_staff_answer(
    runtime: Runtime,
) -> None:
    service = runtime.handoffs
    service.config = replace(service.config, hours=BusinessHours.parse("09:00-18:00"))
    service.clock = lambda: datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo

    result = await _say(runtime, "返金してください")

    (told,) = result.replies
    assert "明日の9時" in told
    handoff = await service.handoffs.open_for("hanako")
    assert handoff is not None and handoff.after_hours


async def test_an_unsure_answer_outside_hours_adds_when_staff_answer(runtime: Runtime) -> None:
    service = runtime.handoffs
    service.config = replace(service.config, hours=BusinessHours.parse("09:00-18:00"))
    service.clock = lambda: datetime(2026, 11, 24, 13, 30, tzinfo=UTC)

    result = await _say(runtime, "来月の新商品の発売日はいつですか？")

    assert len(result.replies) == 2 and "明日の9時" in result.replies[1]


async def test_an_unclaimed_handoff_reassures_the_customer_once(runtime: Runtime) -> None:
    service = runtime.handoffs
    start = datetime.now(UTC)
    service.clock = lambda: start
    await _say(runtime, "返金してください")

    service.clock = lambda: start + timedelta(minutes=16)
    first = await service.upkeep()
    service.clock = lambda: start + timedelta(minutes=60)
    second = await service.upkeep()

    assert (first.repinged, second.repinged) == (1, 0)
    persona = runtime.personas.published()
    reassuring = persona.lines.handoff_reassure[0].format(you="きみ")
    history = await runtime.store.recent_messages("hanako", 10)
    assert [m.text for m in history if m.role is Role.TOMO].count(reassuring) == 1


async def test_forgetting_the_customer_forgets_their_handoffs(runtime: Runtime) -> None:
    await _say(runtime, "返金してください")

    await runtime.store.forget_customer("hanako", actor="test")

    assert await runtime.handoffs.handoffs.of_customer("hanako") == []
    result = await _say(runtime, "こんにちは")
    assert result.replies and not result.handed_over
