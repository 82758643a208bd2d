"""What people say, as values: numbers, durations, times of day, languages and cities.

Every function here is pure: no clock (``parse_time`` takes ``now``), no I/O beyond the
time zone database. A parser answers None when it cannot be sure, so a skill can ask
back ("How long should the timer run?") instead of guessing.

    parse_number("two and a half")            -> 2.5
    parse_duration("an hour and a half")      -> 5400.0
    parse_time("tomorrow at 7", now)          -> 07:00 the next day, in now's zone
    parse_language("Spanish")                 -> "es"
    city_time_zone("Tokyo")                   -> "Asia/Tokyo"
    describe_duration(150)                    -> "2 minutes and 30 seconds"
    describe_time(when, now)                  -> "tomorrow at 7:00 AM"
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal, cast

from runtime.mt.languages import LANGUAGE_NAMES

_UNICODE_FRACTIONS = {"\u00bd": "1/2", "\u00bc": "1/4", "\u00be": "3/4"}

# --- text -------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Lower case, accents stripped, hyphens and commas as spaces, one space between
    words, no closing punctuation."""
    # Before NFKD, which turns "2½" into "21", a fraction slash and "2".
    for glyph, fraction in _UNICODE_FRACTIONS.items():
        text = text.replace(glyph, f" {fraction}")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("\u2019", "'").replace("\u2010", "-").replace("\u2013", "-")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"[,;!?]", " ", text)
    text = re.sub(r"\.(?=\s|$)", " ", text)  # a closing full stop, not a decimal point
    return " ".join(text.split())


# --- numbers ----------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000}
_FRACTIONS = {
    "half": 0.5, "a half": 0.5, "one half": 0.5,
    "quarter": 0.25, "a quarter": 0.25, "one quarter": 0.25,
    "three quarters": 0.75, "three quarter": 0.75,
    "third": 1 / 3, "a third": 1 / 3, "one third": 1 / 3, "two thirds": 2 / 3,
}  # fmt: skip
_SPECIAL = {"a couple": 2, "couple": 2, "a couple of": 2, "a dozen": 12, "dozen": 12}
_DIGITS = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def _integer(words: list[str]) -> int | None:  # noqa: PLR0911, PLR0912 - a state machine
    """A whole number said in words ("a hundred and five", "twenty five", "1 thousand")."""
    if not words:
        return None
    total = 0
    group = 0  # below a thousand
    phase = "empty"  # empty, hundred, tens, unit
    last_scale = None
    for index, word in enumerate(words):
        if word.isdigit() and index == 0 and len(words) > 1:
            group, phase = int(word), "unit"
        elif word.isdigit() and len(words) == 1:
            return int(word)
        elif word in ("a", "an") and index == 0 and len(words) > 1:
            group, phase = 1, "unit"
        elif word in ("a", "an") and len(words) == 1:
            return 1
        elif word == "zero" and len(words) == 1:
            return 0
        elif word in _UNITS and _UNITS[word] > 0 and word != "oh":
            if phase not in ("empty", "hundred", "tens"):
                return None
            group, phase = group + _UNITS[word], "unit"
        elif word in _TEENS or word in _TENS:
            if phase not in ("empty", "hundred"):
                return None
            if word in _TEENS:
                group, phase = group + _TEENS[word], "unit"
            else:
                group, phase = group + _TENS[word], "tens"
        elif word == "hundred":
            if phase not in ("unit", "tens") or not 0 < group < 100:
                return None
            group, phase = group * 100, "hundred"
        elif word in _SCALES:
            scale = _SCALES[word]
            if phase == "empty" or group == 0 or (last_scale is not None and scale >= last_scale):
                return None
            total, group, phase, last_scale = total + group * scale, 0, "empty", scale
        elif word == "and":
            follows_scale = phase == "hundred" or (phase == "empty" and last_scale is not None)
            if not follows_scale or index == len(words) - 1:
                return None
        else:
            return None
    if phase == "empty" and last_scale is None:
        return None
    return total + group


def _decimal(words: list[str]) -> float | None:
    """Decimals in words: "one point five", "2 point 25"."""
    if "point" not in words:
        return None
    at = words.index("point")
    whole = _integer(words[:at]) if at else 0
    digits = words[at + 1 :]
    if whole is None or not digits:
        return None
    text = ""
    for word in digits:
        if word.isdigit():
            text += word
        elif word in _UNITS:
            text += str(_UNITS[word])
        else:
            return None
    return whole + float("0." + text)


def parse_number(text: str) -> float | None:
    """A number said in words or digits: "a", "twenty-five", "a hundred and five", "2.5",
    "two and a half", "a quarter", "one point five", "3/4", "minus two"; None otherwise."""
    words = _normalise(text).split()
    if not words:
        return None
    if words[0] in ("minus", "negative") or (words[0].startswith("-") and len(words[0]) > 1):
        rest = words[1:] if words[0] in ("minus", "negative") else [words[0][1:], *words[1:]]
        value = parse_number(" ".join(rest))
        return None if value is None else -value
    return _unsigned(words)


def _unsigned(words: list[str]) -> float | None:  # noqa: PLR0911 - one return per form
    phrase = " ".join(words)
    if phrase in _FRACTIONS:
        return _FRACTIONS[phrase]
    if phrase in _SPECIAL:
        return float(_SPECIAL[phrase])
    if _DIGITS.fullmatch(phrase):
        return float(phrase)
    if match := re.fullmatch(r"(?:(\d+) )?(\d+)/(\d+)", phrase):
        denominator = int(match.group(3))
        if denominator == 0:
            return None
        return int(match.group(1) or 0) + int(match.group(2)) / denominator
    # "two and a half", "1 and three quarters": the fraction after the last "and".
    for at in range(len(words) - 1, 0, -1):
        if words[at] == "and" and " ".join(words[at + 1 :]) in _FRACTIONS:
            whole = _unsigned(words[:at])
            if whole is None or whole != int(whole):
                return None
            return whole + _FRACTIONS[" ".join(words[at + 1 :])]
    if (value := _decimal(words)) is not None:
        return value
    integer = _integer(words)
    return None if integer is None else float(integer)


# --- durations --------------------------------------------------------------------------

