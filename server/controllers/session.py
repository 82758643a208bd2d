"""``/api/v1/auth/setup`` and ``/api/v1/auth/session``: the web app's first run and its
cookie sign-in.

The web app keeps no token where its script can read it: a sign-in here answers the
account and sets two cookies, the session (HttpOnly, SameSite=Strict) and a CSRF value
the script echoes in ``X-CSRF-Token`` on unsafe requests (see :mod:`server.security`).
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from assistant.auth import TokenPair
from assistant.errors import Unauthorized
from server.controllers.auth import PUBLIC, client_of
from server.deps import AuthDep, OidcDep, PrincipalDep
from server.problems import JSON_BODY, problems
from server.schemas.auth import (
    Credentials,
    HandoffCode,
    NewCredentials,
    SessionState,
    SetupState,
    UserOut,
    WebSession,
)
from server.security import CSRF_COOKIE, SESSION_COOKIE


def session_cookies(request: Request[Any, Any, Any], token: str, max_age: int) -> list[Cookie]:
    """The session cookie and a fresh CSRF cookie (Secure when served over https)."""
    secure = request.url.scheme == "https"
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=token,
            path="/",
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=secure,
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=secrets.token_urlsafe(32),
            path="/",
            max_age=max_age,
            httponly=False,  # the web app's script reads it to echo it in X-CSRF-Token
            samesite="strict",
            secure=secure,
        ),
    ]


def expired_cookies(request: Request[Any, Any, Any]) -> list[Cookie]:
    """Cookies that make the browser forget the session."""
    secure = request.url.scheme == "https"
    return [
        Cookie(key=name, value="", path="/", max_age=0, samesite="strict", secure=secure)
        for name in (SESSION_COOKIE, CSRF_COOKIE)
    ]


def signed_in(
    request: Request[Any, Any, Any], auth: AuthDep, pair: TokenPair, status: int
) -> Response[WebSession]:
    """The answer of every cookie sign-in: the account, with the cookies set."""
    token = auth.web_session_token(pair)
    return Response(
        WebSession.of(pair),
        status_code=status,
        cookies=session_cookies(request, token, pair.refresh_expires_in),
        headers={"Cache-Control": "no-store"},
    )


class WebSessionController(Controller):
    """The web app's sign-in: first-run set-up and cookie sessions."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @get(
        "/setup",
        opt=PUBLIC,
        security=[{}],
        sync_to_thread=True,
        responses=problems(),
        summary="Does this device need its first admin",
    )
    def setup_state(self, auth: AuthDep) -> SetupState:
        """True until the first account exists; the web app then shows its set-up page."""
        return SetupState(needs_setup=auth.needs_setup())

    @post(
        "/setup",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 409),
        summary="Create the first admin and sign in (first run only)",
    )
    def set_up(
        self, data: JSONBody[NewCredentials], auth: AuthDep, request: Request[Any, Any, Any]
    ) -> Response[WebSession]:
        """Works only while no account exists (409 afterwards): the account becomes the
        admin and is signed in with the web app's session cookie."""
        pair = auth.set_up(data.username, data.password, client_of(request))
        return signed_in(request, auth, pair, HTTP_201_CREATED)

    @post(
        "/session",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 429),
        summary="Sign in with a cookie session (the web app)",
    )
    def open_session(
        self, data: JSONBody[Credentials], auth: AuthDep, request: Request[Any, Any, Any]
    ) -> Response[WebSession]:
        """The same password check and throttling as ``/auth/login``; the session is kept
        in an HttpOnly, SameSite=Strict cookie instead of tokens in the answer, with an
        ``assistant_csrf`` cookie whose value unsafe requests echo in ``X-CSRF-Token``."""
        pair = auth.login(data.username, data.password, client_of(request))
        return signed_in(request, auth, pair, HTTP_200_OK)

    @post(
        "/session/oidc",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403),
        summary="Turn an OpenID sign-in hand-off code into a cookie session",
    )
    def open_oidc_session(
        self,
        data: JSONBody[HandoffCode],
        auth: AuthDep,
        oidc: OidcDep,
        request: Request[Any, Any, Any],
    ) -> Response[WebSession]:
        """The web app starts an OpenID sign-in with ``return_to=/``; the provider's
        callback comes back with ``#oidc_code=...``, which the page trades here."""
        pair = oidc.redeem(data.code, None, client_of(request))
        return signed_in(request, auth, pair, HTTP_200_OK)

    @get(
        "/session",
        opt=PUBLIC,
        security=[{}],
        sync_to_thread=True,
        responses=problems(),
        summary="Who is signed in by cookie (the web app)",
    )
    def session_state(self, auth: AuthDep, request: Request[Any, Any, Any]) -> SessionState:
        """The account of the session cookie, or ``user: null`` when there is no live one
        (never a 401: a signed-out page asks this on every start)."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return SessionState(user=None)
        try:
            principal = auth.authenticate_web_session(token)
        except Unauthorized:
            return SessionState(user=None)
        return SessionState(user=UserOut.of(auth.get_user(principal.user_id)))

    @delete(
        "/session",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 403, 422),
        summary="Sign out (the web app)",
    )
    def close_session(
        self, principal: PrincipalDep, auth: AuthDep, request: Request[Any, Any, Any]
    ) -> Response[None]:
        """Ends the caller's session and clears its cookies."""
        auth.logout(principal)
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=expired_cookies(request))
