"""``/api/v1/translate`` and the LibreTranslate face over the tiny CTranslate2 model; two
real LibreTranslate clients (``libretranslatepy`` over a served app, ``libretranslate-aio``
in process) and the request shapes of a browser ``fetch`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from libretranslate_aio import LibreTranslate
from libretranslate_aio.exceptions import LibreTranslateError
from libretranslatepy import LibreTranslateAPI
from litestar.testing import TestClient

from assistant.auth import Principal
from assistant.services import Services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread
from tests.conftest import Accounts
from tests.translate.conftest import TINY_MODEL

Client = TestClient[Any]


def translate(client: Client, headers: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    response = client.post("/api/v1/translate/text", json=body, headers=headers)
    assert response.status_code == 200, response.text
    translations: list[dict[str, Any]] = response.json()["translations"]
    return translations


def api_key(services: Services, name: str = "ada") -> str:
    user = services.auth.create_user(name, "correct horse battery")
    _, key = services.auth.create_api_key(
        Principal(user_id=user.id, username=user.username, role=user.role), "translator"
    )
    return key


def test_text_answer_names_engine_cache_quality_and_glossary(
    client: Client, accounts: Accounts, with_tiny: Services
) -> None:
    alice = accounts.register("alice")
    body = {
        "text": "<p>The cat sat on the <b title='Mat'>mat</b>. See https://x.org/a</p>",
        "source": "en",
        "target": "fr",
        "format": "html",
        "quality": "score",
        "glossary": {"terms": {"cat": "chat"}},
    }
    [first] = translate(client, alice, **body)
    assert first["engine"] == "ctranslate2"
    assert first["model"] == TINY_MODEL
    assert first["engine_note"]
    assert first["cached"] is False
    assert 0.0 <= first["quality"]["score"] <= 1.0
    assert first["quality"]["method"] == "score"
    assert first["glossary"] == [
        {"term": "cat", "translation": "chat", "found": True, "honoured": False}
    ]
    html = first["translated_text"]
    assert html.startswith("<p>") and "<b title='Mat'>" in html and html.endswith("</p>")
    assert "https://x.org/a" in html and "chat" in html
    [again] = translate(client, alice, **body)
    assert again["cached"] is True
    assert again["translated_text"] == html
    stats = client.get("/api/v1/translate/cache/stats", headers=alice)
    assert stats.status_code == 200
    assert stats.json()["entries"] == 1
    assert (stats.json()["hits"], stats.json()["misses"]) == (1, 1)


def test_texts_come_back_in_order(client: Client, accounts: Accounts, with_tiny: Services) -> None:
    alice = accounts.register("alice")
    results = translate(
        client, alice, texts=["the cat", "the dog", "the cat"], source="en", target="de"
    )
    assert [r["cached"] for r in results] == [False, False, True]
    assert results[0]["translated_text"] == results[2]["translated_text"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"source": "en", "target": "fr"}, 400, None),
        ({"text": "a", "texts": ["b"], "target": "fr"}, 400, None),
        ({"text": "", "target": "fr"}, 422, "text"),
        ({"text": "   ", "target": "fr"}, 422, "text"),
        ({"text": "the cat", "target": "zz"}, 422, "target"),
        ({"text": "the cat", "target": "fr", "source": "12"}, 422, "source"),
        ({"text": "the cat", "source": "en", "target": "ja"}, 422, "target"),
        ({"text": "the cat", "target": "fr", "glossary": {"terms": {"cat": ""}}}, 422, None),
        ({"text": "the cat", "target": "fr", "format": "pdf"}, 422, "format"),
        ({"text": "x" * 20_001, "source": "en", "target": "fr"}, 413, "text"),
        ({"text": "the cat", "source": "en", "target": "fr", "model": "nllb:600m-int8"}, 503, None),
    ],
)
def test_bad_requests_are_problems_naming_the_field(
    client: Client,
    accounts: Accounts,
    with_tiny: Services,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    alice = accounts.register("alice")
    response = client.post("/api/v1/translate/text", json=body, headers=alice)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if field is not None:
        assert problem["field"] == field
    if status == 503:
        assert "assistant models pull nllb:600m-int8" in problem["detail"]
    if body.get("target") == "ja":
        assert problem["extra"]["supported_targets"] == ["de", "es", "fr"]


def test_no_engine_installed_answers_503_with_the_install_command(
    client: Client, accounts: Accounts
) -> None:
    alice = accounts.register("alice")
    response = client.post(
        "/api/v1/translate/text",
        json={"text": "the cat", "source": "en", "target": "fr"},
        headers=alice,
    )
    assert response.status_code == 503
    assert "assistant models pull" in response.json()["detail"]


def test_detect_and_languages(client: Client, accounts: Accounts, with_tiny: Services) -> None:
    alice = accounts.register("alice")
    detected = client.post(
        "/api/v1/translate/detect",
        json={"text": "Wo ist der Bahnhof? Ich habe mich verlaufen.", "top_k": 2},
        headers=alice,
    ).json()["languages"]
    assert detected[0]["language"] == "de" and detected[0]["name"] == "German"
    assert len(detected) == 2
    languages = client.get("/api/v1/translate/languages", headers=alice).json()
    by_code = {entry["code"]: entry for entry in languages["languages"]}
    assert by_code["en"]["targets"] == ["de", "es", "fr"]
    assert by_code["fr"]["flores"] == "fra_Latn"
    assert languages["engines"][0]["model"] == TINY_MODEL


def test_history_and_glossary_are_each_users_own(
    client: Client, accounts: Accounts, with_tiny: Services
) -> None:
    alice, bob = accounts.register("alice"), accounts.register("bob")
    put = client.put(
        "/api/v1/translate/glossary",
        json={"terms": {"cat": "chat"}, "keep": ["Mat"], "targets": ["fr"]},
        headers=alice,
    )
    assert put.status_code == 200, put.text
    assert client.get("/api/v1/translate/glossary", headers=bob).json()["terms"] == {}
    [mine] = translate(client, alice, text="the cat", source="en", target="fr")
    [theirs] = translate(client, bob, text="the cat", source="en", target="fr")
    assert [t["term"] for t in mine["glossary"]] == ["cat", "Mat"]
    assert theirs["glossary"] == []
    alice_history = client.get("/api/v1/translate/history", headers=alice).json()
    assert [e["id"] for e in alice_history["entries"]] == [mine["history_id"]]
    denied = client.delete(f"/api/v1/translate/history/{mine['history_id']}", headers=bob)
    assert denied.status_code == 404
    assert client.delete("/api/v1/translate/history", headers=bob).json() == {"deleted": 1}
    assert len(client.get("/api/v1/translate/history", headers=alice).json()["entries"]) == 1
    assert client.delete("/api/v1/translate/glossary", headers=alice).status_code == 204


def test_the_cache_is_for_admins(client: Client, accounts: Accounts, with_tiny: Services) -> None:
    admin, user = accounts.register("admin"), accounts.register("user")
    assert client.get("/api/v1/translate/cache/stats", headers=user).status_code == 403
    assert client.delete("/api/v1/translate/cache", headers=user).status_code == 403
    assert client.delete("/api/v1/translate/cache", headers=admin).json() == {"deleted": 0}


# LibreTranslate -------------------------------------------------------------------------


def test_fetch_client_shapes(client: Client, with_tiny: Services) -> None:
    """A browser client as LibreTranslate's docs show it: JSON, ``api_key`` in the body."""
    key = api_key(with_tiny)
    answer = client.post(
        "/translate",
        json={
            "q": "Le chat est sur le tapis et il fait froid aujourd'hui.",
            "source": "auto",
            "target": "en",
            "format": "text",
            "alternatives": 3,
            "api_key": key,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"translatedText", "detectedLanguage", "alternatives"}
    assert body["detectedLanguage"]["language"] == "fr"
    assert 0 < body["detectedLanguage"]["confidence"] <= 100
    assert body["alternatives"] == []
    listed = client.post(
        "/translate",
        json={"q": ["the cat", "the dog"], "source": "en", "target": "es", "api_key": key},
    ).json()
    assert set(listed) == {"translatedText"} and len(listed["translatedText"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"source": "en", "target": "fr"}, 400, "Invalid request: missing q parameter"),
        ({"q": "hi", "target": "fr"}, 400, "Invalid request: missing source parameter"),
        ({"q": "hi", "source": "en"}, 400, "Invalid request: missing target parameter"),
        ({"q": "hi", "source": "en", "target": "xx"}, 400, "xx is not supported"),
        (
            {"q": "hi", "source": "en", "target": "fr", "format": "pdf"},
            400,
            "pdf format is not supported",
        ),
        (
            {"q": "hi", "source": "en", "target": "ja"},
            400,
            "Translation from en to ja is not supported",
        ),
        ({"q": "hi", "source": "en", "target": "fr", "api_key": "wrong"}, 403, "Invalid API key"),
    ],
)
def test_libretranslate_errors(
    client: Client, with_tiny: Services, body: dict[str, Any], status: int, error: str
) -> None:
    key = api_key(with_tiny)
    answer = client.post("/translate", json={"api_key": key, **body})
    assert answer.status_code == status
    assert answer.json()["error"].startswith(error)
    assert set(answer.json()) == {"error"}


