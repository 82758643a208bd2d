"""CTranslate2 translation: language tables, pure helpers, a recording fake, and the tiny
generated NLLB-style and Marian-style models (no NLLB/Marian model is installable offline)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.mt.base import TranslateOptions
from runtime.mt.ctranslate2 import (
    CTranslate2Translator,
    hypothesis_pieces,
    language_tokens,
    per_token_score,
    read_vocabulary,
    resolve_language,
    validate_translate_options,
)
from runtime.mt.languages import (
    FLORES_TO_ISO,
    ISO_TO_FLORES,
    is_flores_code,
    to_flores,
    to_iso639_1,
)
from runtime.testing.tiny_ct2 import TINY_LANGUAGES, make_tiny_ct2_translator

NLLB_LANGUAGES = ("eng_Latn", "fra_Latn", "deu_Latn", "zho_Hans", "zho_Hant")
SHORT = TranslateOptions(beam_size=2, max_decoding_length=12)

# --- language codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "flores"),
    [
        ("en", "eng_Latn"),
        ("EN", "eng_Latn"),
        ("fr", "fra_Latn"),
        ("pt-BR", "por_Latn"),
        ("pt_PT", "por_Latn"),
        ("zh", "zho_Hans"),
        ("zh-TW", "zho_Hant"),
        ("zh-Hant", "zho_Hant"),
        ("zh-CN", "zho_Hans"),
        ("ar", "arb_Arab"),
        ("fa", "pes_Arab"),
        ("no", "nob_Latn"),
        ("nb", "nob_Latn"),
        ("sw", "swh_Latn"),
        ("eng_Latn", "eng_Latn"),
        ("xx", None),
        ("", None),
        ("english", None),
    ],
)
def test_to_flores(code: str, flores: str | None) -> None:
    assert to_flores(code) == flores


@pytest.mark.parametrize(
    ("flores", "iso"),
    [
        ("eng_Latn", "en"),
        ("deu_Latn", "de"),
        ("nob_Latn", "nb"),
        ("zho_Hans", "zh"),
        ("zho_Hant", "zh"),
        ("arb_Arab", "ar"),
        ("yue_Hant", None),
        ("en", None),
    ],
)
def test_to_iso639_1(flores: str, iso: str | None) -> None:
    assert to_iso639_1(flores) == iso


@pytest.mark.parametrize(
    ("code", "expected"),
    [("eng_Latn", True), ("zho_Hant", True), ("en", False), ("eng_latn", False), ("", False)],
)
def test_is_flores_code(code: str, expected: bool) -> None:
    assert is_flores_code(code) is expected


def test_tables_hold_flores_codes_and_two_letter_codes() -> None:
    assert all(len(iso) == 2 and iso.islower() for iso in ISO_TO_FLORES)
    assert all(is_flores_code(flores) for flores in ISO_TO_FLORES.values())
    assert set(FLORES_TO_ISO) == set(ISO_TO_FLORES.values()) | {"zho_Hant"}
    assert len(ISO_TO_FLORES) >= 100


@given(st.sampled_from(sorted(ISO_TO_FLORES)))
def test_iso_round_trip_is_stable(iso: str) -> None:
    flores = to_flores(iso)
    assert flores is not None
    back = to_iso639_1(flores)
    assert back is not None
    assert to_flores(back) == flores


# --- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "languages", "expected"),
    [
        ("eng_Latn", NLLB_LANGUAGES, "eng_Latn"),
        ("en", NLLB_LANGUAGES, "eng_Latn"),
        ("zh-TW", NLLB_LANGUAGES, "zho_Hant"),
        ("fr-CA", NLLB_LANGUAGES, "fra_Latn"),
        ("en", ("en", "fr"), "en"),
        ("eng_Latn", ("en", "fr"), "en"),
        ("fr", ("fr",), "fr"),
    ],
)
def test_resolve_language(code: str, languages: tuple[str, ...], expected: str) -> None:
    assert resolve_language(code, languages, "source") == expected


@pytest.mark.parametrize(
    ("code", "languages"),
    [("xx", NLLB_LANGUAGES), ("es", NLLB_LANGUAGES), ("spa_Latn", NLLB_LANGUAGES), ("de", ("en",))],
)
def test_resolve_language_rejects(code: str, languages: tuple[str, ...]) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        resolve_language(code, languages, "target")
    assert caught.value.field == "target"


@pytest.mark.parametrize(
    ("tokens", "prefix", "pieces"),
    [
        (["fra_Latn", "▁le", "▁chat", "</s>"], ["fra_Latn"], ["▁le", "▁chat"]),
        (["fra_Latn", "▁le", "▁chat"], ["fra_Latn"], ["▁le", "▁chat"]),  # hit the length limit
        (["▁le", "</s>"], [], ["▁le"]),
        (["fra_Latn", "</s>"], ["fra_Latn"], []),
        (["deu_Latn", "▁x"], ["fra_Latn"], ["deu_Latn", "▁x"]),  # prefix not echoed: kept
    ],
)
def test_hypothesis_pieces(tokens: list[str], prefix: list[str], pieces: list[str]) -> None:
    assert hypothesis_pieces(tokens, prefix) == pieces


@pytest.mark.parametrize(
    ("score", "length", "prefix", "expected"),
    [
        (-0.5, 4, 1, -2.0 / 3),  # three tokens scored, four counted by CTranslate2
        (-0.5, 4, 0, -0.5),
        (0.0, 1, 1, 0.0),
        (-1.0, 1, 1, -1.0),  # nothing generated: no division by zero
    ],
)
def test_per_token_score(score: float, length: int, prefix: int, expected: float) -> None:
    assert per_token_score(score, length, prefix) == pytest.approx(expected)


def test_language_tokens_keeps_vocabulary_order() -> None:
    vocabulary = ["<s>", "▁the", "eng_Latn", "fra_Latn", "ace_Arab", "<mask>", "madeupword0"]
    assert language_tokens(vocabulary) == ("eng_Latn", "fra_Latn", "ace_Arab")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (TranslateOptions(beam_size=0), "beam_size"),
        (TranslateOptions(max_decoding_length=0), "max_decoding_length"),
    ],
)
def test_validate_translate_options(options: TranslateOptions, field: str) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        validate_translate_options(options)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("shared_vocabulary.json", json.dumps(["<s>", "eng_Latn"])),
        ("shared_vocabulary.txt", "<s>\neng_Latn\n"),
        ("source_vocabulary.json", json.dumps(["<s>", "eng_Latn"])),
    ],
)
def test_read_vocabulary(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    assert read_vocabulary(tmp_path) == ["<s>", "eng_Latn"]


def test_read_vocabulary_none(tmp_path: Path) -> None:
    assert read_vocabulary(tmp_path) is None


# --- a recording fake around the call to CTranslate2 ----------------------------------------


@dataclass
class FakeResult:
    hypotheses: list[list[str]]
    scores: list[float]


class RecordingTranslator:
    """Records translate_batch calls; answers each sentence with "▁bonjour </s>"."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[list[str]], dict[str, Any]]] = []

    def translate_batch(self, source: list[list[str]], **options: Any) -> list[FakeResult]:
        self.calls.append((source, options))
        prefix = options["target_prefix"][0] if options["target_prefix"] else []
        return [FakeResult([[*prefix, "▁bonjour", "</s>"]], [-0.3]) for _ in source]


