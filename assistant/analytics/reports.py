"""What the dashboard and the insights show, computed from aggregates. Pure: no I/O; the
service reads the aggregates and passes them in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from assistant.analytics.aggregate import Aggregate, Key, Measure, period_start
from assistant.clock import iso

Bucket = Literal["hour", "day"]

LATENCIES: tuple[tuple[str, str, str], ...] = (
    ("chat", "chat.turn", "first_token_ms"),
    ("chat", "chat.turn", "total_ms"),
    ("speech-to-text", "voice.transcription", "processing_ms"),
    ("text-to-speech", "voice.synthesis", "first_audio_ms"),
    ("voice turn", "voice.turn", "speech_end_to_first_audio_ms"),
    ("model load", "model.load", "load_ms"),
)
"""(capability, event, measure) of the latency table."""

VOICE_STAGES: tuple[tuple[str, str], ...] = (
    ("end of speech (VAD tail)", "vad_tail_ms"),
    ("speech to text", "stt_ms"),
    ("chat to first sentence", "chat_first_sentence_ms"),
    ("first audio", "tts_first_chunk_ms"),
)
"""The stages of a spoken turn after the user stops talking, in order (they add up to
``speech_end_to_first_audio_ms``)."""

WORK_EVENTS = ("chat.turn", "voice.transcription", "voice.synthesis", "voice.turn")
"""Events of work done: errors are counted against these for the error rate."""


@dataclass(frozen=True)
class Series:
    """Counts of one event name per bucket."""

    name: str
    counts: list[int]
    total: int


@dataclass(frozen=True)
class Latency:
    """Percentiles of one latency, in milliseconds."""

    capability: str
    event: str
    measure: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    mean_ms: float | None


@dataclass(frozen=True)
class LabelCount:
    """A label and how often it came up."""

    label: str
    count: int


@dataclass(frozen=True)
class Errors:
    """Errors answered to clients."""

    total: int
    rate: float | None
    """Errors / (errors + chat turns, transcriptions, syntheses and voice turns)."""
    by_code: list[LabelCount]
    """Most frequent first."""
    counts: list[int]
    """Per bucket."""


@dataclass(frozen=True)
class ModelUsage:
    """One model's use and loads."""

    model: str
    turns: int
    completion_tokens: int
    tokens_per_second_p50: float | None
    loads: int
    load_ms_p50: float | None
    memory_mb: float | None
    """The largest memory charged at a load in the range."""


@dataclass(frozen=True)
class Cache:
    """Prompt-cache reuse of chat turns."""

    turns: int
    prompt_tokens: int
    cached_tokens: int
    hit_rate: float | None
    """cached / prompt tokens."""


@dataclass(frozen=True)
class Stage:
    """One stage of spoken turns."""

    stage: str
    measure: str
    count: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Dashboard:
    """Usage, latency, errors, models and voice over a time range."""

    start: str
    end: str
    bucket: Bucket
    source: str
    """``raw`` (exact), or ``rollups`` and ``raw`` for the part not rolled up yet."""
    user_id: str | None
    """Whose events (None: everyone's, for an admin)."""
    buckets: list[str]
    """Start of each bucket (ISO 8601, UTC)."""
    usage: list[Series]
    active_users: list[int]
    active_users_total: int
    tokens_per_second: list[float | None]
    """Mean decode speed of chat turns per bucket."""
    latency: list[Latency]
    errors: Errors
    models: list[ModelUsage]
    cache: Cache
    voice_stages: list[Stage]


def _merge(
    aggregates: Mapping[Key, Aggregate], bucket_ms: int
) -> tuple[dict[tuple[int, str], Aggregate], dict[tuple[str, str], Aggregate], dict[int, set[str]]]:
    """Per (bucket, name); per (name, label) over the range; users per bucket."""
    by_bucket: dict[tuple[int, str], Aggregate] = {}
    by_label: dict[tuple[str, str], Aggregate] = {}
    users: dict[int, set[str]] = {}
    for (start, name, label, user), aggregate in aggregates.items():
        slot = period_start(start, bucket_ms)
        by_bucket.setdefault((slot, name), Aggregate()).merge(aggregate)
        by_label.setdefault((name, label), Aggregate()).merge(aggregate)
        if user:
            users.setdefault(slot, set()).add(user)
    return by_bucket, by_label, users


