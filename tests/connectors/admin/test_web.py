"""The web admin under /admin: login, session cookie, CSRF, and each page doing its job."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from connectors.admin.auth import SESSION_COOKIE
from tests.connectors.admin.conftest import ADMIN_TOKEN, Admin

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


async def _login(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/admin/login")
    return await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": _csrf(page.text)})


@pytest.fixture
async def manager(admin: Admin) -> Admin:
    response = await _login(admin.client)
    assert response.status_code == 303
    return admin


async def _post(admin: Admin, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    html = (await admin.client.get(page)).text
    return await admin.client.post(action, data={**data, "csrf": _csrf(html)})


# -- login and session ----------------------------------------------------------------


async def test_pages_send_a_visitor_without_a_session_to_the_login(admin: Admin) -> None:
    for path in ("/admin/", "/admin/persona", "/admin/customers", "/admin/handoffs"):
        response = await admin.client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/admin/login")


async def test_login_page_is_japanese(admin: Admin) -> None:
    response = await admin.client.get("/admin/login")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.text
    assert "管理トークン" in response.text


async def test_login_with_the_token_sets_an_httponly_samesite_session_cookie(
    admin: Admin,
) -> None:
    response = await _login(admin.client)
    assert (response.status_code, response.headers["location"]) == (303, "/admin/")
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in this test
    assert ADMIN_TOKEN not in cookie


async def test_session_cookie_is_secure_over_https(admin: Admin) -> None:
    transport = httpx.ASGITransport(app=admin.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://tomo.test") as client:
        response = await _login(client)
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(SESSION_COOKIE + "=")
    )
    assert "Secure" in cookie


async def test_a_wrong_token_does_not_log_in(admin: Admin) -> None:
    page = await admin.client.get("/admin/login")
    response = await admin.client.post(
        "/admin/login", data={"token": "guess", "csrf": _csrf(page.text)}
    )
    assert response.status_code == 401
    assert "管理トークンが違います" in response.text
    assert (await admin.client.get("/admin/")).status_code == 303


async def test_login_without_the_forms_csrf_token_is_refused(admin: Admin) -> None:
    await admin.client.get("/admin/login")
    response = await admin.client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert (await admin.client.get("/admin/")).status_code == 303


async def test_repeated_wrong_tokens_are_slowed_down(admin: Admin) -> None:
    page = await admin.client.get("/admin/login")
    token = _csrf(page.text)
    for _ in range(10):
        await admin.client.post("/admin/login", data={"token": "guess", "csrf": token})
    response = await admin.client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": token})
    assert response.status_code == 429


async def test_a_forged_session_cookie_is_not_a_session(admin: Admin) -> None:
    admin.client.cookies.set(SESSION_COOKIE, "eyJzaWQiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.forged")
    response = await admin.client.get("/admin/")
    assert response.status_code == 303


async def test_logout_ends_the_session(manager: Admin) -> None:
    response = await _post(manager, "/admin/", "/admin/logout", {})
    assert response.status_code == 303
    assert (await manager.client.get("/admin/")).status_code == 303


async def test_a_form_without_the_csrf_token_is_refused(manager: Admin) -> None:
    response = await manager.client.post(
        "/admin/persona/rollback/1", data={"csrf": "not-the-token"}
    )
    assert response.status_code == 403


async def test_pages_forbid_framing_and_foreign_scripts(manager: Admin) -> None:
    response = await manager.client.get("/admin/persona")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_static_files_are_served_from_the_package(admin: Admin) -> None:
    css = await admin.client.get("/admin/static/admin.css")
    missing = await admin.client.get("/admin/static/../auth.py")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")
    assert missing.status_code == 404


# -- persona ----------------------------------------------------------------------------------


def _fields(html: str) -> dict[str, list[str]]:
    """The editor's field values as the browser would submit them (inputs and textareas)."""
    form = html[html.index('id="fields"') :]
    form = form[: form.index("</form>")]
    values: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input name="([^"]+)"(?: id="[^"]+")? value="([^"]*)"', form):
        values.setdefault(name, []).append(value)
    for name, value in re.findall(
        r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, flags=re.DOTALL
    ):
        values.setdefault(name, []).append(value)
    for name, value in re.findall(
        r'<select name="([^"]+)">.*?<option value="([^"]+)" selected>', form, flags=re.DOTALL
    ):
        values[name] = [value]
    return {name: [_unescape(v) for v in vs] for name, vs in values.items()}


