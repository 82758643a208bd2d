from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from assistant.profile import UsageMetric
from assistant.profile import store as profile_store
from assistant.profile.models import NotificationPreferences
from assistant.services import Services
from tests.conftest import Accounts
from tests.test_api_auth import is_problem

Client = TestClient[Any]


def png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_profile_starts_empty_and_updates_with_versions(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    empty = client.get("/api/v1/profile", headers=ada)
    assert empty.json() == {
        "display_name": None,
        "locale": None,
        "time_zone": None,
        "avatar_url": None,
        "updated_at": None,
        "version": 0,
    }
    assert empty.headers["etag"] == '"0"'
    put = client.put(
        "/api/v1/profile",
        json={"display_name": "Ada", "locale": "en-GB", "time_zone": "Europe/London"},
        headers={**ada, "If-Match": '"0"'},
    )
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1
    patched = client.patch("/api/v1/profile", json={"display_name": "Ada L."}, headers=ada).json()
    assert (patched["display_name"], patched["time_zone"], patched["version"]) == (
        "Ada L.",
        "Europe/London",
        2,
    )
    # A stale If-Match loses nothing: the update is refused.
    stale = client.patch(
        "/api/v1/profile", json={"display_name": "Lost"}, headers={**ada, "If-Match": '"1"'}
    )
    body = is_problem(stale, 409, "conflict")
    assert body["extra"]["current_version"] == 2
    assert client.get("/api/v1/profile", headers=ada).json()["display_name"] == "Ada L."
    # PUT replaces: what is left out is cleared.
    replaced = client.put("/api/v1/profile", json={"display_name": "A"}, headers=ada).json()
    assert replaced["time_zone"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"locale": "english please"}, "locale"),
        ({"locale": "en-GB\n"}, "locale"),  # the pattern is the whole value
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"nickname": "x"}, "nickname"),
        ({"display_name": 5}, "display_name"),
        ({"display_name": "Ada\x00"}, "display_name"),
        ({"display_name": "Ada\nLovelace"}, "display_name"),
        ({"display_name": "Ada\x1b[31m"}, "display_name"),
        ({"display_name": "Ada\x85"}, "display_name"),
    ],
)
def test_bad_profile_fields(
    client: Client, accounts: Accounts, body: dict[str, Any], field: str
) -> None:
    ada = accounts.register("ada")
    problem = is_problem(
        client.patch("/api/v1/profile", json=body, headers=ada), 422, "invalid-input"
    )
    assert problem["field"] == field


def test_control_characters_are_named_and_printable_text_is_kept(
    client: Client, accounts: Accounts
) -> None:
    ada = accounts.register("ada")
    problem = is_problem(
        client.patch("/api/v1/profile", json={"display_name": "A\x00da"}, headers=ada),
        422,
        "invalid-input",
    )
    assert "U+0000 (at position 1)" in problem["detail"]
    # Letters of any script, emoji joined with zero-width joiners, accents: all fine.
    name = "Zoë 👩\u200d💻 Łukasz 田中"
    response = client.patch("/api/v1/profile", json={"display_name": name}, headers=ada)
    assert response.status_code == 200 and response.json()["display_name"] == name


