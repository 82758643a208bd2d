"""Many clients writing at once through the async server: nothing lost, never "locked"."""

from __future__ import annotations

import asyncio

from litestar.testing import AsyncTestClient

from assistant.services import Services
from assistant.settings import Settings
from server.app import create_app


async def test_concurrent_writes_through_the_api(settings: Settings, services: Services) -> None:
    app = create_app(settings, services)
    async with AsyncTestClient(app=app) as client:
        registered = await client.post(
            "/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
        )
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}

        async def create_key(i: int) -> int:
            response = await client.post(
                "/api/v1/auth/api-keys", json={"name": f"device {i}"}, headers=headers
            )
            return response.status_code

        async def patch_preferences(i: int) -> int:
            response = await client.patch(
                "/api/v1/profile/preferences",
                json={"assistant_name": f"Name {i}"},
                headers=headers,
            )
            return response.status_code

        statuses = await asyncio.gather(
            *(create_key(i) for i in range(60)), *(patch_preferences(i) for i in range(60))
        )
        assert statuses.count(201) == 60
        assert statuses.count(200) == 60
        keys = (await client.get("/api/v1/auth/api-keys", headers=headers)).json()
        assert len(keys) == 60
        preferences = (await client.get("/api/v1/profile/preferences", headers=headers)).json()
        assert preferences["version"] == 60
