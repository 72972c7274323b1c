"""Admin authentication: bearer tokens, signed sessions, CSRF tokens."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.admin.auth import SESSION_SECONDS, AdminAuth


def test_bearer_header_must_carry_exactly_the_token() -> None:
    auth = AdminAuth(SecretStr("s3cret-token"))
    assert auth.bearer_matches("Bearer s3cret-token")
    assert auth.bearer_matches("bearer s3cret-token")
    assert not auth.bearer_matches("Bearer s3cret-toke")
    assert not auth.bearer_matches("s3cret-token")
    assert not auth.bearer_matches(None)


def test_nothing_matches_when_no_token_is_configured() -> None:
    auth = AdminAuth(None)
    assert (auth.configured, auth.bearer_matches("Bearer "), auth.session("x.y")) == (
        False,
        False,
        None,
    )


def test_a_session_expires() -> None:
    auth = AdminAuth(SecretStr("s3cret-token"))
    session, cookie = auth.new_session(now=1_000)
    assert auth.session(cookie, now=1_000) == session
    assert auth.session(cookie, now=1_000 + SESSION_SECONDS + 1) is None


def test_changing_the_token_ends_every_session() -> None:
    _, cookie = AdminAuth(SecretStr("old-token")).new_session()
    assert AdminAuth(SecretStr("new-token")).session(cookie) is None


def test_a_tampered_session_is_refused() -> None:
    auth = AdminAuth(SecretStr("s3cret-token"))
    _, cookie = auth.new_session()
    data, _, signature = cookie.partition(".")
    assert auth.session(data + "x." + signature) is None
    assert auth.session("ü." + signature) is None


def test_csrf_token_is_bound_to_its_session() -> None:
    auth = AdminAuth(SecretStr("s3cret-token"))
    token = auth.csrf_token("session-a")
    assert auth.csrf_matches("session-a", token)
    assert not auth.csrf_matches("session-b", token)
    assert not auth.csrf_matches("session-a", "")


def test_the_token_never_shows_in_repr() -> None:
    assert "s3cret" not in repr(AdminAuth(SecretStr("s3cret-token")))
