"""The server keeps the promises of its own OpenAPI document, under a fuzzer.

Schemathesis reads the app's document and sends every operation generated requests,
valid and invalid (a fixed seed and a bounded number of examples, so the run is the
same every time and takes a few minutes on two cores). Each answer must:

- not be a server error (503 is documented: a missing model, a full queue);
- have a documented status and a documented media type, and match the documented schema;
- refuse a request that violates the document (unknown keys, wrong types, bounds): what
  the server accepts and what the document promises are the same;
- name every method of its path in ``Allow`` (OPTIONS, 405), answer 405 to methods the
  path has not, and need credentials where the document says so.

A valid request may still be refused for a reason no schema states (bytes that are not
audio, a conversation that does not exist, a logout with an API key), so schemathesis's
``positive_data_acceptance`` is not among the checks; the rules a schema can state are
in the document (``tests/test_openapi.py`` checks they are).

Two accounts sign the requests in, each with a device API key (an access token would
end with the first generated ``POST /auth/logout``): an admin for the account, profile
and model endpoints, and a plain user for chat, speech and the compatible faces, whose
preferences the fuzzer never changes (a garbage ``voice_id`` would stop every synthesis
before it starts). Chat runs on fake models; speech on the real offline voice and
speech-to-text models of the test machine.

50 generated examples per operation (besides the coverage phase's edge cases) take about
five minutes on two cores; 100 took ten, a third of the whole suite, and with a fixed
seed every run sends the same requests anyway. ``FUZZ_EXAMPLES`` raises the number for a
longer hunt (``FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import checks
from schemathesis.python import asgi as schemathesis_asgi

from assistant.auth import PasswordHasher, Principal, Role, User
from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatService
from assistant.services import (
    Services,
    build_services,
    build_translate,
    build_vision,
    build_voice,
)
from assistant.settings import Settings
from assistant.voice.service import VoiceLoops
from runtime.engines import Capability, load_engine
from runtime.errors import ModelNotInstalled, UnsupportedInput
from runtime.llm.fake import FakeChatModel
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel, ModelStore
from server.app import create_app
from tests.chat.conftest import FakeCatalogue, echo_said
from tests.conftest import real_settings

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
SEED = 20_250_611
PASSWORD = "correct horse battery"
CHAT_MODELS = {
    "fake:small": (Capability.LLM, 100),
    "fake:big": (Capability.LLM, 200),
    "fake:huge": (Capability.LLM, 50_000),  # over the budget: loading it answers 503
}
ADMIN_PATHS = ("/api/v1/auth", "/api/v1/profile", "/api/v1/models")
"""Operations the admin fuzzes; the plain user fuzzes the others."""
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
    checks.unsupported_method,
    checks.allow_header_conformance,
]


class Catalogue:
    """The real store's voice models (no real chat model: they are slow) and fake chat ones."""

    def __init__(self, store: ModelStore, fake: FakeCatalogue) -> None:
        self.store = store
        self.fake = fake
        self.manifest = store.manifest

    def installed(self) -> list[InstalledModel]:
        voice = [m for m in self.store.installed() if m.capability not in _CHAT]
        return voice + self.fake.installed()

    def require(self, model_id: str) -> InstalledModel:
        if model_id in self.fake.models:
            return self.fake.require(model_id)
        model = self.store.require(model_id)
        if model.capability in _CHAT:
            raise ModelNotInstalled(model_id)
        return model

    def pull(self, model_id: str, **options: Any) -> InstalledModel:
        """The fuzzer never downloads into the test machine's shared model store."""
        raise UnsupportedInput("the fuzzer's store installs nothing", field="model")

    def remove(self, model_id: str) -> None:
        """Nor removes anything from it."""
        raise UnsupportedInput("the fuzzer's store removes nothing", field="model_id")


_CHAT = (Capability.LLM, Capability.VLM)


