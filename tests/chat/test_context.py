from __future__ import annotations

import pytest

from assistant.chat.context import (
    MessageTooLong,
    Turn,
    model_turns,
    plan_context,
    stamped,
    system_prompt,
    title_from,
)
from assistant.profile.models import Preferences, Profile

ROLES = ["user", "assistant"] * 10


@pytest.mark.parametrize(
    ("history", "new", "expected_keep", "expected_summary"),
    [
        ([], 10, 0, 0),  # nothing to keep
        ([10, 10, 10, 10], 10, 0, 0),  # everything fits
        ([100, 100, 100, 100], 10, 0, 0),  # 400 of 440 free tokens: all fits
        ([150, 150, 150, 150], 10, 2, 2),  # the oldest turn goes to the summary
        ([420, 10, 10, 10], 10, 2, 2),  # one huge old turn
        ([10, 10, 420, 10, 10, 10], 10, 4, 4),  # never keep an answer without its question
        ([400, 400, 400, 400], 10, 4, 4),  # nothing old fits: all summarised
    ],
)
def test_plan_context(
    history: list[int], new: int, expected_keep: int, expected_summary: int
) -> None:
    plan = plan_context(
        context_length=600,
        reply_tokens=100,
        system_tokens=50,
        summary_tokens=0,
        history_tokens=history,
        history_roles=ROLES[: len(history)],
        new_tokens=new,
        summary_budget=100,
    )
    assert (plan.keep_from, plan.summarize_upto) == (expected_keep, expected_summary)
    kept = sum(history[plan.keep_from :])
    if plan.needs_summary:
        assert kept + 50 + new + 100 + 100 <= 600


def test_an_existing_summary_counts_against_the_budget() -> None:
    without = plan_context(
        context_length=600,
        reply_tokens=100,
        system_tokens=50,
        summary_tokens=0,
        history_tokens=[90, 90, 90, 90],
        history_roles=ROLES[:4],
        new_tokens=10,
        summary_budget=50,
    )
    with_summary = plan_context(
        context_length=600,
        reply_tokens=100,
        system_tokens=50,
        summary_tokens=200,
        history_tokens=[90, 90, 90, 90],
        history_roles=ROLES[:4],
        new_tokens=10,
        summary_budget=50,
    )
    assert not without.needs_summary
    assert with_summary.needs_summary


def test_a_message_longer_than_the_context_is_refused() -> None:
    with pytest.raises(MessageTooLong) as caught:
        plan_context(
            context_length=600,
            reply_tokens=100,
            system_tokens=50,
            summary_tokens=0,
            history_tokens=[],
            history_roles=[],
            new_tokens=1000,
            summary_budget=50,
        )
    assert caught.value.available == 450


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Hello there", "Hello there"),
        ("  spaced\n\nout  ", "spaced out"),
        ("", "New conversation"),
        ("word " * 30, "word word word word word word word word word word word word…"),
    ],
)
def test_title_from(text: str, title: str) -> None:
    assert title_from(text) == title


def test_system_prompt_is_personal_and_local() -> None:
    profile = Profile("u", "Ada", "en-GB", "Europe/Paris", None, 1, 1)
    preferences = Preferences(
        assistant_name="Jarvis", tone="formal", verbosity="brief", preferred_languages=["fr"]
    )
    prompt = system_prompt(profile, preferences, summary="Ada likes tea.")
    assert "You are Jarvis" in prompt
    assert "formal" in prompt
    assert "one to three sentences" in prompt
    assert "Reply in French" in prompt
    assert "The user's name is Ada." in prompt
    assert "(Europe/Paris time)" in prompt
    assert prompt.endswith("Summary of the earlier conversation: Ada likes tea.")
    spoken = system_prompt(profile, preferences, spoken=True)
    assert "spoken aloud" in spoken


@pytest.mark.parametrize(
    ("sent_at", "zone", "stamp"),
    [
        (1_800_000_000.0, "Europe/Paris", "Friday 15 January 2027, 9:00 AM"),
        (1_800_000_000.0, None, "Friday 15 January 2027, 8:00 AM"),  # UTC
        (1_800_000_059.9, "America/New_York", "Friday 15 January 2027, 3:00 AM"),
        (1_800_000_060.0, "Asia/Kolkata", "Friday 15 January 2027, 1:31 PM"),
        (1_799_971_200.0, "UTC", "Friday 15 January 2027, 12:00 AM"),  # midnight
        (1_800_028_800.0, "UTC", "Friday 15 January 2027, 4:00 PM"),
        (1_800_014_400.0, "UTC", "Friday 15 January 2027, 12:00 PM"),  # noon
    ],
)
def test_stamped_adds_the_local_send_time(sent_at: float, zone: str | None, stamp: str) -> None:
    assert stamped("What time is it?", sent_at, zone) == f"(Sent {stamp}.) What time is it?"


DAY = 86_400.0
NOON = 1_800_014_400.0  # Friday 15 January 2027, 12:00 UTC


@pytest.mark.parametrize(
    ("turns", "stamps"),
    [
        ([], []),
        ([("user", NOON)], ["Friday 15 January 2027, 12:00 PM"]),
        # The date once, then times only; replies are never stamped.
        (
            [("user", NOON), ("assistant", NOON + 5), ("user", NOON + 600)],
            ["Friday 15 January 2027, 12:00 PM", None, "12:10 PM"],
        ),
        # A new day brings the date again.
        (
            [("user", NOON), ("assistant", NOON), ("user", NOON + DAY), ("user", NOON + DAY)],
            [
                "Friday 15 January 2027, 12:00 PM",
                None,
                "Saturday 16 January 2027, 12:00 PM",
                "12:00 PM",
            ],
        ),
        # A window that starts with a reply (after a summary) still dates its first question.
        (
            [("assistant", NOON), ("user", NOON + 60)],
            [None, "Friday 15 January 2027, 12:01 PM"],
        ),
    ],
)
def test_model_turns_date_the_first_message_of_each_day(
    turns: list[tuple[str, float]], stamps: list[str | None]
) -> None:
    sent = model_turns([Turn(role, "hi", at) for role, at in turns], "UTC")
    assert [m.role for m in sent] == [role for role, _ in turns]
    assert [m.content for m in sent] == [
        "hi" if stamp is None else f"(Sent {stamp}.) hi" for stamp in stamps
    ]


def test_model_turns_are_stable_as_the_conversation_grows() -> None:
    """Adding turns never changes how earlier ones render (the prompt cache stays valid)."""
    turns = [
        Turn("user" if i % 2 == 0 else "assistant", f"m{i}", NOON + i * 40_000) for i in range(9)
    ]
    full = model_turns(turns, "Europe/Paris")
    for end in range(len(turns)):
        assert model_turns(turns[:end], "Europe/Paris") == full[:end]


def test_the_system_prompt_has_no_clock() -> None:
    """A pause between turns must not change the prompt prefix (llama.cpp's cache)."""
    profile = Profile("u", "Ada", "en-GB", "Europe/Paris", None, 1, 1)
    assert system_prompt(profile, Preferences()) == system_prompt(profile, Preferences())
    assert "2027" not in system_prompt(profile, Preferences())
