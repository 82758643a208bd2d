"""The parsers skills share: tables of what people say, and round trips through the
describers (what the assistant says back must read back as the same value)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from assistant.skills import parse
from assistant.skills.parse import (
    city_time_zone,
    describe_duration,
    describe_time,
    parse_duration,
    parse_language,
    parse_number,
    parse_time,
)
from runtime.manifest import load_manifest

PARIS = ZoneInfo("Europe/Paris")
MONDAY_EVENING = datetime(2026, 12, 7, 17, 5, 30, tzinfo=PARIS)
"""Monday 7 December 2026, 17:05:30 in Paris: the "now" of the time tables."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", 1),
        ("an", 1),
        ("one", 1),
        ("One", 1),
        ("zero", 0),
        ("0", 0),
        ("12", 12),
        ("seven", 7),
        ("eleven", 11),
        ("twenty", 20),
        ("twenty-five", 25),
        ("twenty five", 25),
        ("ninety nine", 99),
        ("a hundred", 100),
        ("one hundred", 100),
        ("a hundred and five", 105),
        ("two hundred and thirty-four", 234),
        ("2 hundred", 200),
        ("nineteen hundred", 1900),
        ("a thousand", 1000),
        ("a thousand and one", 1001),
        ("three thousand four hundred", 3400),
        ("a million", 1_000_000),
        ("1,000", 1000),
        ("2.5", 2.5),
        (".5", 0.5),
        ("2 and a half", 2.5),
        ("two and a half", 2.5),
        ("one and a quarter", 1.25),
        ("three and three quarters", 3.75),
        ("a half", 0.5),
        ("half", 0.5),
        ("a quarter", 0.25),
        ("three quarters", 0.75),
        ("a third", 1 / 3),
        ("one point five", 1.5),
        ("point two five", 0.25),
        ("3/4", 0.75),
        ("1 1/2", 1.5),
        ("2\u00bd", 2.5),
        ("a couple", 2),
        ("a dozen", 12),
        ("minus two", -2),
        ("-3", -3),
        ("  Forty-Two. ", 42),
    ],
)
def test_parse_number(text: str, expected: float) -> None:
    assert parse_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "banana",
        "five twenty",
        "twenty twenty",
        "hundred and",
        "a a",
        "1 2",
        "and",
        "two and",
        "two and a banana",
        "2.5 and a half",
        "1/0",
        "thousand thousand",
        "one point",
        "one point banana",
        "-",
        "seven eleven",
    ],
)
def test_parse_number_declines(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5 minutes", 300),
        ("5 min", 300),
        ("5 mins", 300),
        ("5min", 300),
        ("5m", 300),
        ("1 minute", 60),
        ("a minute", 60),
        ("an hour", 3600),
        ("one hour", 3600),
        ("2 hours", 7200),
        ("2 hrs", 7200),
        ("2h", 7200),
        ("90 seconds", 90),
        ("90 secs", 90),
        ("45s", 45),
        ("twenty-five minutes", 1500),
        ("a hundred and five seconds", 105),
        ("two and a half minutes", 150),
        ("2 and a half minutes", 150),
        ("2.5 minutes", 150),
        ("1.5 hours", 5400),
        ("1h30", 5400),
        ("1h30m", 5400),
        ("1 h 30 min", 5400),
        ("1 hour 30 minutes", 5400),
        ("1 hour and 30 minutes", 5400),
        ("an hour and a half", 5400),
        ("an hour and a quarter", 4500),
        ("an hour fifteen", 4500),
        ("2 minutes 30", 150),
        ("a minute and a half", 90),
        ("half an hour", 1800),
        ("half a minute", 30),
        ("a quarter of an hour", 900),
        ("quarter of an hour", 900),
        ("three quarters of an hour", 2700),
        ("2 hours, 15 minutes and 10 seconds", 8110),
        ("1 day, 2 hours and 3 seconds", 93603),
        ("a day", 86400),
        ("2 weeks", 1_209_600),
        ("a couple of minutes", 120),
        ("1:30 minutes", 90),
        ("1:30 min", 90),
        ("1:30 hours", 5400),
        ("1:02:03", 3723),
        ("0:00:45", 45),
        ("Ten Minutes.", 600),
        ("for 5 minutes", 300),
        ("one minute thirty", 90),
        ("twenty minutes and thirty seconds", 1230),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "banana minutes",
        "minutes",
        "5",
        "five",
        "1:30",  # minutes and seconds, or hours and minutes: ask
        "0:45",
        "1:75 minutes",
        "1:30 seconds",
        "0 minutes",
        "0 seconds and 0 minutes",
        "-5 minutes",
        "minus five minutes",
        "5 minutes 2 hours",  # units must shrink
        "5 minutes 5 minutes",
        "1 hour 90",  # what follows is below a minute's sixty
        "2 minutes 30 banana",
        "5 bananas",
        "for a while",
        "a few minutes",
        "for",
        "1 second 30",
    ],
)
def test_parse_duration_declines(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Monday 7 December 2026, 17:05:30 in Paris.
        ("6 pm", "2026-12-07T18:00"),
        ("6pm", "2026-12-07T18:00"),
        ("6 p.m.", "2026-12-07T18:00"),
        ("at 6 pm", "2026-12-07T18:00"),
        ("at 6 PM", "2026-12-07T18:00"),
        ("6:30", "2026-12-07T18:30"),
        ("6.30 pm", "2026-12-07T18:30"),
        ("at 6 30 pm", "2026-12-07T18:30"),
        ("18:30", "2026-12-07T18:30"),
        ("17:00", "2026-12-08T17:00"),  # already past today: tomorrow
        ("5 pm", "2026-12-08T17:00"),
        ("06:30", "2026-12-08T06:30"),
        ("at 7 in the morning", "2026-12-08T07:00"),
        ("at 7 in the evening", "2026-12-07T19:00"),
        ("at 3 in the afternoon", "2026-12-08T15:00"),
        ("at 11 at night", "2026-12-07T23:00"),
        ("at 6", "2026-12-07T18:00"),
        ("at 5", "2026-12-08T05:00"),  # the next five on the clock
        ("seven o'clock", "2026-12-07T19:00"),
        ("7 oclock", "2026-12-07T19:00"),
        ("at seven thirty", "2026-12-07T19:30"),
        ("eleven forty five pm", "2026-12-07T23:45"),
        ("six oh five", "2026-12-07T18:05"),
        ("12 am", "2026-12-08T00:00"),
        ("12 pm", "2026-12-08T12:00"),
        ("noon", "2026-12-08T12:00"),
        ("midday", "2026-12-08T12:00"),
        ("midnight", "2026-12-08T00:00"),
        ("at midnight", "2026-12-08T00:00"),
        ("tomorrow", "2026-12-08T09:00"),
        ("tomorrow at 7", "2026-12-08T07:00"),
        ("tomorrow at 3", "2026-12-08T15:00"),
        ("tomorrow at 7 pm", "2026-12-08T19:00"),
        ("at 7 tomorrow", "2026-12-08T07:00"),
        ("tomorrow morning", "2026-12-08T09:00"),
        ("tomorrow evening", "2026-12-08T18:00"),
        ("tomorrow morning at 6:15", "2026-12-08T06:15"),
        ("tomorrow at noon", "2026-12-08T12:00"),
        ("tomorrow at midnight", "2026-12-09T00:00"),
        ("the day after tomorrow", "2026-12-09T09:00"),
        ("today at 8 pm", "2026-12-07T20:00"),
        ("tonight", "2026-12-07T20:00"),
        ("tonight at 8", "2026-12-07T20:00"),
        ("tonight at 10:30", "2026-12-07T22:30"),
        ("this evening", "2026-12-07T18:00"),
        ("this evening at 7", "2026-12-07T19:00"),
        ("this afternoon", "2026-12-08T15:00"),  # past today
        ("in the morning", "2026-12-08T09:00"),
        ("on monday at 9:30", "2026-12-14T09:30"),  # today is Monday: the next one
        ("monday", "2026-12-14T09:00"),
        ("tuesday", "2026-12-08T09:00"),
        ("on wednesday", "2026-12-09T09:00"),
        ("next friday", "2026-12-11T09:00"),
        ("friday at 3", "2026-12-11T15:00"),
        ("saturday at 10 pm", "2026-12-12T22:00"),
        ("sunday morning", "2026-12-13T09:00"),
        ("at half past six", "2026-12-07T18:30"),
        ("half past 6", "2026-12-07T18:30"),
        ("quarter past seven", "2026-12-07T19:15"),
        ("quarter to seven", "2026-12-07T18:45"),
        ("a quarter to 7 am", "2026-12-08T06:45"),
        ("ten past six", "2026-12-07T18:10"),
        ("twenty five to seven", "2026-12-07T18:35"),
        ("five minutes past six", "2026-12-07T18:05"),
        ("quarter to one", "2026-12-08T00:45"),
        ("half six", "2026-12-07T18:30"),
        ("december 25", "2026-12-25T09:00"),
        ("on the 25th of december at 9 am", "2026-12-25T09:00"),
        ("1 january at noon", "2027-01-01T12:00"),
        ("january 1 2028", "2028-01-01T09:00"),
        ("Tuesday, 8 December", "2026-12-08T09:00"),
        ("Friday, 1 January 2027 at 12:00 PM", "2027-01-01T12:00"),
        ("december 8th at 5 pm", "2026-12-08T17:00"),
        ("on the 25th", "2026-12-25T09:00"),
        ("the 3rd at 10", "2027-01-03T10:00"),
        ("at 1830", "2026-12-07T18:30"),
        ("0630", "2026-12-08T06:30"),
        ("tomorrow 1830", "2026-12-08T18:30"),
    ],
)
def test_parse_time(text: str, expected: str) -> None:
    when = parse_time(text, MONDAY_EVENING)
    assert when is not None
    assert when.tzinfo is PARIS
    assert when.replace(tzinfo=None).isoformat(timespec="minutes") == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("in 20 minutes", 1200),
        ("in an hour", 3600),
        ("in half an hour", 1800),
        ("in two and a half hours", 9000),
        ("an hour from now", 3600),
        ("in 1h30", 5400),
        ("now", 0),
    ],
)
def test_parse_time_relative(text: str, seconds: int) -> None:
    assert parse_time(text, MONDAY_EVENING) == MONDAY_EVENING + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "banana",
        "25 o'clock",
        "at 25",
        "13 pm",
        "0 am",
        "6:75",
        "24:30",
        "at 6:7",
        "in banana minutes",
        "in 0 minutes",
        "in",
        "tomorrow at banana",
        "february 30",
        "the 30th of february",
        "the 32nd",
        "Monday, 8 December",  # a Tuesday
        "1830 pm",
        "2460",
        "quarter to banana",
        "seventy past six",
        "at a",
        "next week",
        "yesterday",
    ],
)
def test_parse_time_declines(text: str) -> None:
    assert parse_time(text, MONDAY_EVENING) is None


