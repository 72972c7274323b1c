"""Who may use /api and /admin: the admin token, a signed session cookie, CSRF tokens.

- /api takes `Authorization: Bearer <TOMO_ADMIN_TOKEN>`; the comparison is
  constant-time.
- /admin logs in with the same token and then carries a session cookie
  (HttpOnly, SameSite=Lax, Secure over https) whose value is signed with a key
  derived from the token: changing the token ends every session.
- Every form carries a CSRF token bound to the session (an HMAC of its id).

Nothing here logs or returns the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from pydantic import SecretStr

SESSION_COOKIE = "tomo_admin"
LOGIN_COOKIE = "tomo_admin_login"  # ties the login form's CSRF token to this browser
SESSION_SECONDS = 12 * 60 * 60

# Failed logins from one address within the window before it must wait (counted in
# the database by memory.admin_state.LoginLimit, so every process shares the limit).
LOGIN_ATTEMPTS = 10
LOGIN_WINDOW_SECONDS = 10 * 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A logged-in manager's session."""

    id: str
    expires: int


class AdminAuth:
    """Checks the admin token and signs what the browser carries."""

    def __init__(self, token: SecretStr | None) -> None:
        value = token.get_secret_value() if token is not None else ""
        self._token = value.encode("utf-8") if value else None
        self._key = (
            hmac.new(self._token, b"tomo admin session v1", hashlib.sha256).digest()
            if self._token
            else None
        )

    @property
    def configured(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:  # never show the token
        return f"AdminAuth(configured={self.configured})"

    def token_matches(self, given: str | None) -> bool:
        """Whether `given` is the admin token (constant-time)."""
        if self._token is None or given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self._token)

    def bearer_matches(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries the admin token as a bearer token."""
        if not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(credentials.strip())

    # -- sessions ---------------------------------------------------------------

    def _sign(self, data: str) -> str:
        if self._key is None:
            raise RuntimeError("TOMO_ADMIN_TOKEN is not set")
        return _b64(hmac.new(self._key, data.encode("ascii"), hashlib.sha256).digest())

    def new_session(self, now: float | None = None) -> tuple[Session, str]:
        """A fresh session and the cookie value that carries it."""
        moment = int(time.time() if now is None else now)
        session = Session(secrets.token_urlsafe(18), moment + SESSION_SECONDS)
        data = _b64(json.dumps({"sid": session.id, "exp": session.expires}).encode())
        return session, f"{data}.{self._sign(data)}"

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, if it is genuine and not expired."""
        if not cookie or self._key is None or "." not in cookie:
            return None
        data, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign_safe(data)):
            return None
        try:
            payload = json.loads(_unb64(data))
            session = Session(str(payload["sid"]), int(payload["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (time.time() if now is None else now):
            return None
        return session

    def _sign_safe(self, data: str) -> bytes:
        try:
            return self._sign(data).encode("ascii")
        except UnicodeEncodeError:
            return b""

    # -- CSRF -----------------------------------------------------------------------

    def csrf_token(self, bound_to: str) -> str:
        """The CSRF token for forms of one session (or one login nonce)."""
        return self._sign("csrf:" + _b64(bound_to.encode("utf-8")))

    def csrf_matches(self, bound_to: str, given: str | None) -> bool:
        if not given or self._key is None:
            return False
        return hmac.compare_digest(
            given.encode("ascii", "replace"), self.csrf_token(bound_to).encode("ascii")
        )
