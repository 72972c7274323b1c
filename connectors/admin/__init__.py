"""The managers' side: the JSON API under /api and the web admin under /admin."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from pydantic import SecretStr

from connectors.admin.api import api_router
from connectors.admin.auth import AdminAuth
from connectors.admin.persona_desk import PersonaDesk
from connectors.admin.web import web_router
from connectors.runtime import Runtime


def admin_routers(
    *, admin_token: SecretStr | None, runtime: Callable[[], Runtime]
) -> list[APIRouter]:
    """The /api and /admin routers. `runtime` is looked up per request: it opens with
    the app's lifespan, after the routes are made."""
    auth = AdminAuth(admin_token)
    desk = PersonaDesk(runtime)
    return [api_router(auth, desk), web_router(auth, desk)]


__all__ = ["admin_routers"]