_DURATION_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("week", "weeks", "wk", "wks"), 604800),
}
_UNIT_WORD = "|".join(sorted(_DURATION_UNITS, key=len, reverse=True))
_NEXT_SMALLER = {604800: 86400, 86400: 3600, 3600: 60, 60: 1}


def parse_duration(text: str) -> float | None:
    """Seconds in a length of time: "5 min", "two and a half minutes", "1h30", "1 h 30 min",
    "an hour and a half", "half an hour", "a quarter of an hour", "1:30 minutes" (one
    minute thirty), "1:02:03" (hours, minutes, seconds). A bare "1:30" is None: it may be
    minutes or hours. A leading "for" is allowed ("for 5 minutes"). None for a count
    without a unit, zero, negative or nonsense."""
    phrase = _normalise(text).removeprefix("for ")
    phrase = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", phrase)  # 1h30m -> 1 h 30 m
    seconds = _clock_duration(phrase)
    if seconds is None:
        seconds = _spoken_duration(phrase.split())
    if seconds is None or seconds <= 0:
        return None
    return seconds


def _clock_duration(phrase: str) -> float | None:
    if match := re.fullmatch(r"(\d+):([0-5]\d):([0-5]\d)(?: (hours?|hrs?|h))?", phrase):
        hours, minutes, seconds = (int(group) for group in match.groups()[:3])
        return float(hours * 3600 + minutes * 60 + seconds)
    if match := re.fullmatch(rf"(\d+):([0-5]\d) ({_UNIT_WORD})", phrase):
        unit = _DURATION_UNITS[match.group(3)]
        if unit not in (3600, 60):
            return None
        return float(int(match.group(1)) * unit + int(match.group(2)) * unit // 60)
    return None


def _spoken_duration(words: list[str]) -> float | None:  # noqa: PLR0911 - one return per form
    """Number-unit pairs, largest unit first, optionally joined by "and"."""
    phrase = " ".join(words)
    # "half an hour", "a quarter of an hour", "three quarters of a minute"
    if match := re.fullmatch(
        rf"(half|(?:a |one )?quarter|three quarters)(?: of)? (?:an?|one) ({_UNIT_WORD})", phrase
    ):
        return _FRACTIONS[match.group(1)] * _DURATION_UNITS[match.group(2)]
    total = 0.0
    pending: list[str] = []
    last_unit: int | None = None
    for word in words:
        if word in _DURATION_UNITS and pending:
            unit = _DURATION_UNITS[word]
            if last_unit is not None and unit >= last_unit:
                return None
            value = parse_number(" ".join(_without_and(pending, last_unit)))
            if value is None or value < 0:
                return None
            total += value * unit
            pending, last_unit = [], unit
        else:
            pending.append(word)
    if not pending:
        return total if last_unit is not None else None
    if last_unit is None:
        return None  # a number without a unit
    # What follows the last unit: "and a half" of it, or "30" of the next smaller unit.
    rest = " ".join(_without_and(pending, last_unit))
    if rest in _FRACTIONS and pending[0] == "and":
        return total + _FRACTIONS[rest] * last_unit
    value = parse_number(rest)  # "1h30", "2 minutes 30", "an hour fifteen"
    if value is None or value != int(value) or not 0 < value < 60 or last_unit not in (3600, 60):
        return None
    return total + value * _NEXT_SMALLER[last_unit]


def _without_and(words: list[str], last_unit: int | None) -> list[str]:
    """Drop the "and" that joins one pair to the next ("1 hour and 30 minutes")."""
    if last_unit is not None and words and words[0] == "and":
        return words[1:]
    return words


def describe_duration(seconds: float) -> str:
    """A length of time as said aloud, to the second: "1 hour and 5 minutes",
    "2 minutes and 30 seconds", "1 day, 2 hours and 3 seconds"."""
    remaining = round(seconds)
    if remaining <= 0:
        return "0 seconds"
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


# --- times ------------------------------------------------------------------------------

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
)  # fmt: skip
Period = Literal["morning", "afternoon", "evening", "night"]
_PERIOD_DEFAULT_HOUR: dict[str, int] = {"morning": 9, "afternoon": 15, "evening": 18, "night": 20}
_DAY_DEFAULT_HOUR = 9
"""A day said without a time ("tomorrow", "on monday") means nine in the morning."""


