"""Bodies of ``/api/v1/vision``.

Every vision call takes its image one of four ways: a multipart form with the image as
``file``, the raw image as the body, ``image_id`` of a stored image, or
``source=camera``; options come as query parameters, form fields, or the keys of a JSON
body (which may also carry the image base64-encoded as ``image``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from assistant.vision.images import ImagePage, StoredImage
from assistant.vision.service import (
    Analysis,
    DetectResult,
    FoundObject,
    LoadedImage,
    OcrResult,
    VqaAnswer,
)
from hal.camera.images import MEDIA_TYPES
from server.docs import JSON, MULTIPART, OCTETS, binary, schema_of, struct_json


def _form_bool(value: Any) -> Any:
    """``true``/``false`` from a form field; anything else is left to the validator."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return value.lower() == "true"
    return value


Flag = Annotated[bool, BeforeValidator(_form_bool)]
"""A boolean that form fields spell ``true`` or ``false`` (not ``1``, ``yes``...)."""
ImageId = Annotated[str, Field(min_length=1, max_length=64)]
ClassNames = Annotated[str, Field(max_length=2000)]
LANGUAGES_PATTERN = r"^[a-z]{2,3}(,[a-z]{2,3})*$"


class ImageParams(BaseModel):
    """Where the image comes from (query parameters, form fields or JSON keys)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["upload", "camera"] = "upload"
    """``camera``: capture a frame from the device camera instead of an upload."""
    image_id: ImageId | None = None
    """Use one of your stored images."""
    url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    """Fetch the image (only when the device allows URLs; see README)."""
    store: Flag = False
    """Also keep the image in your image store (its id comes back as ``image.id``)."""
    keep_gps: Flag | None = None
    """When storing: keep the photo's EXIF GPS position (default: the device's setting)."""
    image: Annotated[str, Field(max_length=70_000_000)] | None = None
    """JSON bodies only: the image, base64-encoded."""


class DetectionParams(ImageParams):
    """Options of object detection."""

    classes: ClassNames | None = None
    """Comma-separated class names to keep (default: all)."""
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.25
    """Drop objects scored below this."""
    max_results: Annotated[int, Field(ge=1, le=300)] = 100
    """Most objects returned."""
    iou: Annotated[float, Field(ge=0.0, le=1.0)] = 0.45
    """Overlap above which the weaker of two boxes of a class is dropped."""
    model: Annotated[str, Field(max_length=100)] | None = None
    """Detector to use (default: the device's)."""

    @field_validator("classes")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        if value is not None and not [n for n in value.split(",") if n.strip()]:
            raise ValueError("name at least one class, or leave classes out")
        return value

    def class_names(self) -> tuple[str, ...]:
        """The classes as a tuple (empty: all)."""
        if self.classes is None:
            return ()
        return tuple(name.strip() for name in self.classes.split(",") if name.strip())


class DetectParams(DetectionParams):
    """Options of ``/detect``."""

    annotate: Flag = False
    """Answer with the image (JPEG) with the boxes drawn instead of JSON."""


class OcrParams(ImageParams):
    """Options of ``/ocr``."""

    languages: Annotated[str, Field(pattern=LANGUAGES_PATTERN, max_length=200)] | None = None
    """Comma-separated ISO 639 codes of the languages expected (a hint)."""
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """Drop lines read with less confidence."""
    model: Annotated[str, Field(max_length=100)] | None = None
    """OCR model to use (default: the device's)."""


class AnalyzeParams(DetectionParams):
    """Options of ``/analyze``."""

    describe: Flag = True
    """Have the chat model write a short description from the facts."""


class VqaParams(DetectionParams):
    """Options of ``/vqa``."""

    question: Annotated[str, Field(min_length=1, max_length=1000)]
    """What to ask about the image."""


class StoreParams(BaseModel):
    """Options of storing an image."""

    model_config = ConfigDict(extra="forbid")

    keep_gps: Flag | None = None
    """Keep the photo's EXIF GPS position (default: the device's setting)."""


# Answers ---------------------------------------------------------------------------------


class ImageOut(msgspec.Struct, kw_only=True):
    """The image a call was about."""

    width: int
    """Upright width in pixels: boxes are in these coordinates."""
    height: int
    source: str
    """upload, camera, stored or url."""
    id: str | None
    """Its id in your image store, when it is stored."""
    media_type: str | None
    orientation: int
    """EXIF orientation that was applied (1: none)."""

    @classmethod
    def of(cls, image: LoadedImage) -> ImageOut:
        decoded = image.decoded
        return cls(
            width=decoded.width,
            height=decoded.height,
            source=image.source,
            id=image.image_id,
            media_type=None if image.source == "camera" else decoded.media_type,
            orientation=decoded.orientation,
        )


class ObjectOut(msgspec.Struct, kw_only=True):
    """A detected object."""

    label: str
    """The detector's class name."""
    noun: str
    """What it is in words (``person`` for the fall detector's ``Normal``)."""
    score: float
    box: list[float]
    """x1, y1, x2, y2 in pixels of the upright image."""
    box_normalized: list[float]
    """The box as fractions of width and height."""

    @classmethod
    def of(cls, found: FoundObject) -> ObjectOut:
        return cls(
            label=found.label,
            noun=found.noun,
            score=found.score,
            box=list(found.box),
            box_normalized=list(found.box_normalized),
        )


class DetectOut(msgspec.Struct, kw_only=True):
    """Objects in an image, best first."""

    objects: list[ObjectOut]
    counts: dict[str, int]
    """Objects per label."""
    image: ImageOut
    model: str
    seconds: float
    """Time the detector took."""

    @classmethod
    def of(cls, result: DetectResult) -> DetectOut:
        counts: dict[str, int] = {}
        for found in result.objects:
            counts[found.label] = counts.get(found.label, 0) + 1
        return cls(
            objects=[ObjectOut.of(o) for o in result.objects],
            counts=counts,
            image=ImageOut.of(result.image),
            model=result.model,
            seconds=round(result.seconds, 4),
        )


class LineOut(msgspec.Struct, kw_only=True):
    """A line of text."""

    text: str
    confidence: float
    box: list[list[float]]
    """Corner points [x, y] in pixels of the upright image."""
    order: int
    """Position in reading order."""
    paragraph: int


class OcrOut(msgspec.Struct, kw_only=True):
    """The text in an image."""

    text: str
    """Everything, in reading order: rows on their own lines, paragraphs apart."""
    paragraphs: list[str]
    lines: list[LineOut]
    rotation: int
    """Degrees the image was turned to read sideways text (0, 90 or 270)."""
    image: ImageOut
    model: str
    seconds: float
    notes: list[str]

    @classmethod
    def of(cls, result: OcrResult) -> OcrOut:
        layout = result.layout
        return cls(
            text=layout.text,
            paragraphs=list(layout.paragraphs),
            lines=[
                LineOut(
                    text=line.text,
                    confidence=round(line.confidence, 4),
                    box=[[x, y] for x, y in line.polygon],
                    order=line.order,
                    paragraph=line.paragraph,
                )
                for line in layout.lines
            ],
            rotation=result.rotation,
            image=ImageOut.of(result.image),
            model=result.model,
            seconds=round(result.seconds, 4),
            notes=list(result.notes),
        )


class ColourOut(msgspec.Struct, kw_only=True):
    """A dominant colour."""

    name: str
    hex: str
    fraction: float


class FactsOut(msgspec.Struct, kw_only=True):
    """What the pixels say."""

    width: int
    height: int
    brightness: float
    """Mean luma, 0..1."""
    lighting: str
    """dark, dim, normal or bright."""
    contrast: float
    sharpness: float
    """Variance of the Laplacian: low is blurry."""
    blurry: bool
    colours: list[ColourOut]


class AnalyzeOut(msgspec.Struct, kw_only=True):
    """Scene understanding in one answer."""

    description: str
    """A short description written from the facts below only."""
    grounded: bool
    """Always true: the description names nothing the detector or OCR did not see."""
    description_source: str
    """``model``: the chat model's (checked); ``facts``: written from the facts."""
    objects: list[ObjectOut]
    counts: dict[str, int]
    """Objects per noun."""
    text: str
    """The OCR text."""
    facts: FactsOut
    image: ImageOut
    models: dict[str, str | None]
    """The detector, OCR and chat models used."""
    notes: list[str]

    @classmethod
    def of(cls, analysis: Analysis) -> AnalyzeOut:
        facts = analysis.facts
        return cls(
            description=analysis.description,
            grounded=True,
            description_source=analysis.description_source,
            objects=[ObjectOut.of(o) for o in analysis.detection.objects],
            counts=analysis.counts,
            text=analysis.ocr.layout.text,
            facts=FactsOut(
                width=facts.width,
                height=facts.height,
                brightness=facts.brightness,
                lighting=facts.lighting,
                contrast=facts.contrast,
                sharpness=facts.sharpness,
                blurry=facts.blurry,
                colours=[
                    ColourOut(name=c.name, hex=c.hex, fraction=c.fraction) for c in facts.colours
                ],
            ),
            image=ImageOut.of(analysis.detection.image),
            models={
                "detect": analysis.detection.model,
                "ocr": analysis.ocr.model,
                "chat": analysis.chat_model,
            },
            notes=list(analysis.notes),
        )


class VqaOut(msgspec.Struct, kw_only=True):
    """An answer about an image."""

    answer: str
    method: str
    """``vlm`` (a vision-language model looked) or ``grounded`` (the chat model read the
    detections, OCR text and image facts)."""
    source: str
    """``model``, or ``facts`` when the facts decided the answer (the model's answer
    disagreed with them, or the question needs no model)."""
    model: str | None
    counts: dict[str, int] | None
    """Grounded answers: objects per noun that were given to the model."""
    text: str | None
    """Grounded answers: the OCR text that was given to the model."""
    image: ImageOut

    @classmethod
    def of(cls, answer: VqaAnswer) -> VqaOut:
        analysis = answer.analysis
        return cls(
            answer=answer.answer,
            method=answer.method,
            source=answer.source,
            model=answer.model,
            counts=analysis.counts if analysis else None,
            text=analysis.ocr.layout.text if analysis else None,
            image=ImageOut.of(answer.image),
        )


class StoredImageOut(msgspec.Struct, kw_only=True):
    """An image in your store."""

    id: str
    sha256: str
    media_type: str
    bytes: int
    width: int
    height: int
    gps_kept: bool
    created_at: str
    url: str
    thumbnail_url: str

    @classmethod
    def of(cls, image: StoredImage) -> StoredImageOut:
        from assistant.clock import iso

        return cls(
            id=image.id,
            sha256=image.sha256,
            media_type=image.media_type,
            bytes=image.bytes,
            width=image.width,
            height=image.height,
            gps_kept=image.gps_kept,
            created_at=iso(image.created_at) or "",
            url=f"/api/v1/vision/images/{image.id}",
            thumbnail_url=f"/api/v1/vision/images/{image.id}/thumbnail",
        )


class ImagePageOut(msgspec.Struct, kw_only=True):
    """A page of your images, newest first."""

    images: list[StoredImageOut]
    next_cursor: str | None
    """Pass as ``before`` for the next page."""

    @classmethod
    def of(cls, page: ImagePage) -> ImagePageOut:
        return cls(images=[StoredImageOut.of(i) for i in page.images], next_cursor=page.next_cursor)


# For the API's document ------------------------------------------------------------------

IMAGE_MEDIA = "image/*"


def _properties(model: type[BaseModel], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        name: {k: v for k, v in field.items() if k != "title"}
        for name, field in schema["properties"].items()
        if name not in drop
    }


def upload_body(model: type[BaseModel], *, question: bool = False) -> dict[str, Any]:
    """How a vision call's body may be sent, by media type."""
    form_fields = _properties(model, drop=("image",))
    json_fields = _properties(model)
    required = ["question"] if question else []
    return {
        MULTIPART: schema_of(
            {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}, **form_fields},
                "required": required,
                "additionalProperties": False,
            }
        ),
        JSON: schema_of(
            {
                "type": "object",
                "properties": json_fields,
                "required": required,
                "additionalProperties": False,
            }
        ),
        OCTETS: binary("The image file itself"),
        IMAGE_MEDIA: binary("The image file itself (JPEG, PNG, WebP, BMP, GIF, HEIC)"),
    }


UPLOAD_DESCRIPTION = (
    "The image as a multipart form field `file` (options as form fields or query"
    " parameters), or the raw image as the whole body, or a JSON object of options with"
    " `image_id`, `source: camera` or `image` (base64). Leave the body empty when the"
    " query names `image_id` or `source=camera`."
)
STORE_BODY = {
    MULTIPART: schema_of(
        {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary"},
                **_properties(StoreParams),
            },
            "required": ["file"],
            "additionalProperties": False,
        }
    ),
    OCTETS: binary("The image file itself"),
    IMAGE_MEDIA: binary("The image file itself (JPEG, PNG, WebP, BMP, GIF, HEIC)"),
}
DETECT_ANSWERS = {
    JSON: schema_of(struct_json(DetectOut)),
    "image/jpeg": binary("annotate=true or Accept: image/jpeg: the image with boxes drawn"),
}
IMAGE_BYTES = {
    media: binary("The stored image as it was stored (GPS stripped unless kept)")
    for media in dict.fromkeys(MEDIA_TYPES.values())
}
THUMBNAIL = {"image/jpeg": binary("An upright JPEG at most 256 pixels a side")}