def _measure(aggregates: Sequence[Aggregate], name: str) -> Measure:
    out: Measure | None = None
    for aggregate in aggregates:
        measure = aggregate.measures.get(name)
        if measure is None:
            continue
        if out is None:
            out = Measure(values=[] if measure.values is not None else None)
        out.merge(measure)
    return out or Measure()


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def dashboard(
    aggregates: Mapping[Key, Aggregate],
    *,
    start_ms: int,
    end_ms: int,
    bucket: Bucket,
    source: str,
    user_id: str | None,
) -> Dashboard:
    """The dashboard of aggregates (raw or rolled up, by hour or finer)."""
    bucket_ms = 3_600_000 if bucket == "hour" else 86_400_000
    slots = list(range(period_start(start_ms, bucket_ms), end_ms, bucket_ms))
    index = {slot: i for i, slot in enumerate(slots)}
    by_bucket, by_label, users = _merge(aggregates, bucket_ms)

    names = sorted({name for _, name in by_bucket})
    usage = []
    for name in names:
        counts = [0] * len(slots)
        for slot in slots:
            found = by_bucket.get((slot, name))
            if found is not None:
                counts[index[slot]] = found.count
        usage.append(Series(name, counts, sum(counts)))
    usage.sort(key=lambda s: -s.total)

    every_user: set[str] = set().union(*users.values()) if users else set()
    tokens_per_second: list[float | None] = []
    for slot in slots:
        turn = by_bucket.get((slot, "chat.turn"))
        measure = turn.measures.get("tokens_per_second") if turn else None
        tokens_per_second.append(_round(measure.mean if measure else None))

    def of(name: str) -> list[Aggregate]:
        return [a for (n, _), a in by_label.items() if n == name]

    latency = []
    for capability, event, measure_name in LATENCIES:
        m = _measure(of(event), measure_name)
        if m.count:
            latency.append(
                Latency(
                    capability,
                    event,
                    measure_name,
                    m.count,
                    _round(m.percentile(0.5)),
                    _round(m.percentile(0.95)),
                    _round(m.mean),
                )
            )

    error_codes = sorted(
        (
            LabelCount(label or "unknown", a.count)
            for (n, label), a in by_label.items()
            if n == "error"
        ),
        key=lambda c: -c.count,
    )
    error_total = sum(c.count for c in error_codes)
    work = sum(a.count for (n, _), a in by_label.items() if n in WORK_EVENTS)
    error_counts = next((s.counts for s in usage if s.name == "error"), [0] * len(slots))

    models: dict[str, dict[str, Aggregate]] = {}
    for (name, label), aggregate in by_label.items():
        if name in ("chat.turn", "model.load") and label:
            models.setdefault(label, {})[name] = aggregate
    model_rows = []
    for model, of_model in sorted(models.items()):
        turns = of_model.get("chat.turn")
        loads = of_model.get("model.load")
        tps = turns.measures.get("tokens_per_second") if turns else None
        load_ms = loads.measures.get("load_ms") if loads else None
        memory = loads.measures.get("memory_mb") if loads else None
        completion = turns.measures.get("completion_tokens") if turns else None
        model_rows.append(
            ModelUsage(
                model=model,
                turns=turns.count if turns else 0,
                completion_tokens=int(completion.sum) if completion else 0,
                tokens_per_second_p50=_round(tps.percentile(0.5) if tps else None),
                loads=loads.count if loads else 0,
                load_ms_p50=_round(load_ms.percentile(0.5) if load_ms else None),
                memory_mb=_round(memory.max if memory and memory.count else None),
            )
        )

    turns_all = of("chat.turn")
    prompt = _measure(turns_all, "prompt_tokens")
    cached = _measure(turns_all, "cached_tokens")
    cache = Cache(
        turns=sum(a.count for a in turns_all),
        prompt_tokens=int(prompt.sum),
        cached_tokens=int(cached.sum),
        hit_rate=round(cached.sum / prompt.sum, 4) if prompt.sum else None,
    )

    stages = []
    for stage, measure_name in VOICE_STAGES:
        m = _measure(of("voice.turn"), measure_name)
        stages.append(
            Stage(
                stage, measure_name, m.count, _round(m.percentile(0.5)), _round(m.percentile(0.95))
            )
        )

    return Dashboard(
        start=iso(start_ms) or "",
        end=iso(end_ms) or "",
        bucket=bucket,
        source=source,
        user_id=user_id,
        buckets=[iso(slot) or "" for slot in slots],
        usage=usage,
        active_users=[len(users.get(slot, ())) for slot in slots],
        active_users_total=len(every_user),
        tokens_per_second=tokens_per_second,
        latency=latency,
        errors=Errors(
            total=error_total,
            rate=round(error_total / (error_total + work), 4) if error_total + work else None,
            by_code=error_codes[:10],
            counts=error_counts,
        ),
        models=model_rows,
        cache=cache,
        voice_stages=stages,
    )