def test_a_libretranslate_request_without_a_key_is_refused(
    client: Client, with_tiny: Services
) -> None:
    answer = client.post("/translate", data={"q": "hi", "source": "en", "target": "fr"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "Please contact the server operator to get an API key"}


def test_libretranslate_aio_client(client: Client, with_tiny: Services) -> None:
    """libretranslate-aio's synchronous client (httpx; form bodies, a list as repeated q)."""
    translator = LibreTranslate("http://testserver", api_key=api_key(with_tiny), client=client)
    single = translator.translate("the cat sat on the mat", "en", "fr")
    assert single.translated_text
    several = translator.translate(["the cat", "the dog"], "en", "de")
    assert isinstance(several.translated_text, list) and len(several.translated_text) == 2
    [best, *_] = translator.detect("Ceci est une phrase en français, assez longue pour être sûre.")
    assert best.language == "fr"
    assert {lang.code for lang in translator.languages()} == {"de", "en", "es", "fr"}
    assert translator.frontend_settings().language.source.code == "auto"
    with pytest.raises(LibreTranslateError, match="xx is not supported"):
        translator.translate("the cat", "en", "xx")


@pytest.fixture
def served(settings: Settings, with_tiny: Services) -> Iterator[str]:
    """The app served on loopback for a client that opens its own connections."""
    with serve_in_thread(create_app(settings, with_tiny)) as url:
        yield url


def test_libretranslatepy_client(served: str, with_tiny: Services) -> None:
    """libretranslatepy (urllib): form bodies, and /languages as a GET with a form body."""
    translator = LibreTranslateAPI(served, api_key=api_key(with_tiny))
    assert translator.translate("the cat sat on the mat", "en", "es")
    assert translator.detect("Das ist ein deutscher Satz über das Wetter.")[0]["language"] == "de"
    assert {lang["code"] for lang in translator.languages()} == {"de", "en", "es", "fr"}


@pytest.mark.parametrize(
    ("query", "body", "status", "field"),
    [
        ("", b"RIFF", 422, "target"),
        ("?target=zz", b"RIFF", 422, "target"),
        ("?target=es&audio_format=doc", b"RIFF", 422, "audio_format"),
        ("?target=es", b"not audio at all", 400, None),
    ],
)
def test_voice_translation_refuses_bad_requests_naming_the_field(
    client: Client, accounts: Accounts, query: str, body: bytes, status: int, field: str | None
) -> None:
    alice = accounts.register("alice")
    answer = client.post(f"/api/v1/translate/voice{query}", content=body, headers=alice)
    assert answer.status_code == status, answer.text
    if field is not None:
        assert answer.json()["field"] == field


def test_the_interpreter_socket_wants_a_start_message_with_two_languages(
    client: Client, accounts: Accounts
) -> None:
    alice = accounts.register("alice")
    with client.websocket_connect("/api/v1/translate/interpret", headers=alice) as socket:
        socket.send_json({"type": "start", "languages": ["en"]})
        message = socket.receive_json()
    assert message["type"] == "error"
    assert message["problem"]["field"] == "languages"