class CharacterTokenizer:
    """SentencePiece stand-in: one piece per character, spaces as "▁"."""

    def encode(self, input: Any, *, out_type: Any) -> Any:
        return [list(text.replace(" ", "▁")) for text in input]

    def decode(self, input: Any) -> Any:
        return "".join(input).replace("▁", " ").strip()


def recording_engine(style: str, languages: tuple[str, ...]) -> tuple[Any, RecordingTranslator]:
    fake = RecordingTranslator()
    engine = CTranslate2Translator(
        "fake:mt",
        fake,
        CharacterTokenizer(),
        CharacterTokenizer(),
        style=style,
        languages=languages,
        max_batch_size=8,
    )
    return engine, fake


def test_nllb_source_and_prefix_and_options_reach_ctranslate2() -> None:
    engine, fake = recording_engine("nllb", NLLB_LANGUAGES)
    result = engine.translate_batch(
        ["hi you", "ok"], "en", "fra_Latn", TranslateOptions(beam_size=5, max_decoding_length=40)
    )
    assert [r.text for r in result] == ["bonjour", "bonjour"]
    # CTranslate2 divides by 3 (prefix, piece, end); per generated token it is 2.
    assert [r.score for r in result] == pytest.approx([-0.3 * 3 / 2] * 2)
    [(source, options)] = fake.calls
    assert source == [
        ["eng_Latn", "h", "i", "▁", "y", "o", "u", "</s>"],
        ["eng_Latn", "o", "k", "</s>"],
    ]
    assert options["target_prefix"] == [["fra_Latn"], ["fra_Latn"]]
    assert options["beam_size"] == 5
    assert options["max_decoding_length"] == 41  # the prefix token is not a translated token
    assert options["max_batch_size"] == 8
    assert options["return_scores"] is True