# Insights -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureUse:
    """How often a feature (event name) was used."""

    name: str
    count: int
    share: float
    """Of all the user's events in the range."""


@dataclass(frozen=True)
class HourUse:
    """Events in one hour of the day (the user's time zone)."""

    hour: int
    count: int


@dataclass(frozen=True)
class Trend:
    """A feature this week against the week before."""

    name: str
    this_week: int
    last_week: int
    change: float | None
    """(this - last) / last; None when last week had none."""


@dataclass(frozen=True)
class SlowestStage:
    """The stage of the user's spoken turns that takes longest (median)."""

    stage: str
    measure: str
    p50_ms: float
    turns: int


@dataclass(frozen=True)
class Suggestion:
    """Something the user could change, and the numbers it follows from."""

    code: str
    text: str
    evidence: dict[str, float | str]


@dataclass(frozen=True)
class Insights:
    """What one user's events say."""

    user_id: str
    days: int
    time_zone: str
    events: int
    most_used: list[FeatureUse]
    usual_hours: list[HourUse]
    """The three busiest hours of the day, busiest first."""
    hours: list[int]
    """Events per hour of the day, 0-23, in ``time_zone``."""
    languages: list[LabelCount]
    trends: list[Trend]
    slowest_voice_stage: SlowestStage | None
    suggestions: list[Suggestion]


FIRST_TOKEN_SLOW_MS = 1500.0
"""A median first-token time above this suggests a faster model."""
CACHE_LOW = 0.3
"""A prompt-cache hit rate below this (over several turns) suggests keeping conversations."""


