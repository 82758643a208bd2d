"""The notification service and its outbox on a manual clock, with recording channels."""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.errors import Conflict, Forbidden, InvalidInput, NotFound
from assistant.notifications.channels.base import Outcome
from assistant.notifications.models import HistoryQuery, NotificationChange, NotificationDraft
from assistant.notifications.service import NotificationOptions, retry_delay
from assistant.profile.models import NotificationPreferences, ProfileFields
from tests.notifications.conftest import World


def draft(**fields: Any) -> NotificationDraft:
    return NotificationDraft.model_validate({"title": "Tea", "body": "is ready", **fields})


def deliveries(world: World, user_id: str, notification_id: str) -> dict[str, str]:
    found = world.service.get(user_id, notification_id)
    return {d.channel: d.status for d in found.deliveries}


async def test_a_notification_is_stored_queued_per_channel_and_sent(world: World) -> None:
    [sent] = world.service.send(world.bob, draft(priority="high", tags=["tea"]))
    assert sent.status == "active" and sent.priority == 4
    assert deliveries(world, world.bob.user_id, sent.id) == {
        "desktop": "queued",
        "companion": "queued",  # no stream open: pending until one connects
        "webpush": "skipped",  # no subscription
        "fcm": "skipped",
        "apns": "skipped",
    }
    assert await world.notifications.dispatcher.run_once() == 1
    [message] = world.desktop.sent
    assert message.action == "show" and message.notification.title == "Tea"
    assert deliveries(world, world.bob.user_id, sent.id)["desktop"] == "sent"


async def test_scheduled_delivery_waits_for_its_time(world: World) -> None:
    [sent] = world.service.send(world.bob, draft(delay="10m"))
    assert sent.status == "scheduled"
    assert world.service.next_due() == world.clock() + 600
    await world.notifications.dispatcher.run_once()
    assert world.desktop.sent == []
    world.clock.advance(599)
    await world.notifications.dispatcher.run_once()
    assert world.desktop.sent == []
    world.clock.advance(1)
    await world.notifications.dispatcher.run_once()
    assert [m.notification.id for m in world.desktop.sent] == [sent.id]
    assert world.service.get(world.bob.user_id, sent.id).status == "active"


async def test_quiet_hours_hold_until_they_end_unless_urgent(world: World) -> None:
    # 08:00 UTC is 09:00 in Paris; quiet from 08:30 to 10:00 there.
    world.services.profile.update_profile(
        world.bob.user_id, ProfileFields(time_zone="Europe/Paris"), replace=False
    )
    world.service.put_preferences(
        world.bob.user_id,
        NotificationPreferences.model_validate(
            {"quiet_hours": {"start": "08:30", "end": "10:00", "bypass_priority": 5}}
        ),
    )
    [held] = world.service.send(world.bob, draft(priority=4))
    [urgent] = world.service.send(world.bob, draft(priority="urgent", title="Smoke alarm"))
    assert held.status == "held" and held.held_reason == "quiet_hours"
    assert urgent.status == "active"
    await world.notifications.dispatcher.run_once()
    assert [m.notification.id for m in world.desktop.sent] == [urgent.id]
    assert world.service.next_due() == world.clock() + 3600  # 10:00 Paris
    world.clock.advance(3599)
    await world.notifications.dispatcher.run_once()
    assert len(world.desktop.sent) == 1
    world.clock.advance(1)
    await world.notifications.dispatcher.run_once()
    assert [m.notification.id for m in world.desktop.sent] == [urgent.id, held.id]
    assert world.service.get(world.bob.user_id, held.id).status == "active"


async def test_do_not_disturb_holds_and_ending_it_releases(world: World) -> None:
    world.service.put_preferences(
        world.bob.user_id,
        NotificationPreferences.model_validate(
            {"do_not_disturb_until": "2027-01-15T12:00:00+00:00"}
        ),
    )
    [held] = world.service.send(world.bob, draft())
    assert held.status == "held" and held.held_reason == "do_not_disturb"
    world.service.put_preferences(world.bob.user_id, NotificationPreferences())
    # Held notifications wait for their time; ending DND early makes them due again.
    world.service.update(world.bob.user_id, held.id, NotificationChange(deliver_at=None))
    assert world.service.get(world.bob.user_id, held.id).status == "active"


