"""The errors of the hardware abstraction layer: devices and the media they carry.

Devices and codecs translate their libraries' exceptions where they arise
(``raise DeviceUnavailable(...) from exc``). Nothing here knows about HTTP, the CLI or
the layers above: the faces classify these errors by their ``code``.

    HalError
    ├── DeviceUnavailable        microphone, speaker or camera missing, busy or unplugged
    ├── UnsupportedMedia         parameters or an encoding the HAL cannot take (names the field)
    │   ├── UnreadableMedia      audio or an image that cannot be decoded at all
    │   ├── UnsupportedFormat    a media type or format this device does not read (HEIC...)
    │   └── MediaTooLarge        media longer or larger than a limit
    └── CodecFailed              the codec library failed, or is not installed
"""

from __future__ import annotations

from typing import Any, ClassVar


class HalError(Exception):
    """Base of every error the HAL raises on purpose."""

    code: ClassVar[str] = "hardware-error"
    """Stable slug clients switch on (the same across layers for the same kind)."""
    title: ClassVar[str] = "Hardware error"
    """Short, human summary of the kind of problem."""

    def __init__(self, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        """What went wrong in this case, and what to do about it."""
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        """Structured extras (the field to blame...)."""


class DeviceUnavailable(HalError):
    """A microphone, speaker or camera is missing, busy or was unplugged."""

    code = "hardware-unavailable"
    title = "Hardware unavailable"


class UnsupportedMedia(HalError):
    """A sample rate, width, channel count, format or option the HAL cannot take."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **fields: Any) -> None:
        super().__init__(detail, field=field, **fields)
        self.field = field
        """The argument or upload field to blame."""


class UnreadableMedia(UnsupportedMedia):
    """Media that is empty, corrupt, truncated or in no format we read."""

    code = "unreadable-media"
    title = "Unreadable media"


class UnsupportedFormat(UnsupportedMedia):
    """Media in a type or format that is known but not read here (a declared content type,
    HEIC without its codec)."""

    code = "unsupported-media-type"
    title = "Unsupported media type"


class MediaTooLarge(UnsupportedMedia):
    """Media longer or larger than the configured limit."""

    code = "payload-too-large"
    title = "Payload too large"


class CodecFailed(HalError):
    """An audio or image codec failed in a way the caller cannot fix, or is missing."""

    code = "backend-error"
    title = "Backend error"
