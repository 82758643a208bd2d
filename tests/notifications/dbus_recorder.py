"""A private D-Bus session bus (Debian's ``dbus-daemon``) and a recording
``org.freedesktop.Notifications`` service on it that plays a person clicking."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from assistant.notifications.channels.desktop import BUS_NAME, INTERFACE, OBJECT_PATH


@contextmanager
def session_bus() -> Iterator[str]:
    """A private session bus; yields its address."""
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@dataclass
class Call:
    """One method call the service received."""

    member: str
    args: tuple[Any, ...]


@dataclass
class RecordingNotifications:
    """Owns ``org.freedesktop.Notifications`` on a bus and records every call."""

    address: str
    calls: list[Call] = field(default_factory=list)
    _next_id: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.conn = open_dbus_connection(self.address)
        self.conn.send_and_get_reply(message_bus.RequestName(BUS_NAME))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def notifies(self) -> list[Call]:
        return [c for c in self.calls if c.member == "Notify"]

    def click(self, notification_id: int, action: str) -> None:
        """A person presses a button (``default``: the popup itself)."""
        self._emit("ActionInvoked", "us", (notification_id, action))

    def close_by_user(self, notification_id: int) -> None:
        """A person closes the popup (reason 2)."""
        self._emit("NotificationClosed", "uu", (notification_id, 2))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.conn.close()

    def _emit(self, member: str, signature: str, body: tuple[Any, ...]) -> None:
        emitter = DBusAddress(OBJECT_PATH, interface=INTERFACE)
        with self._lock:
            self.conn.send(new_signal(emitter, member, signature, body))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            header = message.header
            if header.message_type != MessageType.method_call:
                continue
            member = header.fields.get(HeaderFields.member)
            self.calls.append(Call(str(member), tuple(message.body)))
            if member == "Notify":
                replaces = message.body[1]
                if replaces:
                    reply = new_method_return(message, "u", (replaces,))
                else:
                    self._next_id += 1
                    reply = new_method_return(message, "u", (self._next_id,))
            elif member == "GetServerInformation":
                reply = new_method_return(message, "ssss", ("recorder", "tests", "1.0", "1.2"))
            elif member == "GetCapabilities":
                reply = new_method_return(message, "as", (["actions", "body"],))
            elif member == "CloseNotification":
                reply = new_method_return(message)
            else:
                continue
            with self._lock:
                self.conn.send(reply)
