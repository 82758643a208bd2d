"""The timer service: timers (start, pause, resume, cancel, what is left) and reminders,
per user, in SQLite, and their firing.

Firing is done by whoever calls ``fire_due`` (the scheduler, ``scheduler.py``): a
compare-and-set of the row's state in one write transaction decides which process fires
an item, so it fires once even with the server and a CLI voice loop on the same data
directory. The notification is sent after that commit (with the item's collapse key, so a
resend after a crash replaces rather than repeats it), then ``notified_at`` is written; an
item fired but never notified (a crash in between) is taken over once its claim is older
than the lease. Listeners (the voice loop's announcer) are told last.
"""

from __future__ import annotations

import builtins
import logging
import math
import unicodedata
from collections.abc import Callable, Iterable

from assistant.auth import Principal, Role
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.notifications.models import NotificationDraft
from assistant.notifications.service import NotificationService
from assistant.store import Connection, Database, Row
from assistant.threads import off_loop
from assistant.timers import store
from assistant.timers.models import (
    AmbiguousTimer,
    Fired,
    Listener,
    Reminder,
    ReminderState,
    Timer,
    TimerOptions,
    TimerState,
    reminder_spoken,
    timer_spoken,
)

log = logging.getLogger(__name__)

BATCH = 100
"""Items fired per transaction; ``fire_due`` is called again while batches are full."""
SENDER = "timers"
"""The username notifications from timers and reminders are sent under."""