def test_marian_has_no_language_tokens() -> None:
    engine, fake = recording_engine("marian", ("en", "fr"))
    [result] = engine.translate_batch(["hi"], "en", "fr", TranslateOptions(beam_size=1))
    assert result.text == "bonjour"
    assert result.score == pytest.approx(-0.3)
    [(source, options)] = fake.calls
    assert source == [["h", "i", "</s>"]]
    assert options["target_prefix"] is None
    assert options["beam_size"] == 1


@pytest.mark.parametrize(
    ("source", "target", "field"),
    [("en", "fr", "source"), ("fr", "de", "target")],
)
def test_marian_translates_only_its_pair(source: str, target: str, field: str) -> None:
    engine, fake = recording_engine("marian", ("fr", "en"))
    with pytest.raises(UnsupportedInput) as caught:
        engine.translate_batch(["salut"], source, target, SHORT)
    assert caught.value.field == field
    assert fake.calls == []


def test_empty_batch_calls_nothing() -> None:
    engine, fake = recording_engine("nllb", NLLB_LANGUAGES)
    assert engine.translate_batch([], "en", "fr", SHORT) == []
    assert fake.calls == []


# --- the tiny generated models -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_ct2_translator(tmp_path_factory.mktemp("tiny-nllb"), style="nllb")


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_ct2_translator(tmp_path_factory.mktemp("tiny-marian"), style="marian")


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("style", "files"),
    [
        (
            "nllb",
            ["config.json", "model.bin", "sentencepiece.bpe.model", "shared_vocabulary.json"],
        ),
        (
            "marian",
            ["config.json", "model.bin", "shared_vocabulary.json", "source.spm", "target.spm"],
        ),
    ],
)
def test_tiny_translator_is_deterministic(tmp_path: Path, style: str, files: list[str]) -> None:
    first = digests(make_tiny_ct2_translator(tmp_path / "a", style=style))
    again = digests(make_tiny_ct2_translator(tmp_path / "b", style=style))
    other = digests(make_tiny_ct2_translator(tmp_path / "c", seed=1, style=style))
    assert sorted(first) == files
    assert first == again
    assert first["model.bin"] != other["model.bin"]


def test_tiny_translator_style_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="style"):
        make_tiny_ct2_translator(tmp_path, style="m2m")


@pytest.fixture
def nllb(tiny_nllb: Path) -> CTranslate2Translator:
    return CTranslate2Translator.load("tiny:nllb", tiny_nllb, {"threads": 1})


def test_tiny_nllb_languages_come_from_the_vocabulary(nllb: CTranslate2Translator) -> None:
    assert nllb.languages == TINY_LANGUAGES
    assert nllb.model_id == "tiny:nllb"


@pytest.mark.parametrize("beam_size", [1, 4])
def test_tiny_nllb_translates_a_batch(nllb: CTranslate2Translator, beam_size: int) -> None:
    texts = ["the cat sat on the mat", "we read books at night", ""]
    options = TranslateOptions(beam_size=beam_size, max_decoding_length=10)
    results = nllb.translate_batch(texts, "eng_Latn", "fra_Latn", options)
    assert len(results) == len(texts)
    for result in results:
        assert isinstance(result.text, str)
        assert isinstance(result.score, float)
        assert result.score <= 0.0
        assert "fra_Latn" not in result.text


