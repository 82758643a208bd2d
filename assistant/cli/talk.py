"""``assistant talk``: the wake-and-talk loop on the microphone and speaker, or on files."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assistant.cli.chat import pick_user
from assistant.cli.common import console, fail, open_services
from assistant.services import Services
from assistant.voice.announce import QUIET_STATES
from assistant.voice.events import (
    PipelineEvent,
    PipelineEventType,
    RunEnd,
    StageFailed,
    SttEnd,
    stage_latencies,
)
from hal.audio import Speaker
from hal.audio.fake import FakeSpeaker
from hal.audio.portaudio import SoundDeviceMicrophone, SoundDeviceSpeaker
from hal.audio.volume import VolumeSpeaker
from hal.audio.wavfile import WavFileMicrophone, WavFileSpeaker, read_wav

_STATUS = {
    PipelineEventType.WAKE_WORD_START: "waiting for the wake word",
    PipelineEventType.STT_START: "listening",
    PipelineEventType.STT_VAD_END: "heard you, transcribing",
    PipelineEventType.CHAT_START: "thinking",
    PipelineEventType.TTS_START: "speaking",
}


class TurnReporter:
    """Prints what the pipeline is doing and, after each turn, where the time went."""

    def __init__(self, out: Console, *, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json
        self.events: list[PipelineEvent] = []
        self.turns = 0

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)
        if self.as_json:
            self.out.print(json.dumps(event.to_dict()), highlight=False, soft_wrap=True)
            return
        status = _STATUS.get(event.type)
        if status:
            self.out.print(f"[dim]… {status}[/]", highlight=False)
        if isinstance(event, SttEnd):
            self.out.print(f"[bold]you:[/] {event.text}", highlight=False)
        elif isinstance(event, StageFailed):
            self.out.print(f"[red]{event.stage}: {event.message}[/]", highlight=False)
        elif isinstance(event, RunEnd):
            self._summary(event)

    def _summary(self, event: RunEnd) -> None:
        self.turns += 1
        reply = " ".join(
            e.to_dict().get("text", "").strip()
            for e in self.events
            if e.run_id == event.run_id and e.type is PipelineEventType.TTS_START
        )
        if reply:
            self.out.print(f"[bold]assistant:[/] {reply}", highlight=False)
        latencies = stage_latencies(self.events, event.run_id)
        parts = [
            ("end of speech -> first audio", latencies.speech_end_to_first_audio_seconds),
            ("VAD tail", latencies.vad_tail_seconds),
            ("STT", latencies.stt_seconds),
            ("first sentence", latencies.chat_first_sentence_seconds),
            ("first TTS chunk", latencies.tts_first_chunk_seconds),
        ]
        timing = ", ".join(f"{name} {value:.2f} s" for name, value in parts if value is not None)
        self.out.print(f"[dim]{event.outcome} · {timing}[/]", highlight=False)


def _key_toggle(on_press: Callable[[], None], on_release: Callable[[], None]) -> threading.Thread:
    """Enter starts listening, Enter again stops (push-to-talk in a terminal)."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        talking = False
        while True:
            try:
                input()
            except EOFError:
                return
            talking = not talking
            loop.call_soon_threadsafe(on_press if talking else on_release)

    thread = threading.Thread(target=read, daemon=True, name="push-to-talk")
    thread.start()
    return thread


async def _run(
    services: Services,
    user_name: str | None,
    input_file: Path | None,
    output_file: Path | None,
    push_to_talk: bool,
    device: str | None,
    output_device: str | None,
    conversation: str | None,
    as_json: bool,
) -> int:
    settings = services.settings
    user = pick_user(await asyncio.to_thread(services.auth.list_users), user_name)
    reporter = TurnReporter(console, as_json=as_json)
    speaker: Speaker
    if output_file is not None:
        speaker = WavFileSpeaker(output_file)
    elif input_file is not None:
        speaker = FakeSpeaker()  # headless without --output: the reply is only printed
    else:
        speaker = SoundDeviceSpeaker(output_device or settings.voice.output_device)
    speaker = VolumeSpeaker(speaker, services.loops.volume)
    options = settings.voice.pipeline_options(push_to_talk=push_to_talk)
    with console.status("loading models…"):
        await services.loops.warm_up(user.id, options)
    alerts = await services.loops.announcer(
        user.id,
        speaker,
        settings.voice.alert_options(),
        idle=lambda: pipeline.state in QUIET_STATES,  # the pipeline is built just below
    )
    pipeline = await services.loops.pipeline(
        user.id,
        speaker,
        options,
        conversation_id=conversation,
        on_event=alerts.hearing(reporter),  # the wake word stops a timer's alert
    )
    # Timers and reminders fire here too (once, whichever process claims them), and the
    # ones the server fires are announced here as well.
    timers = services.timers
    timers.service.add_listener(alerts.announce)
    await timers.scheduler.start()
    try:
        if input_file is not None and push_to_talk:
            audio = await asyncio.to_thread(read_wav, input_file, 16_000, 1)
            await pipeline.run_once(audio)
        elif input_file is not None:
            microphone = WavFileMicrophone(input_file, rate=16_000, trailing_silence_seconds=2.0)
            await pipeline.run(microphone.chunks())
        else:
            live = SoundDeviceMicrophone(device or settings.voice.input_device, rate=16_000)
            if push_to_talk:
                console.print("press Enter to talk, Enter again when done (Ctrl-C quits)")
                _key_toggle(pipeline.start_listening, pipeline.stop_listening)
            else:
                console.print("say the wake word, then your question (Ctrl-C quits)")
            try:
                await pipeline.run(live.chunks())
            finally:
                await live.close()
    finally:
        await timers.scheduler.close()
        timers.service.remove_listener(alerts.announce)
        await alerts.close()
        await speaker.close()
        await services.manager.close()
    failed = any(isinstance(e, StageFailed) for e in reporter.events)
    return 1 if failed and reporter.turns <= 1 else 0


def talk(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option(help="Account to talk as (default: the only one).")
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="Run headless on a WAV file instead of the microphone."),
    ] = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", help="Write the spoken replies to a WAV file.")
    ] = None,
    push_to_talk: Annotated[
        bool,
        typer.Option(
            "--push-to-talk",
            help="No wake word: Enter starts and stops listening (with --input: the whole"
            " file is one question).",
        ),
    ] = False,
    device: Annotated[str | None, typer.Option(help="Microphone (name or index).")] = None,
    output_device: Annotated[str | None, typer.Option(help="Speaker (name or index).")] = None,
    conversation: Annotated[
        str | None, typer.Option(help="Continue this conversation (same memory as chat).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every pipeline event as JSON.")
    ] = False,
) -> None:
    """Say the wake word, ask, hear the answer; interrupt it by saying the wake word again."""
    if output_file is not None and input_file is None:
        raise fail("--output needs --input (the live loop plays on the speaker)", code=2)
    with open_services(ctx) as services:
        try:
            code = asyncio.run(
                _run(
                    services,
                    user,
                    input_file,
                    output_file,
                    push_to_talk,
                    device,
                    output_device,
                    conversation,
                    as_json,
                )
            )
        except KeyboardInterrupt:
            code = 0
    raise typer.Exit(code)
