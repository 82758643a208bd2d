"""The Wyoming server started by the app, against the real ``wyoming`` client and real
models: describe, transcribe, synthesize (plain and streaming), wake words, a handled
conversation, several clients at once, and frames that must not bring the server down."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcript, TranscriptChunk
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)
from wyoming.wake import Detect, Detection

from hal.audio import AudioChunk
from tests.voice.speech import say
from tests.wyoming.client import receive, receive_until, send_audio, transcribe
from tests.wyoming.conftest import RATE, Running, espeak, piper, resampled, silence, start

pytestmark = pytest.mark.real_model

SENTENCE = "Turn on the kitchen lights please."


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped."""
    return re.findall(r"[a-z']+", text.lower())


async def describe(running: Running) -> Info:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Describe().event())
        event = await asyncio.wait_for(client.read_event(), 1.0)  # Home Assistant's limit
    assert event is not None and Info.is_type(event.type)
    return Info.from_event(event)


# --- describe ------------------------------------------------------------------------


async def test_describe_lists_every_installed_program(running: Running) -> None:
    info = await describe(running)
    assert info.satellite is None
    stt = [m.name for p in info.asr for m in p.models]
    assert stt[0] == "whisper:tiny.en"  # the profile's default first
    assert set(stt) == {
        "whisper:tiny.en",
        "whisper:tiny.en-ct2",
        "whisper:base",
        "whisper:base-ct2",
    }
    by_name = {m.name: m for p in info.asr for m in p.models}
    assert by_name["whisper:tiny.en"].languages == ["en"]
    assert "de" in by_name["whisper:base"].languages
    assert info.asr[0].supports_transcript_streaming
    voices = {v.name: v for p in info.tts for v in p.voices}
    assert list(voices) == ["piper:en_US-joe-medium", "espeak-ng:builtin"]  # the default first
    assert "en_US" in voices["piper:en_US-joe-medium"].languages
    assert {"de", "es", "sw"} <= set(voices["espeak-ng:builtin"].languages)  # the fallback voice
    assert info.tts[0].supports_synthesize_streaming
    wake = {m.name: m.phrase for p in info.wake for m in p.models}
    assert len(wake) == len([m for p in info.wake for m in p.models])  # each word once
    assert wake == {
        "hey_jarvis": "hey jarvis",
        "alexa": "alexa",
        "hey_mycroft": "hey mycroft",
        "hey_rhasspy": "hey rhasspy",
    }
    assert next(iter(wake)) == "hey_jarvis"  # the account's wake word first
    (chat,) = [m for p in info.handle for m in p.models]
    assert chat.name == "qwen2.5-coder:0.5b-iq4nl"
    assert "en" in chat.languages
    assert info.handle[0].supports_handled_streaming


def home_assistant_view(info: Info) -> dict[str, object]:
    """What Home Assistant's Wyoming integration makes of an ``info``, mirrored from
    ``homeassistant/components/wyoming``: ``data.py`` (``WyomingService``: one platform per
    program kind with an installed program, ``has_services``, ``get_name``), ``stt.py``
    (languages of the installed models), ``tts.py`` (installed voices, their languages and
    speakers), ``wake_word.py`` (``WakeWord(id=name, name=phrase or name)``) and
    ``conversation.py`` (languages of the installed handle models)."""
    platforms = [
        platform
        for platform, programs in (
            ("stt", info.asr),
            ("tts", info.tts),
            ("wake_word", info.wake),
            ("conversation", info.handle),
        )
        if any(p.installed for p in programs)
    ]
    satellite = info.satellite is not None and info.satellite.installed
    names = [
        p.name
        for programs in (info.asr, info.tts, info.wake, info.handle)
        for p in programs
        if p.installed
    ]
    return {
        "platforms": platforms,
        "satellite": satellite,
        "has_services": satellite or bool(platforms),
        "name": info.satellite.name
        if satellite and info.satellite
        else (names[0] if names else None),
        "stt_languages": sorted(
            {lang for p in info.asr for m in p.models if m.installed for lang in m.languages}
        ),
        "voices": [
            (v.name, v.languages, [s.name for s in v.speakers or []])
            for p in info.tts
            for v in p.voices
            if v.installed
        ],
        "wake_words": [
            (m.name, m.phrase or m.name) for p in info.wake for m in p.models if m.installed
        ],
        "conversation_languages": sorted(
            {lang for p in info.handle for m in p.models if m.installed for lang in m.languages}
        ),
    }