def test_bad_if_match(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    response = client.patch("/api/v1/profile", json={}, headers={**ada, "If-Match": "banana"})
    assert is_problem(response, 422, "invalid-input")["field"] == "If-Match"


def test_preferences_defaults_patch_merge_and_reset(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    initial = client.get("/api/v1/profile/preferences", headers=ada).json()
    assert initial["version"] == 0
    assert initial["preferences"]["tone"] == "warm"
    quiet = {"start": "23:00", "end": "06:30", "bypass_priority": 5}
    first = client.patch(
        "/api/v1/profile/preferences",
        json={"tone": "formal", "notifications": {"quiet_hours": quiet}},
        headers=ada,
    ).json()
    assert first["preferences"]["tone"] == "formal"
    assert first["preferences"]["notifications"]["quiet_hours"] == quiet
    second = client.patch(
        "/api/v1/profile/preferences", json={"notifications": {"enabled": False}}, headers=ada
    ).json()
    notifications = second["preferences"]["notifications"]
    assert notifications["enabled"] is False
    assert notifications["quiet_hours"] == quiet  # nested objects merge
    assert second["version"] == 2
    reset = client.patch("/api/v1/profile/preferences", json={"tone": None}, headers=ada).json()
    assert reset["preferences"]["tone"] == "warm"
    replaced = client.put(
        "/api/v1/profile/preferences", json={"verbosity": "brief"}, headers=ada
    ).json()
    assert replaced["preferences"]["verbosity"] == "brief"
    assert replaced["preferences"]["notifications"]["enabled"] is True


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"speaking_rate": 5}, "speaking_rate"),
        ({"tone": "angry"}, "tone"),
        ({"preferred_languages": []}, "preferred_languages"),
        ({"preferred_languages": ["en", "not a tag"]}, "preferred_languages.1"),
        ({"preferred_languages": ["en\n"]}, "preferred_languages.0"),
        ({"notifications": {"quiet_hours": {"start": "25:00"}}}, "notifications.quiet_hours.start"),
        ({"notifications": {"channels": ["pager"]}}, "notifications.channels.0"),
        ({"notifications": {"sms": True}}, "notifications.sms"),
        ({"personality": "x" * 301}, "personality"),
        ({"personality": "kind\x00"}, "personality"),
        ({"assistant_name": "Jarvis\r"}, "assistant_name"),
        ({"wake_word": "hey\tjarvis"}, "wake_word"),
        # A null for an unknown key deletes nothing, but it is still an unknown key.
        ({"colour": None}, "colour"),
        ({"notifications": {"sms": None}}, "notifications.sms"),
        # Types are not coerced: 0 is no boolean, "1.5" no number.
        ({"notifications": {"enabled": 0}}, "notifications.enabled"),
        ({"speaking_rate": "1.5"}, "speaking_rate"),
    ],
)
def test_invalid_preferences_name_the_field_and_change_nothing(
    client: Client, accounts: Accounts, patch: dict[str, Any], field: str
) -> None:
    ada = accounts.register("ada")
    response = client.patch("/api/v1/profile/preferences", json=patch, headers=ada)
    problem = is_problem(response, 422, "invalid-input")
    assert problem["field"] == field
    assert client.get("/api/v1/profile/preferences", headers=ada).json()["version"] == 0


def test_nulls_in_a_new_nested_object_reset_nothing(client: Client, accounts: Accounts) -> None:
    # RFC 7396: an object patches an absent key as it patches {}; its nulls are dropped.
    ada = accounts.register("ada")
    response = client.patch(
        "/api/v1/profile/preferences",
        json={"notifications": {"enabled": None, "channels": ["desktop"]}},
        headers=ada,
    )
    assert response.status_code == 200, response.text
    notifications = response.json()["preferences"]["notifications"]
    assert notifications == {
        **NotificationPreferences().model_dump(mode="json"),
        "channels": ["desktop"],
    }