def test_parse_time_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_time("6 pm", datetime(2026, 12, 7, 17, 5))


# Paris springs forward on Sunday 29 March 2026 at 02:00 and falls back on 25 October.
SPRING_EVE = datetime(2026, 3, 28, 22, 0, tzinfo=PARIS)
AUTUMN_NIGHT = datetime(2026, 10, 25, 1, 30, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        # An elapsed time counts real seconds: five hours after 22:00 is 04:00 once the
        # clocks have skipped an hour.
        ("in 5 hours", SPRING_EVE, "2026-03-29T04:00:00+02:00"),
        # A wall-clock time the change skips moves on by the change.
        ("tomorrow at 2:30 am", SPRING_EVE, "2026-03-29T03:30:00+02:00"),
        ("tomorrow at 9", SPRING_EVE, "2026-03-29T09:00:00+02:00"),
        ("in an hour", AUTUMN_NIGHT, "2026-10-25T02:30:00+02:00"),
        ("in 2 hours", AUTUMN_NIGHT, "2026-10-25T02:30:00+01:00"),
        ("at 9 am", AUTUMN_NIGHT, "2026-10-25T09:00:00+01:00"),
    ],
)
def test_parse_time_across_clock_changes(text: str, now: datetime, expected: str) -> None:
    when = parse_time(text, now)
    assert when is not None
    assert when.isoformat() == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (30, "30 seconds"),
        (29.6, "30 seconds"),
        (60, "1 minute"),
        (90, "1 minute and 30 seconds"),
        (150, "2 minutes and 30 seconds"),
        (3600, "1 hour"),
        (3900, "1 hour and 5 minutes"),
        (3605, "1 hour and 5 seconds"),
        (7325, "2 hours, 2 minutes and 5 seconds"),
        (86400, "1 day"),
        (93603, "1 day, 2 hours and 3 seconds"),
        (0, "0 seconds"),
    ],
)
def test_describe_duration(seconds: float, text: str) -> None:
    assert describe_duration(seconds) == text


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 12, 7, 18, 0, tzinfo=PARIS), "6:00 PM"),
        (datetime(2026, 12, 7, 18, 5, tzinfo=PARIS), "6:05 PM"),
        (datetime(2026, 12, 7, 12, 0, tzinfo=PARIS), "12:00 PM"),
        (datetime(2026, 12, 8, 0, 0, tzinfo=PARIS), "tomorrow at 12:00 AM"),
        (datetime(2026, 12, 8, 7, 0, tzinfo=PARIS), "tomorrow at 7:00 AM"),
        (datetime(2026, 12, 6, 21, 15, tzinfo=PARIS), "yesterday at 9:15 PM"),
        (datetime(2026, 12, 9, 9, 30, tzinfo=PARIS), "Wednesday at 9:30 AM"),
        (datetime(2026, 12, 13, 23, 59, tzinfo=PARIS), "Sunday at 11:59 PM"),
        (datetime(2026, 12, 14, 9, 30, tzinfo=PARIS), "Monday, 14 December at 9:30 AM"),
        (datetime(2027, 1, 1, 12, 0, tzinfo=PARIS), "Friday, 1 January 2027 at 12:00 PM"),
        # Another zone's moment is told on the user's clock.
        (datetime(2026, 12, 7, 17, 0, tzinfo=UTC), "6:00 PM"),
        (datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "tomorrow at 1:00 AM"),
    ],
)
def test_describe_time(when: datetime, text: str) -> None:
    assert describe_time(when, MONDAY_EVENING) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("English", "en"),
        ("spanish", "es"),
        ("Spanish", "es"),
        ("the German language", "de"),
        ("in French", "fr"),
        ("into Italian", "it"),
        ("Mandarin", "zh"),
        ("Chinese", "zh"),
        ("Brazilian Portuguese", "pt"),
        ("Japanese", "ja"),
        ("Korean", "ko"),
        ("Hindi", "hi"),
        ("Bengali", "bn"),
        ("Arabic", "ar"),
        ("Russian", "ru"),
        ("Farsi", "fa"),
        ("Persian", "fa"),
        ("Norwegian", "nb"),
        ("Swahili", "sw"),
        ("Tagalog", "tl"),
        ("Scottish Gaelic", "gd"),
        ("Irish", "ga"),
        ("Español", "es"),
        ("Deutsch", "de"),
        ("Français", "fr"),
        ("VIETNAMESE", "vi"),
    ],
)
def test_parse_language(text: str, code: str) -> None:
    assert parse_language(text) == code


