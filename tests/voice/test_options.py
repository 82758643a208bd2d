"""One typed path from the voice settings to the pipeline's options, one default per knob."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant.errors import InvalidInput
from assistant.settings import Settings, VoiceSettings
from assistant.voice.endofturn import EndOfTurnOptions
from assistant.voice.options import BargeIn, PipelineOptions
from assistant.voice.segmenter import SegmenterOptions


def test_the_settings_defaults_are_the_pipelines() -> None:
    assert VoiceSettings().pipeline_options() == PipelineOptions()


def test_the_listening_defaults_are_the_segmenters() -> None:
    options, segmenter = PipelineOptions(), SegmenterOptions()
    assert options.segmenter_options(segmenter.no_speech_seconds) == segmenter
    assert options.listen_seconds == segmenter.no_speech_seconds
    assert options.silence_seconds == segmenter.silence_seconds == 0.8
    assert options.end_of_turn.unsure_silence_seconds == options.silence_seconds


def test_settings_reach_the_pipeline_typed(tmp_path: Path) -> None:
    settings = Settings.load(
        data_dir=tmp_path / "data",
        voice={
            "silence_seconds": 0.7,
            "max_utterance_seconds": 9,
            "follow_up_seconds": 0,
            "barge_in": "speech",
            "reply_max_tokens": 64,
            "adaptive_end_of_turn": False,
            "speculate_after_seconds": 0.25,
            "complete_silence_seconds": 0.5,
            "incomplete_silence_seconds": 1.5,
        },
    )
    options = settings.voice.pipeline_options(push_to_talk=True)
    assert options == PipelineOptions(
        push_to_talk=True,
        silence_seconds=0.7,
        max_utterance_seconds=9.0,
        follow_up_seconds=0.0,
        barge_in=BargeIn.SPEECH,
        chat_options=replace(PipelineOptions().chat_options, max_tokens=64),
        end_of_turn=EndOfTurnOptions(
            adaptive=False,
            speculate_after_seconds=0.25,
            complete_silence_seconds=0.5,
            unsure_silence_seconds=0.7,
            incomplete_silence_seconds=1.5,
        ),
    )
    assert options.barge_in_on_speech and not options.barge_in_on_wake


@pytest.mark.parametrize(
    ("barge_in", "on_wake", "on_speech"),
    [(BargeIn.WAKE, True, False), (BargeIn.SPEECH, False, True), (BargeIn.OFF, False, False)],
)
def test_what_interrupts_a_reply(barge_in: BargeIn, on_wake: bool, on_speech: bool) -> None:
    options = PipelineOptions(barge_in=barge_in)
    assert (options.barge_in_on_wake, options.barge_in_on_speech) == (on_wake, on_speech)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"listen_seconds": 0}, "listen_seconds"),
        ({"pre_roll_seconds": -0.1}, "pre_roll_seconds"),
        ({"barge_in_speech_seconds": float("nan")}, "barge_in_speech_seconds"),
    ],
)
def test_bad_options_name_their_field(values: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        PipelineOptions(**values)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_no_limit_is_a_choice() -> None:
    options = PipelineOptions(listen_seconds=None, max_utterance_seconds=None)
    segmenter = options.segmenter_options(options.listen_seconds)
    assert segmenter.no_speech_seconds is None and segmenter.max_command_seconds is None


@pytest.mark.parametrize(
    "voice",
    [
        {"silence_seconds": 0.3},  # below the complete tail
        {"complete_silence_seconds": 0.9},
        {"incomplete_silence_seconds": 0.5},
        {"speculate_after_seconds": 0.6},
    ],
)
def test_end_of_turn_silences_that_do_not_grow_are_refused(
    tmp_path: Path, voice: dict[str, float]
) -> None:
    with pytest.raises(InvalidInput, match="end-of-turn silences must grow"):
        Settings.load(data_dir=tmp_path / "data", voice=voice)