async def test_category_and_channel_preferences_choose_channels(world: World) -> None:
    world.service.put_preferences(
        world.bob.user_id,
        NotificationPreferences.model_validate(
            {
                "min_priority": {"desktop": 3},
                "categories": {"chores": {"channels": ["companion"]}},
            }
        ),
    )
    [low] = world.service.send(world.bob, draft(priority="low"))
    [chore] = world.service.send(world.bob, draft(category="chores", priority=5))
    low_channels = world.service.get(world.bob.user_id, low.id).deliveries
    desktop = next(d for d in low_channels if d.channel == "desktop")
    assert desktop.status == "skipped" and "minimum 3" in (desktop.error or "")
    assert deliveries(world, world.bob.user_id, chore.id)["desktop"] == "skipped"
    assert deliveries(world, world.bob.user_id, chore.id)["companion"] == "queued"


async def test_preferences_live_in_the_profile(world: World) -> None:
    wanted = NotificationPreferences.model_validate(
        {"channels": ["desktop"], "quiet_hours": {"start": "23:00", "end": "06:30"}}
    )
    world.service.put_preferences(world.bob.user_id, wanted)
    stored = world.services.profile.get_preferences(world.bob.user_id).preferences
    assert stored.notifications == wanted
    # Replacing removes categories that are left out (a merge patch would keep them).
    world.service.put_preferences(
        world.bob.user_id,
        NotificationPreferences.model_validate({"categories": {"a": {}, "b": {}}}),
    )
    world.service.put_preferences(
        world.bob.user_id, NotificationPreferences.model_validate({"categories": {"b": {}}})
    )
    prefs, _ = world.service.get_preferences(world.bob.user_id)
    assert list(prefs.categories) == ["b"] and prefs.channels == list(
        NotificationPreferences().channels
    )


async def test_collapse_key_replaces_the_earlier_one_everywhere(world: World) -> None:
    [first] = world.service.send(world.bob, draft(collapse_key="timer-1", body="5 min left"))
    await world.notifications.dispatcher.run_once()
    [second] = world.service.send(world.bob, draft(collapse_key="timer-1", body="1 min left"))
    await world.notifications.dispatcher.run_once()
    old = world.service.get(world.bob.user_id, first.id)
    assert old.status == "replaced" and old.replaced_by == second.id
    # The desktop replaces the popup in place (same id), it does not stack a second one.
    assert world.desktop.sent[1].remote_id == "1"
    events, _ = world.service.replay(world.bob.user_id, 0)
    assert [(e.kind, e.notification_id) for e in events] == [
        ("new", first.id),
        ("withdrawn", first.id),
        ("new", second.id),
    ]
    assert events[1].payload["replaced_by"] == second.id


async def test_update_and_withdraw_reach_every_channel(world: World) -> None:
    [sent] = world.service.send(world.bob, draft())
    await world.notifications.dispatcher.run_once()
    world.service.update(world.bob.user_id, sent.id, NotificationChange(body="is cold now"))
    await world.notifications.dispatcher.run_once()
    world.service.withdraw(world.bob.user_id, sent.id)
    await world.notifications.dispatcher.run_once()
    assert [(m.action, m.notification.body, m.remote_id) for m in world.desktop.sent] == [
        ("show", "is ready", None),
        ("update", "is cold now", "1"),
        ("withdraw", "is cold now", "2"),
    ]
    with pytest.raises(Conflict):
        world.service.update(world.bob.user_id, sent.id, NotificationChange(body="again"))
    kinds = [e.kind for e in world.service.replay(world.bob.user_id, 0)[0]]
    assert kinds == ["new", "updated", "withdrawn"]