@pytest.mark.parametrize("text", ["", "Klingon", "es", "banana", "French fries", "language"])
def test_parse_language_declines(text: str) -> None:
    assert parse_language(text) is None


def test_every_language_a_model_lists_has_a_name() -> None:
    manifest = load_manifest()
    listed = {code for model in manifest.models.values() for code in model.languages}
    assert listed, "the manifest lists no languages"
    named = {parse_language(name) for name in parse._LANGUAGES}
    assert listed - named == set()


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Tokyo", "Asia/Tokyo"),
        ("tokyo", "Asia/Tokyo"),
        ("New York", "America/New_York"),
        ("new york city", "America/New_York"),
        ("NYC", "America/New_York"),
        ("New_York", "America/New_York"),
        ("America/New_York", "America/New_York"),
        ("Los Angeles", "America/Los_Angeles"),
        ("San Francisco", "America/Los_Angeles"),
        ("London", "Europe/London"),
        ("Paris", "Europe/Paris"),
        ("Paris, France", "Europe/Paris"),
        ("Portland, Oregon", "America/Los_Angeles"),
        ("Berlin", "Europe/Berlin"),
        ("Munich", "Europe/Berlin"),
        ("Beijing", "Asia/Shanghai"),
        ("Shanghai", "Asia/Shanghai"),
        ("Hong Kong", "Asia/Hong_Kong"),
        ("Mumbai", "Asia/Kolkata"),
        ("New Delhi", "Asia/Kolkata"),
        ("Sydney", "Australia/Sydney"),
        ("Canberra", "Australia/Sydney"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Brasília", "America/Sao_Paulo"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
        ("Mexico City", "America/Mexico_City"),
        ("Washington, D.C.", "America/New_York"),
        ("Ottawa", "America/Toronto"),
        ("Cairo", "Africa/Cairo"),
        ("Lagos", "Africa/Lagos"),
        ("Abuja", "Africa/Lagos"),
        ("Nairobi", "Africa/Nairobi"),
        ("Johannesburg", "Africa/Johannesburg"),
        ("Cape Town", "Africa/Johannesburg"),
        ("Dubai", "Asia/Dubai"),
        ("Istanbul", "Europe/Istanbul"),
        ("Ankara", "Europe/Istanbul"),
        ("Moscow", "Europe/Moscow"),
        ("Kyiv", "Europe/Kyiv"),
        ("Kiev", "Europe/Kyiv"),
        ("Seoul", "Asia/Seoul"),
        ("Singapore", "Asia/Singapore"),
        ("Bangkok", "Asia/Bangkok"),
        ("Jakarta", "Asia/Jakarta"),
        ("Manila", "Asia/Manila"),
        ("Wellington", "Pacific/Auckland"),
        ("Reykjavík", "Atlantic/Reykjavik"),
        ("Kathmandu", "Asia/Kathmandu"),
        ("Honolulu", "Pacific/Honolulu"),
        ("Port-au-Prince", "America/Port-au-Prince"),
        ("Dar es Salaam", "Africa/Dar_es_Salaam"),
        ("Japan", "Asia/Tokyo"),
        ("UK", "Europe/London"),
        ("UTC", "UTC"),
        ("  lisbon ", "Europe/Lisbon"),
    ],
)
def test_city_time_zone(text: str, zone: str) -> None:
    assert city_time_zone(text) == zone


