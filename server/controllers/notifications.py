"""``/api/v1/notifications``: send, schedule, follow (SSE, NDJSON, WebSocket), read state,
preferences, Web Push subscriptions and push devices."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import (
    Controller,
    Request,
    Response,
    WebSocket,
    delete,
    get,
    patch,
    post,
    put,
    websocket,
)
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from assistant.auth import Principal
from assistant.clock import iso, to_ms
from assistant.errors import InvalidInput, Unauthorized
from assistant.notifications import Notifications
from assistant.notifications.channels.webpush import check_subscription
from assistant.notifications.models import (
    CHANNELS,
    ChannelState,
    Event,
    HistoryQuery,
    NotificationChange,
    NotificationDraft,
    Status,
)
from assistant.profile.models import NotificationPreferences
from server.controllers.profile import expected_version
from server.deps import NotificationsDep, PrincipalDep
from server.docs import NDJSON, SSE, documented, schema_of
from server.problems import JSON_BODY, PARAMETERS, problem_event, problems
from server.requestid import ensure_request_id
from server.schemas.notifications import (
    NOTIFICATION_LINES,
    NOTIFICATION_STREAM,
    ChannelOut,
    ChannelsOut,
    DeviceIn,
    HistoryOut,
    NotificationOut,
    NotificationPreferencesOut,
    ReadAllOut,
    SendOut,
    SubscriptionIn,
    TargetOut,
    TargetsOut,
    UnreadOut,
    VapidKeyOut,
)
from server.streams import guarded

log = logging.getLogger(__name__)

SOCKET_USAGE = 'Send {"type": "read" | "dismiss" | "ack", "id": ...} or {"type": "ping"}'
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Id = Annotated[str, Parameter(max_length=64, description="The notification's id")]
Since = Annotated[
    str | None,
    Parameter(
        max_length=64,
        description="Replay from: an event id, a notification id, a duration (10m, 2h)"
        " or `all`. Last-Event-ID wins over it. Without either, the stream replays the"
        " notifications no device has received yet.",
    ),
]
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        max_length=20,
        pattern=r"^\d{0,20}$",
        description="The last event id received: the events after it are replayed",
    ),
]


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def _sse(payload: dict[str, Any]) -> bytes:
    head = f"id: {payload['id']}\n" if "id" in payload else ""
    return (
        head.encode()
        + b"event: "
        + str(payload["event"]).encode()
        + b"\ndata: "
        + msgspec.json.encode(payload)
        + b"\n\n"
    )


def _line(payload: dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload) + b"\n"


async def follow(
    notifications: Notifications,
    user_id: str,
    after: int | None,
    *,
    poll: bool,
) -> AsyncGenerator[dict[str, Any], None]:
    """A user's events: the replay (events after ``after``, or the ones no device has
    received), ``open``, then live events and keepalives. Each event is sent once: live
    events the replay already held are skipped by their id."""
    service, hub = notifications.service, notifications.hub
    floor = after if after is not None else await anyio.to_thread.run_sync(service.last_seq)
    subscription = hub.subscribe(user_id)
    try:
        replayed, last = await anyio.to_thread.run_sync(service.replay, user_id, after)
        seen = {e.seq for e in replayed}
        for item in replayed:
            yield item.to_json()
        yield {"event": "open", "time": iso(to_ms(service.clock())), "last_event_id": str(last)}
        if poll:
            return
        loop = asyncio.get_running_loop()
        limit = notifications.stream_max_seconds
        deadline = None if limit is None else loop.time() + limit
        while True:
            timeout = notifications.keepalive_seconds
            if deadline is not None:
                timeout = min(timeout, deadline - loop.time())
                if timeout <= 0:
                    return
            found: Event | None = await subscription.next(timeout)
            if found is None:
                if subscription.overflowed:
                    return  # the client reconnects with Last-Event-ID and replays the rest
                if deadline is None or loop.time() < deadline:
                    yield {"event": "keepalive", "time": iso(to_ms(service.clock()))}
                continue
            if found.seq <= floor or found.seq in seen:
                continue
            yield found.to_json()
    finally:
        subscription.close()


def _wants_ndjson(request: Request[Any, Any, Any], format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "ndjson"
    accept = request.headers.get("accept", "")
    return NDJSON in accept and SSE not in accept


class NotificationsController(Controller):
    """Your notifications; admins may also notify other users."""

    path = "/api/v1/notifications"
    tags = ["notifications"]

    @post(
        "/send",
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401, 403),
        summary="Send or schedule a notification",
    )
    async def send(
        self,
        data: JSONBody[NotificationDraft],
        notifier: NotificationsDep,
        principal: PrincipalDep,
    ) -> SendOut:
        """To yourself, or (admins) to ``user`` or ``all_users``. Now, at ``deliver_at`` or
        after ``delay``; quiet hours and do-not-disturb hold it unless its priority reaches
        the bypass level. A ``collapse_key`` replaces the earlier notification with the same
        key everywhere. The answer lists the planned deliveries per channel (and why a
        channel is skipped)."""
        service = notifier.service

        def run() -> SendOut:
            sent = service.send(principal, data)
            outs = []
            for item in sent:
                if item.status in (Status.SCHEDULED, Status.HELD):
                    planned = [
                        {
                            "channel": p["channel"],
                            "target_id": None,
                            "status": p["status"],
                            "attempts": 0,
                            "next_attempt_at": iso(p["planned_at"]),
                            "error": p["error"],
                            "sent_at": None,
                            "delivered_at": None,
                            "read_at": None,
                        }
                        for p in service.planned(item)
                    ]
                    outs.append(NotificationOut.of(item, msgspec.convert(planned, list[Any])))
                else:
                    outs.append(NotificationOut.detailed(item))
            return SendOut(id=sent[0].id, notifications=outs)

        return await anyio.to_thread.run_sync(run)

    @get(
        "/stream",
        responses=problems(*PARAMETERS, 401, 404),
        operation_class=documented(
            answers={SSE: NOTIFICATION_STREAM, NDJSON: schema_of(NOTIFICATION_LINES)}
        ),
        summary="Follow my notifications (Server-Sent Events or NDJSON)",
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        notifier: NotificationsDep,
        principal: PrincipalDep,
        last_event_id: LastEventId = None,
        since: Since = None,
        poll: Annotated[
            bool, Parameter(description="Send the replay and `open`, then end (no live events)")
        ] = False,
        format: Annotated[
            Literal["sse", "ndjson"] | None,
            Parameter(
                description="sse or ndjson; default from Accept (SSE unless NDJSON is asked)"
            ),
        ] = None,
    ) -> Stream:
        """Every event of your notifications, so each device stays in step: ``new``,
        ``updated``, ``withdrawn``, ``read``, ``dismissed``, ``action``. Each SSE event has
        an ``id:``; reconnect with ``Last-Event-ID`` (EventSource does) or ``since=`` to
        replay exactly what was missed. Idle streams get a ``keepalive`` every 25 s."""
        after = await anyio.to_thread.run_sync(
            notifier.service.cursor, principal.user_id, last_event_id, since
        )
        ndjson = _wants_ndjson(request, format)
        render: Callable[[dict[str, Any]], bytes] = _line if ndjson else _sse
        path, request_id = request.url.path, ensure_request_id(request.scope)

        async def body() -> AsyncIterator[bytes]:
            events = follow(notifier, principal.user_id, after, poll=poll)
            try:
                async for payload in events:
                    yield render(payload)
            finally:
                await events.aclose()

        def failed(exc: Exception) -> bytes:
            problem = problem_event(exc, instance=path, request_id=request_id)
            return render(
                {
                    "event": "error",
                    "time": iso(to_ms(notifier.service.clock())),
                    "problem": problem,
                }
            )

        return Stream(
            guarded(body(), failed),
            media_type=NDJSON if ndjson else SSE,
            headers=STREAM_HEADERS,
        )

    @websocket("/ws")
    async def socket(self, socket: WebSocket[Any, Any, Any], notifier: NotificationsDep) -> None:
        """The stream's events as JSON messages (browsers: ``?access_token=``; resume with
        ``?since=`` or ``?last_event_id=``). Send ``{"type": "read" | "dismiss" | "ack",
        "id": ...}`` to change a notification's state, ``{"type": "ping"}`` for a pong."""
        principal = socket.scope.get("user")
        if not isinstance(principal, Principal):
            raise Unauthorized("Sign in first")
        service = notifier.service
        params = socket.query_params
        await socket.accept()
        path, request_id = socket.url.path, ensure_request_id(socket.scope)
        try:
            after = await anyio.to_thread.run_sync(
                service.cursor, principal.user_id, params.get("last_event_id"), params.get("since")
            )
        except Exception as exc:
            await socket.send_json(
                {
                    "event": "error",
                    "problem": problem_event(exc, instance=path, request_id=request_id),
                }
            )
            await socket.close(code=1008)
            return

        async def outgoing() -> None:
            async for payload in follow(notifier, principal.user_id, after, poll=False):
                await socket.send_json(payload)

        async def incoming() -> None:
            actions = {
                "read": service.mark_read,
                "dismiss": service.dismiss,
                "ack": service.acknowledge,
            }
            while True:
                message = await socket.receive_json()
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == "ping":
                    await socket.send_json({"event": "pong"})
                    continue
                try:
                    if kind not in actions or not isinstance(message.get("id"), str):
                        raise InvalidInput(SOCKET_USAGE, field="type")
                    await anyio.to_thread.run_sync(actions[kind], principal.user_id, message["id"])
                except Exception as exc:
                    problem = problem_event(exc, instance=path, request_id=request_id)
                    await socket.send_json({"event": "error", "problem": problem})

        tasks = [asyncio.create_task(outgoing()), asyncio.create_task(incoming())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect):
                    log.warning("notification socket ended: %r", result)
            with contextlib.suppress(Exception):
                await socket.close()

    @get("/history", responses=problems(*PARAMETERS, 401), summary="My notifications, newest first")
    async def history(
        self,
        notifier: NotificationsDep,
        principal: PrincipalDep,
        category: Annotated[
            str | None,
            Parameter(
                max_length=32, pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="Only this category"
            ),
        ] = None,
        priority: Annotated[
            int | None, Parameter(ge=1, le=5, description="Only this priority or higher")
        ] = None,
        status: Annotated[
            Literal["scheduled", "held", "active", "withdrawn", "replaced", "expired"] | None,
            Parameter(description="Only notifications in this state"),
        ] = None,
        unread: Annotated[
            bool | None, Parameter(description="Only unread (true) or read (false)")
        ] = None,
        before: Annotated[
            str | None,
            Parameter(max_length=64, description="Notification id: older ones (the cursor)"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=200, description="Page size")] = 50,
    ) -> HistoryOut:
        """Cursor pagination: pass ``next_before`` back as ``before``."""
        query = HistoryQuery(category, priority, status, unread, before, limit)
        page = await anyio.to_thread.run_sync(notifier.service.history, principal.user_id, query)
        return HistoryOut(
            notifications=[NotificationOut.of(n) for n in page],
            next_before=page[-1].id if len(page) == limit else None,
        )

    @get("/unread", responses=problems(401), summary="How many are unread")
    async def unread(self, notifier: NotificationsDep, principal: PrincipalDep) -> UnreadOut:
        """Your active notifications neither read nor dismissed: the number a badge shows.
        Read it again on each stream event (``new``, ``read``, ``dismissed``...) to keep a
        badge in step with your other devices."""
        count = await anyio.to_thread.run_sync(notifier.service.unread_count, principal.user_id)
        return UnreadOut(unread=count)

    @post("/read-all", status_code=HTTP_200_OK, responses=problems(401), summary="Mark all read")
    async def read_all(self, notifier: NotificationsDep, principal: PrincipalDep) -> ReadAllOut:
        """Every delivered notification of yours is read; your devices are told."""
        count = await anyio.to_thread.run_sync(notifier.service.read_all, principal.user_id)
        return ReadAllOut(read=count)

    @get("/channels", responses=problems(401), summary="Delivery channels and their state")
    async def channels(self, notifier: NotificationsDep, principal: PrincipalDep) -> ChannelsOut:
        """Which channels can deliver on this device and, if not, why (no session bus, no
        notification daemon, push service not configured)."""
        states = notifier.dispatcher.states
        listed = [
            ChannelOut.of(
                states.get(name)
                or ChannelState(
                    name,
                    name == "companion",
                    "live streams" if name == "companion" else "not started",
                )
            )
            for name in CHANNELS
        ]
        return ChannelsOut(channels=listed, streams=notifier.hub.connected(principal.user_id))

    @get("/preferences", responses=problems(401), summary="My notification preferences")
    async def get_preferences(
        self, notifier: NotificationsDep, principal: PrincipalDep
    ) -> Response[NotificationPreferencesOut]:
        """The ``notifications`` part of your profile preferences (one copy): channels,
        minimum priority per channel, categories, quiet hours, do-not-disturb. The ETag is
        the profile preferences' version."""
        prefs, stored = await anyio.to_thread.run_sync(
            notifier.service.get_preferences, principal.user_id
        )
        return Response(NotificationPreferencesOut.of(prefs, stored), headers=_etag(stored.version))

    @put(
        "/preferences",
        responses=problems(*JSON_BODY, 401, 409),
        summary="Replace my notification preferences",
    )
    async def put_preferences(
        self,
        data: JSONBody[NotificationPreferences],
        notifier: NotificationsDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> Response[NotificationPreferencesOut]:
        """Keys left out go back to their defaults. Held notifications are looked at again
        at once (ending quiet hours early releases them). Send If-Match to avoid lost updates."""
        prefs, stored = await anyio.to_thread.run_sync(
            notifier.service.put_preferences,
            principal.user_id,
            data,
            expected_version(request),
        )
        return Response(NotificationPreferencesOut.of(prefs, stored), headers=_etag(stored.version))

    @get("/webpush/vapid-public-key", responses=problems(401, 500), summary="The Web Push key")
    async def vapid_public_key(self, notifier: NotificationsDep) -> VapidKeyOut:
        """Subscribe browsers with it (``applicationServerKey``). Made on first use and kept
        in the data directory; it never changes by itself."""
        keys = await anyio.to_thread.run_sync(notifier.vapid.get)
        return VapidKeyOut(public_key=keys.public_key)

    @post(
        "/webpush/subscriptions",
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401),
        summary="Register a browser's push subscription",
    )
    async def add_subscription(
        self,
        data: JSONBody[SubscriptionIn],
        notifier: NotificationsDep,
        principal: PrincipalDep,
    ) -> TargetOut:
        """The ``PushSubscription.toJSON()`` of a browser or PWA. Registering the same
        endpoint again updates it. A subscription the push service reports gone (404/410)
        is removed; transient errors never remove it."""
        p256dh, auth = data.keys.get("p256dh", ""), data.keys.get("auth", "")
        check_subscription(data.endpoint, p256dh, auth)
        target = await anyio.to_thread.run_sync(
            lambda: notifier.service.add_target(
                principal.user_id,
                "webpush",
                data.endpoint,
                p256dh=p256dh,
                auth=auth,
                name=data.name,
            )
        )
        return TargetOut.of(target)

    @get(
        "/webpush/subscriptions", responses=problems(401), summary="My browsers' push subscriptions"
    )
    async def subscriptions(
        self, notifier: NotificationsDep, principal: PrincipalDep
    ) -> TargetsOut:
        """With the last success and the last error of each."""
        found = await anyio.to_thread.run_sync(
            notifier.service.targets, principal.user_id, "webpush"
        )
        return TargetsOut(items=[TargetOut.of(t) for t in found])

    @delete(
        "/webpush/subscriptions/{subscription_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Remove a push subscription",
    )
    async def remove_subscription(
        self,
        subscription_id: FromPath[str],
        notifier: NotificationsDep,
        principal: PrincipalDep,
    ) -> None:
        """The browser gets no more pushes from here."""
        await anyio.to_thread.run_sync(
            notifier.service.remove_target, principal.user_id, subscription_id, "webpush"
        )

    @post(
        "/devices",
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401),
        summary="Register a push device",
    )
    async def add_device(
        self, data: JSONBody[DeviceIn], notifier: NotificationsDep, principal: PrincipalDep
    ) -> TargetOut:
        """A companion app's FCM registration token or APNs device token (sent to when the
        FCM or APNs channel is configured with your own credentials)."""
        target = await anyio.to_thread.run_sync(
            lambda: notifier.service.add_target(
                principal.user_id, data.platform, data.token, name=data.name
            )
        )
        return TargetOut.of(target)

    @get("/devices", responses=problems(401), summary="My push devices")
    async def devices(self, notifier: NotificationsDep, principal: PrincipalDep) -> TargetsOut:
        """FCM and APNs tokens, with their last success and error."""
        found = await anyio.to_thread.run_sync(notifier.service.targets, principal.user_id)
        return TargetsOut(items=[TargetOut.of(t) for t in found if t.kind != "webpush"])

    @delete(
        "/devices/{device_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Remove a push device",
    )
    async def remove_device(
        self, device_id: FromPath[str], notifier: NotificationsDep, principal: PrincipalDep
    ) -> None:
        """The device gets no more pushes from here."""
        await anyio.to_thread.run_sync(notifier.service.remove_target, principal.user_id, device_id)

    @get(
        "/{notification_id:str}",
        responses=problems(*PARAMETERS, 401, 404),
        summary="One notification",
    )
    async def get_one(
        self, notification_id: Id, notifier: NotificationsDep, principal: PrincipalDep
    ) -> NotificationOut:
        """With its delivery status per channel and target (queued, sent, delivered, read,
        failed with the error and attempts, skipped with the reason)."""
        found = await anyio.to_thread.run_sync(
            notifier.service.get, principal.user_id, notification_id
        )
        return NotificationOut.detailed(found)

    @patch(
        "/{notification_id:str}",
        responses=problems(*JSON_BODY, 401, 404, 409),
        summary="Update a notification",
    )
    async def update(
        self,
        notification_id: Id,
        data: JSONBody[NotificationChange],
        notifier: NotificationsDep,
        principal: PrincipalDep,
    ) -> NotificationOut:
        """The fields sent replace the old ones; a delivered notification is replaced on
        every channel and an ``updated`` event goes to every device. A scheduled one can be
        moved with ``deliver_at``."""
        changed = await anyio.to_thread.run_sync(
            notifier.service.update, principal.user_id, notification_id, data
        )
        return NotificationOut.detailed(changed)

    @delete(
        "/{notification_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Withdraw a notification",
    )
    async def withdraw(
        self, notification_id: Id, notifier: NotificationsDep, principal: PrincipalDep
    ) -> NotificationOut:
        """Removed from the desktop and push services, a ``withdrawn`` event to every
        device; a scheduled one is cancelled. It stays in history as withdrawn."""
        done = await anyio.to_thread.run_sync(
            notifier.service.withdraw, principal.user_id, notification_id
        )
        return NotificationOut.detailed(done)

    @post(
        "/{notification_id:str}/read",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Mark read",
    )
    async def read(
        self, notification_id: Id, notifier: NotificationsDep, principal: PrincipalDep
    ) -> NotificationOut:
        """Read here means read on every device: they get a ``read`` event."""
        done = await anyio.to_thread.run_sync(
            notifier.service.mark_read, principal.user_id, notification_id
        )
        return NotificationOut.detailed(done)

    @post(
        "/{notification_id:str}/dismiss",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Dismiss",
    )
    async def dismiss(
        self, notification_id: Id, notifier: NotificationsDep, principal: PrincipalDep
    ) -> NotificationOut:
        """Gone from every device: they get a ``dismissed`` event."""
        done = await anyio.to_thread.run_sync(
            notifier.service.dismiss, principal.user_id, notification_id
        )
        return NotificationOut.detailed(done)

    @post(
        "/{notification_id:str}/ack",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Confirm receipt",
    )
    async def ack(
        self, notification_id: Id, notifier: NotificationsDep, principal: PrincipalDep
    ) -> NotificationOut:
        """A companion app confirms it received the notification: its delivery is ``delivered``."""
        done = await anyio.to_thread.run_sync(
            notifier.service.acknowledge, principal.user_id, notification_id
        )
        return NotificationOut.detailed(done)

    @post(
        "/{notification_id:str}/actions/{action_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Press a notification's button",
    )
    async def act(
        self,
        notification_id: Id,
        action_id: Annotated[
            str, Parameter(max_length=32, description="The action's id, or `default`")
        ],
        notifier: NotificationsDep,
        principal: PrincipalDep,
    ) -> NotificationOut:
        """Marks it read and sends an ``action`` event naming the button to every device."""
        done = await anyio.to_thread.run_sync(
            notifier.service.act, principal.user_id, notification_id, action_id
        )
        return NotificationOut.detailed(done)