def test_tiny_nllb_accepts_iso_codes(nllb: CTranslate2Translator) -> None:
    by_iso = nllb.translate_batch(["the cat"], "en", "de", SHORT)
    by_flores = nllb.translate_batch(["the cat"], "eng_Latn", "deu_Latn", SHORT)
    assert by_iso == by_flores


@pytest.mark.parametrize(("source", "target"), [("xx_Latn", "fra_Latn"), ("en", "ja")])
def test_tiny_nllb_unknown_language_is_invalid(
    nllb: CTranslate2Translator, source: str, target: str
) -> None:
    with pytest.raises(UnsupportedInput):
        nllb.translate_batch(["the cat"], source, target, SHORT)


def test_tiny_nllb_scores_are_mean_log_probabilities(tiny_nllb: Path) -> None:
    import ctranslate2
    import sentencepiece

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.results: list[Any] = []
            self.sources: list[list[str]] = []

        def translate_batch(self, source: list[list[str]], **options: Any) -> Any:
            self.sources = source
            self.results = self.inner.translate_batch(source, **options)
            return self.results

    real = ctranslate2.Translator(str(tiny_nllb), intra_threads=1)
    recorder = Recorder(real)
    tokenizer = sentencepiece.SentencePieceProcessor(
        model_file=str(tiny_nllb / "sentencepiece.bpe.model")
    )
    engine = CTranslate2Translator(
        "tiny:nllb", recorder, tokenizer, tokenizer, style="nllb", languages=TINY_LANGUAGES
    )
    for beam_size in (1, 3):
        options = TranslateOptions(beam_size=beam_size, max_decoding_length=9)
        [translation] = engine.translate_batch(["we read books"], "en", "fr", options)
        hypothesis = list(recorder.results[0].hypotheses[0])
        generated = hypothesis[1:]
        if generated[-1] == "</s>":
            generated = generated[:-1]
        # score_batch gives each target token's log-probability (and appends </s>).
        [scored] = real.score_batch(recorder.sources, [["fra_Latn", *generated]])
        log_probs: Sequence[float] = scored.log_probs[1 : len(hypothesis)]
        assert translation.score == pytest.approx(sum(log_probs) / len(log_probs), rel=1e-4)


def test_tiny_marian_translates_its_pair(tiny_marian: Path) -> None:
    marian = CTranslate2Translator.load(
        "tiny:marian",
        tiny_marian,
        {"style": "marian", "source_language": "en", "target_language": "fr", "threads": 1},
    )
    assert marian.languages == ("en", "fr")
    results = marian.translate_batch(["the cat sat", "a dog"], "eng_Latn", "fr", SHORT)
    assert len(results) == 2
    assert all(r.text and r.score <= 0.0 for r in results)
    with pytest.raises(UnsupportedInput):
        marian.translate_batch(["le chat"], "fr", "en", SHORT)
    marian.close()
    with pytest.raises(EngineError):
        marian.translate_batch(["the cat"], "en", "fr", SHORT)


@pytest.mark.parametrize(
    "params",
    [
        {"style": "m2m"},
        {"style": "marian"},  # a pair needs its two languages
        {"style": "marian", "source_language": "en"},
        {"threads": -1},
        {"max_batch_size": 0},
        {"device": "tpu"},
        {"beam_size": 4},  # a request option, not a load parameter
    ],
)
def test_bad_params_are_invalid_input(tiny_nllb: Path, params: dict[str, object]) -> None:
    with pytest.raises(UnsupportedInput):
        CTranslate2Translator.load("tiny:nllb", tiny_nllb, params)


@pytest.mark.parametrize(
    ("style", "remove"),
    [
        ("nllb", "model.bin"),
        ("nllb", "sentencepiece.bpe.model"),
        ("nllb", "shared_vocabulary.json"),
        ("marian", "target.spm"),
        ("marian", "config.json"),
    ],
)
def test_missing_file_is_not_installed(tmp_path: Path, style: str, remove: str) -> None:
    folder = make_tiny_ct2_translator(tmp_path / "model", style=style)
    (folder / remove).unlink()
    params = {"style": style, "source_language": "en", "target_language": "fr"}
    if style == "nllb":
        params = {}
    with pytest.raises(ModelNotInstalled):
        CTranslate2Translator.load("tiny:mt", folder, params)
