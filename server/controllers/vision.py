"""``/api/v1/vision``: detection, OCR, scene analysis, image questions, the image store."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, SerializationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from pydantic import BaseModel

from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.vision.service import ImageSource, OcrOptions, VisionService
from runtime.detect.base import DetectOptions
from server.bodies import is_json_media_type
from server.deps import PrincipalDep, SettingsDep, VisionDep
from server.docs import JSON, documented, schema_of, struct_json
from server.problems import PARAMETERS, problems
from server.schemas.vision import (
    DETECT_ANSWERS,
    IMAGE_BYTES,
    STORE_BODY,
    THUMBNAIL,
    UPLOAD_DESCRIPTION,
    AnalyzeOut,
    AnalyzeParams,
    DetectionParams,
    DetectOut,
    DetectParams,
    ImagePageOut,
    ImageParams,
    OcrOut,
    OcrParams,
    StoredImageOut,
    StoreParams,
    VqaOut,
    VqaParams,
    upload_body,
)
from server.uploads import UPLOAD_HARD_LIMIT

Params = TypeVar("Params", bound=BaseModel)

UPLOAD_ERRORS = (*PARAMETERS, 401, 404, 413, 415, 503)
"""What a vision call can answer besides its result: bad options or image (400, 422),
no such stored image (404), too large (413), not an image type (415), a model or the
camera missing (503)."""

NOT_MODIFIED = {
    304: ResponseSpec(data_container=None, description="If-None-Match named the current ETag")
}

Source = Annotated[
    str | None,
    Parameter(
        description="upload (default) or camera", schema_extra={"enum": ["upload", "camera"]}
    ),
]
ImageIdParam = Annotated[
    str | None,
    Parameter(description="Use one of your stored images", min_length=1, max_length=64),
]
UrlParam = Annotated[
    str | None,
    Parameter(
        description="Fetch the image (only when the device allows URLs)",
        min_length=1,
        max_length=2048,
    ),
]
StoreParam = Annotated[bool | None, Parameter(description="Also keep the image in your store")]
KeepGps = Annotated[bool | None, Parameter(description="When storing: keep the EXIF GPS position")]
Classes = Annotated[
    str | None,
    Parameter(description="Comma-separated class names to keep", max_length=2000),
]
MinScore = Annotated[
    float | None, Parameter(description="Drop objects scored below this", ge=0.0, le=1.0)
]
MaxResults = Annotated[int | None, Parameter(description="Most objects returned", ge=1, le=300)]
Iou = Annotated[float | None, Parameter(description="NMS overlap threshold", ge=0.0, le=1.0)]
Model = Annotated[str | None, Parameter(description="Model to use", max_length=100)]


async def read_image_request(
    request: Request[Any, Any, Any], limit_bytes: int
) -> tuple[bytes | None, dict[str, Any], bool]:
    """The uploaded image (None when the body has none), the options in the body, and
    whether they came from a form (text, read leniently) rather than JSON (typed, read
    strictly: ``0`` is not ``false``)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        form = await request.form()
        data: bytes | None = None
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "file":
                    raise InvalidInput(
                        f"Send the image as the form field 'file', not {key!r}", field=key
                    )
                data = await value.read()
            elif key in ("file", "image"):
                raise InvalidInput(f"The form field {key!r} must be a file", field=key)
            else:
                fields[key] = value
        _check_size(data, limit_bytes)
        return data, fields, True
    if is_json_media_type(media_type):
        try:
            body = await request.json()
        except SerializationException as exc:  # Litestar answers these 400 only for `data`
            raise ClientException(detail=str(exc.detail)) from exc
        if not isinstance(body, dict):
            raise InvalidInput("The JSON body must be an object of options", field="body")
        return None, body, False
    if media_type:
        VisionService.check_content_type(media_type)
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) > limit_bytes:
            break
    VisionService.check_content_type(media_type, has_body=bool(buffer))
    _check_size(bytes(buffer), limit_bytes)
    return (bytes(buffer) or None), {}, False