@pytest.mark.parametrize(
    "text",
    ["", "Atlantis", "Gotham", "banana", "Santiago de Compostela", "Springfield", "Australia"],
)
def test_city_time_zone_declines(text: str) -> None:
    assert city_time_zone(text) is None


def test_every_named_zone_exists() -> None:
    available = zoneinfo.available_timezones()
    assert {zone for zone in parse._CITIES.values() if zone not in available} == set()


def test_every_zone_city_is_found() -> None:
    """The city of every region zone, spelled as people write it, finds a zone at the same
    offset (a link such as Europe/Kiev may give its target, Europe/Kyiv), unless the name
    is taken by a better-known city (San Juan, Puerto Rico over San Juan, Argentina)."""
    regions = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/")
    for zone in zoneinfo.available_timezones():
        if not zone.startswith((*regions, "Indian/", "Pacific/", "Antarctica/", "Arctic/")):
            continue
        city = zone.rsplit("/", 1)[-1].replace("_", " ")
        if city.lower().replace("-", " ") in parse._CITIES:
            continue
        found = city_time_zone(city)
        assert found is not None, city
        naive = MONDAY_EVENING.replace(tzinfo=None)
        assert ZoneInfo(found).utcoffset(naive) == ZoneInfo(zone).utcoffset(naive), city