class TimerService:
    """Timers and reminders of every user, and the firing of those that come due.

    Listeners are ``async (Fired) -> None`` callables, added with ``add_listener`` (or the
    ``listeners`` argument); each is awaited once per fired item, after its notification
    is stored. A listener that raises is logged and does not stop the others.
    """

    def __init__(
        self,
        db: Database,
        notifications: NotificationService | None,
        options: TimerOptions | None = None,
        clock: Clock = system_clock,
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.db = db
        self.notifications = notifications
        """Where fired items are announced; None sends nothing (listeners still run)."""
        self.options = options or TimerOptions()
        self.clock = clock
        self.listeners: builtins.list[Listener] = list(listeners)
        """Told of every fired timer and reminder."""
        self.wakers: builtins.list[Callable[[], None]] = []
        """Called when something new may be due sooner (the scheduler's wake-up)."""

    def add_listener(self, listener: Listener) -> None:
        """Be told (``await listener(fired)``) of every timer and reminder that fires."""
        if listener not in self.listeners:
            self.listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop telling a listener."""
        if listener in self.listeners:
            self.listeners.remove(listener)

    # Timers -------------------------------------------------------------------------

    def start(self, user_id: str, seconds: float, name: str | None = None) -> Timer:
        """Start a timer of ``seconds``, optionally named ("pasta"); names are unique among
        the user's running and paused timers."""
        seconds = self._check_seconds(seconds)
        name = self._check_name(name)
        now = self._now()
        timer_id = new_id(now / 1000)
        with self.db.write() as conn:
            active = [store.timer_of(r) for r in store.active_timers(conn, user_id)]
            if len(active) >= self.options.max_active:
                raise Conflict(
                    f"You have {len(active)} timers already; cancel one first",
                    field="seconds",
                )
            clash = next((t for t in active if name is not None and _same_name(t.name, name)), None)
            if clash is not None:
                raise Conflict(f"You already have a {clash.name} timer", field="name")
            store.insert_timer(
                conn,
                {
                    "id": timer_id,
                    "user_id": user_id,
                    "name": name,
                    "duration_ms": to_ms(seconds),
                    "state": TimerState.RUNNING,
                    "ends_at": now + to_ms(seconds),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            timer = self._timer(conn, user_id, timer_id)
        self._wake()
        return timer

    def list(self, user_id: str) -> builtins.list[Timer]:
        """The user's running and paused timers, the soonest to end first."""
        with self.db.read() as conn:
            return [store.timer_of(r) for r in store.active_timers(conn, user_id)]

    def get(self, user_id: str, timer_id: str) -> Timer:
        """One timer (in any state) by id."""
        with self.db.read() as conn:
            return self._timer(conn, user_id, timer_id)

    def find(
        self,
        user_id: str,
        timer_id: str | None = None,
        name: str | None = None,
        prefer: tuple[TimerState, ...] = (TimerState.RUNNING, TimerState.PAUSED),
    ) -> Timer:
        """The timer a request means: by id, by name ("pasta", "the pasta timer"), or the
        only one (of the ``prefer`` states first). Several and none named:
        ``AmbiguousTimer`` says which there are."""
        with self.db.read() as conn:
            return self._resolve(conn, user_id, timer_id, name, prefer)

    def remaining(
        self, user_id: str, timer_id: str | None = None, name: str | None = None
    ) -> Timer:
        """The timer asked about ("how much time is left [on the pasta timer]");
        ``Timer.remaining(service.clock())`` is what is left."""
        return self.find(user_id, timer_id, name)

    def pause(self, user_id: str, timer_id: str | None = None, name: str | None = None) -> Timer:
        """Stop a running timer's countdown, keeping what is left."""
        now = self._now()
        with self.db.write() as conn:
            timer = self._resolve(conn, user_id, timer_id, name, (TimerState.RUNNING,))
            if timer.state is not TimerState.RUNNING:
                raise Conflict(_state_problem(timer, "pause"), state=timer.state.value)
            assert timer.ends_at is not None
            left = max(to_ms(timer.ends_at) - now, 1)
            store.set_timer(
                conn,
                timer.id,
                TimerState.RUNNING,
                {
                    "state": TimerState.PAUSED,
                    "ends_at": None,
                    "remaining_ms": left,
                    "updated_at": now,
                },
            )
            return self._timer(conn, user_id, timer.id)

    def resume(self, user_id: str, timer_id: str | None = None, name: str | None = None) -> Timer:
        """Run a paused timer again from what was left."""
        now = self._now()
        with self.db.write() as conn:
            timer = self._resolve(conn, user_id, timer_id, name, (TimerState.PAUSED,))
            if timer.state is not TimerState.PAUSED:
                raise Conflict(_state_problem(timer, "resume"), state=timer.state.value)
            assert timer.paused_remaining_seconds is not None
            store.set_timer(
                conn,
                timer.id,
                TimerState.PAUSED,
                {
                    "state": TimerState.RUNNING,
                    "ends_at": now + to_ms(timer.paused_remaining_seconds),
                    "remaining_ms": None,
                    "updated_at": now,
                },
            )
            resumed = self._timer(conn, user_id, timer.id)
        self._wake()
        return resumed

    def cancel(self, user_id: str, timer_id: str | None = None, name: str | None = None) -> Timer:
        """Stop a running or paused timer for good."""
        now = self._now()
        with self.db.write() as conn:
            timer = self._resolve(
                conn, user_id, timer_id, name, (TimerState.RUNNING, TimerState.PAUSED)
            )
            if timer.state not in (TimerState.RUNNING, TimerState.PAUSED):
                raise Conflict(_state_problem(timer, "cancel"), state=timer.state.value)
            store.set_timer(
                conn,
                timer.id,
                timer.state,
                {
                    "state": TimerState.CANCELLED,
                    "ends_at": None,
                    "remaining_ms": None,
                    "updated_at": now,
                },
            )
            return self._timer(conn, user_id, timer.id)

    # Reminders ----------------------------------------------------------------------

    def add_reminder(self, user_id: str, text: str, due_at: float) -> Reminder:
        """Remind the user of ``text`` at ``due_at`` (seconds since the epoch)."""
        text = self._check_text(text)
        now = self._now()
        if not math.isfinite(due_at):
            raise InvalidInput("due_at must be a time", field="due_at")
        wanted = to_ms(due_at)
        if wanted < now - to_ms(self.options.past_tolerance_seconds):
            raise InvalidInput("due_at is in the past", field="due_at")
        if wanted > now + self.options.max_reminder_days * 86_400_000:
            raise InvalidInput(
                f"due_at is more than {self.options.max_reminder_days} days ahead", field="due_at"
            )
        reminder_id = new_id(now / 1000)
        with self.db.write() as conn:
            count = store.count_scheduled_reminders(conn, user_id)
            if count >= self.options.max_active:
                raise Conflict(f"You have {count} reminders already; cancel one first")
            store.insert_reminder(
                conn,
                {
                    "id": reminder_id,
                    "user_id": user_id,
                    "text": text,
                    "due_at": max(wanted, now),
                    "state": ReminderState.SCHEDULED,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            reminder = self._reminder(conn, user_id, reminder_id)
        self._wake()
        return reminder

    def reminders(self, user_id: str) -> builtins.list[Reminder]:
        """The user's scheduled reminders, the soonest first."""
        with self.db.read() as conn:
            return [store.reminder_of(r) for r in store.scheduled_reminders(conn, user_id)]

    def get_reminder(self, user_id: str, reminder_id: str) -> Reminder:
        """One reminder (in any state) by id."""
        with self.db.read() as conn:
            return self._reminder(conn, user_id, reminder_id)

    def cancel_reminder(
        self, user_id: str, reminder_id: str | None = None, text: str | None = None
    ) -> Reminder:
        """Cancel a scheduled reminder: by id, by what it says ("call Mum"), or the only one."""
        now = self._now()
        with self.db.write() as conn:
            if reminder_id is not None:
                reminder = self._reminder(conn, user_id, reminder_id)
                if reminder.state is not ReminderState.SCHEDULED:
                    raise Conflict(
                        f"The reminder to {reminder.text} has already been {reminder.state.value}",
                        state=reminder.state.value,
                    )
            else:
                reminder = self._reminder_by_text(conn, user_id, text)
            store.cancel_reminder(conn, reminder.id, now)
            return self._reminder(conn, user_id, reminder.id)

    # Firing -------------------------------------------------------------------------

    async def fire_due(self, now: float | None = None) -> builtins.list[Fired]:
        """Fire every timer and reminder due at ``now`` (default: the clock) that no other
        process fired: claim it, send its notification, tell the listeners."""
        fired = await off_loop(self._claim_due, self.clock() if now is None else now)
        for item in fired:
            await off_loop(self._notify, item)
        for item in fired:
            log.info(
                "%s %s of user %s fired (%.1f s late)",
                item.kind,
                item.id,
                item.user_id,
                item.late_seconds,
            )
            await self.tell(item)
        return fired

    async def tell(self, item: Fired) -> None:
        """Tell every listener of a fired item; one that raises is logged and skipped."""
        for listener in list(self.listeners):
            try:
                await listener(item)
            except Exception:
                log.exception("a timer listener failed on %s %s", item.kind, item.id)

    def fired_since(self, since: float) -> builtins.list[Fired]:
        """Timers and reminders fired at or after ``since`` by any process (the server,
        another voice loop), oldest first: what a voice loop in this process announces
        though another process fired it."""
        with self.db.read() as conn:
            timers, reminders = store.fired_since(conn, to_ms(since), BATCH)
        fired = [_timer_fired(r, r["fired_at"]) for r in timers]
        fired += [_reminder_fired(r, r["fired_at"]) for r in reminders]
        return sorted(fired, key=lambda f: f.fired_at)

    def next_due(self) -> float | None:
        """When the next running timer or scheduled reminder is due (seconds since the
        epoch), if any."""
        with self.db.read() as conn:
            found = store.next_due(conn)
        return None if found is None else found / 1000

    # Internals ----------------------------------------------------------------------

    def _now(self) -> int:
        return to_ms(self.clock())

    def _wake(self) -> None:
        for waker in list(self.wakers):
            waker()

    def _claim_due(self, at: float) -> builtins.list[Fired]:
        now = to_ms(at)
        stale = now - to_ms(self.options.claim_lease_seconds)
        fired: builtins.list[Fired] = []
        with self.db.write() as conn:
            for row in store.due_timers(conn, now, BATCH):
                if store.claim_timer(conn, row["id"], now):
                    fired.append(_timer_fired(row, now))
            for row in store.due_reminders(conn, now, BATCH):
                if store.claim_reminder(conn, row["id"], now):
                    fired.append(_reminder_fired(row, now))
            # Claimed by a process that died before it sent the notification.
            for row in store.unnotified_timers(conn, stale, BATCH):
                if store.reclaim_timer(conn, row["id"], stale, now):
                    fired.append(_timer_fired(row, now))
            for row in store.unnotified_reminders(conn, stale, BATCH):
                if store.reclaim_reminder(conn, row["id"], stale, now):
                    fired.append(_reminder_fired(row, now))
        return fired

    def _notify(self, item: Fired) -> None:
        if self.notifications is not None:
            title = "Timer done" if item.kind == "timer" else "Reminder"
            draft = NotificationDraft(
                title=title,
                body=item.spoken,
                category=item.kind,
                priority=4,
                collapse_key=f"{item.kind}-{item.id}",
                data={f"{item.kind}_id": item.id},
            )
            sender = Principal(user_id=item.user_id, username=SENDER, role=Role.USER)
            try:
                self.notifications.send(sender, draft)
            except Exception:
                # A user deleted meanwhile, a category turned off: retrying cannot help.
                log.exception("the notification of %s %s failed", item.kind, item.id)
        now = self._now()
        with self.db.write() as conn:
            if item.kind == "timer":
                store.mark_timer_notified(conn, item.id, now)
            else:
                store.mark_reminder_notified(conn, item.id, now)

    def _check_seconds(self, seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise InvalidInput("seconds must be a number", field="seconds")
        if not math.isfinite(seconds) or seconds < 1:
            raise InvalidInput("A timer runs for at least one second", field="seconds")
        if seconds > self.options.max_timer_seconds:
            days = self.options.max_timer_seconds / 86_400
            raise InvalidInput(
                f"A timer runs for at most {days:g} days; set a reminder instead",
                field="seconds",
            )
        return float(seconds)

    def _check_name(self, name: str | None) -> str | None:
        if name is None:
            return None
        if _has_control(name):
            raise InvalidInput("A timer name is plain text on one line", field="name")
        cleaned = clean_name(name)
        if not cleaned:
            return None
        if len(cleaned) > self.options.max_name_chars:
            raise InvalidInput(
                f"A timer name has at most {self.options.max_name_chars} characters",
                field="name",
            )
        return cleaned

    def _check_text(self, text: str) -> str:
        cleaned = " ".join(text.split()) if isinstance(text, str) else ""
        if not cleaned:
            raise InvalidInput("Say what to remind you of", field="text")
        if len(cleaned) > self.options.max_text_chars:
            raise InvalidInput(
                f"A reminder has at most {self.options.max_text_chars} characters", field="text"
            )
        if _has_control(cleaned):
            raise InvalidInput("A reminder is plain text", field="text")
        return cleaned

    @staticmethod
    def _timer(conn: Connection, user_id: str, timer_id: str) -> Timer:
        row = store.get_timer(conn, user_id, timer_id)
        if row is None:
            raise NotFound("No such timer", field="id")
        return store.timer_of(row)

    @staticmethod
    def _reminder(conn: Connection, user_id: str, reminder_id: str) -> Reminder:
        row = store.get_reminder(conn, user_id, reminder_id)
        if row is None:
            raise NotFound("No such reminder", field="id")
        return store.reminder_of(row)

    def _resolve(
        self,
        conn: Connection,
        user_id: str,
        timer_id: str | None,
        name: str | None,
        prefer: tuple[TimerState, ...],
    ) -> Timer:
        if timer_id is not None:
            return self._timer(conn, user_id, timer_id)
        active = [store.timer_of(r) for r in store.active_timers(conn, user_id)]
        wanted = clean_name(name) if name is not None else ""
        if wanted:
            named = [t for t in active if _same_name(t.name, wanted)]
            if not named:
                raise NotFound(f"You have no {wanted} timer", field="name")
            if len(named) > 1:
                raise AmbiguousTimer(named, self.clock())
            return named[0]
        if not active:
            raise NotFound("You have no timers running")
        preferred = [t for t in active if t.state in prefer]
        candidates = preferred or active
        if len(candidates) > 1:
            raise AmbiguousTimer(candidates, self.clock())
        return candidates[0]

    def _reminder_by_text(self, conn: Connection, user_id: str, text: str | None) -> Reminder:
        scheduled = [store.reminder_of(r) for r in store.scheduled_reminders(conn, user_id)]
        if not scheduled:
            raise NotFound("You have no reminders")
        wanted = _words(text or "")
        if wanted:
            exact = [r for r in scheduled if _words(r.text) == wanted]
            scheduled = exact or [r for r in scheduled if set(wanted) <= set(_words(r.text))]
            if not scheduled:
                raise NotFound(f"You have no reminder to {text}", field="text")
        if len(scheduled) > 1:
            listed = "; ".join(r.text for r in scheduled[:5])
            raise Conflict(
                f"You have {len(scheduled)} reminders: {listed}. Which one do you mean?",
                choices=[r.id for r in scheduled],
            )
        return scheduled[0]


def clean_name(name: str) -> str:
    """A timer name as stored and compared: "the Pasta timer" -> "Pasta"."""
    words = name.split()
    if words and words[0].lower() in ("the", "a", "an", "my"):
        words = words[1:]
    if words and words[-1].lower() in ("timer", "timers"):
        words = words[:-1]
    return " ".join(words)


def _same_name(stored: str | None, wanted: str) -> bool:
    """Names match without regard to case or a plural "s" ("egg" finds "eggs")."""
    if stored is None:
        return False
    a, b = stored.casefold(), wanted.casefold()
    return a == b or a.rstrip("s") == b.rstrip("s")


def _words(text: str) -> list[str]:
    return [
        "".join(c for c in w if c.isalnum()) for w in text.casefold().split() if w.strip(".,!?")
    ]


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def _state_problem(timer: Timer, action: str) -> str:
    label = timer.label[0].upper() + timer.label[1:]
    if timer.state is TimerState.PAUSED:
        return f"{label} is already paused"
    if timer.state is TimerState.RUNNING:
        return f"{label} is already running"
    if timer.state is TimerState.FIRED:
        return f"{label} has already gone off"
    return f"{label} was cancelled; it cannot {action}"


def _timer_fired(row: Row, now: int) -> Fired:
    timer = store.timer_of(row)
    return Fired(
        kind="timer",
        id=timer.id,
        user_id=timer.user_id,
        name=timer.name,
        spoken=timer_spoken(timer),
        due_at=(timer.ends_at if timer.ends_at is not None else now / 1000),
        fired_at=(row["fired_at"] or now) / 1000 if row["state"] == "fired" else now / 1000,
    )


def _reminder_fired(row: Row, now: int) -> Fired:
    reminder = store.reminder_of(row)
    return Fired(
        kind="reminder",
        id=reminder.id,
        user_id=reminder.user_id,
        name=reminder.text,
        spoken=reminder_spoken(reminder.text),
        due_at=reminder.due_at,
        fired_at=(row["fired_at"] or now) / 1000 if row["state"] == "fired" else now / 1000,
    )