def _check_size(data: bytes | None, limit_bytes: int) -> None:
    if data is not None and len(data) > limit_bytes:
        raise PayloadTooLarge(
            f"The upload is larger than {limit_bytes:,} bytes (server.max_upload_bytes)",
            field="file",
        )


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("image is not valid base64", field="image") from exc


async def image_call(
    request: Request[Any, Any, Any],
    settings: SettingsDep,
    model: type[Params],
    query: dict[str, Any],
) -> tuple[Params, ImageSource]:
    """The call's options (query, then body fields, validated together) and its image."""
    data, fields, from_form = await read_image_request(request, settings.server.max_upload_bytes)
    given = {k: v for k, v in query.items() if v is not None}
    params = model.model_validate({**given, **fields}, strict=not from_form)
    assert isinstance(params, ImageParams)
    if params.image is not None:
        if data is not None:
            raise InvalidInput("Send the image once: as the body or as `image`", field="image")
        data = _decode_base64(params.image)
    return params, ImageSource(
        data=data,
        image_id=params.image_id,
        camera=params.source == "camera",
        url=params.url,
        store=params.store,
        keep_gps=params.keep_gps,
    )


def detect_options(params: DetectionParams) -> DetectOptions:
    """The detector's options from the request's."""
    return DetectOptions(
        confidence_threshold=params.min_score,
        iou_threshold=params.iou,
        max_detections=params.max_results,
        classes=params.class_names(),
    )