# --- round trips ------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=30 * 86400))
def test_describe_duration_reads_back(seconds: int) -> None:
    assert parse_duration(describe_duration(seconds)) == seconds


ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Lord_Howe",  # half-hour daylight saving
    "Pacific/Chatham",  # UTC+12:45
    "America/St_Johns",
    "Pacific/Apia",
]


@given(
    zone=st.sampled_from(ZONES),
    now_seconds=st.integers(
        min_value=int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()),
        max_value=int(datetime(2040, 1, 1, tzinfo=UTC).timestamp()),
    ),
    ahead_minutes=st.one_of(
        st.integers(min_value=1, max_value=7 * 24 * 60),  # within the week: by weekday
        st.integers(min_value=1, max_value=3 * 366 * 24 * 60),  # later: by date
    ),
)
def test_describe_time_reads_back(zone: str, now_seconds: int, ahead_minutes: int) -> None:
    """A moment to come, said the way the assistant says it, reads back as that moment
    (to the minute the assistant speaks)."""
    tz = ZoneInfo(zone)
    now = datetime.fromtimestamp(now_seconds, tz)
    when = datetime.fromtimestamp((now_seconds // 60 + ahead_minutes) * 60, tz)
    # An hour the clocks go through twice cannot be told apart by its name.
    assume(when.replace(fold=1 - when.fold).utcoffset() == when.utcoffset())
    assert parse_time(describe_time(when, now), now) == when


@given(st.text(max_size=40))
def test_parsers_never_raise(text: str) -> None:
    parse_number(text)
    seconds = parse_duration(text)
    assert seconds is None or seconds > 0
    when = parse_time(text, MONDAY_EVENING)
    assert when is None or when.tzinfo is PARIS
    parse_language(text)
    city_time_zone(text)


PARSER_WORDS = [
    "a",
    "an",
    "and",
    "half",
    "quarter",
    "past",
    "to",
    "one",
    "two",
    "six",
    "twelve",
    "thirty",
    "pm",
    "am",
    "at",
    "in",
    "the",
    "morning",
    "tomorrow",
    "monday",
    "minutes",
    "hours",
    "hour",
    "5",
    "30",
    "1:30",
    "o'clock",
    "noon",
]


@given(
    st.lists(
        st.sampled_from(PARSER_WORDS),
        max_size=6,
    )
)
def test_parsers_never_raise_on_their_own_words(words: list[str]) -> None:
    text = " ".join(words)
    parse_number(text)
    seconds = parse_duration(text)
    assert seconds is None or seconds > 0
    when = parse_time(text, MONDAY_EVENING)
    assert when is None or when.tzinfo is PARIS
