"""The JSON API under /api: every endpoint, its 401s, validation errors and the audit log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.app import create_app
from connectors.settings import Settings
from persona.repository import persona_to_yaml
from tests.conftest import publish_preset
from tests.connectors.admin.conftest import ADMIN_TOKEN, BEARER, Admin

ENDPOINTS = [
    ("GET", "/api/customers", None),
    ("GET", "/api/customers/hanako", None),
    ("GET", "/api/customers/hanako/messages", None),
    ("GET", "/api/customers/hanako/memories?q=猫&k=5", None),
    ("DELETE", "/api/customers/hanako", None),
    ("DELETE", "/api/customers/hanako/memories/abc", None),
    ("GET", "/api/persona", None),
    ("PUT", "/api/persona/draft", {}),
    ("POST", "/api/persona/draft/relationship", {"relationship": "親友"}),
    ("POST", "/api/persona/publish", {}),
    ("GET", "/api/persona/versions", None),
    ("POST", "/api/persona/rollback/1", None),
    ("POST", "/api/preview", {"text": "こんにちは"}),
    ("POST", "/api/check", {"text": "こんにちは"}),
    ("GET", "/api/handoffs?state=open", None),
    ("GET", "/api/audit", None),
]


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(method, path, json=body, headers=headers)


def _draft_with(admin: Admin, **voice: Any) -> dict[str, Any]:
    draft = admin.runtime.personas.draft().model_dump(mode="json")
    draft["voice"].update(voice)
    return draft


# -- who may call -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_every_endpoint_refuses_a_request_without_a_token(
    admin: Admin, method: str, path: str, body: Any
) -> None:
    response = await _call(admin.client, method, path, body, {})
    assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_every_endpoint_refuses_a_wrong_token(
    admin: Admin, method: str, path: str, body: Any
) -> None:
    wrong = {"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    response = await _call(admin.client, method, path, body, wrong)
    assert response.status_code == 401


async def test_a_token_given_in_another_scheme_is_refused(admin: Admin) -> None:
    response = await admin.client.get(
        "/api/customers", headers={"Authorization": f"Basic {ADMIN_TOKEN}"}
    )
    assert response.status_code == 401


async def test_the_api_is_off_when_no_admin_token_is_configured(settings: Settings) -> None:
    publish_preset(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tomo.test") as client:
            response = await client.get("/api/customers", headers=BEARER)
    assert response.status_code == 503
    assert "TOMO_ADMIN_TOKEN" in response.json()["detail"]


# -- customers ------------------------------------------------------------------------


async def test_customers_are_listed_with_their_counts(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    response = await admin.client.get("/api/customers", headers=BEARER)
    assert response.status_code == 200
    (customer,) = response.json()
    assert (customer["id"], customer["messages"], customer["memories"]) == ("hanako", 2, 1)


async def test_one_customer_is_shown_and_an_unknown_one_is_404(admin: Admin) -> None:
    await admin.say("hanako", "こんにちは")
    shown = await admin.client.get("/api/customers/hanako", headers=BEARER)
    missing = await admin.client.get("/api/customers/nobody", headers=BEARER)
    assert (shown.status_code, shown.json()["id"], missing.status_code) == (200, "hanako", 404)


async def test_messages_come_oldest_first_with_role_and_unsure(admin: Admin) -> None:
    await admin.say("hanako", "こんにちは")
    await admin.say("hanako", "新しい商品って、次はいつ出るの？")
    response = await admin.client.get("/api/customers/hanako/messages", headers=BEARER)
    messages = response.json()
    assert [(m["role"], m["unsure"]) for m in messages] == [
        ("customer", False),
        ("tomo", False),
        ("customer", False),
        ("tomo", True),
    ]
    assert messages[0]["text"] == "こんにちは"


async def test_messages_of_an_unknown_customer_are_404(admin: Admin) -> None:
    response = await admin.client.get("/api/customers/nobody/messages", headers=BEARER)
    assert response.status_code == 404


async def test_memories_are_recalled_for_a_query_with_scores(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    await admin.say("hanako", "最近、肌がすごく乾燥してて困ってるんだ")
    response = await admin.client.get(
        "/api/customers/hanako/memories", params={"q": "猫の名前", "k": 1}, headers=BEARER
    )
    (memory,) = response.json()
    assert memory["text"] == "うちの猫はミルクっていう名前です"
    assert {"text", "kind", "created_at", "score"} <= memory.keys()
    assert memory["score"] > 0


async def test_memories_without_a_query_are_all_current_ones(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    await admin.say("hanako", "最近、肌がすごく乾燥してて困ってるんだ")
    response = await admin.client.get("/api/customers/hanako/memories", headers=BEARER)
    assert [m["score"] for m in response.json()] == [None, None]


async def test_memory_k_out_of_range_is_a_validation_error(admin: Admin) -> None:
    await admin.say("hanako", "こんにちは")
    response = await admin.client.get(
        "/api/customers/hanako/memories", params={"q": "猫", "k": 0}, headers=BEARER
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "k"]


async def test_forgetting_a_customer_removes_rows_and_vectors_and_is_audited(
    admin: Admin,
) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    response = await admin.client.delete("/api/customers/hanako", headers=BEARER)
    assert response.json() == {
        "customer_id": "hanako",
        "messages": 2,
        "memories": 1,
        "vectors_left": 0,
    }
    store = admin.runtime.store
    assert await store.customer("hanako") is None
    assert await store.memory("hanako").vector_count() == 0
    (entry,) = await store.audit_log("hanako")
    assert (entry.actor, entry.action) == ("admin", "forget_customer")
    again = await admin.client.delete("/api/customers/hanako", headers=BEARER)
    assert again.status_code == 404


async def test_forgetting_one_memory_keeps_the_others_and_is_audited(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    await admin.say("hanako", "最近、肌がすごく乾燥してて困ってるんだ")
    memories = (await admin.client.get("/api/customers/hanako/memories", headers=BEARER)).json()
    cat = next(m for m in memories if "猫" in m["text"])
    response = await admin.client.delete(
        f"/api/customers/hanako/memories/{cat['id']}", headers=BEARER
    )
    assert response.json() == {"customer_id": "hanako", "memories": 1}
    left = (await admin.client.get("/api/customers/hanako/memories", headers=BEARER)).json()
    assert [m["text"] for m in left] == ["最近、肌がすごく乾燥してて困ってるんだ"]
    assert [e.action for e in await admin.runtime.store.audit_log("hanako")] == ["forget_memory"]


async def test_forgetting_another_customers_memory_is_404(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    await admin.say("taro", "こんにちは")
    (memory,) = (await admin.client.get("/api/customers/hanako/memories", headers=BEARER)).json()
    response = await admin.client.delete(
        f"/api/customers/taro/memories/{memory['id']}", headers=BEARER
    )
    assert response.status_code == 404
    assert len(await admin.runtime.store.memory("hanako").records()) == 1


# -- handoffs -----------------------------------------------------------------------------


async def test_no_handoffs_is_an_empty_list(admin: Admin) -> None:
    response = await admin.client.get("/api/handoffs", params={"state": "open"}, headers=BEARER)
    assert (response.status_code, response.json()) == (200, [])


async def test_an_escalated_conversation_is_listed_as_an_open_handoff(admin: Admin) -> None:
    await admin.say("U-angry", "スタッフの人と話したいです")

    response = await admin.client.get("/api/handoffs", params={"state": "open"}, headers=BEARER)
    resolved = await admin.client.get("/api/handoffs", params={"state": "resolved"}, headers=BEARER)

    assert response.status_code == 200
    (handoff,) = response.json()
    assert handoff["customer_id"] == "U-angry"
    assert "human_request" in handoff["reasons"]
    assert resolved.json() == []


async def test_an_unknown_handoff_state_is_a_validation_error(admin: Admin) -> None:
    response = await admin.client.get("/api/handoffs", params={"state": "lost"}, headers=BEARER)
    assert response.status_code == 422


# -- persona --------------------------------------------------------------------------------


async def test_persona_shows_the_published_version_and_the_draft(admin: Admin) -> None:
    response = await admin.client.get("/api/persona", headers=BEARER)
    body = response.json()
    assert (body["version"], body["published"]["relationship"]["word"]) == (1, "親友")
    assert body["draft"] == body["published"]
    assert body["draft_changed"] == []


async def test_saving_a_draft_reports_the_changed_fields(admin: Admin) -> None:
    response = await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    assert response.json() == {"saved": True, "changed": ["voice.first_person"]}
    assert admin.runtime.personas.draft().voice.first_person == "ボク"
    assert admin.runtime.personas.published().voice.first_person == "私"


async def test_an_invalid_draft_is_refused_with_the_field_named(admin: Admin) -> None:
    response = await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, address="ちゃん"), headers=BEARER
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["field"], error["loc"]) == ("voice.address", ["body", "voice", "address"])
    assert "{name}" in error["msg"]
    assert admin.runtime.personas.draft().voice.address == "{name}ちゃん"


async def test_a_draft_missing_a_field_names_it(admin: Admin) -> None:
    draft = _draft_with(admin)
    del draft["voice"]["first_person"]
    response = await admin.client.put("/api/persona/draft", json=draft, headers=BEARER)
    assert [e["field"] for e in response.json()["detail"]] == ["voice.first_person"]


async def test_a_draft_that_is_not_json_is_refused(admin: Admin) -> None:
    response = await admin.client.put(
        "/api/persona/draft",
        content=b"{not json",
        headers={**BEARER, "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["detail"][0]["field"]) == (422, "body")


async def test_a_draft_can_be_saved_as_yaml(admin: Admin) -> None:
    persona = admin.runtime.personas.draft()
    text = persona_to_yaml(persona).replace("first_person: 私", "first_person: うち")
    response = await admin.client.put(
        "/api/persona/draft",
        content=text.encode(),
        headers={**BEARER, "content-type": "application/yaml"},
    )
    assert response.json()["changed"] == ["voice.first_person"]


async def test_broken_yaml_is_reported_on_the_yaml_field(admin: Admin) -> None:
    response = await admin.client.put(
        "/api/persona/draft",
        content=b"brand: [unclosed",
        headers={**BEARER, "content-type": "application/yaml"},
    )
    assert (response.status_code, response.json()["detail"][0]["field"]) == (422, "yaml")


async def test_saving_a_draft_is_audited_with_field_names_not_content(admin: Admin) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    (entry,) = await admin.runtime.store.audit_log()
    assert (entry.actor, entry.action, entry.detail) == (
        "admin",
        "persona_draft_saved",
        "fields=voice.first_person",
    )
    assert "ボク" not in entry.detail


async def test_a_relationship_with_a_preset_starts_the_draft_from_it(admin: Admin) -> None:
    response = await admin.client.post(
        "/api/persona/draft/relationship", json={"relationship": "コンシェルジュ"}, headers=BEARER
    )
    body = response.json()
    assert (body["preset"], body["exact"]) == ("concierge", True)
    draft = admin.runtime.personas.draft()
    assert (draft.voice.first_person, draft.brand) == ("わたくし", "つむぎ")
    actions = [e.action for e in await admin.runtime.store.audit_log()]
    assert actions == ["persona_draft_saved", "persona_draft_from_relationship"]


async def test_a_relationship_without_a_preset_uses_the_closest_and_says_so(
    admin: Admin,
) -> None:
    response = await admin.client.post(
        "/api/persona/draft/relationship", json={"relationship": "執事"}, headers=BEARER
    )
    body = response.json()
    assert body["exact"] is False
    assert "「執事」のプリセットはないため" in body["note"]
    assert body["relationship"] in body["note"]


async def test_publishing_a_clean_draft_replays_the_test_messages(admin: Admin) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    response = await admin.client.post("/api/persona/publish", json={}, headers=BEARER)
    body = response.json()
    assert (response.status_code, body["published"], body["version"]) == (200, True, 2)
    regression = body["regression"]
    assert regression["messages"] == len(admin.runtime.personas.draft().test_messages)
    assert regression["findings"] == 0
    changed = [case for case in regression["cases"] if case["changed"]]
    assert changed, "the new first person shows in some reply"
    assert any("ボク" in "".join(case["after"]["reply"]) for case in changed)
    assert all("ボク" not in "".join(case["before"]["reply"]) for case in changed)
    assert admin.runtime.personas.published().voice.first_person == "ボク"


async def test_publishing_a_draft_with_tone_findings_is_refused_unless_forced(
    admin: Admin,
) -> None:
    draft = _draft_with(admin)
    draft["lines"]["farewell"] = ["本日はありがとうございました。またお越しくださいませ。"]
    await admin.client.put("/api/persona/draft", json=draft, headers=BEARER)

    refused = await admin.client.post("/api/persona/publish", json={}, headers=BEARER)
    assert (refused.status_code, refused.json()["published"]) == (409, False)
    assert refused.json()["regression"]["findings"] > 0
    assert admin.runtime.personas.published_version() == 1

    forced = await admin.client.post("/api/persona/publish", json={"force": True}, headers=BEARER)
    assert (forced.status_code, forced.json()["version"], forced.json()["forced"]) == (
        200,
        2,
        True,
    )
    entry = (await admin.runtime.store.audit_log())[-1]
    assert entry.action == "persona_published"
    assert "forced=true" in entry.detail


async def test_publishing_what_is_already_published_is_a_conflict(admin: Admin) -> None:
    response = await admin.client.post("/api/persona/publish", headers=BEARER)
    assert (response.status_code, response.json()["code"]) == (409, "nothing_to_publish")


async def test_versions_list_marks_the_one_in_force(admin: Admin) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    await admin.client.post("/api/persona/publish", headers=BEARER)
    response = await admin.client.get("/api/persona/versions", headers=BEARER)
    assert [(v["version"], v["in_force"], v["first_person"]) for v in response.json()] == [
        (1, False, "私"),
        (2, True, "ボク"),
    ]


async def test_rolling_back_puts_an_earlier_version_in_force_and_is_audited(
    admin: Admin,
) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    await admin.client.post("/api/persona/publish", headers=BEARER)
    response = await admin.client.post("/api/persona/rollback/1", headers=BEARER)
    assert response.json() == {"version": 1, "in_force": True}
    assert admin.runtime.personas.published().voice.first_person == "私"
    entry = (await admin.runtime.store.audit_log())[-1]
    assert (entry.action, entry.detail) == ("persona_rolled_back", "version=1 from=2")


async def test_rolling_back_to_an_unknown_version_is_404(admin: Admin) -> None:
    response = await admin.client.post("/api/persona/rollback/9", headers=BEARER)
    assert response.status_code == 404


# -- preview and check ------------------------------------------------------------------------


async def test_preview_answers_with_the_draft_and_stores_nothing(admin: Admin) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    text = "新しい商品って、次はいつ出るの？"
    draft = await admin.client.post(
        "/api/preview", json={"text": text, "persona": "draft"}, headers=BEARER
    )
    published = await admin.client.post(
        "/api/preview", json={"text": text, "persona": "published"}, headers=BEARER
    )
    assert "ボク" in draft.json()["reply"][0]
    assert "私" in published.json()["reply"][0]
    assert draft.json()["unsure"] is True
    assert await admin.runtime.store.customer_ids() == []


async def test_preview_with_a_customer_uses_their_memories_and_records_nothing(
    admin: Admin,
) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    store = admin.runtime.store
    before = await store.recent_messages("hanako", 50)
    response = await admin.client.post(
        "/api/preview",
        json={"text": "うちの猫の名前、覚えてる？", "customer": "hanako"},
        headers=BEARER,
    )
    body = response.json()
    assert "ミルク" in body["reply"][0]
    assert body["recalled"][0]["text"] == "うちの猫はミルクっていう名前です"
    after = await store.recent_messages("hanako", 50)
    assert [m.id for m in after] == [m.id for m in before]
    assert len(await store.memory("hanako").records()) == 1


async def test_preview_of_an_unknown_customer_is_404(admin: Admin) -> None:
    response = await admin.client.post(
        "/api/preview", json={"text": "こんにちは", "customer": "nobody"}, headers=BEARER
    )
    assert response.status_code == 404


async def test_preview_of_a_memory_request_changes_nothing(admin: Admin) -> None:
    await admin.say("hanako", "うちの猫はミルクっていう名前です")
    response = await admin.client.post(
        "/api/preview", json={"text": "全部忘れて", "customer": "hanako"}, headers=BEARER
    )
    assert (response.json()["memory_control"], response.json()["reply"]) == (True, [])
    assert len(await admin.runtime.store.memory("hanako").records()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "こんにちは", "persona": "tomorrow"}, "persona"),
        ({}, "text"),
    ],
)
async def test_a_wrong_preview_request_names_the_field(
    admin: Admin, body: dict[str, Any], field: str
) -> None:
    response = await admin.client.post("/api/preview", json=body, headers=BEARER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


async def test_check_reports_findings_against_the_published_persona(admin: Admin) -> None:
    text = "お客様、今だけ限定セールです！お早めにご購入ください。"
    response = await admin.client.post("/api/check", json={"text": text}, headers=BEARER)
    body = response.json()
    assert body["version"] == 1
    kinds = [(f["kind"], f["text"]) for f in body["findings"]]
    assert kinds == [
        ("address", "お客様"),
        ("forbidden_phrase", "今だけ"),
        ("pushy_sales", "限定"),
        ("register", "です"),
        ("pushy_sales", "お早めに"),
        ("pushy_sales", "ご購入ください"),
    ]
    for finding in body["findings"]:
        assert text[finding["start"] : finding["end"]] == finding["text"]
        assert finding["reason"]


async def test_check_of_an_empty_text_is_a_validation_error(admin: Admin) -> None:
    response = await admin.client.post("/api/check", json={"text": ""}, headers=BEARER)
    assert (response.status_code, response.json()["detail"][0]["loc"]) == (422, ["body", "text"])


async def test_audit_lists_changes_newest_first(admin: Admin) -> None:
    await admin.client.put(
        "/api/persona/draft", json=_draft_with(admin, first_person="ボク"), headers=BEARER
    )
    await admin.client.post("/api/persona/publish", headers=BEARER)
    response = await admin.client.get("/api/audit", headers=BEARER)
    assert [e["action"] for e in response.json()] == ["persona_published", "persona_draft_saved"]
