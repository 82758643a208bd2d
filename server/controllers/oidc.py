"""``/api/v1/auth/oidc`` (sign-in with OpenID providers) and ``/api/v1/auth/identities``
(the identities linked to the caller's account).

The login and callback routes are opened by browsers: their errors are an HTML page
when the browser asks for HTML, and problem+json otherwise (one classification, two
renderers).
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from assistant.auth.oidc import AppRedirect, Finish
from assistant.errors import InvalidInput
from assistant.problems import Problem
from server.controllers.auth import PUBLIC, client_of
from server.deps import OidcDep, PrincipalDep, SettingsDep
from server.problems import JSON_BODY, PARAMETERS, exception_handlers, problem_json, problems
from server.schemas.auth import Tokens
from server.schemas.oidc import (
    DevicePoll,
    DevicePollOut,
    DeviceStartOut,
    HandoffRedeem,
    IdentityOut,
    LinkStart,
    LinkUrl,
    ProviderOut,
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1><p>{detail}</p><p><a href="/">Back</a></p>
<p><small>{code} · request {request_id}</small></p></main></body></html>
"""


def html_or_problem(problem: Problem, request: Request[Any, Any, Any]) -> Response[bytes]:
    """An HTML page for a browser (it asked for HTML, not JSON), problem+json otherwise."""
    accept = request.headers.get("accept", "")
    if "text/html" not in accept or "application/json" in accept:
        return problem_json(problem, request)
    page = _PAGE.format(
        title=html.escape(problem.title),
        detail=html.escape(problem.detail),
        code=html.escape(problem.code),
        request_id=html.escape(request.headers.get("x-request-id", "")),
    )
    return Response(page.encode(), status_code=problem.status, media_type="text/html")


BROWSER_ERRORS = exception_handlers(html_or_problem)
BROWSER_COOKIE = "oidc_browser"
"""Binds a sign-in to the browser that started it (checked at the callback)."""
REDIRECT = {303: ResponseSpec(data_container=None, description="Redirect (see Location)")}


def callback_uri(request: Request[Any, Any, Any], public_url: str | None, provider: str) -> str:
    """The redirect URI registered at the provider for this server."""
    base = (public_url or str(request.base_url)).rstrip("/")
    return f"{base}/api/v1/auth/oidc/{provider}/callback"