def _engine(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
    if engine == "fake":
        return FakeChatModel(model_id, reply=echo_said)
    return load_engine(engine, model_id, path, params)


class App:
    """The ASGI app the fuzzer calls, set by the fixture (the document is read at import,
    when pytest collects one test per operation; the app is built when the tests run)."""

    target: Litestar | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "the fuzzed_app fixture builds the app"
        await self.target(scope, receive, send)


APP = App()


def _document() -> dict[str, Any]:
    """The document the app serves (it depends on the code, not on the services)."""
    settings = Settings.load(data_dir=Path(tempfile.gettempdir()) / "fuzz-document")
    response = TestClient(create_app(settings)).get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


schema = schemathesis.openapi.from_dict(
    _document(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": "http://testserver",
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                # 503 is a documented answer: a model that is not installed, a full queue.
                "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]},
                # A body over server.max_body_bytes is refused (413) before it is read, so
                # whether it was also invalid is never looked at: that is a rejection too.
                "negative_data_rejection": {
                    "expected-statuses": [
                        "400",
                        "401",
                        "403",
                        "404",
                        "405",
                        "406",
                        "409",
                        "413",
                        "415",
                        "422",
                        "428",
                        "429",
                        "5xx",
                    ]
                },
            },
            # Slow or filtered generation is the fuzzer's concern, not the server's.
            "suppress-health-check": ["all"],
        }
    ),
)
schema.app = APP
# Raw audio uploads are documented as `audio/*`: send the generated bytes as audio/wav.
schemathesis.serializer.alias("audio/wav", "application/octet-stream")
# Raw image uploads are documented as `image/*`: send the generated bytes as image/png.
schemathesis.serializer.alias("image/png", "application/octet-stream")


@dataclasses.dataclass(frozen=True)
class Callers:
    """The fuzzer's two accounts, as request headers."""

    admin: dict[str, str]
    user: dict[str, str]

    def headers_for(self, path: str) -> dict[str, str]:
        return self.admin if path.startswith(ADMIN_PATHS) else self.user


def _key(services: Services, user: User) -> dict[str, str]:
    principal = Principal(user_id=user.id, username=user.username, role=user.role)
    _, key = services.auth.create_api_key(principal, "fuzzer")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callers]:
    """The app on a fresh data directory, and who calls it."""
    # Short speech only: a 4096-character text takes Piper longer than a request may.
    settings = real_settings(
        tmp_path_factory.mktemp("fuzz"),
        voice={"max_upload_seconds": 20.0, "max_synthesis_chars": 100},
        # Notification streams never end by themselves; the fuzzer needs each answer whole.
        notifications={"desktop": "off", "stream_max_seconds": 0.05},
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    catalogue = Catalogue(services.models, FakeCatalogue(dict(CHAT_MODELS)))
    manager = ModelManager(
        catalogue,
        budget_mb=4_000,
        params_overrides=settings.models.params,
        loader=_engine,
    )
    chat = ChatService(
        services.db,
        manager,
        catalogue,
        services.profile,
        rules=RoutingRules(default_model="fake:big", route_short_to_smallest=False),
    )
    voice = build_voice(settings, manager, services.models, services.profile)
    vision = build_vision(settings, services.db, manager, services.models, services.profile, chat)
    # Translation runs on the fake chat models too (the real one is slow).
    translate = build_translate(
        settings,
        services.db,
        manager,
        catalogue,  # type: ignore[arg-type]
        services.profile,
        services.history,
        voice,
    )
    fuzzed = dataclasses.replace(
        services,
        manager=manager,
        models=catalogue,  # type: ignore[arg-type]
        chat=chat,
        voice=voice,
        loops=VoiceLoops(voice, chat),
        vision=vision,
        translate=translate,
    )
    admin = services.auth.create_user("admin", PASSWORD, Role.ADMIN)
    user = services.auth.create_user("ada", PASSWORD)
    APP.target = create_app(settings, fuzzed)
    try:
        yield Callers(admin=_key(services, admin), user=_key(services, user))
    finally:
        schemathesis_asgi.shutdown_lifespans()
        APP.target = None
        services.close()


@schema.parametrize()
def test_the_server_keeps_its_document(case: Any, fuzzed_app: Callers) -> None:
    case.call_and_validate(headers=fuzzed_app.headers_for(case.path), checks=CHECKS)
