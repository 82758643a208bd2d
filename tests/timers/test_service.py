"""The timer service on a manual clock: timers, reminders and their firing."""

from __future__ import annotations

import asyncio

import pytest

from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.timers import AmbiguousTimer, Fired, TimerService, TimerState
from assistant.timers.models import duration_adjective
from tests.timers.conftest import World


def test_a_timer_counts_down_pauses_and_resumes(world: World) -> None:
    timer = world.timers.start(world.ada, 600, "pasta")
    assert timer.state is TimerState.RUNNING and timer.name == "pasta"
    assert timer.remaining(world.clock()) == 600
    world.clock.advance(120)
    assert world.timers.remaining(world.ada, name="pasta").remaining(world.clock()) == 480
    paused = world.timers.pause(world.ada, name="the pasta timer")
    assert paused.state is TimerState.PAUSED and paused.ends_at is None
    world.clock.advance(1000)  # a paused timer keeps what was left
    assert world.timers.get(world.ada, timer.id).remaining(world.clock()) == 480
    resumed = world.timers.resume(world.ada, timer_id=timer.id)
    assert resumed.state is TimerState.RUNNING
    assert resumed.ends_at == world.clock() + 480


def test_pausing_a_paused_timer_or_resuming_a_running_one_is_a_conflict(world: World) -> None:
    timer = world.timers.start(world.ada, 60)
    with pytest.raises(Conflict, match="already running"):
        world.timers.resume(world.ada, timer_id=timer.id)
    world.timers.pause(world.ada, timer_id=timer.id)
    with pytest.raises(Conflict, match="already paused"):
        world.timers.pause(world.ada, timer_id=timer.id)


def test_several_timers_run_at_once_and_are_found_by_name(world: World) -> None:
    pasta = world.timers.start(world.ada, 480, "pasta")
    eggs = world.timers.start(world.ada, 300, "Eggs")
    assert [t.id for t in world.timers.list(world.ada)] == [eggs.id, pasta.id]
    # "the egg timer" finds "Eggs"; case and the plural do not matter.
    assert world.timers.find(world.ada, name="the egg timer").id == eggs.id
    cancelled = world.timers.cancel(world.ada, name="pasta")
    assert cancelled.state is TimerState.CANCELLED
    assert [t.id for t in world.timers.list(world.ada)] == [eggs.id]
    # One left: "cancel the timer" needs no name.
    assert world.timers.cancel(world.ada).id == eggs.id
    with pytest.raises(NotFound, match="no timers"):
        world.timers.cancel(world.ada)


def test_several_running_and_none_named_says_which(world: World) -> None:
    world.timers.start(world.ada, 480, "pasta")
    world.timers.start(world.ada, 300)
    with pytest.raises(AmbiguousTimer) as caught:
        world.timers.cancel(world.ada)
    assert caught.value.detail == (
        "You have 2 timers: the 5 minute timer and the pasta timer. Which one do you mean?"
    )
    assert len(caught.value.fields["choices"]) == 2
    assert isinstance(caught.value, Conflict)


def test_pause_without_a_name_picks_the_only_running_one(world: World) -> None:
    first = world.timers.start(world.ada, 480, "pasta")
    second = world.timers.start(world.ada, 300, "eggs")
    world.timers.pause(world.ada, timer_id=first.id)
    assert world.timers.pause(world.ada).id == second.id  # the only running one
    with pytest.raises(AmbiguousTimer):
        world.timers.resume(world.ada)  # two paused now


def test_names_are_unique_among_active_timers_and_users_are_apart(world: World) -> None:
    world.timers.start(world.ada, 60, "tea")
    with pytest.raises(Conflict, match="already have a tea timer"):
        world.timers.start(world.ada, 90, "Tea")
    world.timers.start(world.bob, 60, "tea")  # another user's
    with pytest.raises(NotFound, match="no coffee timer"):
        world.timers.cancel(world.ada, name="coffee")
    [bobs] = world.timers.list(world.bob)
    with pytest.raises(NotFound):
        world.timers.get(world.ada, bobs.id)