async def test_a_scheduled_notification_is_withdrawn_silently(world: World) -> None:
    [sent] = world.service.send(world.bob, draft(delay="1h"))
    world.service.withdraw(world.bob.user_id, sent.id)
    world.clock.advance(3600)
    await world.notifications.dispatcher.run_once()
    assert world.desktop.sent == []
    assert world.service.replay(world.bob.user_id, 0)[0] == []


async def test_transient_failures_retry_with_backoff_then_succeed(world: World) -> None:
    world.service.draw = lambda: 0.5  # no jitter
    world.desktop.script.extend(
        [Outcome("retry", error="busy"), Outcome("retry", error="busy", retry_after_seconds=30)]
    )
    [sent] = world.service.send(world.bob, draft())
    await world.notifications.dispatcher.run_once()
    first = world.service.get(world.bob.user_id, sent.id)
    desktop = next(d for d in first.deliveries if d.channel == "desktop")
    assert desktop.status == "queued" and desktop.attempts == 1 and desktop.error == "busy"
    assert desktop.next_attempt_at == int(world.clock() * 1000) + 2000
    world.clock.advance(2)
    await world.notifications.dispatcher.run_once()
    second = next(
        d
        for d in world.service.get(world.bob.user_id, sent.id).deliveries
        if d.channel == "desktop"
    )
    assert second.next_attempt_at == int(world.clock() * 1000) + 30_000  # Retry-After wins
    world.clock.advance(30)
    await world.notifications.dispatcher.run_once()
    assert deliveries(world, world.bob.user_id, sent.id)["desktop"] == "sent"
    assert len(world.desktop.sent) == 3


async def test_a_delivery_fails_after_the_last_attempt(world: World) -> None:
    world.service.options = NotificationOptions(max_attempts=2, retry_base_seconds=1)
    world.desktop.script.extend([Outcome("retry", error="down")] * 2)
    [sent] = world.service.send(world.bob, draft())
    await world.notifications.dispatcher.run_once()
    world.clock.advance(10)
    await world.notifications.dispatcher.run_once()
    [desktop] = [
        d
        for d in world.service.get(world.bob.user_id, sent.id).deliveries
        if d.channel == "desktop"
    ]
    assert desktop.status == "failed" and desktop.attempts == 2
    assert "gave up after 2 attempts" in (desktop.error or "")


@pytest.mark.parametrize(
    ("attempts", "draw", "expected"),
    [(1, 0.5, 2.0), (2, 0.5, 4.0), (3, 0.0, 6.4), (3, 1.0, 9.6), (40, 0.5, 3600.0)],
)
def test_retry_delay_doubles_with_jitter_and_a_cap(
    attempts: int, draw: float, expected: float
) -> None:
    assert retry_delay(attempts, NotificationOptions(), draw) == pytest.approx(expected)


async def test_an_expired_notification_is_not_delivered(world: World) -> None:
    [sent] = world.service.send(world.bob, draft(delay="1h", expires_at="2027-01-15T09:30:00Z"))
    world.clock.advance(2 * 3600)  # the device was off when it was due
    await world.notifications.dispatcher.run_once()
    assert world.service.get(world.bob.user_id, sent.id).status == "expired"
    assert world.desktop.sent == []


async def test_read_dismiss_and_actions_are_state_of_the_user(world: World) -> None:
    [sent] = world.service.send(
        world.bob,
        draft(actions=[{"kind": "callback", "id": "snooze", "label": "Snooze 5 min"}]),
    )
    await world.notifications.dispatcher.run_once()
    # A person clicks the desktop button: the channel's feedback marks it read.
    assert world.desktop.feedback is not None
    world.desktop.feedback("desktop", "1", "action", "snooze")
    found = world.service.get(world.bob.user_id, sent.id)
    assert found.read_at is not None
    assert {d.channel: d.status for d in found.deliveries}["desktop"] == "read"
    world.service.dismiss(world.bob.user_id, sent.id)
    events, _ = world.service.replay(world.bob.user_id, 0)
    assert [e.kind for e in events] == ["new", "read", "action", "dismissed"]
    assert events[2].payload["action"] == "snooze"
    with pytest.raises(NotFound):
        world.service.act(world.bob.user_id, sent.id, "nope")


