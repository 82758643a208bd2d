"""The part of JSON Schema that constrained generation is asked for, in pure Python.

Engines that cannot constrain their sampling (the scripted fake) and callers that check a
constrained reply use these: ``problems`` validates an instance against the subset the
callers write (``type``, ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``minLength``/``maxLength``, ``anyOf``); ``example``
builds the smallest instance a schema accepts, deterministically. Other keywords are
ignored by both (a real engine's grammar honours them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.errors import UnsupportedInput

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _has_type(instance: Any, name: str) -> bool:
    if name not in _TYPES:
        raise UnsupportedInput(f"unknown JSON Schema type {name!r}", field="json_schema")
    if isinstance(instance, bool) and name in ("integer", "number"):
        return False
    return isinstance(instance, _TYPES[name])


def problems(instance: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """What makes ``instance`` invalid under ``schema`` (empty when it is valid)."""
    found: list[str] = []
    if "anyOf" in schema:
        options = [problems(instance, option, path) for option in schema["anyOf"]]
        if all(options):
            found.append(f"{path}: matches none of anyOf")
    if "const" in schema and instance != schema["const"]:
        found.append(f"{path}: is not {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{path}: {instance!r} is not one of {list(schema['enum'])!r}")
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not any(_has_type(instance, name) for name in kinds):
            return [*found, f"{path}: is not of type {' or '.join(kinds)}"]
    if isinstance(instance, str):
        found += _string_problems(instance, schema, path)
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(instance):
            found += problems(item, schema["items"], f"{path}[{index}]")
    if isinstance(instance, dict):
        found += _object_problems(instance, schema, path)
    return found


def _string_problems(instance: str, schema: Mapping[str, Any], path: str) -> list[str]:
    found = []
    if len(instance) < schema.get("minLength", 0):
        found.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(instance) > schema["maxLength"]:
        found.append(f"{path}: longer than {schema['maxLength']}")
    return found


def _object_problems(instance: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    found = [f"{path}: {name!r} is missing" for name in schema.get("required", ())
             if name not in instance]  # fmt: skip
    extra = schema.get("additionalProperties", True)
    for name, value in instance.items():
        if name in properties:
            found += problems(value, properties[name], f"{path}.{name}")
        elif extra is False:
            found.append(f"{path}: {name!r} is not allowed")
        elif isinstance(extra, Mapping):
            found += problems(value, extra, f"{path}.{name}")
    return found


_EMPTY: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "null": None}
"""The smallest value of each scalar type but strings."""


def example(schema: Mapping[str, Any]) -> Any:
    """The smallest instance ``schema`` accepts: the first enum value or const, an object
    with only its required properties, an empty array, "" (padded to ``minLength``), 0."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum") or schema.get("anyOf"):
        return schema["enum"][0] if schema.get("enum") else example(schema["anyOf"][0])
    kind = schema.get("type", "object")
    if not isinstance(kind, str):
        kind = kind[0]
    if kind == "object":
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {name: example(properties.get(name, {})) for name in schema.get("required", ())}
    if kind in ("array", "string"):
        return [] if kind == "array" else "x" * int(schema.get("minLength", 0))
    if kind not in _EMPTY:
        raise UnsupportedInput(f"unknown JSON Schema type {kind!r}", field="json_schema")
    return _EMPTY[kind]
