"""Remote engines against real servers in other processes: this runtime's own ``/v1`` and
Wyoming server (``assistant serve --wyoming``), and llama-cpp-python's ``llama_cpp.server``;
health checks, and the local fallback when the remote process is killed mid-request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.auth import PasswordHasher
from assistant.auth.models import Principal, Role
from assistant.chat.models import ChatRequest, TurnDelta
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.voice.events import EngineFallback, PipelineEvent
from hal.audio import AudioChunk
from hal.audio.fake import FakeSpeaker
from runtime.errors import RemoteUnavailable
from runtime.llm.base import ChatMessage, GenerationOptions
from runtime.llm.openai_compat import OpenAICompatibleChatModel, estimate_tokens
from runtime.manager import Fallback
from runtime.remote import RemoteParams, describe, probe
from runtime.stt.base import TranscribeOptions
from runtime.stt.wyoming import WyomingSpeechToText
from runtime.tts.base import SynthesisOptions
from runtime.tts.wyoming import WyomingTextToSpeech
from runtime.wake.wyoming import WyomingWakeWord
from tests.conftest import REPEATABLE_VOICE, real_settings
from tests.wyoming.conftest import RATE, espeak, piper, resampled, silence

pytestmark = pytest.mark.real_model

BIN = Path(sys.executable).parent / "assistant"
CHAT = "qwen2.5-coder:0.5b-q4"  # what the remote serves
LOCAL = "qwen2.5-coder:0.5b-iq4nl"  # the offline profile's chat model: the fallback
GREEDY = GenerationOptions(max_tokens=48, temperature=0.0, seed=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: object, process: subprocess.Popen[str], what: str) -> None:
    """Until ``check()`` stops raising (the process must stay up meanwhile)."""
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited early (its log is beside the test's files)")
        try:
            check()  # type: ignore[operator]
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class Remote:
    """A server in another process."""

    process: subprocess.Popen[str]
    http: str
    wyoming: str
    api_key: str

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def start_remote(folder: Path) -> Remote:
    """``assistant serve --wyoming`` on the real models, with an account and an API key."""
    data = folder / "data"
    settings = real_settings(folder)
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    user = services.auth.create_user("remote", "correct horse battery", role=Role.ADMIN)
    principal = Principal(user_id=user.id, username=user.username, role=user.role)
    _, api_key = services.auth.create_api_key(principal, "device")
    services.close()
    port, wyoming_port = free_port(), free_port()
    env = {
        **os.environ,
        "ASSISTANT_MODELS__DIR": str(settings.models_dir),
        "ASSISTANT_MODELS__PARAMS": json.dumps(REPEATABLE_VOICE),
        "ASSISTANT_LOG_LEVEL": os.environ.get("REMOTE_LOG_LEVEL", "WARNING"),
    }
    process = subprocess.Popen(
        [
            str(BIN),
            "--data-dir",
            str(data),
            "serve",
            "--port",
            str(port),
            "--wyoming",
            f"127.0.0.1:{wyoming_port}",
        ],
        # A file, not a pipe: a pipe nobody reads fills up and stops the server.
        stdout=(folder / "server.log").open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    remote = Remote(process, f"http://127.0.0.1:{port}", f"tcp://127.0.0.1:{wyoming_port}", api_key)
    try:
        wait_for(lambda: httpx.get(remote.http + "/healthz", timeout=1), process, "the server")
        wait_for(lambda: describe(RemoteParams(url=remote.wyoming)), process, "Wyoming")
    except BaseException:
        remote.kill()
        raise
    return remote


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """One remote process for the module's tests that do not kill it."""
    started = start_remote(tmp_path_factory.mktemp("remote"))
    yield started
    started.kill()


def device(folder: Path, remote_models: list[dict[str, object]], **overrides: object) -> Services:
    """A device's services whose models include remote ones (an admin account ready)."""
    remote = {"models": remote_models, **overrides.pop("remote", {})}  # type: ignore[dict-item]
    settings = real_settings(folder, remote=remote, **overrides)
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    services.auth.create_user("ada", "correct horse battery", role=Role.ADMIN)
    return services


# --- Wyoming engines against this runtime's Wyoming server in another process ---------------


def test_probe_reports_latency_or_the_reason(remote: Remote) -> None:
    up = probe("wyoming_stt", {"url": remote.wyoming})
    assert up.healthy and up.latency_seconds is not None
    down = probe("wyoming_stt", {"url": f"tcp://127.0.0.1:{free_port()}"})
    assert not down.healthy and "Cannot reach" in (down.error or "")
    chat = probe("openai", {"url": remote.http + "/v1", "api_key": remote.api_key})
    assert chat.healthy


