"""A/B experiments: sticky assignment, exposures, conversions and their significance.

A user's variant is a pure function of the experiment key and the user id (the first 64
bits of ``sha256(key:user)`` as a number in [0, 1), cut by the cumulative weights), so it
never changes while the variants do not, needs no storage, and spreads users in proportion
to the weights. A service asks ``experiments.variant(user, key)``; the first time a user
of a running experiment asks, the exposure is stored (once per user) and emitted.

Results: per variant, the users exposed and those converted (a target event within the
window after their exposure), the rate with a 95% Wilson score interval, and against the
first variant (the control) the difference and a two-sided two-proportion z-test with the
pooled proportion (the same p-value as a 2x2 chi-square test without continuity
correction, since chi2 = z^2).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from assistant.analytics import store
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.profile import Preferences
from assistant.store import Database
from runtime.events import NO_EVENTS, Emitter

log = logging.getLogger(__name__)

METHOD = (
    "Conversion: a target event within window_hours after the user's first exposure."
    " Rate: conversions / exposures with a 95% Wilson score interval. Test: two-sided"
    " two-proportion z-test with the pooled proportion against the first variant (the"
    " control); the same p-value as a 2x2 chi-square test without continuity correction."
)
"""How the results are computed, as the results endpoint states it."""

Z_95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal."""

Status = Literal["draft", "running", "stopped"]


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment."""

    name: str
    """Its name (the first variant is the control)."""
    weight: float = 1.0
    """Share of users relative to the other variants."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """What the service does differently in this arm (``{"verbosity": "brief"}``)."""


@dataclass(frozen=True)
class Experiment:
    """An experiment as stored."""

    id: str
    key: str
    """What services ask for (``chat.style``): unique."""
    description: str
    variants: tuple[Variant, ...]
    targets: tuple[str, ...]
    """Event names that count as a conversion."""
    window_hours: float
    """How long after the exposure a conversion counts."""
    status: Status
    started_at: int | None
    stopped_at: int | None
    created_at: int
    updated_at: int
    version: int


@dataclass(frozen=True)
class VariantResult:
    """How one variant did."""

    name: str
    exposures: int
    conversions: int
    rate: float | None
    """conversions / exposures; None with no exposure."""
    ci_low: float | None
    """95% Wilson score interval of the rate."""
    ci_high: float | None
    difference: float | None = None
    """rate - the control's rate (None for the control)."""
    z: float | None = None
    """Two-proportion z statistic against the control."""
    p_value: float | None = None
    """Two-sided p-value of that test."""


# Pure parts -----------------------------------------------------------------------------


def bucket(key: str, user_id: str) -> float:
    """A user's fixed position in [0, 1) for an experiment."""
    digest = hashlib.sha256(f"{key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(key: str, user_id: str, variants: Sequence[Variant]) -> Variant:
    """The variant of a user: sticky, and in proportion to the weights."""
    total = sum(v.weight for v in variants)
    point = bucket(key, user_id) * total
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.weight
        if point < cumulative:
            return variant
    return variants[-1]


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of H0: p1 = p2, with the pooled proportion. z > 0: p2 is higher."""
    if n1 == 0 or n2 == 0:
        return (0.0, 1.0)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (x2 / n2 - x1 / n1) / se
    return (z, math.erfc(abs(z) / math.sqrt(2)))


def results(counts: Sequence[tuple[str, int, int]]) -> list[VariantResult]:
    """Results of (variant, exposures, conversions), the first being the control."""
    out: list[VariantResult] = []
    control = counts[0] if counts else None
    for index, (name, n, x) in enumerate(counts):
        low, high = wilson_interval(x, n) if n else (None, None)
        rate = x / n if n else None
        if index == 0 or control is None or not n or not control[1]:
            out.append(VariantResult(name, n, x, rate, low, high))
            continue
        z, p = two_proportion_z_test(control[2], control[1], x, n)
        difference = (rate or 0.0) - control[2] / control[1]
        out.append(VariantResult(name, n, x, rate, low, high, difference, z, p))
    return out


class Variants(Protocol):
    """What a service needs to A/B test something: the user's variant of an experiment."""

    def variant(self, user_id: str, key: str) -> Variant | None:
        """The variant of the running experiment ``key`` for the user; None when none runs."""
        ...


# The service ----------------------------------------------------------------------------

CONFIG_KEYS: Mapping[str, tuple[str, ...]] = {
    "chat.style": ("tone", "verbosity", "personality"),
}
"""Experiment keys a service reads, and the config keys each variant may set."""


def check_chat_style(config: Mapping[str, Any]) -> None:
    """Raise InvalidInput unless a ``chat.style`` variant's config holds valid preferences."""
    try:
        Preferences.model_validate(dict(config), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field="config") from exc


CONFIG_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], None]] = {
    "chat.style": check_chat_style,
}
"""How each service's variants' config is checked when an experiment is created."""