def insights(
    rows: Sequence[tuple[int, str, str, Mapping[str, float], str | None]],
    *,
    user_id: str,
    now_ms: int,
    days: int,
    zone: tzinfo,
    zone_name: str,
) -> Insights:
    """Insights from a user's raw events: (ts ms, name, label, measures, language),
    oldest first."""
    week_ms = 7 * 86_400_000
    counts: dict[str, int] = {}
    hours = [0] * 24
    languages: dict[str, int] = {}
    this_week: dict[str, int] = {}
    last_week: dict[str, int] = {}
    turns: dict[str, Measure] = {}
    first_token = Measure(values=[])
    prompt_tokens = cached_tokens = 0.0
    models: dict[str, int] = {}
    for ts, name, label, measures, language in rows:
        counts[name] = counts.get(name, 0) + 1
        hours[datetime.fromtimestamp(ts / 1000, tz=UTC).astimezone(zone).hour] += 1
        if language:
            languages[language] = languages.get(language, 0) + 1
        if ts >= now_ms - week_ms:
            this_week[name] = this_week.get(name, 0) + 1
        elif ts >= now_ms - 2 * week_ms:
            last_week[name] = last_week.get(name, 0) + 1
        if name == "voice.turn":
            for _, measure_name in VOICE_STAGES:
                if measure_name in measures:
                    turns.setdefault(measure_name, Measure(values=[])).add(measures[measure_name])
        if name == "chat.turn":
            if "first_token_ms" in measures:
                first_token.add(measures["first_token_ms"])
            prompt_tokens += measures.get("prompt_tokens", 0.0)
            cached_tokens += measures.get("cached_tokens", 0.0)
            if label:
                models[label] = models.get(label, 0) + 1
    total = sum(counts.values())
    most_used = [
        FeatureUse(name, n, round(n / total, 3))
        for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:5]
    ]
    busiest = sorted(range(24), key=lambda h: (-hours[h], h))
    usual = [HourUse(h, hours[h]) for h in busiest[:3] if hours[h]]
    trends = [
        Trend(
            name,
            this_week.get(name, 0),
            last_week.get(name, 0),
            round((this_week.get(name, 0) - last_week[name]) / last_week[name], 3)
            if last_week.get(name)
            else None,
        )
        for name in sorted(set(this_week) | set(last_week))
    ]
    slowest = None
    stage_names = dict((m, s) for s, m in VOICE_STAGES)
    medians = {m: meas.percentile(0.5) for m, meas in turns.items() if meas.count}
    if medians:
        measure_name = max(medians, key=lambda m: medians[m] or 0.0)
        slowest = SlowestStage(
            stage_names[measure_name],
            measure_name,
            round(medians[measure_name] or 0.0, 1),
            turns[measure_name].count,
        )

    suggestions = _suggestions(first_token, models, counts, prompt_tokens, cached_tokens, slowest)
    return Insights(
        user_id=user_id,
        days=days,
        time_zone=zone_name,
        events=total,
        most_used=most_used,
        usual_hours=usual,
        hours=hours,
        languages=sorted(
            (LabelCount(k, v) for k, v in languages.items()), key=lambda c: (-c.count, c.label)
        ),
        trends=trends,
        slowest_voice_stage=slowest,
        suggestions=suggestions,
    )


def _suggestions(
    first_token: Measure,
    models: Mapping[str, int],
    counts: Mapping[str, int],
    prompt_tokens: float,
    cached_tokens: float,
    slowest: SlowestStage | None,
) -> list[Suggestion]:
    """What follows from the numbers: a faster model, longer conversations, less silence,
    a faster speech-to-text model."""
    suggestions: list[Suggestion] = []
    median_first = first_token.percentile(0.5)
    if median_first is not None and median_first > FIRST_TOKEN_SLOW_MS:
        model = max(models, key=lambda m: models[m]) if models else "your chat model"
        suggestions.append(
            Suggestion(
                "faster-model",
                f"Replies take {median_first / 1000:.1f} s to start on {model} (median of"
                f" {first_token.count} turns); a smaller model as your preferred_model"
                " would answer sooner.",
                {
                    "first_token_ms_p50": round(median_first, 1),
                    "turns": first_token.count,
                    "model": model,
                },
            )
        )
    if counts.get("chat.turn", 0) >= 5 and prompt_tokens:
        rate = cached_tokens / prompt_tokens
        if rate < CACHE_LOW:
            suggestions.append(
                Suggestion(
                    "keep-conversations",
                    f"Only {rate:.0%} of your prompt tokens came from the cache: continuing a"
                    " conversation instead of starting new ones makes replies start sooner.",
                    {"cache_hit_rate": round(rate, 3), "turns": counts["chat.turn"]},
                )
            )
    if slowest is not None and slowest.measure == "vad_tail_ms" and slowest.p50_ms > 700:
        suggestions.append(
            Suggestion(
                "shorter-silence",
                f"Your spoken turns wait {slowest.p50_ms / 1000:.1f} s of silence before the"
                " assistant answers; a lower voice.silence_seconds answers sooner (if you"
                " do not pause mid-sentence).",
                {"vad_tail_ms_p50": slowest.p50_ms, "turns": slowest.turns},
            )
        )
    elif slowest is not None and slowest.measure == "stt_ms" and slowest.p50_ms > 1000:
        suggestions.append(
            Suggestion(
                "faster-stt",
                f"Transcribing your commands takes {slowest.p50_ms / 1000:.1f} s (median):"
                " a smaller speech-to-text model (voice.stt_model) would be quicker.",
                {"stt_ms_p50": slowest.p50_ms, "turns": slowest.turns},
            )
        )
    return suggestions
