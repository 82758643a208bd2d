"""The notifications page in headless Chromium on a live server: a notification sent
through NotificationService arrives live on two pages of the same user, reading or
dismissing it on one changes the other (and the unread badge), preferences and quiet
hours are saved, and Web Push as far as headless Chromium goes.

Web Push: a headless Chromium context is incognito, where Chrome has no Push API
(crbug.com/41124656), and a persistent profile cannot reach its push service (FCM) from
this machine. So the page's button is checked to explain the failure, and the rest of the
chain is driven without the browser's push service: the page registers a subscription
made by a local push service (tests/notifications/pushservice.py, which checks VAPID and
decrypts like a browser), the server pushes a notification to it, and the payload it
decrypted is delivered to the app's service worker through the DevTools protocol
(``ServiceWorker.deliverPushMessage``), whose push handler shows it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import Page, expect

from assistant.auth import Principal
from assistant.notifications.models import NotificationDraft
from tests.notifications.pushservice import PushService, running
from tests.web.conftest import (
    MISSING_PAGE,
    VIEWPORTS,
    CheckPage,
    SignedInPage,
    WebApp,
    wait_mounted,
)

INCOGNITO_PUSH = "does not support the Push API in incognito mode"
"""What Chromium itself logs when the page asks for a push subscription in incognito."""
LIVE_MS = 15_000
"""How long a page may take to show what the server did (a bound, not a measurement)."""


def open_notifications(page: Page, url: str) -> None:
    page.goto(url + "/#/notifications")
    wait_mounted(page, "notifications")
    expect(page.locator("#notification-live")).to_have_attribute(
        "data-state", "live", timeout=LIVE_MS
    )


def send(web_app: WebApp, username: str, **fields: Any) -> str:
    """A notification to ``username`` through the service (as a timer or skill sends)."""
    user = web_app.user(username)
    caller = Principal(user_id=user.id, username=user.username, role=user.role)
    [sent] = web_app.services.notifications.service.send(
        caller, NotificationDraft.model_validate(fields)
    )
    return sent.id


def item(page: Page, notification_id: str) -> Any:
    return page.locator(f'#notification-list li[data-id="{notification_id}"]')


def test_notifications_arrive_live_and_read_state_follows_on_every_page(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    wide = signed_in_page("ada", "wide")
    phone = signed_in_page("ada", "phone")
    for page in (wide, phone):
        open_notifications(page, web_app.url)
        expect(page.locator("#notification-empty")).to_be_visible()
    parcel = send(web_app, "ada", title="Parcel at the door", body="Left with the neighbour.")
    oven = send(web_app, "ada", title="Oven is hot", priority=4, category="reminder")
    send(web_app, web_app.user("bob").username, title="Not for Ada")
    for page in (wide, phone):
        expect(item(page, parcel)).to_contain_text("Left with the neighbour.", timeout=LIVE_MS)
        expect(item(page, parcel)).to_have_attribute("data-read", "false")
        expect(item(page, oven)).to_contain_text("High")
        expect(page.locator("#notification-list li")).to_have_count(2)
        expect(page.locator("#unread-badge")).to_have_text("2", timeout=LIVE_MS)

    item(wide, parcel).get_by_role("button", name="Mark “Parcel at the door” read").click()
    expect(item(phone, parcel)).to_have_attribute("data-read", "true", timeout=LIVE_MS)
    expect(phone.locator("#unread-badge")).to_have_text("1", timeout=LIVE_MS)
    ada = web_app.user("ada").id
    assert web_app.services.notifications.service.get(ada, parcel).read_at is not None

    item(phone, oven).get_by_role("button", name="Dismiss “Oven is hot”").click()
    expect(item(wide, oven)).to_have_count(0, timeout=LIVE_MS)
    expect(wide.locator("#unread-badge")).to_be_hidden(timeout=LIVE_MS)
    assert web_app.services.notifications.service.get(ada, oven).dismissed_at is not None

    snooze = {"kind": "callback", "id": "snooze", "label": "Snooze"}
    plants = send(web_app, "ada", title="Water the plants", actions=[snooze])
    item(phone, plants).get_by_role("button", name="Snooze").click()
    expect(item(wide, plants)).to_have_attribute("data-read", "true", timeout=LIVE_MS)
    pressed = [
        e
        for e in web_app.services.notifications.service.replay(ada, 0)[0]
        if e.notification_id == plants and e.kind == "action"
    ]
    assert [e.payload.get("action") for e in pressed] == ["snooze"]

    later = send(web_app, "ada", title="Feed the cat")
    expect(item(phone, later)).to_have_count(1, timeout=LIVE_MS)
    wide.locator("#notification-read-all").click()
    expect(item(phone, later)).to_have_attribute("data-read", "true", timeout=LIVE_MS)

    check_page(wide, "notifications", allow=[MISSING_PAGE])

    # On any other page the menu's badge still follows the stream.
    wide.goto(web_app.url + "/#/settings")
    wait_mounted(wide, "settings")
    send(web_app, "ada", title="Bread is ready")
    expect(wide.locator("#unread-badge")).to_have_text("1", timeout=LIVE_MS)
    expect(wide.locator("#unread-label")).to_have_text(", 1 unread")


def test_preferences_and_quiet_hours_are_saved(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada")
    open_notifications(page, web_app.url)
    page.get_by_label("Quiet hours", exact=True).check()
    page.get_by_label("From", exact=True).fill("21:30")
    page.get_by_label("Until", exact=True).fill("06:45")
    page.get_by_label("Still notify me from priority").select_option("4")
    page.get_by_label("Android app (FCM)").uncheck()
    page.locator("#pref-save").click()
    expect(page.locator(".page-status")).to_have_text("Preferences saved.", timeout=LIVE_MS)
    ada = web_app.user("ada").id
    prefs, _ = web_app.services.notifications.service.get_preferences(ada)
    assert prefs.quiet_hours is not None
    assert (prefs.quiet_hours.start, prefs.quiet_hours.end) == ("21:30", "06:45")
    assert prefs.quiet_hours.bypass_priority == 4
    assert "fcm" not in prefs.channels and "webpush" in prefs.channels

    page.reload()
    wait_mounted(page, "notifications")
    expect(page.get_by_label("Quiet hours", exact=True)).to_be_checked()
    expect(page.get_by_label("From", exact=True)).to_have_value("21:30")
    check_page(page, "notifications-preferences", allow=[MISSING_PAGE])
    page.set_viewport_size(VIEWPORTS["phone"])
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    page.emulate_media(color_scheme="dark")
    check_page(page, "notifications-dark", allow=[MISSING_PAGE])


def test_web_push_subscription_and_the_service_worker_push_handler(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada")
    page.context.grant_permissions(["notifications"], origin=web_app.url)
    open_notifications(page, web_app.url)
    expect(page.locator("#push-state")).to_have_text("Push is off for this browser.")

    # The browser's own subscription: refused in an incognito context, and said so.
    page.locator("#push-toggle").click()
    expect(page.locator(".toast[data-kind='error']")).to_contain_text(
        "could not subscribe to its push service", timeout=LIVE_MS
    )

    public_key = web_app.services.notifications.vapid.get().public_key
    with running(PushService(public_key)) as push:
        subscription = push.subscribe("chromium")
        registered = page.evaluate(
            """async (subscription) => {
                const app = document.querySelector('script[src$="/js/app.js"]').src;
                const { api } = await import(new URL('./api.js', app));
                const push = await import(new URL('./notify-push.js', app));
                return push.registerSubscription(api, subscription);
            }""",
            subscription,
        )
        assert registered["endpoint"] == subscription["endpoint"]
        page.reload()
        wait_mounted(page, "notifications")
        expect(page.locator("#push-subscriptions li[data-id]")).to_have_count(1)
        expect(page.locator("#push-subscriptions")).to_contain_text("Chrome on Linux")

        sent = send(web_app, "ada", title="Doorbell", body="Someone is at the front door.")
        deadline = time.monotonic() + 30
        while not push.pushes and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert push.rejections == []
        [delivered] = push.pushes
        assert delivered.payload is not None
        assert (delivered.payload["id"], delivered.payload["title"]) == (sent, "Doorbell")

    # The decrypted payload, as the browser's push service would hand it to the worker.
    deliver_push(page, web_app.url, delivered.payload)
    assert shown_by_worker(page, 1) == [["Doorbell", "Someone is at the front door.", sent]]
    withdrawn = {"event": "withdrawn", "id": sent, "tag": delivered.payload["tag"]}
    deliver_push(page, web_app.url, withdrawn)
    assert shown_by_worker(page, 0) == []

    # A click on it opens the page on #/notifications/<id> (see sw.js), which reads it.
    page.goto(f"{web_app.url}/#/notifications/{sent}")
    wait_mounted(page, "notifications")
    expect(item(page, sent)).to_have_attribute("data-read", "true", timeout=LIVE_MS)
    expect(item(page, sent)).to_be_focused()
    ada = web_app.user("ada").id
    assert web_app.services.notifications.service.get(ada, sent).read_at is not None
    check_page(page, "notifications-push", allow=[MISSING_PAGE, INCOGNITO_PUSH])


def deliver_push(page: Page, origin: str, payload: dict[str, Any]) -> None:
    """Hand ``payload`` to the app's service worker as a push message."""
    session = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    session.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    [registration] = [r for r in registrations if not r["isDeleted"]]
    session.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": origin,
            "registrationId": registration["registrationId"],
            "data": json.dumps(payload),
        },
    )
    session.detach()


SHOWN = """async () => {
    const registration = await navigator.serviceWorker.ready;
    const shown = await registration.getNotifications();
    return shown.map((n) => [n.title, n.body, n.tag]);
}"""


def shown_by_worker(page: Page, count: int) -> list[list[str]]:
    """The notifications the service worker shows (title, body, tag), once there are
    ``count`` of them (the worker handles a push asynchronously)."""
    page.wait_for_function(f"async () => (await ({SHOWN})()).length === {count}", timeout=LIVE_MS)
    found: list[list[str]] = page.evaluate(SHOWN)
    return found