def test_preferences_patch_must_be_an_object(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    is_problem(
        client.patch("/api/v1/profile/preferences", json=[1], headers=ada), 400, "bad-request"
    )


def test_avatar_upload_fetch_replace_delete(
    client: Client, accounts: Accounts, services: Services
) -> None:
    ada = accounts.register("ada")
    is_problem(client.get("/api/v1/profile/avatar", headers=ada), 404, "not-found")
    red = png("red")
    uploaded = client.put(
        "/api/v1/profile/avatar", content=red, headers={**ada, "Content-Type": "image/png"}
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["avatar_url"] == "/api/v1/profile/avatar"
    fetched = client.get("/api/v1/profile/avatar", headers=ada)
    assert fetched.content == red and fetched.headers["content-type"] == "image/png"
    client.put("/api/v1/profile/avatar", content=png("blue"), headers=ada)
    blobs = [p for p in services.settings.blobs_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 1  # the replaced image was removed
    assert client.delete("/api/v1/profile/avatar", headers=ada).status_code == 204
    assert not [p for p in services.settings.blobs_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"", 422, "invalid-input"),
        (b"GIF? no, text", 422, "invalid-input"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 2_200_000, 413, "payload-too-large"),
    ],
)
def test_bad_avatars(
    client: Client, accounts: Accounts, content: bytes, status: int, code: str
) -> None:
    ada = accounts.register("ada")
    is_problem(client.put("/api/v1/profile/avatar", content=content, headers=ada), status, code)


def test_stats_are_zero_then_count_usage(
    client: Client, accounts: Accounts, services: Services
) -> None:
    ada = accounts.register("ada")
    stats = client.get("/api/v1/profile/stats", headers=ada).json()
    assert set(stats["totals"]) == {m.value for m in UsageMetric}
    assert all(v == 0 for v in stats["totals"].values())
    assert stats["days"] == []
    ada_id = client.get("/api/v1/auth/me", headers=ada).json()["id"]
    services.profile.record_usage(
        ada_id, {UsageMetric.CHAT_TURNS: 2, UsageMetric.PROMPT_TOKENS: 50}
    )
    services.profile.record_usage(ada_id, {UsageMetric.CHAT_TURNS: 1})
    stats = client.get("/api/v1/profile/stats", headers=ada).json()
    assert stats["totals"]["chat_turns"] == 3
    assert stats["totals"]["prompt_tokens"] == 50
    assert stats["days"][0]["counts"] == {"chat_turns": 3, "prompt_tokens": 50}
    is_problem(client.get("/api/v1/profile/stats?days=0", headers=ada), 422, "invalid-input")


def test_profiles_are_private(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    bob = accounts.register("bob")
    client.patch("/api/v1/profile", json={"display_name": "Ada"}, headers=ada)
    client.patch("/api/v1/profile/preferences", json={"tone": "formal"}, headers=ada)
    client.put("/api/v1/profile/avatar", content=png(), headers=ada)
    assert client.get("/api/v1/profile", headers=bob).json()["display_name"] is None
    assert (
        client.get("/api/v1/profile/preferences", headers=bob).json()["preferences"]["tone"]
        == "warm"
    )
    is_problem(client.get("/api/v1/profile/avatar", headers=bob), 404, "not-found")


def test_preferences_stored_before_a_rule_existed_still_read(
    client: Client, accounts: Accounts, services: Services
) -> None:
    """A value saved when it was allowed reads as its default, never as a 500."""
    ada = accounts.register("ada")
    user_id = client.get("/api/v1/auth/me", headers=ada).json()["id"]
    with services.db.write() as conn:
        data = {"personality": "kind\x00", "tone": "formal"}
        profile_store.put_preferences(conn, user_id, data, {}, 0)
    response = client.get("/api/v1/profile/preferences", headers=ada)
    assert response.status_code == 200, response.text
    preferences = response.json()["preferences"]
    assert preferences["personality"] == "helpful, honest and kind"
    assert preferences["tone"] == "formal"


@pytest.mark.parametrize(
    ("patch", "field", "named"),
    [
        ({"preferred_model": "gpt-5"}, "preferred_model", "qwen2.5:0.5b-instruct-q4km"),
        ({"preferred_model": "piper:en_US-joe-medium"}, "preferred_model", "gemma3:270m-q4km"),
        ({"voice_id": "alloy"}, "voice_id", "piper:en_US-joe-medium"),
        ({"voice_id": "qwen2.5:0.5b-instruct-q4km"}, "voice_id", "piper:en_US-joe-medium"),
    ],
)
def test_model_preferences_must_name_a_model_that_can_serve_them(
    client: Client, accounts: Accounts, patch: dict[str, Any], field: str, named: str
) -> None:
    """Checked when written, against the catalogue: a typo is refused with the choices,
    instead of being ignored at every chat turn or failing every synthesis."""
    ada = accounts.register("ada")
    for method in ("PATCH", "PUT"):
        response = client.request(method, "/api/v1/profile/preferences", json=patch, headers=ada)
        problem = is_problem(response, 422, "invalid-input")
        assert problem["field"] == field
        assert named in problem["detail"]
    assert client.get("/api/v1/profile/preferences", headers=ada).json()["version"] == 0


def test_model_preferences_accept_catalogue_models_installed_or_not(
    client: Client, accounts: Accounts, services: Services
) -> None:
    ada = accounts.register("ada")
    chosen = {"preferred_model": "qwen2.5:3b-instruct-q4km", "voice_id": "piper:fr_FR-siwis-medium"}
    response = client.patch("/api/v1/profile/preferences", json=chosen, headers=ada)
    assert response.status_code == 200, response.text
    assert {k: response.json()["preferences"][k] for k in chosen} == chosen
    # A value stored before the rule (or a model since removed) does not block other changes.
    user_id = client.get("/api/v1/auth/me", headers=ada).json()["id"]
    with services.db.write() as conn:
        profile_store.put_preferences(conn, user_id, {"voice_id": "gone:1"}, {}, 0)
    response = client.patch("/api/v1/profile/preferences", json={"tone": "casual"}, headers=ada)
    assert response.status_code == 200, response.text
    assert (
        client.patch(
            "/api/v1/profile/preferences", json={"preferred_model": None}, headers=ada
        ).status_code
        == 200
    )


def image(format: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, format=format)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims a canvas of width x height (its pixels are 1x1)."""
    data = bytearray(png())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.mark.parametrize(
    ("format", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_avatars_are_decoded_and_served_with_their_type_unsniffed(
    client: Client, accounts: Accounts, format: str, media_type: str
) -> None:
    ada = accounts.register("ada")
    data = image(format)
    assert client.put("/api/v1/profile/avatar", content=data, headers=ada).status_code == 200
    served = client.get("/api/v1/profile/avatar", headers=ada)
    assert served.content == data
    assert served.headers["content-type"] == media_type
    assert served.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>", "must be a PNG, JPEG, GIF or WebP"),
        (b"\xff\xd8\xff" + b"<html>" * 100, "must be a PNG, JPEG, GIF or WebP"),
        (b"GIF89a" + b"\x00" * 50, "must be a PNG, JPEG, GIF or WebP"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 junk", "damaged or incomplete"),
        (image("PNG", (64, 64))[:-40], "damaged or incomplete"),
        (image("JPEG", (64, 64))[:200], "damaged or incomplete"),
        (image("BMP"), "must be a PNG, JPEG, GIF or WebP"),
        (png_declaring(5000, 100), "5000x100 pixels; at most 4096 pixels a side"),
        (png_declaring(100_000, 100_000), "huge canvas; at most 4096 pixels a side"),
    ],
    ids=[
        "png-signature-then-script",
        "jpeg-signature-then-html",
        "gif-header-only",
        "webp-junk",
        "truncated-png",
        "truncated-jpeg",
        "bmp",
        "wide-png",
        "bomb-png",
    ],
)
def test_avatars_that_are_not_whole_images_are_refused(
    client: Client, accounts: Accounts, content: bytes, message: str
) -> None:
    ada = accounts.register("ada")
    problem = is_problem(
        client.put("/api/v1/profile/avatar", content=content, headers=ada), 422, "invalid-input"
    )
    assert problem["field"] == "avatar"
    assert message in problem["detail"]
    is_problem(client.get("/api/v1/profile/avatar", headers=ada), 404, "not-found")


def test_every_answer_says_nosniff(client: Client) -> None:
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/v1/nowhere").headers["x-content-type-options"] == "nosniff"