async def test_home_assistant_accepts_the_info(running: Running) -> None:
    info = await describe(running)
    # The event survives the wire as JSON and parses back the same (Info.from_event).
    again = Info.from_event(Event(type="info", data=json.loads(json.dumps(info.event().data))))
    assert again == info
    view = home_assistant_view(info)
    assert view["platforms"] == ["stt", "tts", "wake_word", "conversation"]
    assert view["satellite"] is False and view["has_services"] is True
    assert view["name"] == "edge-assistant"  # the config flow titles the entry with it
    assert "en" in view["stt_languages"]  # type: ignore[operator]
    piper, espeak = view["voices"]  # type: ignore[misc]
    assert piper == ("piper:en_US-joe-medium", ["en", "en_US"], [])
    assert espeak[0] == "espeak-ng:builtin" and "de" in espeak[1] and espeak[2] == []
    assert ("hey_jarvis", "hey jarvis") in view["wake_words"]  # type: ignore[operator]
    assert "en" in view["conversation_languages"]  # type: ignore[operator]
    for programs in (info.asr, info.tts, info.wake, info.handle):
        for program in programs:
            data = program.to_dict()
            for key in ("name", "attribution", "installed", "description", "version"):
                assert key in data  # present even when null
            assert data["attribution"]["name"] and data["attribution"]["url"]


async def test_ping(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Ping(text="marco").event())
        assert Pong.from_event(await receive(client)).text == "marco"


# --- speech to text --------------------------------------------------------------------


async def test_transcribes_piper_speech_at_16_khz_streaming_the_text(running: Running) -> None:
    text, events = await transcribe(running.host, running.port, piper(SENTENCE))
    assert words(text) == words(SENTENCE)
    kinds = [e.type for e in events]
    assert kinds[0] == "transcript-start"
    assert kinds[-2:] == ["transcript", "transcript-stop"]
    chunks = " ".join(
        TranscriptChunk.from_event(e).text for e in events if e.type == "transcript-chunk"
    )
    assert words(chunks) == words(text)


async def test_transcribes_espeak_speech_at_44_1_khz_stereo(
    running: Running, tmp_path: Path
) -> None:
    spoken = espeak("What time is it in London?", tmp_path)
    assert spoken.rate == 22_050
    text, _ = await transcribe(running.host, running.port, resampled(spoken, 44_100, channels=2))
    assert words(text) == ["what", "time", "is", "it", "in", "london"]


async def test_served_requests_are_analytics_events(running: Running) -> None:
    await transcribe(running.host, running.port, piper(SENTENCE))
    analytics, found = running.services.analytics, []
    for _ in range(200):  # the request is recorded just after its answer is sent
        analytics.emitter.flush()
        with running.services.db.read() as conn:
            found = [
                json.loads(row["properties"])
                for row in conn.execute(
                    "SELECT properties FROM analytics_events WHERE name = 'wyoming.request'"
                )
            ]
        if any(f["kind"] == "transcribe" for f in found):
            break
        await asyncio.sleep(0.05)
    (event, *_) = [f for f in found if f["kind"] == "transcribe"]
    assert event["model"] == "whisper:tiny.en"
    assert event["code"] == "ok"
    assert event["audio_seconds"] > 1
    assert event["total_ms"] > 0


async def test_a_long_dictation_is_decoded_while_it_arrives(running: Running) -> None:
    sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "Please remind me to water the plants tomorrow morning.",
        "Then play some quiet music in the living room.",
    ]
    parts = []
    for sentence in sentences:
        parts += [say(sentence), silence(0.6)]
    audio = AudioChunk.from_samples(np.concatenate(parts), RATE)
    text, events = await transcribe(running.host, running.port, audio)
    assert len(words(text)) >= 25
    assert "plants" in words(text) and "music" in words(text)
    chunks = [e for e in events if e.type == "transcript-chunk"]
    assert len(chunks) >= 2  # final text went out before the audio ended


# --- text to speech --------------------------------------------------------------------


async def test_synthesis_speaks_the_text_with_one_audio_stop(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Synthesize(text="Good morning. The kettle is on.").event())
        events = await receive_until(client, lambda t: t in ("audio-stop", "error"))
        await client.write_event(Ping().event())  # nothing else arrives before the pong
        assert (await receive(client)).type == "pong"
    kinds = [e.type for e in events]
    assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop"
    assert kinds.count("audio-stop") == 1 and set(kinds[1:-1]) == {"audio-chunk"}
    start = AudioStart.from_event(events[0])
    audio = AudioChunk(
        b"".join(WyomingChunk.from_event(e).audio for e in events[1:-1]), start.rate, start.width
    )
    text, _ = await transcribe(running.host, running.port, audio)
    assert words(text) == ["good", "morning", "the", "kettle", "is", "on"]


