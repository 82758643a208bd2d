"""``/api/v1/profile``: profile, preferences, avatar and usage statistics."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, delete, get, patch, put
from litestar.params import Body, JSONBody, Parameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from assistant.errors import InvalidInput
from assistant.profile import Preferences, ProfileFields
from server.deps import PrincipalDep, ProfileDep
from server.docs import JSON, documented, schema_of
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.profile import (
    AVATAR,
    PREFERENCES_PATCH,
    PreferencesOut,
    ProfileOut,
    StatsOut,
)

AVATAR_MAX_BODY = 2_100_000
PATCH_DESCRIPTION = (
    "A JSON merge patch of the preferences: only the keys sent change; null resets a key to"
    " its default."
)


def expected_version(request: Request[Any, Any, Any]) -> int | None:
    """The version in an ``If-Match`` header (``"3"`` or ``W/"3"``), if any."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInput('If-Match must be a version such as "3"', field="If-Match")
    return int(value)


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


class ProfileController(Controller):
    """The caller's own profile; nobody can read or change another user's."""

    path = "/api/v1/profile"
    tags = ["profile"]

    @get("/", sync_to_thread=True, responses=problems(401), summary="My profile")
    def get_profile(self, principal: PrincipalDep, profile: ProfileDep) -> Response[ProfileOut]:
        """Display name, locale, time zone, avatar link; ETag carries the version."""
        current = profile.get_profile(principal.user_id)
        return Response(ProfileOut.of(current), headers=_etag(current.version))

    @put(
        "/",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 409),
        summary="Replace my profile",
    )
    def put_profile(
        self,
        data: JSONBody[ProfileFields],
        principal: PrincipalDep,
        profile: ProfileDep,
        request: Request[Any, Any, Any],
    ) -> Response[ProfileOut]:
        """Fields left out are cleared. Send If-Match with the version to avoid lost updates."""
        updated = profile.update_profile(
            principal.user_id, data, replace=True, expected_version=expected_version(request)
        )
        return Response(ProfileOut.of(updated), headers=_etag(updated.version))

    @patch(
        "/",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 409),
        summary="Update my profile",
    )
    def patch_profile(
        self,
        data: JSONBody[ProfileFields],
        principal: PrincipalDep,
        profile: ProfileDep,
        request: Request[Any, Any, Any],
    ) -> Response[ProfileOut]:
        """Only the fields sent change."""
        updated = profile.update_profile(
            principal.user_id, data, replace=False, expected_version=expected_version(request)
        )
        return Response(ProfileOut.of(updated), headers=_etag(updated.version))

    @get(
        "/avatar",
        sync_to_thread=True,
        responses=problems(401, 404),
        operation_class=documented(answers=AVATAR),
        summary="My avatar image",
    )
    def get_avatar(self, principal: PrincipalDep, profile: ProfileDep) -> Response[bytes]:
        """The image as uploaded."""
        data, media_type = profile.get_avatar(principal.user_id)
        return Response(
            data, media_type=media_type, headers={"Cache-Control": "private, max-age=60"}
        )

    @put(
        "/avatar",
        request_max_body_size=AVATAR_MAX_BODY,
        responses=problems(401, 413, 422),
        operation_class=documented(
            body=AVATAR, body_description="The raw image bytes (PNG, JPEG, GIF or WebP)"
        ),
        summary="Upload my avatar",
    )
    async def put_avatar(
        self, request: Request[Any, Any, Any], principal: PrincipalDep, profile: ProfileDep
    ) -> ProfileOut:
        """Send the raw image bytes as the body (PNG, JPEG, GIF or WebP, at most 2 MB)."""
        data = await request.body()
        updated = await anyio.to_thread.run_sync(profile.set_avatar, principal.user_id, data)
        return ProfileOut.of(updated)

    @delete(
        "/avatar",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 404),
        summary="Remove my avatar",
    )
    def delete_avatar(self, principal: PrincipalDep, profile: ProfileDep) -> None:
        """The image is deleted from the device."""
        profile.delete_avatar(principal.user_id)

    @get(
        "/preferences",
        sync_to_thread=True,
        responses=problems(401),
        summary="My preferences",
    )
    def get_preferences(
        self, principal: PrincipalDep, profile: ProfileDep
    ) -> Response[PreferencesOut]:
        """Every preference with its effective value (defaults where unset)."""
        stored = profile.get_preferences(principal.user_id)
        return Response(PreferencesOut.of(stored), headers=_etag(stored.version))

    @put(
        "/preferences",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 409),
        summary="Replace my preferences",
    )
    def put_preferences(
        self,
        data: JSONBody[Preferences],
        principal: PrincipalDep,
        profile: ProfileDep,
        request: Request[Any, Any, Any],
    ) -> Response[PreferencesOut]:
        """Preferences left out go back to their defaults; unknown keys are rejected."""
        stored = profile.replace_preferences(
            principal.user_id, data, expected_version=expected_version(request)
        )
        return Response(PreferencesOut.of(stored), headers=_etag(stored.version))

    @patch(
        "/preferences",
        sync_to_thread=True,
        responses=problems(*JSON_BODY, 401, 409),
        operation_class=documented(
            body={JSON: schema_of(PREFERENCES_PATCH)}, body_description=PATCH_DESCRIPTION
        ),
        summary="Change some of my preferences",
    )
    def patch_preferences(
        self,
        data: Annotated[
            dict[str, Any],
            Body(description=PATCH_DESCRIPTION),
        ],
        principal: PrincipalDep,
        profile: ProfileDep,
        request: Request[Any, Any, Any],
    ) -> Response[PreferencesOut]:
        """Nested objects (notifications) merge too."""
        stored = profile.patch_preferences(
            principal.user_id, data, expected_version=expected_version(request)
        )
        return Response(PreferencesOut.of(stored), headers=_etag(stored.version))

    @get("/stats", sync_to_thread=True, responses=problems(*PARAMETERS, 401), summary="My usage")
    def stats(
        self,
        principal: PrincipalDep,
        profile: ProfileDep,
        days: Annotated[int, Parameter(ge=1, le=366, description="How many recent days")] = 30,
    ) -> StatsOut:
        """Chat turns, tokens, transcriptions, translations, vision calls: all time and per day."""
        return StatsOut.of(profile.stats(principal.user_id, days))