def test_remote_voice_and_recogniser_round_trip(remote: Remote) -> None:
    voice = WyomingTextToSpeech.load(
        "remote-voice:joe", Path(), {"url": remote.wyoming, "model": "piper:en_US-joe-medium"}
    )
    stt = WyomingSpeechToText.load("remote-stt:tiny", Path(), {"url": remote.wyoming})
    chunks = list(voice.synthesize("Good morning. The kettle is on.", SynthesisOptions()))
    assert voice.sample_rate == 22_050
    audio = AudioChunk(b"".join(c.audio for c in chunks), voice.sample_rate)
    transcript = stt.transcribe(audio, TranscribeOptions(language="en"))
    assert transcript.text.lower().strip(" .") == "good morning, the kettle is on"
    assert "en" in stt.languages


def test_remote_wake_word_streams(remote: Remote, tmp_path: Path) -> None:
    wake = WyomingWakeWord.load(
        "remote-wake:jarvis", Path(), {"url": remote.wyoming, "model": "hey_jarvis"}
    )
    spoken = resampled(espeak("hey jarvis", tmp_path), RATE).samples()
    audio = AudioChunk.from_samples(np.concatenate((silence(1.0), spoken, silence(1.5))), RATE)
    quiet = piper("What is the weather like today?")

    def detections(detector: WyomingWakeWord, chunk: AudioChunk) -> list[str]:
        """Feed the audio, then silence as a microphone would (80 ms at a time) until the
        service has caught up: a detection arrives when the service sends it."""
        found = []
        step = 1280 * 2
        quiet = AudioChunk(bytes(step), RATE)
        pieces = [chunk.audio[i : i + step] for i in range(0, len(chunk.audio), step)]
        for piece in pieces + [quiet.audio] * 40:
            hit = detector.process(AudioChunk(piece, RATE))
            if hit is not None:
                found.append(hit.word)
            if piece is quiet.audio:
                time.sleep(0.08)
        detector.reset()
        return found

    first, second = wake.fork(), wake.fork()  # two streams at once, one connection each
    assert detections(first, audio) == ["hey_jarvis"]
    assert detections(second, quiet) == []
    wake.close()


# --- the remote chat engine ------------------------------------------------------------------


def test_remote_chat_engine_against_this_runtimes_v1(remote: Remote) -> None:
    model = OpenAICompatibleChatModel.load(
        "remote-qwen:latest",
        Path(),
        {"url": remote.http + "/v1", "model": CHAT, "api_key": remote.api_key},
    )
    messages = [ChatMessage("user", "What is the capital of France? One word.")]
    deltas = list(model.stream(messages, GREEDY))
    assert "paris" in "".join(d.text for d in deltas).lower()
    final = deltas[-1]
    assert final.finish_reason == "stop" and final.usage is not None
    assert final.usage.prompt_tokens > 5 and final.usage.completion_tokens >= 1
    # This runtime's /v1 has no tokenizer endpoint: the documented estimate is used.
    assert model.count_tokens(messages) == estimate_tokens(messages)
    model.close()


def test_remote_chat_engine_against_llama_cpp_server(tmp_path: Path) -> None:
    gguf = Settings.load().models_dir / "installed" / "qwen2.5-coder" / "0.5b-q4" / "model.gguf"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            "qwen",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "1",
        ],
        stdout=(tmp_path / "llama-server.log").open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(
            lambda: httpx.get(url + "/models", timeout=1).raise_for_status(),
            process,
            "llama_cpp.server",
        )
        model = OpenAICompatibleChatModel.load("llama-server:qwen", Path(), {"url": url})
        assert model.model == "qwen"  # the server's only model, found by asking
        assert model.context_length == 4096  # no /props here: the default
        messages = [ChatMessage("user", "Say hello in French. One word.")]
        deltas = list(model.stream(messages, GREEDY))
        assert "bonjour" in "".join(d.text for d in deltas).lower()
        assert deltas[-1].finish_reason in ("stop", "length")
        assert model.count_tokens(messages) > 0
        model.close()
    finally:
        process.kill()
        process.wait()


