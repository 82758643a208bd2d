"""``assistant translate`` and ``assistant interpret``: translation on this device."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.chat import pick_user
from assistant.cli.common import console, err_console, fail, open_services, print_json
from assistant.services import Services
from assistant.translate.interpret import Interpreter, InterpretOptions
from assistant.translate.models import Glossary, TranslateRequest
from assistant.translate.speech import SpeechRequest, SpeechTranslation, SpeechTranslator
from hal.audio import Speaker
from hal.audio.codecs import encode
from hal.audio.fake import FakeSpeaker
from hal.audio.portaudio import SoundDeviceMicrophone, SoundDeviceSpeaker
from hal.audio.wavfile import WavFileMicrophone, WavFileSpeaker


def _speech(services: Services) -> SpeechTranslator:
    speech = services.translate.speech
    assert speech is not None, "build_services wires voice translation"
    return speech


async def _translate_text(
    services: Services, user_id: str, request: TranslateRequest, as_json: bool
) -> None:
    try:
        results = await services.translate.translate(user_id, request)
    finally:
        await services.manager.close()
    if as_json:
        print_json([asdict(result) for result in results])
        return
    for result in results:
        typer.echo(result.translated, nl=not result.translated.endswith("\n"))
    last = results[-1]
    detected = f" (detected {last.source})" if last.detected is not None else ""
    quality = f", quality {last.quality:.2f} ({last.quality_method})" if last.quality else ""
    cached = ", cached" if last.cached else ""
    err_console.print(
        f"[dim]{last.source}{detected} -> {last.target} · {last.engine}"
        f" {last.model}{quality}{cached}[/]",
        highlight=False,
    )
    for term in last.terms:
        if term.found and not term.honoured:
            err_console.print(
                f"[yellow]glossary: {term.term!r} -> {term.translation!r} was appended, not"
                " placed by the engine[/]",
                highlight=False,
            )


async def _translate_voice(
    services: Services,
    user_id: str,
    path: Path,
    request: SpeechRequest,
    output: Path | None,
    as_json: bool,
) -> SpeechTranslation:
    speech = _speech(services)
    try:
        data = await asyncio.to_thread(path.read_bytes)
        result = await speech.translate_upload(user_id, data, request)
    finally:
        await services.manager.close()
    spoken = result.audio
    if output is not None and spoken is not None:
        audio_format = output.suffix.lstrip(".").lower() or "wav"
        encoded = await asyncio.to_thread(encode, spoken, audio_format)
        await asyncio.to_thread(output.write_bytes, encoded)
    if as_json:
        fields: dict[str, Any] = asdict(result)
        fields.pop("audio")
        fields["audio_seconds"] = spoken.seconds if spoken is not None else None
        fields["output"] = str(output) if output is not None else None
        print_json(fields)
    else:
        if result.text:
            console.print(f"[bold]{result.source}:[/] {result.text}", highlight=False)
        console.print(f"[bold]{result.target}:[/] {result.translated}", highlight=False)
        voice = f" · voice {result.voice}" + (" (fallback)" if result.voice_fallback else "")
        console.print(
            f"[dim]{result.engine} {result.model}{voice if result.voice else ''}"
            f" · {result.timings.total:.2f} s[/]",
            highlight=False,
        )
    return result


def translate(
    ctx: typer.Context,
    text: Annotated[
        str | None, typer.Argument(help="Text to translate (or use --file, --voice or stdin).")
    ] = None,
    to: Annotated[
        str, typer.Option("--to", "-t", help="Language to translate into (es, de...).")
    ] = "en",
    source: Annotated[
        str, typer.Option("--from", "-f", help="Language of the text, or auto to detect it.")
    ] = "auto",
    file: Annotated[
        Path | None, typer.Option("--file", help="Translate this text file (layout kept).")
    ] = None,
    voice: Annotated[
        Path | None,
        typer.Option("--voice", help="Translate the speech in this audio file (WAV, MP3, ...)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="With --voice: write the spoken translation here."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Translation model (default: the best installed).")
    ] = None,
    html: Annotated[
        bool, typer.Option("--html", help="The text is HTML: translate text nodes only.")
    ] = False,
    quality: Annotated[
        str, typer.Option(help="none, score (model confidence) or roundtrip (chrF).")
    ] = "none",
    term: Annotated[
        list[str] | None,
        typer.Option("--term", help="Glossary entry TERM=TRANSLATION (repeatable)."),
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="A term never to translate (repeatable).")
    ] = None,
    context: Annotated[
        str | None, typer.Option(help="Earlier text the text continues (keeps terms consistent).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Account to translate as (default: the only one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Translate text, a text file, or speech, on this device.

    Engine: a translation model installed for the pair, else the chat model (short sentences).
    --voice: Whisper hears the speech; a Piper voice or espeak-ng speaks the translation.
    """
    if voice is not None and (text is not None or file is not None):
        raise fail("give text, --file or --voice, not several", code=2)
    if output is not None and voice is None:
        raise fail("--output needs --voice (text translations print to stdout)", code=2)
    if quality not in ("none", "score", "roundtrip"):
        raise fail("--quality must be none, score or roundtrip", code=2)
    glossary = Glossary(dict(_term(entry) for entry in term or ()), tuple(keep or ()))
    with open_services(ctx) as services:
        account = pick_user(services.auth.list_users(), user)
        if voice is not None:
            request = SpeechRequest(target=to, source=source, model=model, speak=output is not None)
            asyncio.run(_translate_voice(services, account.id, voice, request, output, as_json))
            return
        if file is not None:
            content = file.read_text(encoding="utf-8")
        elif text is not None:
            content = text
        elif not sys.stdin.isatty():
            content = sys.stdin.read()
        else:
            raise fail("nothing to translate: give text, --file, --voice or pipe text in", code=2)
        request_ = TranslateRequest(
            texts=(content,),
            source=source,
            target=to,
            model=model,
            context=context,
            glossary=glossary or None,
            format="html" if html else "text",
            quality=quality,  # type: ignore[arg-type]
        )
        asyncio.run(_translate_text(services, account.id, request_, as_json))