def _unescape(text: str) -> str:
    return html.unescape(text)


async def test_editor_saves_the_first_person_and_an_example(manager: Admin) -> None:
    page = await manager.client.get("/admin/persona")
    values = _fields(page.text)
    values["voice.first_person"] = ["ボク"]
    values["example.tomo"][0] = "やっほー！ボクだよ😊"
    values["csrf"] = [_csrf(page.text)]
    response = await manager.client.post("/admin/persona/draft", data=values)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/admin/persona?done=saved",
    )
    draft = manager.runtime.personas.draft()
    assert (draft.voice.first_person, draft.examples[0].tomo) == ("ボク", "やっほー！ボクだよ😊")
    assert draft.lines == manager.runtime.personas.published().lines  # kept as it was
    (entry,) = await manager.runtime.store.audit_log()
    assert entry.detail == "fields=examples,voice.first_person"


async def test_editor_shows_which_field_is_wrong_and_keeps_the_input(manager: Admin) -> None:
    page = await manager.client.get("/admin/persona")
    values = _fields(page.text)
    values["voice.address"] = ["ちゃん"]
    values["voice.first_person"] = ["ボク"]
    values["csrf"] = [_csrf(page.text)]
    response = await manager.client.post("/admin/persona/draft", data=values)
    assert response.status_code == 422
    assert "<code>voice.address</code>" in response.text
    assert 'value="ボク"' in response.text
    assert manager.runtime.personas.draft().voice.first_person == "私"


async def test_yaml_editor_saves_and_reports_broken_yaml(manager: Admin) -> None:
    broken = await _post(manager, "/admin/persona", "/admin/persona/yaml", {"yaml": "a: [b"})
    assert broken.status_code == 422
    assert "YAML として読めません" in broken.text


async def test_preview_shows_draft_and_published_side_by_side(manager: Admin) -> None:
    draft = manager.runtime.personas.draft()
    manager.runtime.personas.save_draft(
        draft.model_copy(update={"voice": draft.voice.model_copy(update={"first_person": "ボク"})})
    )
    response = await _post(
        manager,
        "/admin/persona",
        "/admin/persona/preview",
        {"text": "新しい商品って、次はいつ出るの？"},
    )
    html = response.text
    draft_part = html[html.index('id="preview-draft"') : html.index('id="preview-published"')]
    published_part = html[html.index('id="preview-published"') :]
    assert "ボク" in draft_part
    assert "ボク" not in published_part.split("</section>")[0]
    assert await manager.runtime.store.customer_ids() == []


async def test_preview_marks_tone_findings_in_the_reply(manager: Admin) -> None:
    draft = manager.runtime.personas.draft()
    lines = draft.lines.model_copy(update={"farewell": ("本日はありがとうございました。",)})
    manager.runtime.personas.save_draft(draft.model_copy(update={"lines": lines}))
    response = await _post(
        manager, "/admin/persona", "/admin/persona/preview", {"text": "またね〜"}
    )
    assert '<mark class="finding register"' in response.text


async def test_relationship_change_starts_a_draft_from_the_preset(manager: Admin) -> None:
    response = await _post(
        manager, "/admin/persona", "/admin/persona/relationship", {"relationship": "コンシェルジュ"}
    )
    assert "「コンシェルジュ」のプリセットから下書きを作りました" in response.text
    assert manager.runtime.personas.draft().voice.first_person == "わたくし"


async def test_publish_page_shows_the_replay_and_publishes(manager: Admin) -> None:
    draft = manager.runtime.personas.draft()
    manager.runtime.personas.save_draft(
        draft.model_copy(update={"voice": draft.voice.model_copy(update={"first_person": "ボク"})})
    )
    response = await _post(manager, "/admin/persona", "/admin/persona/publish", {})
    assert response.status_code == 200
    assert "バージョン 2 を公開しました" in response.text
    assert "公開中の返答" in response.text
    assert manager.runtime.personas.published_version() == 2