async def test_synthesis_with_a_voice_that_is_not_installed_is_an_error(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        voice = SynthesizeVoice(name="piper:de_DE-thorsten-medium")
        await client.write_event(Synthesize(text="Hallo", voice=voice).event())
        error = Error.from_event(await receive(client))
        assert error.code == "model-not-installed"
        assert "assistant models pull piper:de_DE-thorsten-medium" in error.text
        await client.write_event(Ping().event())  # the connection goes on
        assert (await receive(client)).type == "pong"


async def test_streaming_synthesis_speaks_before_the_text_ends(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(SynthesizeStart().event())
        for piece in ["The weather today ", "is sunny and warm. ", "Tomorrow it"]:
            await client.write_event(SynthesizeChunk(text=piece).event())
        # The first sentence is complete: its audio comes before synthesize-stop is sent.
        first = await receive_until(client, lambda t: t in ("audio-stop", "error"))
        assert first[0].type == "audio-start"
        await client.write_event(SynthesizeChunk(text=" will rain.").event())
        await client.write_event(Synthesize(text="ignored: sent for older servers").event())
        await client.write_event(SynthesizeStop().event())
        rest = await receive_until(client, lambda t: t in ("synthesize-stopped", "error"))
    kinds = [e.type for e in first + rest]
    assert kinds[-1] == "synthesize-stopped"
    assert kinds.count("audio-start") == kinds.count("audio-stop") == 2
    formats = {
        (s.rate, s.width, s.channels)
        for s in (AudioStart.from_event(e) for e in first + rest if e.type == "audio-start")
    }
    assert len(formats) == 1


# --- wake words --------------------------------------------------------------------------


async def test_detects_a_spoken_hey_jarvis(running: Running, tmp_path: Path) -> None:
    spoken = espeak("hey jarvis", tmp_path)
    audio = AudioChunk.from_samples(
        np.concatenate((silence(1.0), resampled(spoken, RATE).samples(), silence(1.0))), RATE
    )
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Detect(names=["hey_jarvis"]).event())
        await send_audio(client, audio, chunk_ms=80)
        detection_event = await receive(client)
    assert detection_event.type == "detection"
    detection = Detection.from_event(detection_event)
    assert detection.name == "hey_jarvis"
    assert detection.timestamp is not None and 1000 < detection.timestamp < 3500


async def test_other_speech_is_not_detected(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Detect(names=["hey_jarvis"]).event())
        await send_audio(client, piper("What is the weather like today?"), chunk_ms=80)
        assert (await receive(client)).type == "not-detected"


async def test_several_clients_at_once(running: Running, tmp_path: Path) -> None:
    spoken = resampled(espeak("hey jarvis", tmp_path), RATE)
    wake_audio = AudioChunk.from_samples(
        np.concatenate((silence(1.0), spoken.samples(), silence(1.0))), RATE
    )

    async def one_detection() -> str:
        async with AsyncTcpClient(running.host, running.port) as client:
            await client.write_event(Detect(names=["hey_jarvis"]).event())
            await send_audio(client, wake_audio, chunk_ms=80)
            return (await receive(client)).type

    async def one_transcript() -> list[str]:
        text, _ = await transcribe(running.host, running.port, piper(SENTENCE))
        return words(text)

    results = await asyncio.gather(
        one_detection(), one_detection(), one_detection(), one_transcript(), describe(running)
    )
    assert results[:3] == ["detection"] * 3
    assert results[3] == words(SENTENCE)


# --- conversation ------------------------------------------------------------------------


async def handle(running: Running, text: str, conversation_id: str) -> tuple[str, list[str]]:
    async with AsyncTcpClient(running.host, running.port) as client:
        context = {"conversation_id": conversation_id}
        await client.write_event(Transcript(text=text, context=context).event())
        events = await receive_until(client, lambda t: t in ("handled-stop", "error"))
    kinds = [e.type for e in events]
    handled = [Handled.from_event(e) for e in events if e.type == "handled"]
    assert handled, kinds
    assert handled[0].context == {"conversation_id": conversation_id}
    return handled[0].text or "", kinds


async def test_a_conversation_remembers_across_requests(running: Running) -> None:
    _, kinds = await handle(running, "My name is Ada and my cat is called Pixel.", "ha-conv-1")
    assert kinds[0] == "handled-start" and kinds[-2:] == ["handled", "handled-stop"]
    assert "handled-chunk" in kinds
    reply, _ = await handle(running, "What is my cat called?", "ha-conv-1")
    assert "pixel" in reply.lower()
    user = running.services.auth.find_user("ada")
    conversations = running.services.history.conversations(user.id)
    assert len(conversations) == 1


async def test_home_assistant_sets_a_timer_through_the_skills(running: Running) -> None:
    """Home Assistant's conversation agent gets the timer skill's spoken answer, and the
    timer is the Wyoming account's."""
    reply, kinds = await handle(running, "Set a tea timer for 3 minutes.", "ha-conv-2")
    assert reply == "Tea timer set for 3 minutes." and kinds[-1] == "handled-stop"
    user = running.services.auth.find_user("ada")
    [timer] = running.services.timers.service.list(user.id)
    assert (timer.name, timer.duration_seconds) == ("tea", 180)


# --- bad frames ---------------------------------------------------------------------------


async def raw_exchange(running: Running, data: bytes) -> bytes:
    """Send raw bytes; everything the server sends until it closes the connection."""
    reader, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(data)
    await writer.drain()
    received = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return received


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"this is not json\n", "invalid-input"),
        (b"[1, 2, 3]\n", "invalid-input"),
        (b'{"data": {}}\n', "invalid-input"),
        (b'{"type": "audio-chunk", "payload_length": 999999999}\n', "payload-too-large"),
        (b'{"type": "describe", "data_length": 99999999}\n', "payload-too-large"),
        (b'{"type": "describe", "data_length": -1}\n', "invalid-input"),
        (b'{"type": "describe", "data_length": 5}\nnope!', "invalid-input"),
        (b'{"type": "x", "pad": "' + b"a" * 20_000 + b'"}\n', "payload-too-large"),
    ],
)
async def test_bad_frames_close_that_connection_only(
    running: Running, frame: bytes, code: str
) -> None:
    answer = await raw_exchange(running, frame)
    header = json.loads(answer.split(b"\n", 1)[0])
    assert header["type"] == "error"
    data = header.get("data") or json.loads(answer.split(b"\n", 1)[1][: header["data_length"]])
    assert data["code"] == code
    assert (await describe(running)).asr  # the server is still there