def _wants_jpeg(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "image/jpeg" in accept and "application/json" not in accept


class VisionController(Controller):
    """Seeing for the signed-in user: every call takes an upload, a stored image or the
    device camera."""

    path = "/api/v1/vision"
    tags = ["vision"]

    @post(
        "/detect",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*UPLOAD_ERRORS),
        operation_class=documented(
            body=upload_body(DetectParams),
            body_description=UPLOAD_DESCRIPTION,
            answers=DETECT_ANSWERS,
        ),
        summary="Detect objects",
    )
    async def detect(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        source: Source = None,
        image_id: ImageIdParam = None,
        url: UrlParam = None,
        store: StoreParam = None,
        keep_gps: KeepGps = None,
        classes: Classes = None,
        min_score: MinScore = None,
        max_results: MaxResults = None,
        iou: Iou = None,
        model: Model = None,
        annotate: Annotated[
            bool | None, Parameter(description="Answer with the image, boxes drawn (JPEG)")
        ] = None,
    ) -> Response[Any]:
        """Objects with their class, score and box, in pixels of the upright image (EXIF
        orientation applied) and normalised to 0..1, best first. `classes`, `min_score`
        and `max_results` filter them. With `annotate=true` (or `Accept: image/jpeg`) the
        answer is the image with the boxes drawn."""
        params, image = await image_call(
            request,
            settings,
            DetectParams,
            {
                "source": source,
                "image_id": image_id,
                "url": url,
                "store": store,
                "keep_gps": keep_gps,
                "classes": classes,
                "min_score": min_score,
                "max_results": max_results,
                "iou": iou,
                "model": model,
                "annotate": annotate,
            },
        )
        options = detect_options(params)
        if params.annotate or _wants_jpeg(request):
            result, jpeg = await vision.annotated(principal.user_id, image, options, params.model)
            return Response(
                jpeg, media_type="image/jpeg", headers={"X-Objects": str(len(result.objects))}
            )
        found = await vision.detect(principal.user_id, image, options, params.model)
        return Response(DetectOut.of(found))

    @post(
        "/ocr",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*UPLOAD_ERRORS),
        operation_class=documented(
            body=upload_body(OcrParams),
            body_description=UPLOAD_DESCRIPTION,
            answers={JSON: schema_of(struct_json(OcrOut))},
        ),
        summary="Read the text in an image",
    )
    async def ocr(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        source: Source = None,
        image_id: ImageIdParam = None,
        url: UrlParam = None,
        store: StoreParam = None,
        keep_gps: KeepGps = None,
        languages: Annotated[
            str | None,
            Parameter(
                description="Comma-separated ISO 639 codes expected (a hint)",
                pattern=r"^[a-z]{2,3}(,[a-z]{2,3})*$",
                max_length=200,
            ),
        ] = None,
        min_confidence: Annotated[
            float | None,
            Parameter(description="Drop lines read with less confidence", ge=0.0, le=1.0),
        ] = None,
        model: Model = None,
    ) -> OcrOut:
        """Lines with their boxes, confidence and reading order, the whole text with line
        breaks, and paragraphs. Upside-down lines are turned back; sideways text (90 or
        270 degrees) is found by reading the image turned, and boxes are mapped back."""
        params, image = await image_call(
            request,
            settings,
            OcrParams,
            {
                "source": source,
                "image_id": image_id,
                "url": url,
                "store": store,
                "keep_gps": keep_gps,
                "languages": languages,
                "min_confidence": min_confidence,
                "model": model,
            },
        )
        wanted = tuple(params.languages.split(",")) if params.languages else ()
        result = await vision.ocr(
            principal.user_id,
            image,
            OcrOptions(languages=wanted, min_confidence=params.min_confidence),
            params.model,
        )
        return OcrOut.of(result)

    @post(
        "/analyze",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*UPLOAD_ERRORS),
        operation_class=documented(
            body=upload_body(AnalyzeParams),
            body_description=UPLOAD_DESCRIPTION,
            answers={JSON: schema_of(struct_json(AnalyzeOut))},
        ),
        summary="Understand a scene",
    )
    async def analyze(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        source: Source = None,
        image_id: ImageIdParam = None,
        url: UrlParam = None,
        store: StoreParam = None,
        keep_gps: KeepGps = None,
        classes: Classes = None,
        min_score: MinScore = None,
        max_results: MaxResults = None,
        iou: Iou = None,
        model: Model = None,
        describe: Annotated[
            bool | None, Parameter(description="Write a description with the chat model")
        ] = None,
    ) -> AnalyzeOut:
        """Detections, counts per class, the OCR text, image facts (size, brightness,
        sharpness, dominant colours) and a short description the chat model writes from
        those facts only (`grounded: true`): a description naming an object that neither
        the detector nor the OCR saw is replaced by one written from the facts."""
        params, image = await image_call(
            request,
            settings,
            AnalyzeParams,
            {
                "source": source,
                "image_id": image_id,
                "url": url,
                "store": store,
                "keep_gps": keep_gps,
                "classes": classes,
                "min_score": min_score,
                "max_results": max_results,
                "iou": iou,
                "model": model,
                "describe": describe,
            },
        )
        analysis = await vision.analyze(
            principal.user_id, image, detect_options(params), describe=params.describe
        )
        return AnalyzeOut.of(analysis)

    @post(
        "/vqa",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*UPLOAD_ERRORS),
        operation_class=documented(
            body=upload_body(VqaParams, question=True),
            body_description=UPLOAD_DESCRIPTION,
            answers={JSON: schema_of(struct_json(VqaOut))},
        ),
        summary="Ask a question about an image",
    )
    async def vqa(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        question: Annotated[
            str | None,
            Parameter(
                description="The question (or as a form field / JSON key)",
                min_length=1,
                max_length=1000,
            ),
        ] = None,
        source: Source = None,
        image_id: ImageIdParam = None,
        url: UrlParam = None,
        store: StoreParam = None,
        keep_gps: KeepGps = None,
        classes: Classes = None,
        min_score: MinScore = None,
        max_results: MaxResults = None,
        iou: Iou = None,
        model: Model = None,
    ) -> VqaOut:
        """`method: vlm` when a vision-language model is installed; otherwise
        `method: grounded`: the chat model answers from the detections, the OCR text and
        the image facts, and says when they do not answer the question. Counting and
        reading questions are checked against the facts (`source: facts` when the
        model's answer disagreed)."""
        params, image = await image_call(
            request,
            settings,
            VqaParams,
            {
                "question": question,
                "source": source,
                "image_id": image_id,
                "url": url,
                "store": store,
                "keep_gps": keep_gps,
                "classes": classes,
                "min_score": min_score,
                "max_results": max_results,
                "iou": iou,
                "model": model,
            },
        )
        answer = await vision.vqa(principal.user_id, image, params.question, detect_options(params))
        return VqaOut.of(answer)

    # The image store -------------------------------------------------------------------

    @post(
        "/images",
        status_code=HTTP_201_CREATED,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=StoredImageOut, description="You had stored these very bytes"
            ),
            **problems(*UPLOAD_ERRORS),
        },
        operation_class=documented(
            body=STORE_BODY,
            body_description="The image as the multipart field `file`, or as the raw body",
        ),
        summary="Store an image",
    )
    async def store_image(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        settings: SettingsDep,
        keep_gps: KeepGps = None,
    ) -> Response[StoredImageOut]:
        """Keeps the image in your store (content-addressed in the data directory). EXIF
        GPS positions are stripped unless `keep_gps=true`. Storing the same bytes again
        answers the stored image with 200. Over your quota answers 413."""
        data, fields, from_form = await read_image_request(
            request, settings.server.max_upload_bytes
        )
        given = {"keep_gps": keep_gps} if keep_gps is not None else {}
        params = StoreParams.model_validate({**given, **fields}, strict=not from_form)
        if data is None:
            raise InvalidInput(
                "Send the image as the form field `file` or as the body", field="file"
            )
        stored, created = await vision.store_image(
            principal.user_id, data, keep_gps=params.keep_gps
        )
        return Response(
            StoredImageOut.of(stored),
            status_code=HTTP_201_CREATED if created else HTTP_200_OK,
            headers={"Location": f"/api/v1/vision/images/{stored.id}"},
        )

    @get(
        "/images",
        responses=problems(*PARAMETERS, 401, 404),
        summary="List my images",
    )
    async def list_images(
        self,
        vision: VisionDep,
        principal: PrincipalDep,
        limit: Annotated[int, Parameter(description="Images per page", ge=1, le=200)] = 50,
        before: Annotated[
            str | None,
            Parameter(
                description="`next_cursor` of the previous page", min_length=1, max_length=64
            ),
        ] = None,
    ) -> ImagePageOut:
        """Your stored images, newest first, a page at a time."""
        return ImagePageOut.of(await vision.list_images(principal.user_id, limit, before))

    @get(
        "/images/{image_id:str}",
        responses={**NOT_MODIFIED, **problems(*PARAMETERS, 401, 404)},
        operation_class=documented(answers=IMAGE_BYTES),
        summary="One of my images",
    )
    async def get_image(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        image_id: Annotated[str, Parameter(description="The image's id", max_length=64)],
    ) -> Response[bytes]:
        """The stored bytes; the ETag is their sha256 (`If-None-Match` answers 304)."""
        stored, data = await vision.get_image(principal.user_id, image_id)
        return _cached(request, data, stored.media_type, stored.sha256)

    @get(
        "/images/{image_id:str}/thumbnail",
        responses={**NOT_MODIFIED, **problems(*PARAMETERS, 401, 404)},
        operation_class=documented(answers=THUMBNAIL),
        summary="A thumbnail of one of my images",
    )
    async def get_thumbnail(
        self,
        request: Request[Any, Any, Any],
        vision: VisionDep,
        principal: PrincipalDep,
        image_id: Annotated[str, Parameter(description="The image's id", max_length=64)],
    ) -> Response[bytes]:
        """An upright JPEG at most 256 pixels a side."""
        stored, data = await vision.thumbnail(principal.user_id, image_id)
        return _cached(request, data, "image/jpeg", f"{stored.sha256}-thumbnail")

    @delete(
        "/images/{image_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Delete one of my images",
    )
    async def delete_image(
        self,
        vision: VisionDep,
        principal: PrincipalDep,
        image_id: Annotated[str, Parameter(description="The image's id", max_length=64)],
    ) -> None:
        """Its bytes go too, unless another user stored the same image."""
        await vision.delete_image(principal.user_id, image_id)


def _cached(
    request: Request[Any, Any, Any], data: bytes, media_type: str, tag: str
) -> Response[bytes]:
    etag = f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)
