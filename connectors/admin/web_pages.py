"""What every admin page shares: the Jinja2 templates, rendering with the security
headers, the session check, CSRF-checked forms and redirects."""

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from connectors.admin.auth import SESSION_COOKIE, AdminAuth, Session
from persona.tone import Finding

PREFIX = "/admin"
JST = timezone(timedelta(hours=9), "JST")
MAX_FORM_BYTES = 1_000_000

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("connectors.admin", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["jst"] = _jst
    environment.globals["segments"] = segments
    return environment


def _jst(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def segments(text: str, findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The text cut where findings start and end, each piece with the findings over it."""
    cuts = sorted({0, len(text), *(f.start for f in findings), *(f.end for f in findings)})
    pieces = []
    for start, end in itertools.pairwise(cuts):
        if start >= end:
            continue
        over = [f for f in findings if f.start <= start and end <= f.end]
        pieces.append(
            {
                "text": text[start:end],
                "kinds": " ".join(sorted({f.kind.value for f in over})),
                "reasons": " / ".join(dict.fromkeys(f.reason for f in over)),
            }
        )
    return pieces


async def read_form(request: Request) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "a form is expected")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise HTTPException(413, "the form is too large")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "the form is too large")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Pages:
    """Renders pages and checks sessions and forms for the admin's routes."""

    def __init__(self, auth: AdminAuth) -> None:
        self.auth = auth
        self._templates = _templates()

    def render(
        self,
        request: Request,
        name: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        html = self._templates.get_template(name).render(
            request=request,
            csrf=self.auth.csrf_token(session.id) if session else "",
            logged_in=session is not None,
            prefix=PREFIX,
            done=request.query_params.get("done", ""),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    async def require_session(self, request: Request) -> Session:
        """The logged-in session, or a redirect to the login page."""
        session = self.auth.session(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise HTTPException(303, "login required", headers={"Location": f"{PREFIX}/login"})
        return session

    async def posted(self, request: Request, session: Session) -> dict[str, list[str]]:
        """The form of a POST, after the CSRF check."""
        form = await read_form(request)
        if not self.auth.csrf_matches(session.id, one(form, "csrf")):
            raise HTTPException(403, "CSRF token missing or wrong: reload the page")
        return form

    @staticmethod
    def back(path: str, done: str = "") -> RedirectResponse:
        """See other: a page of the admin, with what was done."""
        target = f"{PREFIX}{path}" + (f"?done={quote(done)}" if done else "")
        return RedirectResponse(target, status_code=303)
