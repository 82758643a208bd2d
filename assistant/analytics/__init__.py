"""Analytics: events from every service, rollups, dashboard, insights, A/B experiments.

A service takes ``events: Emitter = NO_EVENTS`` in its constructor and calls
``self.events.emit("name", {...}, user_id=...)``; :func:`assistant.services.build_services`
hands it the analytics service's emitter.
"""

from assistant.analytics.emitter import QueueEmitter
from assistant.analytics.events import SERVER_EVENTS, Event
from assistant.analytics.experiments import ExperimentService, Variant
from assistant.analytics.service import (
    AnalyticsOptions,
    AnalyticsService,
    ClientEvent,
    Viewer,
)
from runtime.events import NO_EVENTS, Emitter, NullEmitter

__all__ = [
    "NO_EVENTS",
    "SERVER_EVENTS",
    "AnalyticsOptions",
    "AnalyticsService",
    "ClientEvent",
    "Emitter",
    "Event",
    "ExperimentService",
    "NullEmitter",
    "QueueEmitter",
    "Variant",
    "Viewer",
]
