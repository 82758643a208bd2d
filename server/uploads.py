"""Reading uploaded files: multipart forms or raw bodies, within a size limit."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile

from assistant.errors import InvalidInput, PayloadTooLarge

UPLOAD_HARD_LIMIT = 512 * 1024 * 1024
"""What the framework lets through at most; the configured limit is checked here."""


async def read_upload(
    request: Request[Any, Any, Any], limit_bytes: int, field: str = "file"
) -> tuple[bytes, dict[str, str]]:
    """The file (multipart field ``field``, or the raw body) and any other form fields."""
    content_type = request.headers.get("content-type", "")
    fields: dict[str, str] = {}
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise InvalidInput(f"Send the file as the form field {field!r}", field=field)
        data = await upload.read()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    else:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > limit_bytes:
                break
        data = bytes(buffer)
    if len(data) > limit_bytes:
        raise PayloadTooLarge(
            f"The upload is larger than {limit_bytes:,} bytes (server.max_upload_bytes)",
            field=field,
        )
    return data, fields