async def test_publish_with_findings_offers_to_publish_anyway(manager: Admin) -> None:
    draft = manager.runtime.personas.draft()
    lines = draft.lines.model_copy(update={"farewell": ("本日はありがとうございました。",)})
    manager.runtime.personas.save_draft(draft.model_copy(update={"lines": lines}))
    refused = await _post(manager, "/admin/persona", "/admin/persona/publish", {})
    assert refused.status_code == 409
    assert "指摘があっても公開する" in refused.text
    forced = await manager.client.post(
        "/admin/persona/publish", data={"force": "1", "csrf": _csrf(refused.text)}
    )
    assert forced.status_code == 200
    assert manager.runtime.personas.published_version() == 2


async def test_versions_page_shows_a_diff_and_rolls_back(manager: Admin) -> None:
    personas = manager.runtime.personas
    draft = personas.draft()
    personas.save_draft(
        draft.model_copy(update={"voice": draft.voice.model_copy(update={"first_person": "ボク"})})
    )
    personas.publish()
    page = await manager.client.get("/admin/persona/versions", params={"diff": "1"})
    assert '<span class="del">-  first_person: ボク</span>' in page.text
    assert '<span class="add">+  first_person: 私</span>' in page.text
    response = await manager.client.post(
        "/admin/persona/rollback/1", data={"csrf": _csrf(page.text)}
    )
    assert response.headers["location"] == "/admin/persona/versions?done=rolled_back"
    assert personas.published_version() == 1


# -- tone check, customers, handoffs, dashboard --------------------------------------------------


async def test_check_page_highlights_findings_with_reasons(manager: Admin) -> None:
    response = await _post(
        manager, "/admin/check", "/admin/check", {"text": "今だけのチャンス！急いでね"}
    )
    assert '<mark class="finding forbidden_phrase"' in response.text
    assert "このペルソナが使わないことばです" in response.text


async def test_customer_page_shows_messages_and_memories(manager: Admin) -> None:
    await manager.say("hanako", "うちの猫はミルクっていう名前です")
    listing = await manager.client.get("/admin/customers")
    assert 'href="/admin/customers/hanako"' in listing.text
    page = await manager.client.get("/admin/customers/hanako", params={"q": "猫"})
    assert page.text.count("うちの猫はミルクっていう名前です") >= 3  # message, memory, recall


async def test_memory_delete_button_forgets_that_memory(manager: Admin) -> None:
    await manager.say("hanako", "うちの猫はミルクっていう名前です")
    (memory,) = await manager.runtime.store.memory("hanako").records()
    response = await _post(
        manager,
        "/admin/customers/hanako",
        f"/admin/customers/hanako/memories/{memory.id}/forget",
        {},
    )
    assert response.status_code == 303
    assert await manager.runtime.store.memory("hanako").records() == []
    assert await manager.runtime.store.memory("hanako").vector_count() == 0


async def test_forgetting_a_customer_needs_the_confirmation(manager: Admin) -> None:
    await manager.say("hanako", "うちの猫はミルクっていう名前です")
    unconfirmed = await _post(
        manager, "/admin/customers/hanako", "/admin/customers/hanako/forget", {}
    )
    assert unconfirmed.headers["location"].endswith("done=confirm_needed")
    assert await manager.runtime.store.customer("hanako") is not None
    confirmed = await _post(
        manager, "/admin/customers/hanako", "/admin/customers/hanako/forget", {"confirm": "1"}
    )
    assert confirmed.headers["location"] == "/admin/customers?done=customer_forgotten"
    assert await manager.runtime.store.customer("hanako") is None
    (entry,) = await manager.runtime.store.audit_log("hanako")
    assert (entry.actor, entry.action) == ("admin", "forget_customer")


async def test_unknown_customer_page_is_404(manager: Admin) -> None:
    response = await manager.client.get("/admin/customers/nobody")
    assert response.status_code == 404


async def test_handoffs_page_has_an_empty_state(manager: Admin) -> None:
    response = await manager.client.get("/admin/handoffs", params={"state": "resolved"})
    assert "引き継ぎはまだありません" in response.text


async def test_dashboard_charts_messages_and_the_unsure_share(manager: Admin) -> None:
    await manager.say("hanako", "こんにちは")
    await manager.say("hanako", "新しい商品って、次はいつ出るの？")
    response = await manager.client.get("/admin/")
    assert response.status_code == 200
    assert "<svg" in response.text
    assert '<strong id="unsure-share">50.0%</strong>' in response.text
