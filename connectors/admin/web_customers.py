"""The pages about customers and what tomo does: the dashboard, customers with their
messages and memories (delete, forget), and handoffs."""

# No `from __future__ import annotations` here: the routes' `LoggedIn` dependency is
# local to the function that adds them, and FastAPI must see it as an object.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from connectors.admin import handoffs, queries
from connectors.admin.auth import Session
from connectors.admin.persona_desk import PersonaDesk
from connectors.admin.web_pages import JST, PREFIX, Pages, one

ACTOR = "admin"


def add_customer_pages(router: APIRouter, pages: Pages, desk: PersonaDesk) -> None:
    """/admin/, /admin/customers…, /admin/handoffs."""
    LoggedIn = Annotated[Session, Depends(pages.require_session)]
    render, posted, back = pages.render, pages.posted, pages.back

    # -- dashboard ----------------------------------------------------------------------

    @router.get("")
    async def root(session: LoggedIn) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    @router.get("/")
    async def dashboard(request: Request, session: LoggedIn) -> Response:
        numbers = await queries.dashboard(desk.runtime.store.engine, tz=JST)
        return render(
            request,
            "dashboard.html",
            session,
            numbers=numbers,
            reasons=await handoffs.handoffs_per_reason(desk.runtime),
            nav="dashboard",
        )

    # -- customers --------------------------------------------------------------------------

    @router.get("/customers")
    async def customers(request: Request, session: LoggedIn) -> Response:
        page = request.query_params.get("page", "1")
        number = max(1, int(page)) if page.isdigit() else 1
        size = 50
        engine = desk.runtime.store.engine
        found = await queries.customers(engine, limit=size, offset=(number - 1) * size)
        total = await queries.customer_count(engine)
        return render(
            request,
            "customers.html",
            session,
            customers=found,
            page=number,
            pages=max(1, (total + size - 1) // size),
            total=total,
            nav="customers",
        )

    @router.get("/customers/{customer_id}")
    async def customer(request: Request, session: LoggedIn, customer_id: str) -> Response:
        store = desk.runtime.store
        summary = await queries.customer_summary(store.engine, customer_id)
        if summary is None:
            return render(request, "not_found.html", session, 404, what="お客様", nav="customers")
        memory = store.memory(customer_id)
        query = request.query_params.get("q", "").strip()
        recalled = await memory.recall(query, 10) if query else None
        return render(
            request,
            "customer.html",
            session,
            summary=summary,
            messages=await store.recent_messages(customer_id, 200),
            memories=list(reversed(await memory.records(active_only=True))),
            query=query,
            recalled=recalled,
            nav="customers",
        )

    @router.post("/customers/{customer_id}/memories/{memory_id}/forget")
    async def forget_memory(
        request: Request, session: LoggedIn, customer_id: str, memory_id: str
    ) -> Response:
        await posted(request, session)
        store = desk.runtime.store
        forgotten = await store.memory(customer_id).forget([memory_id])
        if forgotten:
            await store.audit(
                actor=ACTOR,
                action="forget_memory",
                customer_id=customer_id,
                count=forgotten,
                detail="memories=1",
            )
        return back(f"/customers/{quote(customer_id, safe='')}", "memory_forgotten")

    @router.post("/customers/{customer_id}/forget")
    async def forget_customer(request: Request, session: LoggedIn, customer_id: str) -> Response:
        form = await posted(request, session)
        if one(form, "confirm") != "1":
            return back(f"/customers/{quote(customer_id, safe='')}", "confirm_needed")
        store = desk.runtime.store
        if await store.customer(customer_id) is not None:
            await store.forget_customer(customer_id, actor=ACTOR)
        return back("/customers", "customer_forgotten")

    # -- handoffs -----------------------------------------------------------------------------

    @router.get("/handoffs")
    async def handoff_list(request: Request, session: LoggedIn) -> Response:
        state = request.query_params.get("state", "open")
        if state not in handoffs.HANDOFF_STATES:
            state = "open"
        return render(
            request,
            "handoffs.html",
            session,
            state=state,
            handoffs=await handoffs.list_handoffs(desk.runtime, state),
            nav="handoffs",
        )
