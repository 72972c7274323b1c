"""The JSON API under /api: customers, memories, the persona, preview, tone check.

Every request needs `Authorization: Bearer <TOMO_ADMIN_TOKEN>` (401 without it
or with a wrong one; 503 when no token is configured). Actions are audited with
the actor "admin".
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from connectors.admin import handoffs, queries
from connectors.admin.auth import AdminAuth
from connectors.admin.persona_desk import (
    DraftInvalid,
    FieldError,
    PersonaConflict,
    PersonaDesk,
    parse_persona,
    parse_persona_yaml,
)
from connectors.admin.preview import UnknownCustomer
from memory.customer_memory import Recalled
from memory.models import MemoryRecord
from persona.repository import persona_to_yaml

ACTOR = "admin"
MAX_TEXT = 20_000


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)
    customer: str | None = Field(default=None, max_length=128)
    persona: Literal["draft", "published"] = "draft"


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = False


class RelationshipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relationship: str = Field(
        min_length=1,
        max_length=500,
        description="A relationship word, or a definition in free text",
    )
    commitments: list[Annotated[str, Field(min_length=1, max_length=2000)]] | None = Field(
        default=None,
        max_length=30,
        description="The brand's commitments as free texts (見出し: 本文); default: the draft's",
    )


def _invalid(errors: tuple[FieldError, ...] | list[FieldError]) -> JSONResponse:
    return JSONResponse(
        {
            "detail": [
                {**error.to_json(), "loc": ["body", *error.field.split(".")]} for error in errors
            ]
        },
        status_code=422,
    )


def _conflict(conflict: PersonaConflict) -> JSONResponse:
    return JSONResponse({"detail": str(conflict), "code": conflict.code}, status_code=409)


def _recalled_json(memory: Recalled) -> dict[str, Any]:
    return {
        "id": memory.id,
        "text": memory.text,
        "kind": memory.kind.value,
        "author": memory.author.value,
        "sensitivity": memory.sensitivity,
        "created_at": memory.created_at.isoformat(),
        "score": round(memory.score, 4),
        "vector_score": round(memory.vector_score, 4),
        "lexical_score": round(memory.lexical_score, 4),
    }


def _record_json(record: MemoryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "text": record.text,
        "kind": record.kind.value,
        "author": record.author.value,
        "sensitivity": record.sensitivity,
        "key": record.key,
        "event_date": record.event_date,
        "created_at": record.created_at.isoformat(),
        "score": None,
    }


def api_router(auth: AdminAuth, desk: PersonaDesk) -> APIRouter:
    """The /api routes, guarded by the admin token."""

    async def require_token(request: Request) -> None:
        if not auth.configured:
            raise HTTPException(503, "the admin API is off: TOMO_ADMIN_TOKEN is not set")
        if not auth.bearer_matches(request.headers.get("authorization")):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    router = APIRouter(prefix="/api", dependencies=[Depends(require_token)])

    async def known_customer(customer_id: str) -> None:
        if await desk.runtime.store.customer(customer_id) is None:
            raise HTTPException(404, f"no customer {customer_id!r}")

    # -- customers ------------------------------------------------------------------

    @router.get("/customers")
    async def list_customers(
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        found = await queries.customers(desk.runtime.store.engine, limit=limit, offset=offset)
        return [summary.to_json() for summary in found]

    @router.get("/customers/{customer_id}")
    async def show_customer(customer_id: str) -> dict[str, Any]:
        summary = await queries.customer_summary(desk.runtime.store.engine, customer_id)
        if summary is None:
            raise HTTPException(404, f"no customer {customer_id!r}")
        return summary.to_json()

    @router.get("/customers/{customer_id}/messages")
    async def customer_messages(
        customer_id: str,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before: Annotated[int | None, Query(ge=1, description="only messages older than id")] = (
            None
        ),
    ) -> list[dict[str, Any]]:
        await known_customer(customer_id)
        found = await desk.runtime.store.recent_messages(customer_id, limit, before_id=before)
        return [queries.message_json(message) for message in found]

    @router.get("/customers/{customer_id}/memories")
    async def customer_memories(
        customer_id: str,
        q: Annotated[str | None, Query(max_length=1000)] = None,
        k: Annotated[int, Query(ge=1, le=100)] = 5,
    ) -> list[dict[str, Any]]:
        await known_customer(customer_id)
        memory = desk.runtime.store.memory(customer_id)
        if q:
            return [_recalled_json(found) for found in await memory.recall(q, k)]
        records = await memory.records(active_only=True)
        return [_record_json(record) for record in reversed(records)]

    @router.delete("/customers/{customer_id}/memories/{memory_id}")
    async def forget_memory(customer_id: str, memory_id: str) -> dict[str, Any]:
        await known_customer(customer_id)
        store = desk.runtime.store
        forgotten = await store.memory(customer_id).forget([memory_id])
        if not forgotten:
            raise HTTPException(404, f"no memory {memory_id!r} of this customer")
        await store.audit(
            actor=ACTOR,
            action="forget_memory",
            customer_id=customer_id,
            count=forgotten,
            detail="memories=1",
        )
        return {"customer_id": customer_id, "memories": forgotten}

    @router.delete("/customers/{customer_id}")
    async def forget_customer(customer_id: str) -> dict[str, Any]:
        await known_customer(customer_id)
        report = await desk.runtime.store.forget_customer(customer_id, actor=ACTOR)
        return {
            "customer_id": report.customer_id,
            "messages": report.messages,
            "memories": report.memories,
            "vectors_left": report.vectors_left,
        }

    # -- handoffs -----------------------------------------------------------------------

    @router.get("/handoffs")
    async def list_handoffs(
        state: Annotated[Literal["open", "with_staff", "resolved"] | None, Query()] = None,
    ) -> list[dict[str, Any]]:
        return await handoffs.list_handoffs(desk.runtime, state)

    # -- persona ---------------------------------------------------------------------------

    @router.get("/persona")
    async def show_persona() -> dict[str, Any]:
        state = desk.state()
        return {
            "version": state.version,
            "published": state.published.model_dump(mode="json") if state.published else None,
            "draft": state.draft.model_dump(mode="json") if state.draft else None,
            "draft_changed": list(state.changed),
            "draft_yaml": persona_to_yaml(state.draft) if state.draft else None,
        }

    @router.put("/persona/draft", response_model=None)
    async def save_draft(request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        try:
            if "yaml" in content_type:
                persona = parse_persona_yaml(body.decode("utf-8", "replace"))
            else:
                try:
                    data = json.loads(body)
                except ValueError:
                    return _invalid([FieldError("body", "JSON として読めません", "json_invalid")])
                persona = parse_persona(data)
        except DraftInvalid as invalid:
            return _invalid(invalid.errors)
        changed = await desk.save_draft(persona, actor=ACTOR)
        return {"saved": True, "changed": changed}

    @router.post("/persona/draft/relationship", response_model=None)
    async def draft_from_relationship(
        body: RelationshipRequest,
    ) -> dict[str, Any] | JSONResponse:
        try:
            start = await desk.start_from_relationship(
                body.relationship, actor=ACTOR, commitments=body.commitments
            )
        except KeyError as error:
            raise HTTPException(422, str(error)) from error
        except DraftInvalid as invalid:  # e.g. commitments that make no valid persona
            return _invalid(invalid.errors)
        except PersonaConflict as conflict:
            return _conflict(conflict)
        return start.to_json()

    @router.post("/persona/publish", response_model=None)
    async def publish(body: PublishRequest | None = None) -> dict[str, Any] | JSONResponse:
        force = body.force if body else False
        try:
            outcome = await desk.publish(force=force, actor=ACTOR)
        except PersonaConflict as conflict:
            return _conflict(conflict)
        if not outcome.published:
            return JSONResponse(
                {
                    **outcome.to_json(),
                    "detail": "下書きの返答にトーンの指摘があります。force: true で公開できます。",
                },
                status_code=409,
            )
        return outcome.to_json()

    @router.get("/persona/versions")
    async def versions() -> list[dict[str, Any]]:
        return [info.to_json() for info in desk.versions()]

    @router.post("/persona/rollback/{version}")
    async def rollback(version: int) -> dict[str, Any]:
        try:
            await desk.rollback(version, actor=ACTOR)
        except KeyError as error:
            raise HTTPException(404, f"no persona version {version}") from error
        return {"version": version, "in_force": True}

    # -- trying ------------------------------------------------------------------------------

    @router.post("/preview", response_model=None)
    async def preview(body: PreviewRequest) -> dict[str, Any] | JSONResponse:
        try:
            result = await desk.preview(body.text, which=body.persona, customer=body.customer)
        except PersonaConflict as conflict:
            return _conflict(conflict)
        except UnknownCustomer as error:
            raise HTTPException(404, f"no customer {error.args[0]!r}") from error
        return {
            "persona": body.persona,
            "reply": list(result.messages),
            "unsure": result.unsure,
            "memory_control": result.memory_control,
            "findings": [finding.to_json() for finding in result.findings],
            "recalled": [_recalled_json(memory) for memory in result.recalled],
        }

    @router.post("/check", response_model=None)
    async def check(body: CheckRequest) -> dict[str, Any] | JSONResponse:
        try:
            version, findings = desk.check(body.text)
        except PersonaConflict as conflict:
            return _conflict(conflict)
        return {"version": version, "findings": [finding.to_json() for finding in findings]}

    # -- audit -----------------------------------------------------------------------------------

    @router.get("/audit")
    async def audit(
        customer: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        entries = await desk.runtime.store.audit_log(customer)
        return [
            {
                "at": entry.at.isoformat(),
                "actor": entry.actor,
                "action": entry.action,
                "customer_id": entry.customer_id,
                "count": entry.count,
                "detail": entry.detail,
            }
            for entry in reversed(entries[-limit:])
        ]

    return router
