"""Which channels a notification goes to, and whether it waits: pure, no clock, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from assistant.notifications.models import CHANNELS
from assistant.profile.models import NotificationPreferences, QuietHours


@dataclass(frozen=True)
class Plan:
    """What the preferences decide for one notification at one moment."""

    hold_until: datetime | None
    """Wait until then (quiet hours, do-not-disturb); None: deliver now."""
    hold_reason: str | None
    """quiet_hours or do_not_disturb."""
    skipped: dict[str, str]
    """Channels not used, with the reason."""
    channels: tuple[str, ...]
    """Channels to deliver on."""


def quiet_hours_end(quiet: QuietHours, now: datetime) -> datetime | None:
    """When the quiet window that ``now`` (aware, in the user's zone) falls in ends; None
    when ``now`` is outside it. A window whose start equals its end is never quiet."""
    start, end = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    if start == end:
        return None
    local, zone = now.time().replace(tzinfo=None), now.tzinfo
    today = now.date()
    if start < end:
        inside, end_day = start <= local < end, today
    elif local >= start:
        inside, end_day = True, today + timedelta(days=1)
    else:
        inside, end_day = local < end, today
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone)


def plan(
    preferences: NotificationPreferences,
    category: str,
    priority: int,
    now: datetime,
    zone: ZoneInfo,
) -> Plan:
    """Decide for a notification of ``category`` and ``priority`` at ``now`` (aware)."""
    local = now.astimezone(zone)
    category_prefs = preferences.categories.get(category)
    if not preferences.enabled:
        return Plan(None, None, dict.fromkeys(CHANNELS, "notifications are turned off"), ())
    if category_prefs is not None and not category_prefs.enabled:
        return Plan(None, None, dict.fromkeys(CHANNELS, f"category {category} is turned off"), ())
    bypass = preferences.quiet_hours.bypass_priority if preferences.quiet_hours else 5
    holds: list[tuple[datetime, str]] = []
    if priority < bypass:
        if preferences.quiet_hours is not None:
            end = quiet_hours_end(preferences.quiet_hours, local)
            if end is not None:
                holds.append((end, "quiet_hours"))
        if preferences.do_not_disturb_until is not None:
            until = datetime.fromisoformat(preferences.do_not_disturb_until)
            if until > now:
                holds.append((until, "do_not_disturb"))
    wanted = (
        category_prefs.channels
        if category_prefs is not None and category_prefs.channels is not None
        else preferences.channels
    )
    skipped: dict[str, str] = {}
    chosen: list[str] = []
    for channel in CHANNELS:
        if channel not in wanted:
            skipped[channel] = "not among the chosen channels"
            continue
        minimum = preferences.min_priority.get(channel, 1)
        if category_prefs is not None:
            minimum = category_prefs.min_priority.get(channel, minimum)
        if priority < minimum:
            skipped[channel] = f"priority {priority} is below this channel's minimum {minimum}"
            continue
        chosen.append(channel)
    if holds:
        until, reason = max(holds)
        return Plan(until.astimezone(UTC), reason, skipped, tuple(chosen))
    return Plan(None, None, skipped, tuple(chosen))
