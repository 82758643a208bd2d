"""Engine parameters: manifest defaults and user overrides into a typed dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from runtime.errors import UnsupportedInput

P = TypeVar("P")


def parse_params(params_type: type[P], values: Mapping[str, Any], model_id: str) -> P:
    """Build ``params_type`` (a dataclass) from ``values``; unknown keys are an error."""
    if not dataclasses.is_dataclass(params_type):
        raise TypeError(f"{params_type!r} is not a dataclass")
    known = {f.name for f in dataclasses.fields(params_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UnsupportedInput(
            f"Model {model_id!r}: unknown parameter(s) {', '.join(unknown)};"
            f" known: {', '.join(sorted(known))}",
            field=unknown[0],
        )
    try:
        return params_type(**values)
    except (TypeError, ValueError) as exc:
        raise UnsupportedInput(f"Model {model_id!r}: bad parameters: {exc}") from exc
