"""The web admin under /admin: server-rendered Japanese pages, no JavaScript needed.

Login takes the admin token and sets a signed session cookie (HttpOnly,
SameSite=Lax, Secure over https). Every form carries a CSRF token bound to the
session; a POST without the right one gets 403. Pages are sent with a strict
Content-Security-Policy (only this site's own CSS and JS).
"""

# No `from __future__ import annotations` here: the routes' `LoggedIn` dependency is
# local to the function that adds them, and FastAPI must see it as an object.

import secrets
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from connectors.admin.auth import (
    LOGIN_ATTEMPTS,
    LOGIN_COOKIE,
    LOGIN_WINDOW_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    AdminAuth,
    Session,
)
from connectors.admin.persona_desk import PersonaDesk
from connectors.admin.web_customers import add_customer_pages
from connectors.admin.web_pages import PREFIX, Pages, client_address, one, read_form
from connectors.admin.web_persona import add_persona_pages
from memory.admin_state import LoginLimit

STATIC_FILES = {"admin.css": "text/css; charset=utf-8", "admin.js": "text/javascript"}


def web_router(auth: AdminAuth, desk: PersonaDesk) -> APIRouter:
    """The /admin pages."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    pages = Pages(auth)
    LoggedIn = Annotated[Session, Depends(pages.require_session)]
    render, posted = pages.render, pages.posted

    # -- static files and login -------------------------------------------------------

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404)
        body = resources.files("connectors.admin").joinpath("static", name).read_bytes()
        return Response(
            body,
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    def login_page(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
        response = render(
            request,
            "login.html",
            None,
            status=status,
            login_csrf=auth.csrf_token("login:" + nonce) if auth.configured else "",
            configured=auth.configured,
            error=error,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path=PREFIX,
        )
        return response

    @router.get("/login")
    async def loginread_form(request: Request) -> HTMLResponse:
        if not auth.configured:
            return login_page(request, status=503)
        return login_page(request)

    @router.post("/login")
    async def login(request: Request) -> Response:
        if not auth.configured:
            return login_page(request, status=503)
        form = await read_form(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not auth.csrf_matches("login:" + nonce, one(form, "csrf")):
            return login_page(
                request, 403, "フォームの有効期限が切れました。もう一度お試しください。"
            )
        client = client_address(request)
        # Counted in the database: every `tomo serve` process shares one limit.
        limit = LoginLimit(
            desk.runtime.store.engine, attempts=LOGIN_ATTEMPTS, window=LOGIN_WINDOW_SECONDS
        )
        if await limit.blocked(client):
            return login_page(
                request, 429, "失敗が続いたため、しばらくしてからもう一度お試しください。"
            )
        if not auth.token_matches(one(form, "token")):
            await limit.failed(client)
            return login_page(request, 401, "管理トークンが違います。")
        await limit.succeeded(client)
        _, cookie = auth.new_session()
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path=PREFIX,
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @router.post("/logout")
    async def logout(request: Request, session: LoggedIn) -> Response:
        await posted(request, session)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    add_customer_pages(router, pages, desk)
    add_persona_pages(router, pages, desk)
    return router