@pytest.mark.parametrize(
    ("seconds", "name", "field"),
    [
        (0, None, "seconds"),
        (-5, None, "seconds"),
        (float("nan"), None, "seconds"),
        (8 * 86_400, None, "seconds"),
        (60, "x" * 65, "name"),
        (60, "a\nb", "name"),
    ],
)
def test_bad_timers_name_the_field(
    world: World, seconds: float, name: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.timers.start(world.ada, seconds, name)
    assert caught.value.field == field


async def test_a_timer_fires_once_with_a_notification_and_the_listener(world: World) -> None:
    timer = world.timers.start(world.ada, 480, "pasta")
    assert world.timers.next_due() == world.clock() + 480
    world.clock.advance(479)
    assert await world.timers.fire_due() == []
    world.clock.advance(1)
    [fired] = await world.timers.fire_due()
    assert fired == Fired(
        kind="timer",
        id=timer.id,
        user_id=world.ada,
        name="pasta",
        spoken="Your pasta timer is done.",
        due_at=timer.ends_at or 0,
        fired_at=world.clock(),
    )
    assert world.heard == [fired]
    assert world.timers.get(world.ada, timer.id).state is TimerState.FIRED
    [note] = world.notifications(world.ada)
    assert (note.category, note.title, note.body) == ("timer", "Timer done", fired.spoken)
    assert note.data == {"timer_id": timer.id} and note.status == "active"
    # Never again.
    world.clock.advance(3600)
    assert await world.timers.fire_due() == []
    assert len(world.heard) == 1 and len(world.notifications(world.ada)) == 1
    assert world.timers.list(world.ada) == []
    with pytest.raises(Conflict, match="already gone off"):
        world.timers.cancel(world.ada, timer_id=timer.id)


async def test_a_paused_or_cancelled_timer_does_not_fire(world: World) -> None:
    paused = world.timers.start(world.ada, 60, "paused")
    cancelled = world.timers.start(world.ada, 60, "cancelled")
    world.timers.pause(world.ada, timer_id=paused.id)
    world.timers.cancel(world.ada, timer_id=cancelled.id)
    world.clock.advance(3600)
    assert await world.timers.fire_due() == []
    assert world.timers.next_due() is None


async def test_an_unnamed_timer_is_spoken_of_by_its_length(world: World) -> None:
    world.timers.start(world.ada, 90)
    world.clock.advance(90)
    [fired] = await world.timers.fire_due()
    assert fired.name is None and fired.spoken == "Your 1 minute 30 second timer is done."


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(600, "10 minute"), (45, "45 second"), (5400, "1 hour 30 minute"), (3600, "1 hour")],
)
def test_duration_adjective(seconds: float, words: str) -> None:
    assert duration_adjective(seconds) == words


async def test_a_failing_listener_does_not_stop_the_others(world: World) -> None:
    async def broken(fired: Fired) -> None:
        raise RuntimeError("speaker unplugged")

    world.timers.listeners.insert(0, broken)
    world.timers.start(world.ada, 1)
    world.clock.advance(1)
    assert len(await world.timers.fire_due()) == 1
    assert len(world.heard) == 1


async def test_two_services_on_one_database_fire_a_timer_once(world: World) -> None:
    # A second service (another process's) racing for the same rows: the
    # compare-and-set gives each timer to exactly one of them.
    other = TimerService(world.services.db, world.services.notifications.service, clock=world.clock)
    for n in range(20):
        world.timers.start(world.ada, 10 + n % 3, f"t{n}")
    world.clock.advance(60)
    mine, theirs = await asyncio.gather(world.timers.fire_due(), other.fire_due())
    ids = [f.id for f in mine + theirs]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert len(world.notifications(world.ada)) == 20


async def test_a_fire_claimed_by_a_crashed_process_is_finished_after_the_lease(
    world: World,
) -> None:
    timer = world.timers.start(world.ada, 10, "bread")
    world.clock.advance(10)
    # A process claims it and dies before sending the notification.
    world.timers._claim_due(world.clock())
    assert world.notifications(world.ada) == []
    world.clock.advance(30)  # within the lease: it may still be working on it
    assert await world.timers.fire_due() == []
    world.clock.advance(31)
    [fired] = await world.timers.fire_due()
    assert fired.id == timer.id and fired.spoken == "Your bread timer is done."
    assert len(world.notifications(world.ada)) == 1
    world.clock.advance(600)
    assert await world.timers.fire_due() == []


# Reminders ------------------------------------------------------------------------------


async def test_a_reminder_fires_once_with_a_notification(world: World) -> None:
    reminder = world.timers.add_reminder(world.ada, "call  Mum", world.clock() + 3600)
    assert reminder.text == "call Mum"
    assert [r.id for r in world.timers.reminders(world.ada)] == [reminder.id]
    world.clock.advance(3600)
    [fired] = await world.timers.fire_due()
    assert (fired.kind, fired.name, fired.spoken) == ("reminder", "call Mum", "Reminder: call Mum.")
    [note] = world.notifications(world.ada)
    assert (note.category, note.body) == ("reminder", "Reminder: call Mum.")
    assert world.timers.reminders(world.ada) == []
    assert await world.timers.fire_due() == []


