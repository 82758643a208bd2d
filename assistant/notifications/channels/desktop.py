"""Notifications on the device's own desktop.

Linux: the freedesktop ``org.freedesktop.Notifications`` D-Bus interface, through
``jeepney`` (pure Python, asyncio; no C library or GLib main loop to bring along). The
popup's buttons come back as ``ActionInvoked`` (read, and the action reported) and a
popup the person closes as ``NotificationClosed`` reason 2 (dismissed). Windows and
macOS: ``plyer`` (a plain popup, no buttons). With no session bus or no notification
daemon the channel says so at start-up and is skipped; it never fails a request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from assistant.notifications.channels.base import Feedback, Outcome, Outgoing
from assistant.notifications.models import ChannelState

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
CLOSED_BY_USER = 2
"""``NotificationClosed`` reason: dismissed by the user (1 expired, 3 closed by a call)."""
URGENCY = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
"""Priority to the spec's urgency byte: low, normal, critical."""


def notify_arguments(message: Outgoing, app_name: str) -> tuple[Any, ...]:
    """The ``Notify`` call's arguments (``susssasa{sv}i``) for a message."""
    notification = message.notification
    actions: list[str] = ["default", "Open"]
    for action in notification.actions:
        actions += [str(action["id"]), str(action["label"])]
    hints: dict[str, tuple[str, Any]] = {
        "urgency": ("y", URGENCY[notification.priority]),
        "category": ("s", f"x-assistant.{notification.category}"),
        "x-assistant-id": ("s", notification.id),
    }
    # Critical notifications stay until dismissed; the others follow the daemon's default.
    timeout = 0 if notification.priority == 5 else -1
    return (
        app_name,
        int(message.remote_id or 0),
        "",
        notification.title or app_name,
        notification.body,
        actions,
        hints,
        timeout,
    )


@dataclass
class DBusDesktopChannel:
    """The freedesktop notification service on a D-Bus session bus."""

    address: str | None = None
    """A bus address (``unix:path=...``); None: ``$DBUS_SESSION_BUS_ADDRESS``."""
    app_name: str = "Assistant"
    call_timeout_seconds: float = 5.0
    name: str = "desktop"
    target_kind: str | None = None
    server: str = ""
    """The notification daemon's name and version, once probed."""
    _state: ChannelState = field(
        default_factory=lambda: ChannelState("desktop", False, "not started")
    )
    _conn: Any = None
    _router: Any = None
    _listener: asyncio.Task[None] | None = None

    async def start(self, feedback: Feedback) -> ChannelState:
        from jeepney import MatchRule, MessageType, new_method_call
        from jeepney.bus_messages import message_bus
        from jeepney.io.asyncio import DBusRouter, open_dbus_connection

        address = self.address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            return self._unavailable("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)")
        try:
            self._conn = await asyncio.wait_for(
                open_dbus_connection(address), self.call_timeout_seconds
            )
        except (OSError, TimeoutError, ValueError, StopIteration) as exc:
            return self._unavailable(f"cannot connect to the session bus {address}: {exc}")
        except Exception as exc:  # jeepney's authentication errors have no common base
            return self._unavailable(f"the session bus {address} refused us: {exc}")
        self._router = DBusRouter(self._conn)
        info = await self._call(new_method_call(self._object(), "GetServerInformation"))
        if info is None or info.header.message_type == MessageType.error:
            detail = info.body[0] if info is not None and info.body else "no answer"
            await self.close()
            return self._unavailable(f"no notification daemon on the session bus ({detail})")
        self.server = " ".join(str(part) for part in info.body[:3])
        signals: asyncio.Queue[Any] = asyncio.Queue(256)
        for member in ("ActionInvoked", "NotificationClosed"):
            rule = MatchRule(type="signal", interface=INTERFACE, member=member, path=OBJECT_PATH)
            await self._call(message_bus.AddMatch(rule))
            self._router.filter(rule, queue=signals)
        self._listener = asyncio.create_task(self._listen(signals, feedback))
        self._state = ChannelState(self.name, True, f"notification daemon: {self.server}")
        log.info("desktop notifications through %s", self.server)
        return self._state

    def state(self) -> ChannelState:
        return self._state

    async def send(self, message: Outgoing) -> Outcome:
        from jeepney import MessageType, new_method_call

        if self._router is None:
            return Outcome("failed", error=self._state.reason)
        if message.action == "withdraw":
            if message.remote_id:
                await self.close_popup(message.remote_id)
            return Outcome("sent", remote_id=message.remote_id)
        call = new_method_call(
            self._object(),
            "Notify",
            "susssasa{sv}i",
            notify_arguments(message, self.app_name),
        )
        reply = await self._call(call)
        if reply is None:
            return Outcome("retry", error="the notification daemon did not answer")
        if reply.header.message_type == MessageType.error:
            return Outcome("failed", error=f"the notification daemon refused: {reply.body}")
        return Outcome("sent", remote_id=str(reply.body[0]))

    async def close_popup(self, remote_id: str) -> None:
        """Take a popup off the screen (read or dismissed on another device)."""
        from jeepney import new_method_call

        if self._router is not None:
            await self._call(
                new_method_call(self._object(), "CloseNotification", "u", (int(remote_id),))
            )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._router is not None:
            await self._router.__aexit__(None, None, None)
            self._router = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    # Internals ----------------------------------------------------------------------

    def _object(self) -> Any:
        from jeepney import DBusAddress

        return DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE)

    def _unavailable(self, reason: str) -> ChannelState:
        self._state = ChannelState(self.name, False, reason)
        log.info("desktop notifications unavailable: %s", reason)
        return self._state

    async def _call(self, message: Any) -> Any:
        try:
            return await asyncio.wait_for(
                self._router.send_and_get_reply(message), self.call_timeout_seconds
            )
        except (TimeoutError, OSError, ConnectionError) as exc:
            log.warning("desktop notification call failed: %s", exc)
            return None
        except Exception as exc:  # a closed router raises its own error
            log.warning("desktop notification call failed: %s", exc)
            return None

    async def _listen(self, signals: asyncio.Queue[Any], feedback: Feedback) -> None:
        from jeepney import HeaderFields

        while True:
            signal = await signals.get()
            member = signal.header.fields.get(HeaderFields.member)
            try:
                if member == "ActionInvoked":
                    remote_id, action = signal.body
                    await asyncio.to_thread(feedback, self.name, str(remote_id), "action", action)
                elif member == "NotificationClosed":
                    remote_id, reason = signal.body
                    if reason == CLOSED_BY_USER:
                        await asyncio.to_thread(
                            feedback, self.name, str(remote_id), "dismissed", None
                        )
            except Exception:
                log.exception("handling the desktop's %s signal failed", member)