async def test_bad_requests_answer_an_error_and_keep_the_connection(running: Running) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(AudioStart(rate=5, width=2, channels=1).event())
        error = Error.from_event(await receive(client))
        assert error.code == "invalid-input" and "rate" in error.text
        await client.write_event(Synthesize(text="!!!").event())
        assert Error.from_event(await receive(client)).code == "invalid-input"
        await client.write_event(Detect(names=["ok_nabu"]).event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        error = Error.from_event(await receive(client))
        assert "ok_nabu" in error.text and "hey_jarvis" in error.text
        await client.write_event(Ping().event())
        assert (await receive(client)).type == "pong"


async def test_unknown_events_are_ignored_and_abrupt_disconnects_are_survived(
    running: Running,
) -> None:
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(Ping().event().__class__(type="no-such-event", data={}))
        await client.write_event(Ping(text="still here").event())
        assert Pong.from_event(await receive(client)).text == "still here"
    # Cut off in the middle of a payload and in the middle of a transcription.
    _, writer = await asyncio.open_connection(running.host, running.port)
    writer.write(b'{"type": "audio-chunk", "payload_length": 1000}\n' + b"\0" * 10)
    await writer.drain()
    writer.close()
    async with AsyncTcpClient(running.host, running.port) as client:
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        await client.write_event(
            WyomingChunk(rate=RATE, width=2, channels=1, audio=piper("Hello there").audio).event()
        )
    assert (await describe(running)).asr


async def test_idle_connections_are_closed(tmp_path: Path) -> None:
    apps = start(tmp_path, idle_timeout_seconds=0.2)
    quiet_app = next(apps)
    try:
        reader, writer = await asyncio.open_connection(quiet_app.host, quiet_app.port)
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed by the server
        writer.close()
    finally:
        apps.close()


async def test_a_voice_asked_for_by_language_speaks_that_language(running: Running) -> None:
    """Home Assistant asks for Spanish: the espeak-ng voice (no Spanish Piper voice is
    installed) is told the language, or it would read the text as English."""
    voice_id, options = await running.services.wyoming.voice_for(None, None, "es-ES")
    assert (voice_id, options.language) == ("espeak-ng:builtin", "es")
    voice_id, options = await running.services.wyoming.voice_for(None, None, None)
    assert options.language is None
