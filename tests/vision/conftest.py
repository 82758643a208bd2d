"""A vision service on real SQLite with fake or tiny models behind a real model manager."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from litestar.testing import TestClient

from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatService
from assistant.services import Services
from assistant.settings import Settings
from assistant.vision.service import VisionDefaults, VisionService
from hal.camera.fake import FakeCamera
from hal.camera.images import ImageLimits
from runtime.detect.yolo_onnx import YoloOnnxObjectDetector
from runtime.engines import Capability
from runtime.events import RecordingEmitter
from runtime.llm.base import ChatMessage
from runtime.llm.fake import FakeChatModel
from runtime.manager import ModelManager
from runtime.ocr.base import OcrLine
from runtime.ocr.fake import FakeTextRecognizer
from runtime.testing.tiny_yolo import make_tiny_yolo
from runtime.vlm.fake import FakeVisionLanguageModel
from server.app import create_app
from tests.chat.conftest import FakeCatalogue
from tests.conftest import Accounts

DETECTOR = "tiny-yolo:test"
OCR = "fake-ocr:test"
CHAT = "fake:chat"
VLM = "fake-vlm:test"


@pytest.fixture(scope="session")
def tiny_yolo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny generated YOLO export (80 COCO classes)."""
    folder = tmp_path_factory.mktemp("tiny-yolo")
    make_tiny_yolo(folder / "model.onnx")
    return folder


def line(
    text: str, x: float, y: float, width: float = 200, height: float = 30, confidence: float = 0.95
) -> OcrLine:
    """An OCR line whose box starts at (x, y)."""
    box = ((x, y), (x + width, y), (x + width, y + height), (x, y + height))
    return OcrLine(text=text, confidence=confidence, box=box)


@dataclass
class Rig:
    """The parts of a vision service under test, to script and inspect."""

    vision: VisionService
    services: Services
    manager: ModelManager
    ocr: FakeTextRecognizer
    chat: FakeChatModel
    vlm: FakeVisionLanguageModel
    camera_images: list[npt.NDArray[np.uint8]]
    cameras: list[FakeCamera] = field(default_factory=list)
    """Every camera the service opened."""
    unplugged: bool = False
    """Cameras opened from now on deliver no frames."""
    replies: list[str] = field(default_factory=list)
    """What the chat model says next (first in, first out; echo when empty)."""
    events: RecordingEmitter = field(default_factory=RecordingEmitter)
    """The analytics events the service emitted."""

    def say(self, *replies: str) -> None:
        self.replies.extend(replies)


def make_rig(
    services: Services,
    tiny_yolo_dir: Path,
    *,
    vlm: bool = False,
    limits: ImageLimits | None = None,
    label_nouns: Mapping[str, str] | None = None,
    camera_images: Sequence[npt.NDArray[np.uint8]] = (),
) -> Rig:
    models: dict[str, tuple[Capability, int]] = {
        DETECTOR: (Capability.DETECT, 10),
        OCR: (Capability.OCR, 10),
        CHAT: (Capability.LLM, 10),
    }
    if vlm:
        models[VLM] = (Capability.VLM, 10)
    catalogue = FakeCatalogue(models)
    ocr = FakeTextRecognizer(model_id=OCR)
    replies: list[str] = []

    def reply(messages: Sequence[ChatMessage]) -> str:
        return replies.pop(0) if replies else "Nothing to add."

    chat_model = FakeChatModel(CHAT, reply=reply)
    vlm_model = FakeVisionLanguageModel("It is a red square.", model_id=VLM)

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
        if model_id == DETECTOR:
            return YoloOnnxObjectDetector.load(model_id, tiny_yolo_dir, {})
        return {OCR: ocr, CHAT: chat_model, VLM: vlm_model}[model_id]

    manager = ModelManager(catalogue, budget_mb=1000, loader=loader)
    chat = ChatService(
        services.db,
        manager,
        catalogue,
        services.profile,
        rules=RoutingRules(default_model=CHAT, route_short_to_smallest=False),
    )
    images = list(camera_images) or [np.full((240, 320, 3), 128, np.uint8)]
    events = RecordingEmitter()
    rig: Rig

    def open_camera() -> FakeCamera:
        camera = FakeCamera(rig.camera_images, fail_after=0 if rig.unplugged else None)
        rig.cameras.append(camera)
        return camera

    vision = VisionService(
        manager,
        catalogue,
        services.vision.library,
        services.profile,
        chat,
        VisionDefaults(
            detect_model=DETECTOR,
            ocr_model=OCR,
            limits=limits or ImageLimits(),
            label_nouns=dict(label_nouns or {}),
        ),
        camera=open_camera,
        languages=lambda model_id: ("en", "zh") if model_id == OCR else (),
        events=events,
    )
    rig = Rig(
        vision,
        services,
        manager,
        ocr,
        chat_model,
        vlm_model,
        images,
        replies=replies,
        events=events,
    )
    return rig


@pytest.fixture
def rig(services: Services, tiny_yolo_dir: Path) -> Rig:
    """A vision service over the tiny YOLO, a scripted OCR and a scripted chat model."""
    return make_rig(services, tiny_yolo_dir)


Client = TestClient[Any]


@pytest.fixture
def vision_client(settings: Settings, services: Services, rig: Rig) -> Iterator[Client]:
    """The app with the rig's vision service."""
    app = create_app(settings, dataclasses.replace(services, vision=rig.vision))
    with TestClient(app=app) as client:
        yield client


@pytest.fixture
def users(vision_client: Client, services: Services) -> Callable[[str], dict[str, str]]:
    """Signs users in on the vision client; their auth headers."""
    return Accounts(vision_client, services).register