class OidcController(Controller):
    """Sign-in with OpenID providers, and identity links."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @get(
        "/oidc/providers",
        opt=PUBLIC,
        security=[{}],
        sync_to_thread=True,
        responses=problems(),
        summary="OpenID providers to sign in with",
    )
    def providers(self, oidc: OidcDep) -> list[ProviderOut]:
        """The configured providers and their login URLs."""
        return [ProviderOut.of(p) for p in oidc.providers()]

    @get(
        "/oidc/{provider:str}/login",
        opt=PUBLIC,
        security=[{}],
        status_code=303,
        sync_to_thread=True,
        exception_handlers=BROWSER_ERRORS,
        responses=problems(*PARAMETERS, 404, 502) | REDIRECT,
        summary="Sign in with an OpenID provider",
    )
    def login(
        self,
        provider: FromPath[str],
        oidc: OidcDep,
        settings: SettingsDep,
        request: Request[Any, Any, Any],
        return_to: Annotated[
            str | None,
            Parameter(
                max_length=2000,
                description="A path on this server to come back to (with ?oidc_code=...)",
            ),
        ] = None,
        redirect_uri: Annotated[
            str | None,
            Parameter(
                max_length=2000,
                description="Native apps: your loopback or private-scheme redirect URI",
            ),
        ] = None,
        app_state: Annotated[
            str | None,
            QueryParameter(name="state", max_length=500, description="Native apps: your state"),
        ] = None,
        code_challenge: Annotated[
            str | None,
            Parameter(
                min_length=43, max_length=128, description="Native apps: S256 of your verifier"
            ),
        ] = None,
        code_challenge_method: Annotated[
            str | None, Parameter(pattern="^S256$", description="Native apps: S256")
        ] = None,
    ) -> Redirect:
        """Redirects the browser to the provider, with a cookie binding the sign-in to this
        browser. Browsers come back through the callback to ``return_to`` with a one-time
        ``#oidc_code=...`` in the fragment (redeem it at ``POST /api/v1/auth/oidc/token``);
        native apps pass their own ``redirect_uri`` (``http://127.0.0.1:<port>/...`` or a
        private-use scheme) and PKCE challenge and get ``code`` and ``state`` there;
        without either the callback answers the tokens."""
        app = None
        if redirect_uri is not None:
            if code_challenge is None:
                raise InvalidInput("An app redirect needs a code_challenge", field="code_challenge")
            app = AppRedirect(redirect_uri, app_state, code_challenge)
        browser = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)
        target = oidc.start(
            provider,
            redirect_uri=callback_uri(request, settings.auth.oidc.public_url, provider),
            return_to=return_to,
            app=app,
            browser=browser,
        )
        cookie = Cookie(
            key=BROWSER_COOKIE,
            value=browser,
            path="/api/v1/auth/oidc/",
            max_age=settings.auth.oidc.login_ttl_seconds,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back
            secure=request.url.scheme == "https",
        )
        return Redirect(target, status_code=303, cookies=[cookie])

    @get(
        "/oidc/{provider:str}/callback",
        opt=PUBLIC,
        security=[{}],
        sync_to_thread=True,
        exception_handlers=BROWSER_ERRORS,
        responses=problems(*PARAMETERS, 401, 403, 404, 409, 502) | REDIRECT,
        summary="Where the OpenID provider sends the browser back",
    )
    def callback(
        self,
        provider: FromPath[str],
        oidc: OidcDep,
        request: Request[Any, Any, Any],
        code: Annotated[str | None, Parameter(max_length=2000)] = None,
        returned_state: Annotated[str | None, QueryParameter(name="state", max_length=500)] = None,
        error: Annotated[str | None, Parameter(max_length=200)] = None,
        error_description: Annotated[str | None, Parameter(max_length=2000)] = None,
        iss: Annotated[str | None, Parameter(max_length=2000)] = None,
    ) -> Response[Tokens | IdentityOut]:
        """Checks the state, exchanges the code, validates the ID token and signs the
        identity's account in: the same session and tokens as a password sign-in (or a
        redirect to the page or app that started it). A link answers the identity."""
        params = {
            "code": code,
            "state": returned_state,
            "error": error,
            "error_description": error_description,
            "iss": iss,
        }
        finished = oidc.finish(
            provider, params, client_of(request), request.cookies.get(BROWSER_COOKIE)
        )
        if finished.kind is Finish.REDIRECT:
            assert finished.location is not None
            return Redirect(finished.location, status_code=303)
        if finished.kind is Finish.IDENTITY:
            assert finished.identity is not None
            return Response(IdentityOut.of(finished.identity))
        assert finished.tokens is not None
        return Response(Tokens.of(finished.tokens))

    @post(
        "/oidc/token",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403),
        summary="Redeem a sign-in hand-off code",
    )
    def redeem(
        self, data: JSONBody[HandoffRedeem], oidc: OidcDep, request: Request[Any, Any, Any]
    ) -> Tokens:
        """The page or app a sign-in redirected to trades its one-time code (and, for apps,
        its PKCE verifier) for the session's tokens."""
        return Tokens.of(oidc.redeem(data.code, data.code_verifier, client_of(request)))

    @post(
        "/oidc/{provider:str}/device",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 404, 502),
        summary="Start a device sign-in",
    )
    def start_device(self, provider: FromPath[str], oidc: OidcDep) -> DeviceStartOut:
        """For a device without a browser: show ``user_code`` and ``verification_uri`` to
        the person, then poll ``POST /api/v1/auth/oidc/device/poll`` every ``interval``
        seconds. Only for providers that offer device authorization."""
        return DeviceStartOut.of(oidc.start_device(provider))

    @post(
        "/oidc/device/poll",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403, 404, 502),
        summary="Check on a device sign-in",
    )
    def poll_device(
        self, data: JSONBody[DevicePoll], oidc: OidcDep, request: Request[Any, Any, Any]
    ) -> DevicePollOut:
        """``pending`` until the person approves at the provider, then the tokens."""
        pair = oidc.poll_device(data.id, client_of(request))
        if pair is None:
            return DevicePollOut(status="pending", tokens=None)
        return DevicePollOut(status="complete", tokens=Tokens.of(pair))

    @get("/identities", sync_to_thread=True, responses=problems(401), summary="My identities")
    def identities(self, principal: PrincipalDep, oidc: OidcDep) -> list[IdentityOut]:
        """The external identities linked to my account."""
        return [IdentityOut.of(i) for i in oidc.identities(principal.user_id)]

    @post(
        "/identities/{provider:str}/link",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 404, 502),
        summary="Link an identity to my account",
    )
    def link(
        self,
        provider: FromPath[str],
        data: JSONBody[LinkStart],
        principal: PrincipalDep,
        oidc: OidcDep,
        settings: SettingsDep,
        request: Request[Any, Any, Any],
    ) -> LinkUrl:
        """Answers the provider URL to open in the browser; signing in there links that
        identity to this account (one already linked elsewhere is refused with 409)."""
        url = oidc.start(
            provider,
            redirect_uri=callback_uri(request, settings.auth.oidc.public_url, provider),
            user_id=principal.user_id,
            return_to=data.return_to,
        )
        return LinkUrl(authorization_url=url)

    @delete(
        "/identities/{identity_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401, 404, 409),
        summary="Unlink an identity",
    )
    def unlink(self, identity_id: FromPath[str], principal: PrincipalDep, oidc: OidcDep) -> None:
        """Refused (409) when it is the account's only way in (no password, no other
        identity)."""
        oidc.unlink(principal.user_id, identity_id)
