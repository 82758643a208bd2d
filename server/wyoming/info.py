"""What the device offers, as Wyoming's ``info``.

Home Assistant's Wyoming integration makes one entity per program kind that has an
installed program (``asr`` -> speech to text, ``tts`` -> text to speech, ``wake`` -> wake
word, ``handle`` -> conversation agent) and names the device after the first one; it
reads each model's ``languages`` (speech to text, conversation), each voice's languages
and speakers, and each wake model's ``phrase``. ``satellite`` is never set: Home
Assistant would take the device for a satellite and ignore the rest.
"""

from __future__ import annotations

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
    WakeModel,
    WakeProgram,
)

from assistant.wyoming.service import Offer, Offered

PROJECT = Attribution(name="Edge Assistant", url="https://github.com/edge-assistant")
"""Who makes the programs."""
PROGRAM = "edge-assistant"
"""The name of each program (Home Assistant titles the device with it)."""


def _attribution(offered: Offered) -> Attribution:
    return Attribution(name=offered.license or "unknown", url=offered.url or PROJECT.url)


def info_of(offer: Offer, version: str) -> Info:
    """The ``info`` event's content for an offer."""
    asr = [
        AsrProgram(
            name=PROGRAM,
            description="Speech to text on this device (whisper.cpp, faster-whisper)",
            attribution=PROJECT,
            installed=True,
            version=version,
            models=[
                AsrModel(
                    name=m.name,
                    description=m.description,
                    attribution=_attribution(m),
                    installed=True,
                    version=None,
                    languages=list(m.languages),
                )
                for m in offer.stt
            ],
            supports_transcript_streaming=True,
        )
    ]
    tts = [
        TtsProgram(
            name=PROGRAM,
            description="Text to speech on this device (Piper)",
            attribution=PROJECT,
            installed=True,
            version=version,
            voices=[
                TtsVoice(
                    name=v.name,
                    description=v.description,
                    attribution=_attribution(v),
                    installed=True,
                    version=None,
                    languages=list(v.languages),
                    speakers=[TtsVoiceSpeaker(name=s) for s in v.speakers] or None,
                )
                for v in offer.tts
            ],
            supports_synthesize_streaming=True,
        )
    ]
    wake = [
        WakeProgram(
            name=PROGRAM,
            description="Wake-word detection on this device (openWakeWord)",
            attribution=PROJECT,
            installed=True,
            version=version,
            models=[
                WakeModel(
                    name=w.name,
                    description=w.description,
                    attribution=_attribution(w),
                    installed=True,
                    version=None,
                    languages=list(w.languages),
                    phrase=w.phrase,
                )
                for w in offer.wake
            ],
        )
    ]
    handle = [
        HandleProgram(
            name=PROGRAM,
            description="The assistant's chat model, with its memory of each conversation",
            attribution=PROJECT,
            installed=True,
            version=version,
            models=[
                HandleModel(
                    name=m.name,
                    description=m.description,
                    attribution=_attribution(m),
                    installed=True,
                    version=None,
                    languages=list(m.languages),
                )
                for m in offer.chat
            ],
            supports_handled_streaming=True,
        )
    ]
    return Info(
        asr=asr if offer.stt else [],
        tts=tts if offer.tts else [],
        wake=wake if offer.wake else [],
        handle=handle if offer.chat else [],
    )