async def test_read_all_and_history_filters(world: World) -> None:
    ids = [world.service.send(world.bob, draft(priority=p))[0].id for p in (1, 3, 5)]
    assert world.service.read_all(world.bob.user_id) == 3
    assert world.service.read_all(world.bob.user_id) == 0
    world.service.send(world.bob, draft(category="reminder"))
    unread = world.service.history(world.bob.user_id, HistoryQuery(unread=True))
    assert [n.category for n in unread] == ["reminder"]
    urgent = world.service.history(world.bob.user_id, HistoryQuery(priority_at_least=4))
    assert [n.id for n in urgent] == [ids[2]]
    page = world.service.history(world.bob.user_id, HistoryQuery(limit=2))
    older = world.service.history(world.bob.user_id, HistoryQuery(limit=2, before=page[-1].id))
    assert [n.id for n in older] == ids[1::-1]


async def test_other_users_notifications_are_not_found(world: World) -> None:
    [mine] = world.service.send(world.ada, draft())
    for call in (world.service.get, world.service.mark_read, world.service.withdraw):
        with pytest.raises(NotFound):
            call(world.bob.user_id, mine.id)


async def test_only_admins_notify_others(world: World) -> None:
    with pytest.raises(Forbidden):
        world.service.send(world.bob, draft(user="ada"))
    sent = world.service.send(world.ada, draft(user="bob"))
    assert [n.user_id for n in sent] == [world.bob.user_id]
    everyone = world.service.send(world.ada, draft(all_users=True))
    assert {n.user_id for n in everyone} == {world.ada.user_id, world.bob.user_id}
    with pytest.raises(InvalidInput) as raised:
        world.service.send(world.ada, draft(user="nobody"))
    assert raised.value.field == "user"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "gossip"}, "category"),
        ({"deliver_at": "2027-01-15T07:58:00Z"}, "deliver_at"),  # 2 minutes ago
        ({"deliver_at": "2029-01-15T07:58:00Z"}, "deliver_at"),  # too far ahead
        ({"expires_at": "2027-01-15T07:00:00Z"}, "expires_at"),
    ],
)
async def test_bad_input_names_the_field(world: World, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        world.service.send(world.bob, draft(**fields))
    assert raised.value.field == field


async def test_a_deliver_at_just_past_counts_as_now(world: World) -> None:
    [sent] = world.service.send(world.bob, draft(deliver_at="2027-01-15T07:59:30Z"))
    assert sent.status == "active"


async def test_a_category_named_in_preferences_is_accepted(world: World) -> None:
    world.service.put_preferences(
        world.bob.user_id,
        NotificationPreferences.model_validate({"categories": {"gossip": {"enabled": False}}}),
    )
    [sent] = world.service.send(world.bob, draft(category="gossip"))
    assert sent.category == "gossip"
    assert set(deliveries(world, world.bob.user_id, sent.id).values()) == {"skipped"}


async def test_an_interrupted_send_is_queued_again_on_start(world: World) -> None:
    world.service.send(world.bob, draft())
    [work] = world.service.claim()
    assert work.channel == "desktop"  # now "sending"; the process dies here
    assert world.service.claim() == []
    assert world.service.recover() == 1
    assert [w.channel for w in world.service.claim()] == ["desktop"]


async def test_every_notification_sent_is_an_analytics_event(world: World) -> None:
    world.service.send(world.bob, draft(priority="high"))
    world.service.send(world.ada, draft(user="bob", delay="10m"))
    world.services.analytics.emitter.flush()
    with world.services.db.read() as conn:
        rows = conn.all(
            "SELECT user_id, properties FROM analytics_events WHERE name = 'notification.send'"
        )
    sent = [(r["user_id"], json.loads(r["properties"])) for r in rows]
    assert [(who, p["priority"], p["scheduled"], p["sender"]) for who, p in sent] == [
        (world.bob.user_id, 4, False, "self"),
        (world.bob.user_id, 3, True, "admin"),
    ]