async def test_a_device_chats_through_a_remote_model_and_falls_back_when_it_dies(
    tmp_path: Path,
) -> None:
    """Memory across turns through the remote model; the remote process killed in the middle
    of a reply ends that reply with a clear error (never a hang); the next turn is answered
    by the local model, and the manager says it fell back."""
    remote = start_remote(tmp_path / "remote")
    services = device(
        tmp_path / "device",
        [
            {
                "id": "remote-qwen:latest",
                "engine": "openai",
                "url": remote.http + "/v1",
                "model": CHAT,
                "api_key": remote.api_key,
            }
        ],
        chat={"default_model": "remote-qwen:latest", "route_short_to_smallest": False},
    )
    fallbacks: list[Fallback] = []
    services.manager.on_fallback.append(fallbacks.append)
    user = services.auth.find_user("ada").id
    try:
        chat = services.chat
        _, done = await chat.reply(
            user, ChatRequest("My name is Ada. Reply with OK.", options=GREEDY)
        )
        conversation = done.conversation_id
        started, done = await chat.reply(
            user, ChatRequest("What is my name?", conversation_id=conversation, options=GREEDY)
        )
        assert started.model == "remote-qwen:latest"
        assert "ada" in done.text.lower()
        (status,) = await services.manager.check_remotes()
        assert status.healthy and status.latency_ms is not None and status.fallback == "local"

        long_reply = ChatRequest(
            "Count from one to fifty in words.",
            conversation_id=conversation,
            options=GenerationOptions(max_tokens=300, temperature=0.0),
        )
        with pytest.raises(RemoteUnavailable):
            async for event in chat.stream(user, long_reply):
                if isinstance(event, TurnDelta):
                    remote.kill()  # mid-reply
        assert fallbacks == []

        started, done = await chat.reply(
            user, ChatRequest("Say hi.", conversation_id=conversation, options=GREEDY)
        )
        assert done.text
        assert [f.used for f in fallbacks] == [LOCAL]
        assert fallbacks[0].requested == "remote-qwen:latest"
        (status,) = services.manager.remote_status()
        assert status.healthy is False
    finally:
        remote.kill()
        await services.manager.close()
        services.close()


async def test_fallback_fail_refuses_while_the_remote_is_down(tmp_path: Path) -> None:
    services = device(
        tmp_path,
        [
            {
                "id": "remote-stt:tiny",
                "engine": "wyoming_stt",
                "url": f"tcp://127.0.0.1:{free_port()}",
            }
        ],
        voice={"stt_model": "remote-stt:tiny"},
        remote={"fallback": {"stt": "fail"}},
    )
    try:
        audio = piper("Hello there.")
        with pytest.raises(RemoteUnavailable, match="Cannot reach"):
            await services.voice.transcribe_audio("x", audio, TranscribeOptions(language="en"))
    finally:
        await services.manager.close()
        services.close()


async def test_fallback_local_transcribes_with_the_local_model(tmp_path: Path) -> None:
    services = device(
        tmp_path,
        [
            {
                "id": "remote-stt:tiny",
                "engine": "wyoming_stt",
                "url": f"tcp://127.0.0.1:{free_port()}",
            }
        ],
        voice={"stt_model": "remote-stt:tiny"},
    )
    fallbacks: list[Fallback] = []
    services.manager.on_fallback.append(fallbacks.append)
    user = services.auth.find_user("ada").id
    try:
        result = await services.voice.transcribe_audio(
            user, piper("Hello there."), TranscribeOptions(language="en")
        )
        assert result.transcript.text.lower().strip(" .!") == "hello there"
        assert [(f.requested, f.used) for f in fallbacks] == [
            ("remote-stt:tiny", "whisper:tiny.en")
        ]
        assert services.manager.status()[0].id == "whisper:tiny.en"
        assert all(m.memory_mb > 0 for m in services.manager.status())
    finally:
        await services.manager.close()
        services.close()


async def test_the_voice_pipeline_says_when_a_local_model_stands_in(tmp_path: Path) -> None:
    services = device(
        tmp_path,
        [
            {
                "id": "remote-stt:tiny",
                "engine": "wyoming_stt",
                "url": f"tcp://127.0.0.1:{free_port()}",
            }
        ],
        voice={"stt_model": "remote-stt:tiny", "reply_max_tokens": 16},
    )
    user = services.auth.find_user("ada").id
    events: list[PipelineEvent] = []
    try:
        options = services.settings.voice.pipeline_options(push_to_talk=True)
        pipeline = await services.loops.pipeline(
            user, FakeSpeaker(), options, on_event=events.append
        )
        await pipeline.run_once(piper("Please turn on the kitchen lights."))
    finally:
        await services.manager.close()
        services.close()
    fallbacks = [e for e in events if isinstance(e, EngineFallback)]
    assert [(e.requested, e.used) for e in fallbacks] == [("remote-stt:tiny", "whisper:tiny.en")]
    assert "Cannot reach" in fallbacks[0].reason
    assert any(e.type.value == "stt-end" for e in events)