@dataclass
class PlyerDesktopChannel:
    """Windows and macOS popups through plyer (no buttons, no feedback)."""

    app_name: str = "Assistant"
    name: str = "desktop"
    target_kind: str | None = None
    _state: ChannelState = field(
        default_factory=lambda: ChannelState("desktop", False, "not started")
    )

    async def start(self, feedback: Feedback) -> ChannelState:
        try:
            from plyer import notification  # noqa: F401
        except ImportError:
            self._state = ChannelState(
                self.name, False, "plyer is not installed (pip install 'edge-assistant[notify]')"
            )
        else:
            self._state = ChannelState(self.name, True, f"plyer on {sys.platform}")
        return self._state

    def state(self) -> ChannelState:
        return self._state

    async def send(self, message: Outgoing) -> Outcome:
        from plyer import notification as popup

        if message.action == "withdraw":
            return Outcome("sent")  # plyer cannot take a popup back
        shown = message.notification
        try:
            await asyncio.to_thread(
                popup.notify, title=shown.title, message=shown.body, app_name=self.app_name
            )
        except Exception as exc:  # plyer raises whatever the platform backend raises
            return Outcome("failed", error=f"plyer: {exc}")
        return Outcome("sent")

    async def close(self) -> None:
        return None


@dataclass
class OffChannel:
    """A channel switched off in the settings."""

    name: str
    reason: str
    target_kind: str | None = None

    async def start(self, feedback: Feedback) -> ChannelState:
        return self.state()

    def state(self) -> ChannelState:
        return ChannelState(self.name, False, self.reason)

    async def send(self, message: Outgoing) -> Outcome:
        return Outcome("failed", error=self.reason)

    async def close(self) -> None:
        return None


def desktop_channel(mode: str, address: str | None, app_name: str) -> Any:
    """The desktop channel for a ``notifications.desktop`` setting (auto, dbus, plyer, off)."""
    if mode == "off":
        return OffChannel("desktop", "turned off (notifications.desktop = off)")
    if mode == "plyer" or (mode == "auto" and sys.platform in ("win32", "darwin")):
        return PlyerDesktopChannel(app_name=app_name)
    return DBusDesktopChannel(address=address, app_name=app_name)