def _term(entry: str) -> tuple[str, str]:
    term, equals, translation = entry.partition("=")
    if not equals or not term.strip() or not translation.strip():
        raise fail(f"--term takes TERM=TRANSLATION, not {entry!r}", code=2)
    return term.strip(), translation.strip()


async def _interpret(
    services: Services,
    user_id: str,
    languages: tuple[str, str],
    input_file: Path | None,
    output_file: Path | None,
    device: str | None,
    output_device: str | None,
    as_json: bool,
) -> int:
    settings = services.settings
    speaker: Speaker
    if output_file is not None:
        speaker = WavFileSpeaker(output_file)
    elif input_file is not None:
        speaker = FakeSpeaker()
    else:
        speaker = SoundDeviceSpeaker(output_device or settings.voice.output_device)

    async def report(event: dict[str, Any]) -> None:
        if as_json:
            typer.echo(json.dumps(event, ensure_ascii=False, default=str))
            return
        kind = event["type"]
        if kind == "stt-end":
            console.print(f"[bold]{event['language']}:[/] {event['text']}", highlight=False)
        elif kind == "interpretation":
            latency = event["end_of_speech_to_first_audio_seconds"]
            console.print(
                f"[bold]{event['target']}:[/] {event['translated_text']}"
                f" [dim]({event['engine']}, first audio {latency or 0:.2f} s after you"
                " stopped)[/]",
                highlight=False,
            )
        elif kind == "error":
            console.print(f"[red]{event['detail']}[/]", highlight=False)

    interpreter = Interpreter(_speech(services))
    listening = settings.voice.pipeline_options(push_to_talk=True)
    options = InterpretOptions(languages=languages)
    try:
        if input_file is not None:
            microphone = WavFileMicrophone(input_file, rate=16_000, trailing_silence_seconds=2.0)
            return await interpreter.run(
                user_id, microphone.chunks(), speaker, options, listening, report
            )
        live = SoundDeviceMicrophone(device or settings.voice.input_device, rate=16_000)
        console.print(
            f"interpreting {languages[0]} <-> {languages[1]}: speak, pause, listen (Ctrl-C quits)"
        )
        try:
            return await interpreter.run(
                user_id, live.chunks(), speaker, options, listening, report
            )
        finally:
            await live.close()
    finally:
        await speaker.close()
        await services.manager.close()


def interpret(
    ctx: typer.Context,
    langs: Annotated[str, typer.Option("--langs", help="The two languages, e.g. en,es.")] = "en,es",
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="Run headless on a WAV file instead of the microphone."),
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output", help="Write the spoken translations to a WAV file."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="Microphone (name or index).")] = None,
    output_device: Annotated[str | None, typer.Option(help="Speaker (name or index).")] = None,
    user: Annotated[
        str | None, typer.Option(help="Account to interpret as (default: the only one).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every event as one JSON line.")
    ] = False,
) -> None:
    """A live interpreter for two people: each utterance, in either language, is spoken
    back in the other one (Whisper tells which language it heard)."""
    codes = [code.strip() for code in langs.split(",") if code.strip()]
    if len(codes) != 2:
        raise fail("--langs takes two languages, e.g. en,es", code=2)
    if output_file is not None and input_file is None:
        raise fail("--output needs --input (the live interpreter plays on the speaker)", code=2)
    with open_services(ctx) as services:
        account = pick_user(services.auth.list_users(), user)
        try:
            count = asyncio.run(
                _interpret(
                    services,
                    account.id,
                    (codes[0], codes[1]),
                    input_file,
                    output_file,
                    device,
                    output_device,
                    as_json,
                )
            )
        except KeyboardInterrupt:
            count = 0
    if not as_json:
        console.print(f"[dim]{count} utterance(s) interpreted[/]", highlight=False)
