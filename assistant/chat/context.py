"""Building what the model sees: the system prompt, and which turns fit (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from assistant.profile.models import Preferences, Profile
from runtime.llm.base import ChatMessage

_TONES = {
    "neutral": "a neutral, matter-of-fact tone",
    "warm": "a warm, friendly tone",
    "formal": "a formal, polite tone",
    "casual": "a relaxed, casual tone",
    "playful": "a light, playful tone",
}
_VERBOSITY = {
    "brief": "Keep replies short: one to three sentences unless asked for more.",
    "normal": "Keep replies to the point.",
    "detailed": "Give thorough, detailed replies.",
}
_LANGUAGES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "hi": "Hindi",
    "tr": "Turkish",
    "sv": "Swedish",
}


def system_prompt(
    profile: Profile,
    preferences: Preferences,
    *,
    summary: str | None = None,
    spoken: bool = False,
) -> str:
    """The system message for a user, for text or speech.

    It holds no clock: the time travels with each user message (``stamped``), so the
    prompt of a conversation only ever grows at its end and llama.cpp's prompt cache
    stays valid however long the user pauses between turns.
    """
    zone_name = profile.time_zone or "UTC"
    language = preferences.preferred_languages[0]
    language_name = _LANGUAGES.get(language.split("-")[0], language)
    lines = [
        f"You are {preferences.assistant_name}, a {preferences.personality} assistant"
        " running privately on the user's own device.",
        f"Speak with {_TONES[preferences.tone]}. {_VERBOSITY[preferences.verbosity]}",
        f"Reply in {language_name} unless the user writes in another language.",
        f"Use {preferences.units} units.",
    ]
    if profile.display_name:
        lines.append(f"The user's name is {profile.display_name}.")
    if spoken:
        lines.append(
            "Your reply will be spoken aloud: plain sentences only, no markdown, lists,"
            " code blocks or emoji."
        )
    lines.append(
        f"Each user message starts with the local time it was sent ({zone_name} time),"
        " with the date where a new day begins: use them only when asked about the date"
        " or the time."
    )
    if summary:
        lines.append(f"Summary of the earlier conversation: {summary}")
    return "\n".join(lines)


def stamped(text: str, sent_at: float, time_zone: str | None, *, with_date: bool = True) -> str:
    """A user message as the model sees it: the local time it was sent, then the text.

    This wording, in front, is the one small models copy least into their replies (a
    trailing ``[date]`` they echo back); a 12-hour clock with AM/PM is the one they read
    back right (``02:12`` became "2:12 PM").
    """
    local = datetime.fromtimestamp(sent_at, tz=ZoneInfo(time_zone or "UTC"))
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    when = f"{local.strftime('%A %d %B %Y')}, {clock}" if with_date else clock
    return f"(Sent {when}.) {text}"


@dataclass(frozen=True)
class Turn:
    """A message of the conversation, with the time it was sent (epoch seconds)."""

    role: str
    text: str
    sent_at: float


def model_turns(turns: Sequence[Turn], time_zone: str | None) -> list[ChatMessage]:
    """The turns as the model sees them: user messages stamped with their send time.

    The date goes on the first user message and wherever a new day begins, the time on
    every one (a date costs about twenty tokens, a time ten). A stamp depends only on the
    messages before it, so earlier turns render the same tokens on every later turn and
    stay a prompt-cache hit, however long the pause.
    """
    zone = ZoneInfo(time_zone or "UTC")
    shown: date | None = None
    messages = []
    for turn in turns:
        if turn.role != "user":
            messages.append(ChatMessage(turn.role, turn.text))
            continue
        day = datetime.fromtimestamp(turn.sent_at, tz=zone).date()
        text = stamped(turn.text, turn.sent_at, time_zone, with_date=day != shown)
        messages.append(ChatMessage("user", text))
        shown = day
    return messages


@dataclass(frozen=True)
class ContextPlan:
    """Which stored turns go into the prompt."""

    keep_from: int
    """Index of the first history message sent verbatim."""
    summarize_upto: int
    """History messages before this index must be folded into the summary first (0 = none)."""

    @property
    def needs_summary(self) -> bool:
        """Older turns no longer fit and must be summarised."""
        return self.summarize_upto > 0


class MessageTooLong(ValueError):
    """A single message does not fit the model's context at all."""

    def __init__(self, tokens: int, available: int) -> None:
        super().__init__(f"{tokens} tokens, {available} available")
        self.tokens = tokens
        self.available = available


def plan_context(
    *,
    context_length: int,
    reply_tokens: int,
    system_tokens: int,
    summary_tokens: int,
    history_tokens: Sequence[int],
    history_roles: Sequence[str],
    new_tokens: int,
    summary_budget: int,
) -> ContextPlan:
    """Keep as many recent turns as fit; older ones go to the summary, never silently away.

    ``history_tokens`` and ``history_roles`` describe the stored messages not yet
    summarised, oldest first. The reply keeps ``reply_tokens`` free; a summary written now may take
    up to ``summary_budget`` tokens. Turns are kept whole (a user message with the reply
    after it), so the model never sees a reply without its question.
    """
    fixed = system_tokens + new_tokens + reply_tokens
    if fixed > context_length:
        raise MessageTooLong(new_tokens, context_length - system_tokens - reply_tokens)
    available = context_length - fixed - summary_tokens
    total = sum(history_tokens)
    if total <= available:
        return ContextPlan(keep_from=0, summarize_upto=0)
    # Not everything fits: the summary will grow, so plan with its full budget.
    available = context_length - fixed - max(summary_tokens, summary_budget)
    keep_from = len(history_tokens)
    used = 0
    for index in range(len(history_tokens) - 1, -1, -1):
        if used + history_tokens[index] > available:
            break
        used += history_tokens[index]
        keep_from = index
    # Start at a user turn: an answer is never kept without its question.
    while keep_from < len(history_tokens) and history_roles[keep_from] != "user":
        keep_from += 1
    return ContextPlan(keep_from=keep_from, summarize_upto=keep_from)


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: first line, cut at a word."""
    line = " ".join(text.strip().split())
    if len(line) <= limit:
        return line or "New conversation"
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return cut.rstrip(",.;:!?-") + "…"


SUMMARY_INSTRUCTION = (
    "Summarise the conversation below for your own memory in at most {words} words."
    " Keep names, facts about the user, preferences, decisions and open questions."
    " Write plain sentences, no preamble."
)
