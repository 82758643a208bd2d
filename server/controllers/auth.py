"""``/api/v1/auth``: accounts, sessions, API keys, password changes and resets."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from assistant.auth import ClientInfo, Role
from server.deps import AuthDep, PrincipalDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    Credentials,
    NewCredentials,
    PasswordChange,
    PasswordReset,
    RefreshRequest,
    Registration,
    ResetToken,
    SessionOut,
    Tokens,
    UserCreate,
    UserOut,
    UserUpdate,
)
from server.security import require_admin

PUBLIC = {"exclude_from_auth": True}


def client_of(request: Request[Any, Any, Any]) -> ClientInfo:
    """Where a request comes from."""
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


class AuthController(Controller):
    """Sign-in and account management."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 403, 409),
        summary="Create an account and sign in",
    )
    def register(
        self, data: JSONBody[NewCredentials], auth: AuthDep, request: Request[Any, Any, Any]
    ) -> Tokens:
        """The first account becomes admin; later ones only while an admin keeps it open."""
        return Tokens.of(auth.register(data.username, data.password, client_of(request)))

    @post(
        "/login",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 429),
        summary="Sign in",
    )
    def login(
        self, data: JSONBody[Credentials], auth: AuthDep, request: Request[Any, Any, Any]
    ) -> Tokens:
        """Check the password and open a session. Throttled per account and per address."""
        return Tokens.of(auth.login(data.username, data.password, client_of(request)))

    @post(
        "/refresh",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401),
        summary="Rotate the refresh token",
    )
    def refresh(self, data: JSONBody[RefreshRequest], auth: AuthDep) -> Tokens:
        """A new token pair. Each refresh token works once; a reused one ends the session."""
        return Tokens.of(auth.refresh(data.refresh_token))

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 422),
        summary="Sign out",
    )
    def logout(self, principal: PrincipalDep, auth: AuthDep) -> None:
        """End the caller's session; its access and refresh tokens stop working."""
        auth.logout(principal)

    @get("/me", sync_to_thread=True, responses=problems(401), summary="Who am I")
    def me(self, principal: PrincipalDep, auth: AuthDep) -> UserOut:
        """The signed-in account."""
        return UserOut.of(auth.get_user(principal.user_id))

    @get("/sessions", sync_to_thread=True, responses=problems(401), summary="My sessions")
    def sessions(self, principal: PrincipalDep, auth: AuthDep) -> list[SessionOut]:
        """The caller's live sessions, most recently used first."""
        return [SessionOut.of(s) for s in auth.list_sessions(principal)]

    @delete(
        "/sessions/{session_id:str}",
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Sign a session out",
    )
    def revoke_session(
        self, session_id: FromPath[str], principal: PrincipalDep, auth: AuthDep
    ) -> None:
        """End one of the caller's sessions (another device, or this one)."""
        auth.revoke_session(principal, session_id)

    @post(
        "/password",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401),
        summary="Change my password",
    )
    def change_password(
        self,
        data: JSONBody[PasswordChange],
        principal: PrincipalDep,
        auth: AuthDep,
        request: Request[Any, Any, Any],
    ) -> Tokens:
        """Every session ends and every API key is revoked (whoever knew the old password
        could have made one); the answer is a fresh session for this client."""
        pair = auth.change_password(
            principal, data.current_password, data.new_password, client_of(request)
        )
        return Tokens.of(pair)

    @post(
        "/password/reset",
        opt=PUBLIC,
        security=[{}],
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401),
        summary="Set a new password with a reset token",
    )
    def reset_password(self, data: JSONBody[PasswordReset], auth: AuthDep) -> None:
        """Consume a one-time token issued by an admin; every session of the account ends
        and every API key is revoked."""
        auth.reset_password(data.token, data.new_password)

    @post(
        "/api-keys",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401),
        summary="Create a device API key",
    )
    def create_api_key(
        self, data: JSONBody[ApiKeyCreate], principal: PrincipalDep, auth: AuthDep
    ) -> ApiKeyCreated:
        """The secret is in this answer only; it is stored hashed."""
        key, secret = auth.create_api_key(principal, data.name, data.expires_in_days)
        return ApiKeyCreated(key=secret, api_key=ApiKeyOut.of(key))

    @get("/api-keys", sync_to_thread=True, responses=problems(401), summary="My API keys")
    def list_api_keys(self, principal: PrincipalDep, auth: AuthDep) -> list[ApiKeyOut]:
        """Live keys with their last use."""
        return [ApiKeyOut.of(k) for k in auth.list_api_keys(principal)]

    @delete(
        "/api-keys/{key_id:str}",
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Revoke an API key",
    )
    def revoke_api_key(self, key_id: FromPath[str], principal: PrincipalDep, auth: AuthDep) -> None:
        """The key stops working at once."""
        auth.revoke_api_key(principal, key_id)

    # Administration ---------------------------------------------------------------

    @get(
        "/registration",
        sync_to_thread=True,
        opt=PUBLIC,
        security=[{}],
        responses=problems(),
        summary="Is registration open",
    )
    def registration(self, auth: AuthDep) -> Registration:
        """Whether the register endpoint accepts new accounts (open until the first exists)."""
        return Registration(open=auth.registration_open())

    @put(
        "/registration",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403),
        summary="Open or close registration (admin)",
    )
    def set_registration(
        self, data: JSONBody[Registration], principal: PrincipalDep, auth: AuthDep
    ) -> Registration:
        """Closed by default: a device on a home network must not let strangers in."""
        require_admin(principal)
        auth.set_registration_open(data.open)
        return Registration(open=auth.registration_open())

    @get(
        "/users", sync_to_thread=True, responses=problems(401, 403), summary="All accounts (admin)"
    )
    def list_users(self, principal: PrincipalDep, auth: AuthDep) -> list[UserOut]:
        """Every account, oldest first."""
        require_admin(principal)
        return [UserOut.of(u) for u in auth.list_users()]

    @post(
        "/users",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403, 409),
        summary="Create an account (admin)",
    )
    def create_user(
        self, data: JSONBody[UserCreate], principal: PrincipalDep, auth: AuthDep
    ) -> UserOut:
        """Works whether or not registration is open."""
        require_admin(principal)
        return UserOut.of(auth.create_user(data.username, data.password, Role(data.role)))

    @patch(
        "/users/{user_id:str}",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 403, 404, 409),
        summary="Change role or disable an account (admin)",
    )
    def update_user(
        self,
        user_id: FromPath[str],
        data: JSONBody[UserUpdate],
        principal: PrincipalDep,
        auth: AuthDep,
    ) -> UserOut:
        """Disabling ends the account's sessions and revokes its API keys for good
        (enabling it again does not bring them back). The last admin stays an admin."""
        require_admin(principal)
        role = None if data.role is None else Role(data.role)
        return UserOut.of(auth.update_user(user_id, role=role, disabled=data.disabled))

    @delete(
        "/users/{user_id:str}",
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401, 403, 404, 409),
        summary="Delete an account and its data (admin)",
    )
    def delete_user(self, user_id: FromPath[str], principal: PrincipalDep, auth: AuthDep) -> None:
        """Everything the account owns is deleted with it."""
        require_admin(principal)
        auth.delete_user(user_id)

    @post(
        "/users/{user_id:str}/password-reset",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*PARAMETERS, 401, 403, 404),
        summary="Issue a one-time password reset token (admin)",
    )
    def issue_reset(
        self, user_id: FromPath[str], principal: PrincipalDep, auth: AuthDep
    ) -> ResetToken:
        """Hand the token to the user; it works once, until it expires."""
        require_admin(principal)
        user = auth.get_user(user_id)
        token = auth.issue_reset_token(user.username, issued_by=principal.user_id)
        return ResetToken(token=token, expires_in=auth.settings.reset_token_ttl_minutes * 60)