def test_reminders_are_cancelled_by_their_words(world: World) -> None:
    mum = world.timers.add_reminder(world.ada, "call Mum", world.clock() + 60)
    world.timers.add_reminder(world.ada, "take the bins out", world.clock() + 120)
    with pytest.raises(Conflict, match="Which one"):
        world.timers.cancel_reminder(world.ada)
    assert world.timers.cancel_reminder(world.ada, text="Call mum.").id == mum.id
    with pytest.raises(NotFound, match="no reminder to feed the cat"):
        world.timers.cancel_reminder(world.ada, text="feed the cat")
    assert world.timers.cancel_reminder(world.ada, text="bins").text == "take the bins out"
    with pytest.raises(Conflict):
        world.timers.cancel_reminder(world.ada, reminder_id=mum.id)


@pytest.mark.parametrize(
    ("text", "offset", "field"),
    [
        ("", 60, "text"),
        ("x" * 501, 60, "text"),
        ("ok", -3600, "due_at"),
        ("ok", 400 * 86_400, "due_at"),
    ],
)
def test_bad_reminders_name_the_field(world: World, text: str, offset: float, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.timers.add_reminder(world.ada, text, world.clock() + offset)
    assert caught.value.field == field


async def test_scheduler_fires_when_due_and_is_woken_by_a_new_timer(world: World) -> None:
    from assistant.clock import system_clock

    # The scheduler sleeps on real time; a service on the system clock.
    service = TimerService(
        world.services.db, world.services.notifications.service, clock=system_clock
    )
    heard: list[Fired] = []
    got = asyncio.Event()

    async def listener(fired: Fired) -> None:
        heard.append(fired)
        got.set()

    service.add_listener(listener)
    from assistant.timers import TimerScheduler

    scheduler = TimerScheduler(service, poll_seconds=30.0)
    await scheduler.start()
    try:
        await asyncio.sleep(0.05)  # asleep for up to 30 s: only the wake-up gets it going
        service.start(world.ada, 1, "quick")
        async with asyncio.timeout(5):
            await got.wait()
        assert [f.name for f in heard] == ["quick"]
    finally:
        await scheduler.close()


async def test_a_voice_loop_hears_what_another_process_fired(world: World) -> None:
    # The server (no listeners) and `assistant talk` (an announcer) on one data directory:
    # the server wins the compare-and-set and notifies; the talk loop still speaks it.
    server = TimerService(
        world.services.db, world.services.notifications.service, clock=world.clock
    )
    talk = world.services.timers
    await talk.scheduler.start(run=False)
    try:
        world.clock.advance(5)
        before = world.timers.add_reminder(world.ada, "stretch", world.clock())
        await server.fire_due()
        timer = world.timers.start(world.ada, 60, "tea")
        world.clock.advance(60)
        [fired] = await server.fire_due()
        assert fired.id == timer.id
        told = await talk.scheduler.follow()
        assert [f.id for f in told] == [before.id, timer.id]
        assert [f.spoken for f in world.heard] == ["Reminder: stretch.", "Your tea timer is done."]
        assert await talk.scheduler.follow() == []  # once
        assert len(world.notifications(world.ada)) == 2  # sent once, by the server
        # What this process fires itself is told once, not again as "fired elsewhere".
        world.timers.start(world.ada, 10, "eggs")
        world.clock.advance(10)
        await talk.scheduler.start(run=False)
        assert [f.name for f in world.heard][-1] == "eggs"
        assert await talk.scheduler.follow() == []
        assert len(world.heard) == 3
    finally:
        await talk.scheduler.close()


async def test_items_fired_before_the_voice_loop_started_are_not_spoken(world: World) -> None:
    server = TimerService(
        world.services.db, world.services.notifications.service, clock=world.clock
    )
    world.timers.start(world.ada, 10, "old")
    world.clock.advance(10)
    await server.fire_due()
    world.clock.advance(1)
    talk = world.services.timers
    await talk.scheduler.start(run=False)
    try:
        assert await talk.scheduler.follow() == []
        assert world.heard == []
    finally:
        await talk.scheduler.close()


async def test_what_the_loop_fired_itself_is_never_told_again(world: World) -> None:
    # The clock between two milliseconds: the store keeps whole milliseconds.
    world.clock.now += 0.0007
    world.timers.start(world.ada, 1, "eggs")
    world.clock.advance(1)
    talk = world.services.timers
    await talk.scheduler.start(run=False)  # fires it, late, at start
    try:
        for _ in range(3):
            assert await talk.scheduler.follow() == []
            world.clock.advance(0.3)
        assert [f.name for f in world.heard] == ["eggs"]
    finally:
        await talk.scheduler.close()