def parse_time(text: str, now: datetime) -> datetime | None:  # noqa: PLR0911 - one return per form
    """A moment people name, resolved against ``now`` (tz-aware, in the user's zone) and
    returned in that zone: "6 pm", "at 6:30", "18:30", "noon", "midnight", "tomorrow at 7",
    "tonight at 8", "this evening", "in 20 minutes", "on monday at 9:30", "at half past
    six", "quarter to seven", "at 7 in the morning". A time of day without a day that has
    already passed today means tomorrow, and "at 6" alone is whichever six comes first; with
    a day but no am/pm, 1 to 6 are afternoon hours ("tomorrow at 3") and 7 to 12 morning
    ones; a weekday is the next one after today; a day without a time means 9:00. None for
    what is not a time ("25 o'clock", "13 pm", "6:75")."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    phrase = _normalise(text)
    phrase = re.sub(r"(?<![a-z])(a|p)\.? ?m\b\.?", r"\1m", phrase)  # a.m., p. m. -> am, pm
    phrase = re.sub(r"\bo ?'? ?clock\b", "oclock", phrase)
    phrase = re.sub(r"(?<=\d)(am|pm)\b", r" \1", phrase)
    if phrase in ("now", "right now"):
        return now
    if (relative := _relative(phrase, now)) is not None:
        return relative
    found = _take_day(phrase, now.date())
    if found is None:
        return None
    day, phrase = found
    period, phrase = _take_period(phrase)
    words = [word for word in phrase.split() if word not in ("at", "on", "by", "around")]
    if not words:
        if day is None and period is None:
            return None
        return _at(day, time(_PERIOD_DEFAULT_HOUR[period] if period else _DAY_DEFAULT_HOUR), now)
    clock = _clock(words)
    if clock is None:
        return None
    hour, minute, fixed = clock
    if hour == 24:  # midnight: the end of the day named
        return _local((day or now.date()) + timedelta(1), time(0), now)
    if fixed:
        return _at(day, time(hour, minute), now)
    if period is not None:
        hour = _in_period(hour, period)
        if period == "night" and hour < 6 and day is not None:
            day += timedelta(1)  # "tonight at 2" is two in the morning after today
        return _at(day, time(hour, minute), now)
    if day is not None:
        # "tomorrow at 3" is an afternoon, "tomorrow at 7" a morning.
        return _local(day, time(hour + 12 if 1 <= hour <= 6 else hour, minute), now)
    # "at 6" is whichever six comes first.
    candidates = (
        _local(now.date() + timedelta(days), time(h, minute), now)
        for days in (0, 1)
        for h in (hour % 12, hour % 12 + 12)
    )
    return min(when for when in candidates if when > now)


def _in_period(hour: int, period: Period) -> int:
    """A 12-hour clock hour in a part of the day: 7 in the evening is 19."""
    if period == "morning" or (period == "night" and hour < 6):
        return hour % 12
    if period == "night" and hour == 12:
        return 0
    return hour % 12 + 12


def _at(day: date | None, at: time, now: datetime) -> datetime:
    """A time on the day named, or, without a day, the next time the clock shows it."""
    if day is not None:
        return _local(day, at, now)
    when = _local(now.date(), at, now)
    return when if when > now else _local(now.date() + timedelta(1), at, now)


def _local(on: date, at: time, now: datetime) -> datetime:
    """A wall-clock time on a day in now's zone; a time skipped by a clock change moves
    forward by the change."""
    naive = datetime.combine(on, at, tzinfo=now.tzinfo)
    return naive.astimezone(UTC).astimezone(now.tzinfo)


def _relative(phrase: str, now: datetime) -> datetime | None:
    """A moment relative to now: "in 20 minutes", "an hour from now", "in half an hour"."""
    match = re.fullmatch(r"in (.+)", phrase) or re.fullmatch(r"(.+) (?:from now|later)", phrase)
    if match is None:
        return None
    seconds = parse_duration(match.group(1))
    if seconds is None:
        return None
    return (now.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(now.tzinfo)


_WEEKDAY_WORD = "(?:" + "|".join(_WEEKDAYS) + ")"
_MONTH_WORD = "(?:" + "|".join(_MONTHS) + ")"
_DAY_PATTERN = re.compile(
    r"\b(?:on )?(?:"
    # "Tuesday, 8 December 2026", "the 25th of december", "december 25th"
    rf"(?:(?P<named1>{_WEEKDAY_WORD}) )?(?:the )?(?P<day1>\d{{1,2}})(?:st|nd|rd|th)? "
    rf"(?:of )?(?P<month1>{_MONTH_WORD})(?: (?P<year1>\d{{4}}))?"
    rf"|(?:(?P<named2>{_WEEKDAY_WORD}) )?(?P<month2>{_MONTH_WORD}) (?:the )?"
    r"(?P<day2>\d{1,2})(?:st|nd|rd|th)?(?: (?P<year2>\d{4}))?"
    r"|the (?P<day3>\d{1,2})(?:st|nd|rd|th)"
    r"|(?P<relative>the day after tomorrow|day after tomorrow|tomorrow|today|tonight)"
    rf"|(?:(?:next|this|coming|this coming) )?(?P<weekday>{_WEEKDAY_WORD})"
    r")\b"
)
_PERIOD_PATTERN = re.compile(
    r"\b(?:in the |this |at |tomorrow )?(?P<period>morning|afternoon|evening|night)\b"
)


def _take_day(phrase: str, today: date) -> tuple[date | None, str] | None:  # noqa: PLR0911 - one per kind
    """The day named in a phrase and the phrase without it; None when the day named does
    not exist (30 February, or Monday 8 December in a year where that is a Tuesday)."""
    match = _DAY_PATTERN.search(phrase)
    if match is None:
        return None, phrase
    rest = (phrase[: match.start()] + " " + phrase[match.end() :]).strip()
    if relative := match.group("relative"):
        if relative == "tonight":
            rest = (rest + " tonight-period").strip()
        offset = {"today": 0, "tonight": 0, "tomorrow": 1}.get(relative, 2)
        return today + timedelta(offset), rest
    if weekday := match.group("weekday"):
        ahead = (_WEEKDAYS.index(weekday) - today.weekday()) % 7 or 7
        return today + timedelta(ahead), rest
    if day_of_month := match.group("day3"):  # "the 25th": the next one
        on = _next_day_of_month(int(day_of_month), today)
        return None if on is None else (on, rest)
    month = _MONTHS.index(match.group("month1") or match.group("month2")) + 1
    day_of_month = match.group("day1") or match.group("day2")
    said_year = match.group("year1") or match.group("year2")
    try:
        on = date(int(said_year) if said_year else today.year, month, int(day_of_month))
        if on < today and not said_year:
            on = date(today.year + 1, month, int(day_of_month))
    except ValueError:
        return None
    named = match.group("named1") or match.group("named2")
    if named and _WEEKDAYS.index(named) != on.weekday():
        return None
    return on, rest


def _next_day_of_month(day_of_month: int, today: date) -> date | None:
    """The next date (today or later) with this day of the month; None after the 31st."""
    for months_ahead in range(13):
        year, month = divmod(today.month - 1 + months_ahead, 12)
        with contextlib.suppress(ValueError):
            on = date(today.year + year, month + 1, day_of_month)
            if on >= today:
                return on
    return None


def _take_period(phrase: str) -> tuple[Period | None, str]:
    """The part of the day named ("in the morning", "tonight"), and the phrase without it."""
    if "tonight-period" in phrase:
        return "night", " ".join(phrase.replace("tonight-period", "").split())
    match = _PERIOD_PATTERN.search(phrase)
    if match is None:
        return None, phrase
    rest = " ".join((phrase[: match.start()] + " " + phrase[match.end() :]).split())
    return cast(Period, match.group("period")), rest


_MINUTES_PAST = {"quarter": 15, "a quarter": 15, "half": 30}


def _clock(words: list[str]) -> tuple[int, int, bool] | None:  # noqa: PLR0911, PLR0912 - one return per form
    """Hour, minute and whether the hour is fixed (24-hour, am/pm, noon, midnight as 24)
    or may still be morning or evening. None when it is not a valid time."""
    phrase = " ".join(words)
    if phrase in ("noon", "midday", "12 noon", "twelve noon"):
        return 12, 0, True
    if phrase in ("midnight", "12 midnight", "twelve midnight"):
        return 24, 0, True
    meridiem = None
    if words[-1] in ("am", "pm"):
        meridiem, words = words[-1], words[:-1]
    if words and words[-1] == "oclock":
        words = words[:-1]
    if not words:
        return None
    phrase = " ".join(words)
    hour: int | None
    minute: int | None
    leading_zero = False
    if match := re.fullmatch(r"(\d{1,2})(?:[:.](\d{2})|\s(\d{2}))?|(\d{2})(\d{2})", phrase):
        if match.group(4) is not None:  # "1830", "0630": a 24-hour clock
            hour, minute, leading_zero = int(match.group(4)), int(match.group(5)), True
        else:
            hour = int(match.group(1))
            minute = int(match.group(2) or match.group(3) or 0)
            leading_zero = match.group(1).startswith("0") and len(match.group(1)) == 2
    elif match := re.fullmatch(r"(.+?) (past|after|to|before|til|till) (.+)", phrase):
        offset_words = match.group(1).removesuffix(" minutes").removesuffix(" minute")
        offset = _MINUTES_PAST.get(offset_words)
        if offset is None:
            number = parse_number(offset_words)
            offset = int(number) if number is not None and number == int(number) else None
        hour = _hour_word(match.group(3))
        if offset is None or hour is None or not 1 <= offset <= 59 or not 0 <= hour <= 23:
            return None
        if match.group(2) in ("past", "after"):
            minute = offset
        else:
            hour, minute = (hour - 1) % 24, 60 - offset
            if hour == 0 and meridiem is None:
                hour = 12
    elif len(words) >= 2 and words[0] == "half" and (hour := _hour_word(" ".join(words[1:]))):
        minute = 30  # British "half six"
    else:
        hour, minute = _spoken_clock(words)
        if hour is None or minute is None:
            return None
    if not 0 <= minute <= 59 or not 0 <= hour <= 23:
        return None
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        return (hour % 12) + (12 if meridiem == "pm" else 0), minute, True
    fixed = hour == 0 or hour >= 13 or leading_zero
    return hour, minute, fixed


def _hour_word(text: str) -> int | None:
    if text in ("a", "an"):
        return None
    if text.isdigit():
        return int(text)
    if text in ("noon", "midday"):
        return 12
    if text == "midnight":
        return 0
    number = _integer(text.split())
    return number if number is not None and number <= 24 else None


def _spoken_clock(words: list[str]) -> tuple[int | None, int | None]:
    """A clock read out: "six", "six thirty", "six oh five", "eleven forty five"."""
    for split in range(1, len(words) + 1):
        hour = _hour_word(" ".join(words[:split]))
        if hour is None:
            continue
        rest = words[split:]
        if not rest:
            return hour, 0
        if rest[0] == "oh" and len(rest) == 2 and rest[1] in _UNITS:
            return hour, _UNITS[rest[1]]
        if rest == ["hundred"]:
            return hour, 0
        if rest[0] in _TENS or rest[0] in _TEENS:
            minute = _integer(rest)
            if minute is not None:
                return hour, minute
    return None, None


def describe_time(when: datetime, now: datetime) -> str:
    """A moment as said aloud, in now's zone: "6:00 PM" today, "tomorrow at 7:00 AM",
    "yesterday at 9:15 PM", "Monday at 9:30 AM" within the coming week, otherwise
    "Friday, 18 December at 9:00 AM" (with the year when it is not this one)."""
    local = when.astimezone(now.tzinfo)
    clock = f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    days = (local.date() - now.date()).days
    if days == 0:
        return clock
    if days == 1:
        return f"tomorrow at {clock}"
    if days == -1:
        return f"yesterday at {clock}"
    weekday = _WEEKDAYS[local.weekday()].capitalize()  # not strftime: it follows the locale
    if 2 <= days <= 6:
        return f"{weekday} at {clock}"
    on = f"{weekday}, {local.day} {_MONTHS[local.month - 1].capitalize()}"
    if local.year != now.year:
        on += f" {local.year}"
    return f"{on} at {clock}"


# --- languages --------------------------------------------------------------------------

_OTHER_LANGUAGE_NAMES = {
    # Other English names, and where the translation models differ (Norwegian is "nb").
    "azeri": "az", "bangla": "bn", "myanmar": "my", "cebuano": "ceb", "mandarin": "zh",
    "mandarin chinese": "zh", "simplified chinese": "zh", "traditional chinese": "zh",
    "flemish": "nl", "farsi": "fa", "filipino": "tl", "bahasa indonesia": "id",
    "irish gaelic": "ga", "cambodian": "km", "kirghiz": "ky", "laotian": "lo", "latin": "la",
    "bahasa melayu": "ms", "nepalese": "ne", "norwegian": "nb", "bokmal": "nb", "nynorsk": "nn",
    "oriya": "or", "pashtu": "ps", "brazilian portuguese": "pt", "brazilian": "pt", "panjabi": "pa",
    "moldovan": "ro", "gaelic": "gd", "sinhalese": "si", "slovakian": "sk", "slovene": "sl",
    "castilian": "es", "sundanese": "su", "kiswahili": "sw", "uighur": "ug", "cantonese": "zh",
    "fulani": "ff", "twi": "tw", "corsican": "co", "frisian": "fy", "western frisian": "fy",
    "hawaiian": "haw", "hmong": "hmn",
    # What speakers call their own language.
    "espanol": "es", "castellano": "es", "francais": "fr", "deutsch": "de", "italiano": "it",
    "portugues": "pt", "nederlands": "nl", "svenska": "sv", "norsk": "nb", "dansk": "da",
    "suomi": "fi", "polski": "pl", "cestina": "cs", "magyar": "hu", "turkce": "tr", "russkiy": "ru",
    "nihongo": "ja", "hangul": "ko", "hangugeo": "ko", "putonghua": "zh", "zhongwen": "zh",
    "ellinika": "el", "hrvatski": "hr", "srpski": "sr", "slovenscina": "sl", "romana": "ro",
    "eesti": "et", "latviesu": "lv", "lietuviu": "lt", "cymraeg": "cy", "gaeilge": "ga",
    "euskara": "eu", "catala": "ca",
}  # fmt: skip
"""Names of languages besides the English ones ``runtime.mt.languages`` knows."""

_LANGUAGES = {
    **{_normalise(name): code for code, name in LANGUAGE_NAMES.items()},
    **_OTHER_LANGUAGE_NAMES,
}
"""English (and a few native) names of languages; codes are ISO 639-1 where one exists
(Cebuano, Hawaiian and Hmong have only ISO 639-2/3 codes). Norwegian is ``nb`` because
that is what the translation models list."""


def parse_language(text: str) -> str | None:
    """A language named in English ("Spanish", "the German language", "Mandarin") to its
    ISO 639-1 code ("es"); None for a name it does not know."""
    phrase = _normalise(text)
    phrase = re.sub(r"^(?:in|into|to|from|the)\s+", "", phrase)
    phrase = re.sub(r"^the\s+", "", phrase)
    phrase = re.sub(r"\s+(?:language|lang)$", "", phrase)
    return _LANGUAGES.get(phrase)


# --- cities -----------------------------------------------------------------------------

_CITIES = {
    # Cities and capitals whose zone is named after another city.
    "washington": "America/New_York", "washington dc": "America/New_York",
    "washington d c": "America/New_York", "new york city": "America/New_York",
    "nyc": "America/New_York", "manhattan": "America/New_York", "brooklyn": "America/New_York",
    "boston": "America/New_York", "philadelphia": "America/New_York",
    "miami": "America/New_York", "atlanta": "America/New_York", "orlando": "America/New_York",
    "pittsburgh": "America/New_York", "baltimore": "America/New_York",
    "charlotte": "America/New_York", "cleveland": "America/New_York",
    "columbus": "America/New_York", "tampa": "America/New_York",
    "raleigh": "America/New_York", "buffalo": "America/New_York",
    "chicago": "America/Chicago", "houston": "America/Chicago", "dallas": "America/Chicago",
    "san antonio": "America/Chicago", "austin": "America/Chicago",
    "new orleans": "America/Chicago", "minneapolis": "America/Chicago",
    "st louis": "America/Chicago", "saint louis": "America/Chicago",
    "kansas city": "America/Chicago", "nashville": "America/Chicago",
    "milwaukee": "America/Chicago", "memphis": "America/Chicago",
    "oklahoma city": "America/Chicago", "winnipeg": "America/Winnipeg",
    "denver": "America/Denver", "salt lake city": "America/Denver",
    "albuquerque": "America/Denver", "phoenix": "America/Phoenix",
    "los angeles": "America/Los_Angeles", "la": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "sf": "America/Los_Angeles",
    "san diego": "America/Los_Angeles", "san jose": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "portland": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "sacramento": "America/Los_Angeles",
    "silicon valley": "America/Los_Angeles", "hollywood": "America/Los_Angeles",
    "anchorage": "America/Anchorage", "honolulu": "Pacific/Honolulu",
    "ottawa": "America/Toronto", "montreal": "America/Toronto", "quebec": "America/Toronto",
    "quebec city": "America/Toronto", "calgary": "America/Edmonton",
    "edmonton": "America/Edmonton", "vancouver": "America/Vancouver",
    "halifax": "America/Halifax", "st johns": "America/St_Johns",
    "mexico city": "America/Mexico_City", "guadalajara": "America/Mexico_City",
    "monterrey": "America/Monterrey", "cancun": "America/Cancun", "tijuana": "America/Tijuana",
    "havana": "America/Havana", "kingston": "America/Jamaica",
    "guatemala city": "America/Guatemala", "san salvador": "America/El_Salvador",
    "tegucigalpa": "America/Tegucigalpa", "managua": "America/Managua",
    "san jose costa rica": "America/Costa_Rica", "panama city": "America/Panama",
    "santo domingo": "America/Santo_Domingo", "port au prince": "America/Port-au-Prince",
    "san juan": "America/Puerto_Rico", "nassau": "America/Nassau",
    "bogota": "America/Bogota", "medellin": "America/Bogota", "quito": "America/Guayaquil",
    "lima": "America/Lima", "la paz": "America/La_Paz", "sucre": "America/La_Paz",
    "santiago": "America/Santiago", "buenos aires": "America/Argentina/Buenos_Aires",
    "cordoba": "America/Argentina/Cordoba", "montevideo": "America/Montevideo",
    "asuncion": "America/Asuncion", "caracas": "America/Caracas",
    "brasilia": "America/Sao_Paulo", "sao paulo": "America/Sao_Paulo",
    "rio": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo",
    "belo horizonte": "America/Sao_Paulo", "salvador": "America/Bahia",
    "recife": "America/Recife", "fortaleza": "America/Fortaleza", "manaus": "America/Manaus",
    "georgetown": "America/Guyana", "paramaribo": "America/Paramaribo",
    "cayenne": "America/Cayenne", "port of spain": "America/Port_of_Spain",
    "bridgetown": "America/Barbados", "nuuk": "America/Nuuk",
    "reykjavik": "Atlantic/Reykjavik", "edinburgh": "Europe/London",
    "glasgow": "Europe/London", "manchester": "Europe/London",
    "birmingham": "Europe/London", "liverpool": "Europe/London", "leeds": "Europe/London",
    "bristol": "Europe/London", "cardiff": "Europe/London", "belfast": "Europe/London",
    "oxford": "Europe/London", "cambridge": "Europe/London", "cork": "Europe/Dublin",
    "porto": "Europe/Lisbon", "barcelona": "Europe/Madrid", "valencia": "Europe/Madrid",
    "seville": "Europe/Madrid", "bilbao": "Europe/Madrid", "malaga": "Europe/Madrid",
    "marseille": "Europe/Paris", "lyon": "Europe/Paris", "nice": "Europe/Paris",
    "toulouse": "Europe/Paris", "bordeaux": "Europe/Paris", "strasbourg": "Europe/Paris",
    "the hague": "Europe/Amsterdam", "rotterdam": "Europe/Amsterdam",
    "utrecht": "Europe/Amsterdam", "antwerp": "Europe/Brussels",
    "geneva": "Europe/Zurich", "bern": "Europe/Zurich", "berne": "Europe/Zurich",
    "basel": "Europe/Zurich", "lausanne": "Europe/Zurich", "munich": "Europe/Berlin",
    "hamburg": "Europe/Berlin", "frankfurt": "Europe/Berlin", "cologne": "Europe/Berlin",
    "stuttgart": "Europe/Berlin", "dusseldorf": "Europe/Berlin", "dresden": "Europe/Berlin",
    "leipzig": "Europe/Berlin", "bonn": "Europe/Berlin", "salzburg": "Europe/Vienna",
    "milan": "Europe/Rome", "naples": "Europe/Rome", "turin": "Europe/Rome",
    "florence": "Europe/Rome", "venice": "Europe/Rome", "bologna": "Europe/Rome",
    "palermo": "Europe/Rome", "krakow": "Europe/Warsaw", "gdansk": "Europe/Warsaw",
    "wroclaw": "Europe/Warsaw", "gothenburg": "Europe/Stockholm",
    "bergen": "Europe/Oslo", "aarhus": "Europe/Copenhagen", "turku": "Europe/Helsinki",
    "tartu": "Europe/Tallinn", "st petersburg": "Europe/Moscow",
    "saint petersburg": "Europe/Moscow", "novosibirsk": "Asia/Novosibirsk",
    "yekaterinburg": "Asia/Yekaterinburg", "vladivostok": "Asia/Vladivostok",
    "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv", "odesa": "Europe/Kyiv",
    "odessa": "Europe/Kyiv", "kharkiv": "Europe/Kyiv", "lviv": "Europe/Kyiv",
    "minsk": "Europe/Minsk", "chisinau": "Europe/Chisinau", "cluj": "Europe/Bucharest",
    "thessaloniki": "Europe/Athens", "izmir": "Europe/Istanbul", "ankara": "Europe/Istanbul",
    "antalya": "Europe/Istanbul", "istanbul": "Europe/Istanbul", "pristina": "Europe/Belgrade",
    "tbilisi": "Asia/Tbilisi", "yerevan": "Asia/Yerevan", "baku": "Asia/Baku",
    "jerusalem": "Asia/Jerusalem", "tel aviv": "Asia/Jerusalem", "haifa": "Asia/Jerusalem",
    "ramallah": "Asia/Hebron", "gaza": "Asia/Gaza", "amman": "Asia/Amman",
    "beirut": "Asia/Beirut", "damascus": "Asia/Damascus", "baghdad": "Asia/Baghdad",
    "erbil": "Asia/Baghdad", "tehran": "Asia/Tehran", "mecca": "Asia/Riyadh",
    "medina": "Asia/Riyadh", "jeddah": "Asia/Riyadh", "dubai": "Asia/Dubai",
    "abu dhabi": "Asia/Dubai", "doha": "Asia/Qatar", "manama": "Asia/Bahrain",
    "kuwait city": "Asia/Kuwait", "muscat": "Asia/Muscat", "sanaa": "Asia/Aden",
    "kabul": "Asia/Kabul", "islamabad": "Asia/Karachi", "lahore": "Asia/Karachi",
    "karachi": "Asia/Karachi", "new delhi": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata", "bombay": "Asia/Kolkata", "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata", "chennai": "Asia/Kolkata", "madras": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata", "calcutta": "Asia/Kolkata", "pune": "Asia/Kolkata",
    "ahmedabad": "Asia/Kolkata", "jaipur": "Asia/Kolkata", "goa": "Asia/Kolkata",
    "kathmandu": "Asia/Kathmandu", "thimphu": "Asia/Thimphu", "dhaka": "Asia/Dhaka",
    "chittagong": "Asia/Dhaka", "colombo": "Asia/Colombo", "male": "Indian/Maldives",
    "tashkent": "Asia/Tashkent", "astana": "Asia/Almaty", "almaty": "Asia/Almaty",
    "bishkek": "Asia/Bishkek", "dushanbe": "Asia/Dushanbe", "ashgabat": "Asia/Ashgabat",
    "ulaanbaatar": "Asia/Ulaanbaatar", "ulan bator": "Asia/Ulaanbaatar",
    "beijing": "Asia/Shanghai", "peking": "Asia/Shanghai", "shenzhen": "Asia/Shanghai",
    "guangzhou": "Asia/Shanghai", "canton": "Asia/Shanghai", "chengdu": "Asia/Shanghai",
    "wuhan": "Asia/Shanghai", "tianjin": "Asia/Shanghai", "chongqing": "Asia/Shanghai",
    "hangzhou": "Asia/Shanghai", "nanjing": "Asia/Shanghai", "xian": "Asia/Shanghai",
    "xi an": "Asia/Shanghai", "suzhou": "Asia/Shanghai", "shenyang": "Asia/Shanghai",
    "foshan": "Asia/Shanghai", "dongguan": "Asia/Shanghai", "dalian": "Asia/Shanghai",
    "qingdao": "Asia/Shanghai", "zhengzhou": "Asia/Shanghai", "jinan": "Asia/Shanghai",
    "changsha": "Asia/Shanghai", "kunming": "Asia/Shanghai", "changchun": "Asia/Shanghai",
    "hefei": "Asia/Shanghai", "xiamen": "Asia/Shanghai", "harbin": "Asia/Shanghai",
    "surat": "Asia/Kolkata", "kanpur": "Asia/Kolkata", "lucknow": "Asia/Kolkata",
    "hong kong": "Asia/Hong_Kong", "macau": "Asia/Macau",
    "taipei": "Asia/Taipei", "seoul": "Asia/Seoul", "busan": "Asia/Seoul",
    "pyongyang": "Asia/Pyongyang", "tokyo": "Asia/Tokyo", "osaka": "Asia/Tokyo",
    "kyoto": "Asia/Tokyo", "yokohama": "Asia/Tokyo", "nagoya": "Asia/Tokyo",
    "sapporo": "Asia/Tokyo", "fukuoka": "Asia/Tokyo", "hiroshima": "Asia/Tokyo",
    "manila": "Asia/Manila", "quezon city": "Asia/Manila", "cebu": "Asia/Manila",
    "hanoi": "Asia/Ho_Chi_Minh", "ho chi minh city": "Asia/Ho_Chi_Minh",
    "saigon": "Asia/Ho_Chi_Minh", "phnom penh": "Asia/Phnom_Penh",
    "vientiane": "Asia/Vientiane", "bangkok": "Asia/Bangkok", "phuket": "Asia/Bangkok",
    "chiang mai": "Asia/Bangkok", "yangon": "Asia/Yangon", "rangoon": "Asia/Yangon",
    "naypyidaw": "Asia/Yangon", "kuala lumpur": "Asia/Kuala_Lumpur",
    "putrajaya": "Asia/Kuala_Lumpur", "singapore": "Asia/Singapore",
    "jakarta": "Asia/Jakarta", "surabaya": "Asia/Jakarta", "bali": "Asia/Makassar",
    "denpasar": "Asia/Makassar", "bandar seri begawan": "Asia/Brunei", "dili": "Asia/Dili",
    "port moresby": "Pacific/Port_Moresby", "canberra": "Australia/Sydney",
    "sydney": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane", "perth": "Australia/Perth",
    "adelaide": "Australia/Adelaide", "darwin": "Australia/Darwin",
    "hobart": "Australia/Hobart", "gold coast": "Australia/Brisbane",
    "wellington": "Pacific/Auckland", "auckland": "Pacific/Auckland",
    "christchurch": "Pacific/Auckland", "suva": "Pacific/Fiji", "apia": "Pacific/Apia",
    "nukualofa": "Pacific/Tongatapu", "cairo": "Africa/Cairo", "alexandria": "Africa/Cairo",
    "giza": "Africa/Cairo", "tripoli": "Africa/Tripoli", "tunis": "Africa/Tunis",
    "algiers": "Africa/Algiers", "rabat": "Africa/Casablanca",
    "casablanca": "Africa/Casablanca", "marrakech": "Africa/Casablanca",
    "marrakesh": "Africa/Casablanca", "nouakchott": "Africa/Nouakchott",
    "dakar": "Africa/Dakar", "banjul": "Africa/Banjul", "bissau": "Africa/Bissau",
    "conakry": "Africa/Conakry", "freetown": "Africa/Freetown", "monrovia": "Africa/Monrovia",
    "yamoussoukro": "Africa/Abidjan", "abidjan": "Africa/Abidjan", "accra": "Africa/Accra",
    "lome": "Africa/Lome", "porto novo": "Africa/Porto-Novo", "cotonou": "Africa/Porto-Novo",
    "abuja": "Africa/Lagos", "lagos": "Africa/Lagos", "kano": "Africa/Lagos",
    "niamey": "Africa/Niamey", "ouagadougou": "Africa/Ouagadougou", "bamako": "Africa/Bamako",
    "ndjamena": "Africa/Ndjamena", "n djamena": "Africa/Ndjamena",
    "yaounde": "Africa/Douala", "douala": "Africa/Douala", "malabo": "Africa/Malabo",
    "libreville": "Africa/Libreville", "brazzaville": "Africa/Brazzaville",
    "kinshasa": "Africa/Kinshasa", "bangui": "Africa/Bangui", "luanda": "Africa/Luanda",
    "khartoum": "Africa/Khartoum", "juba": "Africa/Juba", "asmara": "Africa/Asmara",
    "addis ababa": "Africa/Addis_Ababa", "djibouti": "Africa/Djibouti",
    "mogadishu": "Africa/Mogadishu", "nairobi": "Africa/Nairobi",
    "mombasa": "Africa/Nairobi", "kampala": "Africa/Kampala", "kigali": "Africa/Kigali",
    "gitega": "Africa/Bujumbura", "bujumbura": "Africa/Bujumbura",
    "dodoma": "Africa/Dar_es_Salaam", "dar es salaam": "Africa/Dar_es_Salaam",
    "zanzibar": "Africa/Dar_es_Salaam", "lusaka": "Africa/Lusaka", "harare": "Africa/Harare",
    "lilongwe": "Africa/Blantyre", "maputo": "Africa/Maputo", "gaborone": "Africa/Gaborone",
    "windhoek": "Africa/Windhoek", "pretoria": "Africa/Johannesburg",
    "johannesburg": "Africa/Johannesburg", "cape town": "Africa/Johannesburg",
    "durban": "Africa/Johannesburg", "maseru": "Africa/Maseru",
    "mbabane": "Africa/Mbabane", "antananarivo": "Indian/Antananarivo",
    "port louis": "Indian/Mauritius", "victoria": "Indian/Mahe",
    "moroni": "Indian/Comoro", "praia": "Atlantic/Cape_Verde", "sao tome": "Africa/Sao_Tome",
    "valletta": "Europe/Malta", "nicosia": "Asia/Nicosia",
    "andorra la vella": "Europe/Andorra", "vaduz": "Europe/Vaduz",
    "san marino": "Europe/San_Marino", "vatican city": "Europe/Vatican",
    "monaco": "Europe/Monaco", "luxembourg": "Europe/Luxembourg",
    "tirana": "Europe/Tirane", "podgorica": "Europe/Podgorica", "skopje": "Europe/Skopje",
    "ljubljana": "Europe/Ljubljana", "zagreb": "Europe/Zagreb", "sarajevo": "Europe/Sarajevo",
    "bratislava": "Europe/Bratislava", "prague": "Europe/Prague", "budapest": "Europe/Budapest",
    "torshavn": "Atlantic/Faroe", "longyearbyen": "Arctic/Longyearbyen",
    "honiara": "Pacific/Guadalcanal", "port vila": "Pacific/Efate",
    "tarawa": "Pacific/Tarawa", "majuro": "Pacific/Majuro", "palikir": "Pacific/Pohnpei",
    "ngerulmud": "Pacific/Palau", "funafuti": "Pacific/Funafuti", "yaren": "Pacific/Nauru",
    "papeete": "Pacific/Tahiti", "noumea": "Pacific/Noumea", "hagatna": "Pacific/Guam",
    "belmopan": "America/Belize", "castries": "America/St_Lucia",
    "kingstown": "America/St_Vincent", "st georges": "America/Grenada",
    "basseterre": "America/St_Kitts", "roseau": "America/Dominica",
    "st johns antigua": "America/Antigua",
    # Countries, and the parts of the United Kingdom, that keep one time zone.
    "japan": "Asia/Tokyo", "china": "Asia/Shanghai", "india": "Asia/Kolkata",
    "south korea": "Asia/Seoul", "korea": "Asia/Seoul", "north korea": "Asia/Pyongyang",
    "taiwan": "Asia/Taipei", "philippines": "Asia/Manila", "vietnam": "Asia/Ho_Chi_Minh",
    "thailand": "Asia/Bangkok", "malaysia": "Asia/Kuala_Lumpur", "pakistan": "Asia/Karachi",
    "bangladesh": "Asia/Dhaka", "nepal": "Asia/Kathmandu", "sri lanka": "Asia/Colombo",
    "iran": "Asia/Tehran", "iraq": "Asia/Baghdad", "israel": "Asia/Jerusalem",
    "saudi arabia": "Asia/Riyadh", "uae": "Asia/Dubai", "united arab emirates": "Asia/Dubai",
    "qatar": "Asia/Qatar", "turkey": "Europe/Istanbul", "turkiye": "Europe/Istanbul",
    "egypt": "Africa/Cairo", "nigeria": "Africa/Lagos", "kenya": "Africa/Nairobi",
    "ethiopia": "Africa/Addis_Ababa", "south africa": "Africa/Johannesburg",
    "morocco": "Africa/Casablanca", "ghana": "Africa/Accra", "uk": "Europe/London",
    "united kingdom": "Europe/London", "britain": "Europe/London",
    "great britain": "Europe/London", "england": "Europe/London",
    "scotland": "Europe/London", "wales": "Europe/London", "ireland": "Europe/Dublin",
    "france": "Europe/Paris", "germany": "Europe/Berlin", "italy": "Europe/Rome",
    "spain": "Europe/Madrid", "netherlands": "Europe/Amsterdam", "holland": "Europe/Amsterdam",
    "belgium": "Europe/Brussels", "switzerland": "Europe/Zurich", "austria": "Europe/Vienna",
    "sweden": "Europe/Stockholm", "norway": "Europe/Oslo", "denmark": "Europe/Copenhagen",
    "finland": "Europe/Helsinki", "poland": "Europe/Warsaw", "greece": "Europe/Athens",
    "ukraine": "Europe/Kyiv", "czechia": "Europe/Prague",
    "czech republic": "Europe/Prague", "hungary": "Europe/Budapest",
    "romania": "Europe/Bucharest", "iceland": "Atlantic/Reykjavik",
    "new zealand": "Pacific/Auckland", "singapore city": "Asia/Singapore",
    "colombia": "America/Bogota", "peru": "America/Lima", "venezuela": "America/Caracas",
    "cuba": "America/Havana", "jamaica": "America/Jamaica",
    "argentina": "America/Argentina/Buenos_Aires", "chile": "America/Santiago",
    "uruguay": "America/Montevideo", "hawaii": "Pacific/Honolulu", "alaska": "America/Anchorage",
    # Zone abbreviations people say.
    "utc": "UTC", "gmt": "Etc/GMT", "greenwich": "Europe/London", "zulu": "UTC",
}  # fmt: skip
"""Names whose zone is not spelled like them ("Beijing" is ``Asia/Shanghai``), with the
cities people ask about most and every capital the zone names do not cover."""

_REGIONS = frozenset(
    (
        "usa", "us", "united states", "america", "canada", "australia", "brazil", "mexico",
        "russia", "indonesia", "california", "oregon", "washington state", "texas", "florida",
        "new york state", "illinois", "massachusetts", "georgia", "ontario", "quebec",
        "british columbia", "alberta", "new south wales", "victoria", "queensland",
    )
)  # fmt: skip
"""Countries and states with several zones, said after a city ("Portland, Oregon")."""

_ZONE_PREFIXES = (
    "Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/",
    "Europe/", "Indian/", "Pacific/",
)  # fmt: skip


@cache
def _zone_names() -> dict[str, str]:
    """Every zone in the database by its last part ("new york", "sao paulo") and its full
    name ("america/new_york"); canonical region zones only, not ``US/Eastern`` or ``Japan``."""
    names: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        if not zone.startswith(_ZONE_PREFIXES):
            continue
        names[zone.lower()] = zone
        city = zone.rsplit("/", 1)[-1].replace("_", " ").replace("-", " ").lower()
        names.setdefault(city, zone)
    return names


def city_time_zone(text: str) -> str | None:
    """The IANA zone of a city (or a country with one zone) named in English: "Tokyo" ->
    "Asia/Tokyo", "new york" -> "America/New_York", "Beijing" -> "Asia/Shanghai"; also a
    zone's own name ("Europe/Paris"). None for a place it does not know."""
    phrase = unicodedata.normalize("NFKD", text)
    phrase = "".join(c for c in phrase if not unicodedata.combining(c)).lower().strip()
    if "/" in phrase:  # "America/New_York", "america/argentina/buenos_aires"
        return _zone_names().get(phrase.replace(" ", "_"))
    phrase = re.sub(r"[.'\u2019]", "", phrase)
    phrase = re.sub(r"[-_,]", " ", phrase)
    phrase = " ".join(phrase.split())
    phrase = re.sub(r"^(?:in|the city of)\s+", "", phrase)
    if phrase in _CITIES:
        return _CITIES[phrase]
    if phrase in _zone_names():
        return _zone_names()[phrase]
    # "Paris, France", "Portland, Oregon": a city, then its country or state.
    words = phrase.split()
    for end in range(len(words) - 1, 0, -1):
        head, tail = " ".join(words[:end]), " ".join(words[end:])
        if tail in _CITIES or tail in _REGIONS:
            return _CITIES.get(head) or _zone_names().get(head)
    return None
