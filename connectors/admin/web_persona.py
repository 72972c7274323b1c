"""The persona pages: the editor with its preview, publishing with the regression
replay, versions with a diff and roll-back, and the tone check of any text."""

# No `from __future__ import annotations` here: the routes' `LoggedIn` dependency is
# local to the function that adds them, and FastAPI must see it as an object.

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from connectors.admin.auth import Session
from connectors.admin.persona_desk import (
    DraftInvalid,
    PersonaConflict,
    PersonaDesk,
    RelationshipStart,
    parse_persona,
    parse_persona_yaml,
)
from connectors.admin.persona_form import (
    EMPTY_EXAMPLE_ROWS,
    form_values,
    persona_data,
    submitted_values,
)
from connectors.admin.preview import Preview, UnknownCustomer
from connectors.admin.web_pages import Pages, one
from persona.repository import persona_to_yaml

ACTOR = "admin"


def add_persona_pages(router: APIRouter, pages: Pages, desk: PersonaDesk) -> None:
    """/admin/persona…, /admin/check."""
    LoggedIn = Annotated[Session, Depends(pages.require_session)]
    render, posted, back = pages.render, pages.posted, pages.back

    # -- persona -------------------------------------------------------------------------

    def editor(
        request: Request,
        session: Session,
        *,
        status: int = 200,
        values: dict[str, Any] | None = None,
        yaml_text: str | None = None,
        errors: Sequence[Any] = (),
        preview: dict[str, Any] | None = None,
        note: str = "",
        start: RelationshipStart | None = None,
    ) -> HTMLResponse:
        state = desk.state()
        if values is None:
            values = form_values(state.draft) if state.draft else None
        return render(
            request,
            "persona.html",
            session,
            status=status,
            state=state,
            values=values,
            empty_rows=EMPTY_EXAMPLE_ROWS,
            yaml_text=yaml_text
            if yaml_text is not None
            else (persona_to_yaml(state.draft) if state.draft else ""),
            errors=errors,
            preview=preview,
            note=note,
            start=start,
            nav="persona",
        )

    @router.get("/persona")
    async def persona_page(request: Request, session: LoggedIn) -> Response:
        return editor(request, session)

    @router.post("/persona/draft")
    async def save_fields(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        state = desk.state()
        if state.draft is None:
            raise HTTPException(409, "no persona yet: run `tomo persona init`")
        try:
            persona = parse_persona(persona_data(form, state.draft))
        except DraftInvalid as invalid:
            return editor(
                request, session, status=422, values=submitted_values(form), errors=invalid.errors
            )
        await desk.save_draft(persona, actor=ACTOR)
        return back("/persona", "saved")

    @router.post("/persona/yaml")
    async def save_yaml(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        text = one(form, "yaml")
        try:
            persona = parse_persona_yaml(text)
        except DraftInvalid as invalid:
            return editor(request, session, status=422, yaml_text=text, errors=invalid.errors)
        await desk.save_draft(persona, actor=ACTOR)
        return back("/persona", "saved")

    @router.post("/persona/relationship")
    async def from_relationship(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        word = one(form, "relationship").strip()
        if not word:
            return editor(request, session, status=422, note="関係を表すことばを入力してください。")
        try:
            start = await desk.start_from_relationship(word, actor=ACTOR)
        except KeyError:
            return editor(
                request, session, status=422, note=f"「{word}」に合うプリセットがありません。"
            )
        except PersonaConflict as conflict:
            return editor(request, session, status=409, note=str(conflict))
        return editor(request, session, note=start.note, start=start)

    @router.post("/persona/preview")
    async def preview(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        text = one(form, "text").strip()
        customer = one(form, "customer").strip() or None
        result: dict[str, Any] = {"text": text, "customer": customer or ""}
        if not text:
            result["error"] = "メッセージを入力してください。"
            return editor(request, session, status=422, preview=result)
        state = desk.state()
        for which in ("draft", "published"):
            if (state.draft if which == "draft" else state.published) is None:
                continue
            try:
                reply: Preview = await desk.preview(text, which=which, customer=customer)
            except UnknownCustomer:
                result["error"] = f"お客様「{customer}」は見つかりません。"
                return editor(request, session, status=404, preview=result)
            result[which] = reply
        return editor(request, session, preview=result)

    @router.post("/persona/publish")
    async def publish(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        force = one(form, "force") == "1"
        try:
            outcome = await desk.publish(force=force, actor=ACTOR)
        except PersonaConflict as conflict:
            return editor(request, session, status=409, note=str(conflict))
        return render(
            request,
            "publish.html",
            session,
            status=200 if outcome.published else 409,
            outcome=outcome,
            nav="persona",
        )

    @router.get("/persona/versions")
    async def versions(request: Request, session: LoggedIn) -> Response:
        diff_text = ""
        diff_of: int | None = None
        wanted = request.query_params.get("diff", "")
        if wanted.isdigit():
            diff_of = int(wanted)
            try:
                diff_text = desk.diff(diff_of)
            except KeyError as error:
                raise HTTPException(404, f"no persona version {diff_of}") from error
        log = [
            entry
            for entry in await desk.runtime.store.audit_log()
            if entry.action.startswith("persona_")
        ]
        return render(
            request,
            "versions.html",
            session,
            versions=list(reversed(desk.versions())),
            current=desk.state().version,
            diff_of=diff_of,
            diff_lines=diff_text.splitlines(),
            draft_diff_lines=desk.draft_diff().splitlines(),
            log=list(reversed(log[-30:])),
            nav="versions",
        )

    @router.post("/persona/rollback/{version}")
    async def rollback(request: Request, session: LoggedIn, version: int) -> Response:
        await posted(request, session)
        try:
            await desk.rollback(version, actor=ACTOR)
        except KeyError as error:
            raise HTTPException(404, f"no persona version {version}") from error
        return back("/persona/versions", "rolled_back")

    # -- tone check -------------------------------------------------------------------------

    @router.get("/check")
    async def check_page(request: Request, session: LoggedIn) -> Response:
        return render(request, "check.html", session, text="", result=None, nav="check")

    @router.post("/check")
    async def check(request: Request, session: LoggedIn) -> Response:
        form = await posted(request, session)
        text = one(form, "text")
        try:
            version, findings = desk.check(text)
        except PersonaConflict as conflict:
            return render(
                request,
                "check.html",
                session,
                409,
                text=text,
                result=None,
                error=str(conflict),
                nav="check",
            )
        return render(
            request,
            "check.html",
            session,
            text=text,
            result={"version": version, "findings": findings},
            nav="check",
        )
