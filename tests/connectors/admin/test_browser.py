"""A manager in a real browser: headless Chromium (Debian's package) driven by Playwright,
against `tomo serve` started as a user starts it.

Skipped, with the reason, only where Chromium is not installed.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.settings import Settings
from persona.repository import PersonaRepository
from tests.conftest import publish_preset
from tests.connectors.admin.conftest import ADMIN_TOKEN
from tests.connectors.test_cli import TOMO

CHROMIUM = Path(os.environ.get("TOMO_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)",
)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
)


@pytest.fixture
def server(subprocess_env: dict[str, str], data_dir: Path) -> Iterator[str]:
    """`tomo serve` on a free loopback port with the 親友 persona published; yields its URL."""
    publish_preset(Settings(data_dir=data_dir))
    assert TOMO, "the tomo console script is installed beside this Python"
    env = {**subprocess_env, "TOMO_ADMIN_TOKEN": ADMIN_TOKEN}
    with subprocess.Popen(
        [TOMO, "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield _listening_url(process)
        finally:
            process.terminate()
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)


def _listening_url(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("tomo: listening on "):
                return line.removeprefix("tomo: listening on ").strip()
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
    raise AssertionError(f"tomo serve did not start: {stderr}")


@pytest.fixture
def page(server: str) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(base_url=server, locale="ja-JP")
            context.set_default_timeout(20_000)
            opened = context.new_page()
            opened.on("dialog", lambda dialog: dialog.accept())
            yield opened
        finally:
            browser.close()


def _log_in(page: sync_api.Page) -> None:
    page.goto("/admin/")
    assert page.url.endswith("/admin/login")
    page.get_by_label("管理トークン").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="ログイン").click()
    sync_api.expect(page.get_by_role("heading", name="ダッシュボード")).to_be_visible()


def test_a_manager_changes_the_voice_previews_publishes_and_rolls_back(
    page: sync_api.Page, data_dir: Path, tmp_path: Path
) -> None:
    expect = sync_api.expect
    _log_in(page)

    page.get_by_role("link", name="ペルソナ", exact=True).click()
    page.locator("#first_person").fill("ボク")
    page.locator("textarea.example-tomo").first.fill("やっほー！ボクだよ😊 来てくれてうれしい！")
    page.get_by_role("button", name="下書きを保存").click()
    expect(page.get_by_role("status")).to_contain_text("下書きを保存しました")
    expect(page.locator(".status .badge")).to_contain_text("voice.first_person")

    page.locator("#preview-text").fill("新しい商品って、次はいつ出るの？")
    page.get_by_role("button", name="下書きと公開中で比べる").click()
    expect(page.locator("#preview-draft .bubble")).to_contain_text("ボク")
    expect(page.locator("#preview-published .bubble")).to_contain_text("私")
    expect(page.locator("#preview-published .bubble")).not_to_contain_text("ボク")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

    page.get_by_role("button", name="確認して公開").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("バージョン 2 を公開しました")
    personas = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
    published = personas.published()
    assert (published.voice.first_person, published.examples[0].tomo) == (
        "ボク",
        "やっほー！ボクだよ😊 来てくれてうれしい！",
    )

    page.get_by_role("link", name="バージョン", exact=True).click()
    expect(page.locator("#version-2")).to_contain_text("公開中")
    page.locator("#version-1").get_by_role("button", name="この版に戻す").click()
    expect(page.get_by_role("status")).to_contain_text("公開中のバージョンを切り替えました")
    expect(page.locator("#version-1")).to_contain_text("公開中")
    assert personas.published_version() == 1
    assert personas.published().voice.first_person == "私"


def test_switching_to_concierge_changes_the_same_preview(page: sync_api.Page) -> None:
    expect = sync_api.expect
    _log_in(page)
    page.goto("/admin/persona")
    page.get_by_label("お客様と").fill("コンシェルジュ")
    page.get_by_role("button", name="この関係で下書きを作る").click()
    expect(page.get_by_role("status")).to_contain_text("「コンシェルジュ」のプリセット")

    page.locator("#preview-text").fill("ありがとう、助かった！")
    page.get_by_role("button", name="下書きと公開中で比べる").click()
    draft = page.locator("#preview-draft .bubble").inner_text()
    published = page.locator("#preview-published .bubble").inner_text()
    assert draft != published
    assert any(word in draft for word in ("ございます", "存じます", "恐れ入ります"))
    expect(page.locator("#preview-draft")).to_contain_text("トーンの指摘はありません")