@dataclass(frozen=True)
class ExperimentDraft:
    """What an admin sends to create an experiment."""

    key: str
    variants: tuple[Variant, ...]
    targets: tuple[str, ...]
    window_hours: float = 24.0
    description: str = ""
    start: bool = False


class ExperimentService:
    """Experiments in SQLite; ``variant(user, key)`` is what services call."""

    def __init__(
        self,
        db: Database,
        *,
        events: Emitter = NO_EVENTS,
        clock: Clock = system_clock,
        check_config: Mapping[str, Callable[[Mapping[str, Any]], None]] = CONFIG_CHECKS,
    ) -> None:
        self.db = db
        self.events = events
        self.clock = clock
        self.check_config = check_config
        """key -> a check raising InvalidInput when a variant's config is wrong."""
        self._exposed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def variant(self, user_id: str, key: str) -> Variant | None:
        """The user's variant of the running experiment ``key``; None when none runs.

        Blocking (reads SQLite, records the first exposure): call it off the event loop.
        """
        with self.db.read() as conn:
            row = store.get_experiment(conn, key=key)
        if row is None or row["status"] != "running":
            return None
        experiment = _experiment(row)
        chosen = assign(experiment.key, user_id, experiment.variants)
        marker = (experiment.id, user_id)
        with self._lock:
            known = marker in self._exposed
            self._exposed.add(marker)
        if not known:
            with self.db.write() as conn:
                first = store.add_exposure(
                    conn, experiment.id, user_id, chosen.name, to_ms(self.clock())
                )
            if first:
                self.events.emit(
                    "experiment.exposure",
                    {"experiment": key, "variant": chosen.name},
                    user_id=user_id,
                )
        return chosen

    def create(self, draft: ExperimentDraft) -> Experiment:
        """Store a new experiment (running at once if ``start``)."""
        self._check(draft.key, draft.variants, draft.targets)
        now = to_ms(self.clock())
        experiment_id = new_id(now / 1000)
        row: dict[str, Any] = {
            "id": experiment_id,
            "key": draft.key,
            "description": draft.description,
            "variants": _variants_json(draft.variants),
            "targets": json.dumps(list(draft.targets)),
            "window_hours": draft.window_hours,
            "status": "running" if draft.start else "draft",
            "started_at": now if draft.start else None,
            "stopped_at": None,
            "created_at": now,
            "updated_at": now,
        }
        with self.db.write() as conn:
            if store.get_experiment(conn, key=draft.key) is not None:
                raise Conflict(f"An experiment with key {draft.key!r} exists", field="key")
            store.insert_experiment(conn, row)
            created = store.get_experiment(conn, experiment_id=experiment_id)
        assert created is not None
        return _experiment(created)

    def list(self) -> list[Experiment]:
        """Every experiment, newest first."""
        with self.db.read() as conn:
            return [_experiment(row) for row in store.list_experiments(conn)]

    def get(self, experiment_id: str) -> Experiment:
        """One experiment, or NotFound."""
        with self.db.read() as conn:
            row = store.get_experiment(conn, experiment_id=experiment_id)
        if row is None:
            raise NotFound("No such experiment")
        return _experiment(row)

    def update(
        self,
        experiment_id: str,
        *,
        status: Status | None = None,
        variants: Sequence[Variant] | None = None,
        targets: Sequence[str] | None = None,
        window_hours: float | None = None,
        description: str | None = None,
    ) -> Experiment:
        """Start, stop or change an experiment. Variants and targets change only before it
        starts (changing them later would move users between arms); a stopped one stays
        stopped."""
        current = self.get(experiment_id)
        changes: dict[str, Any] = {}
        if variants is not None or targets is not None:
            if current.status != "draft":
                raise Conflict(
                    "Variants and targets change only before the experiment starts",
                    field="variants" if variants is not None else "targets",
                )
            self._check(current.key, variants or current.variants, targets or current.targets)
            if variants is not None:
                changes["variants"] = _variants_json(variants)
            if targets is not None:
                changes["targets"] = json.dumps(list(targets))
        if window_hours is not None:
            changes["window_hours"] = window_hours
        if description is not None:
            changes["description"] = description
        now = to_ms(self.clock())
        if status is not None and status != current.status:
            if current.status == "stopped":
                raise Conflict("A stopped experiment cannot start again", field="status")
            if status == "draft":
                raise Conflict("A started experiment cannot go back to draft", field="status")
            changes["status"] = status
            if status == "running":
                changes["started_at"] = now
            else:
                changes["stopped_at"] = now
        if changes:
            changes["updated_at"] = now
            with self.db.write() as conn:
                store.update_experiment(conn, experiment_id, changes)
        return self.get(experiment_id)

    def results(self, experiment_id: str) -> tuple[Experiment, builtins.list[VariantResult]]:
        """Exposures, conversions, rates with intervals, and tests against the control."""
        experiment = self.get(experiment_id)
        window_ms = int(experiment.window_hours * 3_600_000)
        with self.db.read() as conn:
            rows = store.exposure_results(conn, experiment.id, experiment.targets, window_ms)
        by_name = {row["variant"]: row for row in rows}
        counts = [
            (
                v.name,
                int(by_name[v.name]["exposures"]) if v.name in by_name else 0,
                int(by_name[v.name]["conversions"] or 0) if v.name in by_name else 0,
            )
            for v in experiment.variants
        ]
        return experiment, results(counts)

    def _check(self, key: str, variants: Sequence[Variant], targets: Sequence[str]) -> None:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise InvalidInput("Variant names must differ", field="variants")
        if len(variants) < 2:
            raise InvalidInput("An experiment needs at least two variants", field="variants")
        if not any(v.weight > 0 for v in variants):
            raise InvalidInput("At least one variant needs a weight above 0", field="variants")
        if not targets:
            raise InvalidInput("Name at least one target event", field="targets")
        allowed = CONFIG_KEYS.get(key)
        for index, variant in enumerate(variants):
            if allowed is not None:
                unknown = sorted(set(variant.config) - set(allowed))
                if unknown:
                    raise InvalidInput(
                        f"{key} variants may set {', '.join(allowed)}; not {', '.join(unknown)}",
                        field=f"variants[{index}].config",
                    )
            check = self.check_config.get(key)
            if check is not None:
                try:
                    check(variant.config)
                except InvalidInput as exc:
                    raise InvalidInput(exc.detail, field=f"variants[{index}].config") from exc


def _variants_json(variants: Sequence[Variant]) -> str:
    return json.dumps(
        [{"name": v.name, "weight": v.weight, "config": dict(v.config)} for v in variants]
    )


def _experiment(row: Mapping[str, Any]) -> Experiment:
    return Experiment(
        id=row["id"],
        key=row["key"],
        description=row["description"],
        variants=tuple(
            Variant(v["name"], float(v["weight"]), v.get("config") or {})
            for v in json.loads(row["variants"])
        ),
        targets=tuple(json.loads(row["targets"])),
        window_hours=float(row["window_hours"]),
        status=row["status"],
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )
