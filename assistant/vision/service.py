"""The vision service: detection, OCR, scene analysis and visual question answering on
uploads, stored images or the device camera, and the per-user image store.

Every call decodes its image once (limits checked before pixels are decoded, EXIF
orientation applied, large images scaled down for the models) and answers in the
coordinates of the upright image at full resolution. Words about an image come from
the chat model given only what the detector, the OCR and the pixels said, and are
checked against those facts (``assistant.vision.grounding``); a vision-language model
answers instead when one is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from assistant.chat.service import ChatService
from assistant.errors import InvalidInput
from assistant.profile.models import UsageMetric
from assistant.profile.service import ProfileService
from assistant.threads import off_loop
from assistant.vision import grounding
from assistant.vision.facts import ImageFacts, measure
from assistant.vision.fetch import UrlFetcher
from assistant.vision.grounding import Seen
from assistant.vision.images import ImageLibrary, ImagePage, StoredImage
from assistant.vision.layout import (
    RawLine,
    TextLayout,
    arrange,
    keep_confident,
    page_turns,
    rotate_points,
    rotate_points_back,
)
from hal.camera import Camera
from hal.camera.frame import Frame
from hal.camera.images import DecodedImage, ImageLimits, decode_image, encode_jpeg, frame_from_rgb
from hal.errors import UnsupportedFormat
from runtime.detect.base import Detection, DetectOptions, ObjectDetector
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled, UnknownModel
from runtime.events import NO_EVENTS, Emitter
from runtime.llm.base import ChatMessage, GenerationOptions
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel
from runtime.ocr.base import TextRecognizer
from runtime.vlm.base import VisionLanguageModel

log = logging.getLogger(__name__)

UPLOAD_MEDIA_TYPES = ("image/", "application/octet-stream")
"""Content types an upload may declare (or none at all)."""


class Catalogue(Protocol):
    """What the service needs of the model store."""

    def installed(self) -> list[InstalledModel]:
        """Every installed model."""
        ...

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ModelNotInstalled / UnknownModel."""
        ...


@dataclass(frozen=True)
class VisionDefaults:
    """The service's configuration (from ``VisionSettings``)."""

    detect_model: str | None = None
    """Detector; None: the active profile's, else the first installed."""
    ocr_model: str | None = None
    """OCR pipeline; None: as above."""
    vlm_model: str | None = None
    """Vision-language model used by /vqa when installed; None: the profile's."""
    chat_model: str | None = None
    """Chat model that writes grounded words; None: the chat service's default."""
    profile: str | None = None
    """The active models profile (named in errors)."""
    label_nouns: Mapping[str, str] = field(default_factory=dict)
    """Detector label -> what it is in words (the fall detector's ``Normal`` is a person)."""
    limits: ImageLimits = field(default_factory=ImageLimits)
    """Limits on images."""
    describe_max_tokens: int = 96
    """Longest description or grounded answer, in tokens."""
    keep_gps: bool = False
    """Keep EXIF GPS positions of stored images unless a call says otherwise."""


@dataclass(frozen=True)
class ImageSource:
    """Which image a call is about: exactly one of the four."""

    data: bytes | None = None
    """An uploaded encoded image."""
    image_id: str | None = None
    """One of the caller's stored images."""
    camera: bool = False
    """Capture a frame from the device camera."""
    url: str | None = None
    """Fetch it (only when the settings allow URLs)."""
    store: bool = False
    """Also keep the image in the caller's store."""
    keep_gps: bool | None = None
    """When storing: keep the EXIF GPS position (None: the device's setting)."""

    def check(self) -> None:
        """InvalidInput unless exactly one source is given."""
        given = [
            name
            for name, present in (
                ("file", self.data is not None),
                ("image_id", self.image_id is not None),
                ("source", self.camera),
                ("url", self.url is not None),
            )
            if present
        ]
        if not given:
            raise InvalidInput(
                "Send an image (multipart field `file`, or the raw image as the body),"
                " `image_id` of a stored image, or `source=camera`",
                field="file",
            )
        if len(given) > 1:
            raise InvalidInput(f"Give one image source, not {' and '.join(given)}", field=given[1])


@dataclass(frozen=True)
class LoadedImage:
    """The image of a call, decoded."""

    decoded: DecodedImage
    """Pixels and sizes."""
    source: str
    """``upload``, ``camera``, ``stored`` or ``url``."""
    image_id: str | None
    """Its id in the store, if it is (or was just) stored."""
    encoded: bytes | None = None
    """The encoded bytes, when the call had them."""

    @property
    def frame(self) -> Frame:
        """Pixels for the models."""
        return self.decoded.frame


@dataclass(frozen=True)
class FoundObject:
    """One detected object, in full-resolution pixels of the upright image."""

    label: str
    """The detector's class name."""
    noun: str
    """What it is in words."""
    score: float
    """Confidence, 0..1."""
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2 in pixels."""
    box_normalized: tuple[float, float, float, float]
    """The box divided by width and height (0..1)."""


@dataclass(frozen=True)
class DetectResult:
    """Objects found in an image."""

    image: LoadedImage
    objects: list[FoundObject]
    model: str
    labels: tuple[str, ...]
    """Every class the detector knows."""
    seconds: float
    """Time the detector took."""


@dataclass(frozen=True)
class OcrOptions:
    """Options of a text reading."""

    languages: tuple[str, ...] = ()
    """Languages the caller expects (a hint; checked against the model's)."""
    min_confidence: float = 0.0
    """Drop lines read with less confidence."""


@dataclass(frozen=True)
class OcrResult:
    """Text read from an image."""

    image: LoadedImage
    layout: TextLayout
    rotation: int
    """Degrees clockwise the page's text is turned in the image: 0, 90, 180 or 270."""
    model: str
    seconds: float
    notes: tuple[str, ...] = ()
    """Warnings for the caller (a language the model does not read)."""


@dataclass(frozen=True)
class Analysis:
    """Scene understanding of one image."""

    detection: DetectResult
    ocr: OcrResult
    facts: ImageFacts
    counts: dict[str, int]
    """Objects per noun."""
    description: str
    """Short description, grounded in the facts."""
    description_source: str
    """``model`` (the chat model's, checked) or ``facts`` (written from the facts)."""
    chat_model: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VqaAnswer:
    """An answer to a question about an image."""

    answer: str
    method: str
    """``vlm`` or ``grounded``."""
    source: str
    """``model`` or ``facts`` (the model's answer disagreed with the facts, or the facts
    decide the question alone)."""
    model: str | None
    analysis: Analysis | None
    """The facts used (grounded answers)."""
    image: LoadedImage


class VisionService:
    """Vision calls for signed-in users."""

    def __init__(
        self,
        manager: ModelManager,
        catalogue: Catalogue,
        library: ImageLibrary,
        profile: ProfileService,
        chat: ChatService | None,
        defaults: VisionDefaults,
        *,
        camera: Callable[[], Camera] | None = None,
        fetcher: UrlFetcher | None = None,
        languages: Callable[[str], tuple[str, ...]] = lambda _model: (),
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.manager = manager
        self.events = events
        self.catalogue = catalogue
        self.library = library
        self.profile = profile
        self.chat = chat
        self.defaults = defaults
        self.open_camera = camera
        self.fetcher = fetcher
        self.languages = languages
        self._camera_lock = asyncio.Lock()

    # Models ---------------------------------------------------------------------------

    def model_for(self, capability: Capability, configured: str | None) -> str:
        """The model serving ``capability``: configured, else the first installed."""
        installed = [m.id for m in self.catalogue.installed() if m.capability is capability]
        if configured:
            if configured not in installed:
                other = self.catalogue.require(configured)  # raises when not installed
                raise InvalidInput(
                    f"{configured} is a {other.capability.value} model, not {capability.value}",
                    field="model",
                )
            return configured
        if not installed:
            raise UnknownModel(
                f"No {capability.value} model is installed, and the models profile"
                f" {self.defaults.profile or '(none)'} names none: pick one from"
                " `assistant models list` and install it",
                capability=capability.value,
            )
        return installed[0]

    def vlm_model(self) -> str | None:
        """The vision-language model /vqa uses, if one is installed."""
        installed = [m.id for m in self.catalogue.installed() if m.capability is Capability.VLM]
        if self.defaults.vlm_model:
            return self.defaults.vlm_model if self.defaults.vlm_model in installed else None
        return installed[0] if installed else None

    # Images -----------------------------------------------------------------------------

    @staticmethod
    def check_content_type(content_type: str | None, *, has_body: bool = True) -> None:
        """UnsupportedFormat unless an upload's declared type may be an image (a body
        must declare one; an empty body needs none)."""
        declared = (content_type or "").split(";")[0].strip().lower()
        if declared.startswith(UPLOAD_MEDIA_TYPES) or not (declared or has_body):
            return
        sent = f"the request has {declared}" if declared else "the request has none"
        raise UnsupportedFormat(
            "Send the image with Content-Type: image/jpeg (png, webp, bmp, gif, heic),"
            " application/octet-stream or multipart/form-data, or options with"
            f" Content-Type: application/json ({sent})",
            field="file",
        )

    async def load(self, user_id: str, source: ImageSource) -> LoadedImage:
        """Decode the image a call is about (and store it when asked)."""
        source.check()
        limits = self.defaults.limits
        if source.image_id is not None:
            stored, data = await asyncio.to_thread(self.library.get, user_id, source.image_id)
            decoded = await asyncio.to_thread(decode_image, data, limits, "stored", "image_id")
            return LoadedImage(decoded, "stored", stored.id, data)
        if source.camera:
            decoded = await self.capture()
            jpeg = (
                await asyncio.to_thread(encode_jpeg, decoded.frame.image) if source.store else None
            )
            loaded = LoadedImage(decoded, "camera", None, jpeg)
        elif source.url is not None:
            if self.fetcher is None:
                raise InvalidInput(
                    "Fetching images from URLs is off on this device (vision.fetch.enabled)",
                    field="url",
                )
            data = await self.fetcher.fetch(source.url)
            decoded = await asyncio.to_thread(decode_image, data, limits, "url", "url")
            loaded = LoadedImage(decoded, "url", None, data)
        else:
            assert source.data is not None
            data = source.data
            decoded = await asyncio.to_thread(decode_image, data, limits, "upload", "file")
            loaded = LoadedImage(decoded, "upload", None, data)
        if source.store and loaded.encoded is not None:
            stored, _ = await asyncio.to_thread(
                self.library.put_decoded,
                user_id,
                loaded.encoded,
                loaded.decoded,
                keep_gps=self._keep_gps(source.keep_gps),
            )
            loaded = replace(loaded, image_id=stored.id)
        return loaded

    async def capture(self) -> DecodedImage:
        """One frame from the device camera (opened for the call, then released)."""
        if self.open_camera is None:
            raise InvalidInput("This device has no camera configured", field="source")
        opener = self.open_camera
        async with self._camera_lock:

            def grab() -> Frame:
                camera = opener()
                try:
                    return camera.capture()
                finally:
                    camera.close()

            frame = await asyncio.to_thread(grab)
        return frame_from_rgb(frame.image, source=frame.source or "camera")

    # Calls ------------------------------------------------------------------------------

    async def detect(
        self, user_id: str, source: ImageSource, options: DetectOptions, model: str | None = None
    ) -> DetectResult:
        """Objects in the image, best first, in full-resolution pixels."""
        started = time.perf_counter()
        image = await self.load(user_id, source)
        result = await self._detect(image, options, model)
        await self._count(user_id, "detect", result.model, started)
        return result

    async def _detect(
        self, image: LoadedImage, options: DetectOptions, model: str | None = None
    ) -> DetectResult:
        model_id = await asyncio.to_thread(
            self.model_for, Capability.DETECT, model or self.defaults.detect_model
        )
        async with self.manager.use(model_id) as engine:
            detector: ObjectDetector = engine
            started = time.perf_counter()
            found = await off_loop(detector.detect, image.frame, options)
            seconds = time.perf_counter() - started
        objects = self._objects(image.decoded, found)
        return DetectResult(image, objects, model_id, tuple(detector.labels), seconds)

    def _objects(self, decoded: DecodedImage, found: Sequence[Detection]) -> list[FoundObject]:
        scale = decoded.scale
        width, height = decoded.width, decoded.height
        objects = []
        for item in found:
            x1, y1, x2, y2 = (
                min(max(v * scale, 0.0), limit)
                for v, limit in zip(item.box, (width, height, width, height), strict=True)
            )
            objects.append(
                FoundObject(
                    label=item.label,
                    noun=self.defaults.label_nouns.get(item.label, item.label).lower(),
                    score=round(item.confidence, 4),
                    box=(round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)),
                    box_normalized=(
                        round(x1 / width, 4),
                        round(y1 / height, 4),
                        round(x2 / width, 4),
                        round(y2 / height, 4),
                    ),
                )
            )
        return objects

    async def ocr(
        self, user_id: str, source: ImageSource, options: OcrOptions, model: str | None = None
    ) -> OcrResult:
        """The text in the image, in reading order, with paragraphs."""
        started = time.perf_counter()
        image = await self.load(user_id, source)
        result = await self._ocr(image, options, model)
        await self._count(user_id, "ocr", result.model, started)
        return result

    async def _ocr(
        self, image: LoadedImage, options: OcrOptions, model: str | None = None
    ) -> OcrResult:
        if not 0.0 <= options.min_confidence <= 1.0:
            raise InvalidInput("min_confidence must be between 0 and 1", field="min_confidence")
        model_id = await asyncio.to_thread(
            self.model_for, Capability.OCR, model or self.defaults.ocr_model
        )
        notes = self._language_notes(model_id, options.languages)
        async with self.manager.use(model_id) as engine:
            started = time.perf_counter()
            layout, rotation = await off_loop(self.read_upright, engine, image.frame)
            seconds = time.perf_counter() - started
        layout = keep_confident(layout, options.min_confidence, image.decoded.scale)
        return OcrResult(image, layout, rotation, model_id, seconds, notes)

    @staticmethod
    def read_upright(recognizer: TextRecognizer, frame: Frame) -> tuple[TextLayout, int]:
        """The text in reading order, and how far (degrees clockwise) the page is turned.

        The recogniser reads every line the right way up whatever its angle, and says
        how each was turned; the page's turn is that of most of its text. Lines are
        ordered in the upright page, so a photo taken sideways or upside down reads
        top to bottom; their boxes stay in the image's own coordinates, starting at the
        text's top-left corner.
        """
        found = recognizer.recognize(frame)
        turns = page_turns([(line.rotation, len(line.text.strip())) for line in found])
        width, height = frame.width, frame.height
        upright = [
            RawLine(line.text, line.confidence, rotate_points(line.box, turns, width, height))
            for line in found
        ]
        layout = arrange(upright)
        lines = tuple(
            replace(line, polygon=rotate_points_back(line.polygon, turns, width, height))
            for line in layout.lines
        )
        return replace(layout, lines=lines), turns * 90

    def _language_notes(self, model_id: str, wanted: Sequence[str]) -> tuple[str, ...]:
        known = self.languages(model_id)
        missing = [code for code in wanted if known and code not in known]
        if not missing:
            return ()
        return (
            f"{model_id} reads {', '.join(known)}; text in {', '.join(missing)} may be misread",
        )

    async def analyze(
        self,
        user_id: str,
        source: ImageSource,
        options: DetectOptions,
        *,
        describe: bool = True,
    ) -> Analysis:
        """Detections, counts, text, image facts and a grounded description in one call."""
        started = time.perf_counter()
        image = await self.load(user_id, source)
        analysis = await self._analyze(user_id, image, options, describe=describe)
        await self._count(user_id, "analyze", analysis.chat_model, started)
        return analysis

    async def _analyze(
        self, user_id: str, image: LoadedImage, options: DetectOptions, *, describe: bool
    ) -> Analysis:
        detection = await self._detect(image, options)
        text = await self._ocr(image, OcrOptions())
        facts = await asyncio.to_thread(
            measure, image.frame.image, image.decoded.width, image.decoded.height
        )
        seen = self._seen(detection, text, facts)
        counts = dict(seen.counts)
        notes: list[str] = []
        description, description_source, chat_model = (
            grounding.plain_description(seen),
            "facts",
            None,
        )
        if describe and self.chat is not None:
            try:
                written, chat_model = await self._write(user_id, grounding.describe_messages(seen))
            except ModelNotInstalled as exc:
                notes.append(f"No chat model for the description ({exc.detail})")
            else:
                strays = grounding.invented(written, seen)
                if written.strip() and not strays:
                    description, description_source = written.strip(), "model"
                elif strays:
                    log.info("description named unseen %s; using the facts", strays)
        return Analysis(
            detection=detection,
            ocr=text,
            facts=facts,
            counts=counts,
            description=description,
            description_source=description_source,
            chat_model=chat_model,
            notes=tuple(notes) + text.notes,
        )

    def _seen(self, detection: DetectResult, text: OcrResult, facts: ImageFacts) -> Seen:
        return Seen(
            counts=grounding.count_by([o.noun for o in detection.objects]),
            text=text.layout.text,
            facts=facts,
            detector_nouns=tuple(
                dict.fromkeys(
                    self.defaults.label_nouns.get(label, label).lower()
                    for label in detection.labels
                )
            ),
        )

    async def vqa(
        self, user_id: str, source: ImageSource, question: str, options: DetectOptions
    ) -> VqaAnswer:
        """An answer: from a vision-language model when one is installed, else from the
        chat model given the facts (and checked against them)."""
        question = question.strip()
        if not question:
            raise InvalidInput("Ask a question", field="question")
        if len(question) > 1000:
            raise InvalidInput("The question is longer than 1000 characters", field="question")
        started = time.perf_counter()
        image = await self.load(user_id, source)
        vlm = await asyncio.to_thread(self.vlm_model)
        if vlm is not None:
            answer = await self._vlm_answer(vlm, image, question)
        else:
            answer = await self._grounded_answer(user_id, image, question, options)
        await self._count(user_id, "vqa", answer.model, started)
        return answer

    async def _vlm_answer(self, model_id: str, image: LoadedImage, question: str) -> VqaAnswer:
        data = await asyncio.to_thread(encode_jpeg, image.frame.image)
        options = GenerationOptions(max_tokens=self.defaults.describe_max_tokens, temperature=0.0)
        async with self.manager.use(model_id) as engine:
            model: VisionLanguageModel = engine

            def run() -> str:
                return "".join(d.text for d in model.answer(data, question, options))

            text = await off_loop(run)
        return VqaAnswer(text.strip(), "vlm", "model", model_id, None, image)

    async def _grounded_answer(
        self, user_id: str, image: LoadedImage, question: str, options: DetectOptions
    ) -> VqaAnswer:
        analysis = await self._analyze(user_id, image, options, describe=False)
        seen = self._seen(analysis.detection, analysis.ocr, analysis.facts)
        expected = grounding.expectation(question, seen)
        if expected is not None and not expected.must_contain:
            return VqaAnswer(expected.answer, "grounded", "facts", None, analysis, image)
        if self.chat is None:
            raise InvalidInput("No chat model is available for answers", field="question")
        written, chat_model = await self._write(user_id, grounding.answer_messages(seen, question))
        answer, answer_source = written.strip(), "model"
        if expected is not None and not grounding.accepts(expected, answer):
            log.info("answer %r disagrees with the facts; using them", answer)
            answer, answer_source = expected.answer, "facts"
        elif not answer or grounding.invented(answer, seen):
            answer, answer_source = (
                "The picture's facts do not tell. " + grounding.plain_description(seen),
                "facts",
            )
        return VqaAnswer(answer, "grounded", answer_source, chat_model, analysis, image)

    async def _write(self, user_id: str, messages: list[tuple[str, str]]) -> tuple[str, str | None]:
        """The chat model's text for these messages (greedy, short), and the model's id."""
        assert self.chat is not None
        options = GenerationOptions(
            max_tokens=self.defaults.describe_max_tokens, temperature=0.0, seed=0
        )
        chat_messages = [ChatMessage(role, content) for role, content in messages]
        pieces: list[str] = []
        stream = self.chat.complete(user_id, self.defaults.chat_model, chat_messages, options)
        async with contextlib.aclosing(stream) as deltas:
            async for delta in deltas:
                pieces.append(delta.text)
        chosen = self.defaults.chat_model or self.chat.default_model
        return "".join(pieces), chosen

    async def annotated(
        self, user_id: str, source: ImageSource, options: DetectOptions, model: str | None = None
    ) -> tuple[DetectResult, bytes]:
        """Detections, and the image as JPEG with their boxes drawn."""
        result = await self.detect(user_id, source, options, model)
        jpeg = await asyncio.to_thread(draw_boxes, result)
        return result, jpeg

    async def _count(self, user_id: str, call: str, model: str | None, started: float) -> None:
        """A vision call done: counted in the profile's usage and as an analytics event."""
        total_ms = round((time.perf_counter() - started) * 1000, 1)
        self.events.emit(
            "vision.call", {"kind": call, "model": model, "total_ms": total_ms}, user_id=user_id
        )
        await asyncio.to_thread(self.profile.record_usage, user_id, {UsageMetric.VISION_CALLS: 1})

    # The store ---------------------------------------------------------------------------

    def _keep_gps(self, requested: bool | None) -> bool:
        return self.defaults.keep_gps if requested is None else requested

    async def store_image(
        self, user_id: str, data: bytes, *, keep_gps: bool | None = None
    ) -> tuple[StoredImage, bool]:
        """Keep an image in the user's store."""
        return await asyncio.to_thread(
            self.library.put, user_id, data, keep_gps=self._keep_gps(keep_gps)
        )

    async def list_images(self, user_id: str, limit: int, before: str | None) -> ImagePage:
        """The user's images, newest first."""
        return await asyncio.to_thread(self.library.list, user_id, limit, before)

    async def get_image(self, user_id: str, image_id: str) -> tuple[StoredImage, bytes]:
        """One stored image and its bytes."""
        return await asyncio.to_thread(self.library.get, user_id, image_id)

    async def thumbnail(self, user_id: str, image_id: str) -> tuple[StoredImage, bytes]:
        """One stored image and its JPEG thumbnail."""
        return await asyncio.to_thread(self.library.thumbnail, user_id, image_id)

    async def delete_image(self, user_id: str, image_id: str) -> None:
        """Delete one stored image."""
        await asyncio.to_thread(self.library.delete, user_id, image_id)


def draw_boxes(result: DetectResult) -> bytes:
    """The image of a detection at its working size, boxes and labels drawn, as JPEG."""
    from PIL import Image, ImageDraw

    decoded = result.image.decoded
    canvas = Image.fromarray(decoded.frame.image, "RGB")
    draw = ImageDraw.Draw(canvas)
    scale = decoded.scale
    line = max(2, round(max(canvas.size) / 300))
    for found in result.objects:
        x1, y1, x2, y2 = (v / scale for v in found.box)
        draw.rectangle((x1, y1, x2, y2), outline=(255, 40, 40), width=line)
        label = f"{found.label} {found.score:.2f}"
        text_box = draw.textbbox((x1, y1), label)
        top = max(0.0, y1 - (text_box[3] - text_box[1]) - 4)
        draw.rectangle((x1, top, x1 + text_box[2] - text_box[0] + 4, y1), fill=(255, 40, 40))
        draw.text((x1 + 2, top + 1), label, fill=(255, 255, 255))
    return encode_jpeg(np.asarray(canvas, dtype=np.uint8), quality=88)
