"""Insights of one user: features, hours in their time zone, languages, trends, the
slowest voice stage and suggestions with the numbers behind them."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.analytics import Event, Viewer
from assistant.clock import ManualClock
from assistant.profile import ProfileFields
from assistant.services import Services

NOW = datetime(2026, 12, 6, 20, 0, tzinfo=UTC).timestamp()


def at(day: int, hour_utc: int) -> int:
    """Milliseconds of a UTC hour ``day`` days before NOW's day."""
    return int((NOW - day * 86_400 - (20 - hour_utc) * 3600) * 1000)


def test_insights_follow_from_the_numbers(services: Services, clock: ManualClock) -> None:
    clock.advance(NOW - clock())
    ada = services.auth.create_user("ada", "correct horse battery").id
    bob = services.auth.create_user("bob", "correct horse battery").id
    services.profile.update_profile(ada, ProfileFields(time_zone="Europe/Paris"), replace=False)
    events = []
    # This week: 6 slow chat turns at 07:00 UTC (08:00 in Paris); last week: 2.
    for day in range(6):
        events.append(
            Event(
                at(day, 7),
                "chat.turn",
                {
                    "model": "qwen:0.5b",
                    "first_token_ms": 2400.0,
                    "prompt_tokens": 100,
                    "cached_tokens": 0,
                    "completion_tokens": 20,
                },
                ada,
            )
        )
    for day in (8, 9):
        events.append(
            Event(
                at(day, 7),
                "chat.turn",
                {
                    "model": "qwen:0.5b",
                    "first_token_ms": 2600.0,
                    "prompt_tokens": 100,
                    "cached_tokens": 0,
                },
                ada,
            )
        )
    for day in range(3):
        events.append(
            Event(
                at(day, 18), "voice.transcription", {"model": "whisper:base", "language": "fr"}, ada
            )
        )
        events.append(
            Event(
                at(day, 18),
                "voice.turn",
                {
                    "vad_tail_ms": 800.0,
                    "stt_ms": 1500.0,
                    "chat_first_sentence_ms": 600.0,
                    "tts_first_chunk_ms": 90.0,
                },
                ada,
            )
        )
    events.append(
        Event(at(1, 12), "voice.transcription", {"model": "whisper:base", "language": "en"}, ada)
    )
    events.append(Event(at(0, 3), "chat.turn", {"model": "other", "first_token_ms": 10.0}, bob))
    services.analytics.write_batch(events)

    insights = services.analytics.insights(Viewer(ada, False))
    assert insights.time_zone == "Europe/Paris"
    assert insights.events == 15
    assert [(f.name, f.count) for f in insights.most_used] == [
        ("chat.turn", 8),
        ("voice.transcription", 4),
        ("voice.turn", 3),
    ]
    assert insights.usual_hours[0].hour == 8  # 07:00 UTC is 08:00 in Paris
    assert insights.hours[19] == 6  # 18:00 UTC
    assert [(c.label, c.count) for c in insights.languages] == [("fr", 3), ("en", 1)]
    trend = next(t for t in insights.trends if t.name == "chat.turn")
    assert (trend.this_week, trend.last_week, trend.change) == (6, 2, 2.0)
    assert insights.slowest_voice_stage is not None
    assert (insights.slowest_voice_stage.measure, insights.slowest_voice_stage.p50_ms) == (
        "stt_ms",
        1500.0,
    )
    codes = {s.code: s for s in insights.suggestions}
    assert set(codes) == {"faster-model", "keep-conversations", "faster-stt"}
    assert codes["faster-model"].evidence == {
        "first_token_ms_p50": 2400.0,
        "turns": 8,
        "model": "qwen:0.5b",
    }
    assert codes["keep-conversations"].evidence["cache_hit_rate"] == 0.0

    quiet = services.analytics.insights(Viewer(bob, False))
    assert quiet.events == 1 and quiet.suggestions == [] and quiet.time_zone == "UTC"
