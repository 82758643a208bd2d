"""Shared helpers of the benchmarks: statistics, interleaved runs, tables, machine facts.

Every number is a median over repetitions, with a slow-tail percentile beside it. The
runtime and the bare library run in the same process, turn about, so a machine that gets
busier during a run slows both sides alike and the ratio stays meaningful.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from runtime.modelstore import ModelStore

T = TypeVar("T")

TAIL_PERCENTILE = 90.0
"""The slow tail reported beside each median."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), interpolating linearly between ranks (numpy's way)."""
    if not values:
        raise ValueError("no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Stats:
    """Median and slow tail of repeated measurements."""

    median: float
    """The median."""
    p90: float
    """The slow tail: the 90th percentile of a time, the 10th percentile of a rate."""
    count: int
    """Measurements."""

    @classmethod
    def of(cls, values: Sequence[float], *, higher_is_better: bool = False) -> Stats:
        """Stats of ``values``; for rates (``higher_is_better``) the tail is the low end."""
        tail = 100.0 - TAIL_PERCENTILE if higher_is_better else TAIL_PERCENTILE
        return cls(percentile(values, 50.0), percentile(values, tail), len(values))


def speed_ratio(runtime: float, raw: float, *, higher_is_better: bool) -> float | None:
    """How fast the runtime is next to the bare library: 1.0 = as fast, below 1 = slower.

    Rates (tokens/s) divide runtime by raw; times (latency, real-time factor) divide raw by
    runtime. None when the divisor is not positive.
    """
    numerator, divisor = (runtime, raw) if higher_is_better else (raw, runtime)
    return numerator / divisor if divisor > 0 else None


@dataclass(frozen=True)
class Target:
    """A goal a number is reported against (never asserted)."""

    on: Literal["ratio", "runtime"]
    """Whether the goal concerns the runtime/raw ratio or the runtime's median itself."""
    at_least: bool
    """True: the number must reach ``bound``; False: it must stay below it."""
    bound: float
    """The goal."""

    def met(self, ratio: float | None, runtime: float) -> bool | None:
        """Whether the goal is met (None when there is no ratio to judge)."""
        value = ratio if self.on == "ratio" else runtime
        if value is None:
            return None
        return value >= self.bound if self.at_least else value < self.bound

    def describe(self, unit: str = "") -> str:
        """The goal in words, e.g. ``>= 0.97`` or ``< 0.5 ms``."""
        suffix = f" {unit}" if self.on == "runtime" and unit else ""
        return f"{'>=' if self.at_least else '<'} {self.bound:g}{suffix}"


@dataclass(frozen=True)
class Row:
    """One line of a results table: a metric, bare library against runtime."""

    engine: str
    """What was measured (``LLM llama.cpp``, ``STT whisper.cpp``...)."""
    metric: str
    """The quantity, in words."""
    unit: str
    """Its unit."""
    runtime: Stats
    """Through the runtime (or the only value, when there is no raw side)."""
    raw: Stats | None = None
    """The bare library on the same model and settings."""
    higher_is_better: bool = False
    """True for rates, False for times."""
    target: Target | None = None
    """What the number is reported against."""
    digits: int = 2
    """Decimals shown."""

    @property
    def ratio(self) -> float | None:
        """Runtime speed over raw speed (medians); None without a raw side."""
        if self.raw is None:
            return None
        return speed_ratio(
            self.runtime.median, self.raw.median, higher_is_better=self.higher_is_better
        )

    def cells(self) -> list[str]:
        """The row's table cells."""
        target = ""
        if self.target is not None:
            met = self.target.met(self.ratio, self.runtime.median)
            verdict = {True: "met", False: "missed", None: "n/a"}[met]
            target = f"{self.target.describe(self.unit)}: {verdict}"
        return [
            self.engine,
            f"{self.metric} ({self.unit})" if self.unit else self.metric,
            format_stats(self.raw, self.digits),
            format_stats(self.runtime, self.digits),
            "" if self.ratio is None else f"{self.ratio:.3f}",
            target,
        ]

    def as_dict(self) -> dict[str, Any]:
        """The row for JSON output."""
        met = None if self.target is None else self.target.met(self.ratio, self.runtime.median)
        return {
            "engine": self.engine,
            "metric": self.metric,
            "unit": self.unit,
            "raw": None if self.raw is None else asdict(self.raw),
            "runtime": asdict(self.runtime),
            "ratio": self.ratio,
            "higher_is_better": self.higher_is_better,
            "target": None if self.target is None else self.target.describe(self.unit),
            "target_met": met,
        }


ROW_HEADERS = ("engine", "metric", "bare library", "runtime", "runtime/raw", "target")
"""Columns of a table of rows; values are ``median (p90)``."""


def format_stats(stats: Stats | None, digits: int) -> str:
    """``median (tail)`` with ``digits`` decimals; empty for None."""
    if stats is None:
        return ""
    return f"{stats.median:.{digits}f} ({stats.p90:.{digits}f})"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; ``|`` inside cells is escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells for {len(headers)} columns")
    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(r) for r in rows)])


def rows_table(rows: Sequence[Row]) -> str:
    """The Markdown table of ``rows``."""
    return markdown_table(ROW_HEADERS, [row.cells() for row in rows])


def interleaved(
    runs: Mapping[str, Callable[[], T]], repetitions: int, *, warmup: int = 1
) -> dict[str, list[T]]:
    """Call every run ``repetitions`` times, turn about, after ``warmup`` discarded rounds.

    The order rotates every round, so no side always goes first (after a cache-cold gap)
    and a change in machine load touches every side alike.
    """
    if repetitions < 1 or warmup < 0:
        raise ValueError("repetitions must be positive and warmup not negative")
    names = list(runs)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_index in range(warmup + repetitions):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            value = runs[name]()
            if round_index >= warmup:
                results[name].append(value)
    return results


# Machine facts ---------------------------------------------------------------------


@dataclass(frozen=True)
class MachineInfo:
    """Where and when the numbers were measured."""

    date_utc: str
    """Start of the run, UTC, to the minute."""
    cpu: str
    """CPU model name."""
    cores: int
    """Logical CPUs."""
    ram_gib: float
    """Physical memory."""
    load_average: tuple[float, float, float]
    """1, 5 and 15 minute load averages at the start."""
    python: str
    """Python version."""
    libraries: dict[str, str] = field(default_factory=dict)
    """Versions of the libraries that matter, by distribution name."""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what the platform says."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware") and value.strip():
            return " ".join(value.split())
    return platform.processor() or platform.machine() or "unknown"


def ram_gib() -> float:
    """Physical memory in GiB (0 where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def load_average() -> tuple[float, float, float]:
    """The load averages (zeros where unknown)."""
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def library_versions(distributions: Sequence[str]) -> dict[str, str]:
    """Installed versions by distribution name (``missing`` when not installed)."""
    versions = {}
    for name in distributions:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def machine_info(distributions: Sequence[str]) -> MachineInfo:
    """Facts about this machine and run."""
    return MachineInfo(
        date_utc=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu_model(),
        cores=os.cpu_count() or 0,
        ram_gib=round(ram_gib(), 1),
        load_average=load_average(),
        python=platform.python_version(),
        libraries=library_versions(distributions),
    )


def header_line(info: MachineInfo) -> str:
    """One line naming the date, CPU, cores, RAM, load, Python and library versions."""
    load = " ".join(f"{value:.2f}" for value in info.load_average)
    libraries = ", ".join(f"{name} {version}" for name, version in info.libraries.items())
    return (
        f"{info.date_utc} · {info.cpu} · {info.cores} cores · {info.ram_gib:g} GiB RAM"
        f" · load {load} · Python {info.python} · {libraries}"
    )


# Command line and output -------------------------------------------------------------


def base_parser(
    description: str,
    groups: Sequence[str] = (),
    *,
    tuning: bool = True,
    prog: str | None = None,
) -> argparse.ArgumentParser:
    """The options a benchmark takes: ``--only`` when it has ``groups`` to choose from,
    ``--max-tokens`` and ``--threads`` when ``tuning`` (it honours them); ``prog`` names
    the command in the usage line (``python -m benchmarks.X`` for a package)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--quick", action="store_true", help="few repetitions and short outputs (smoke runs)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    if groups:
        parser.add_argument(
            "--only",
            metavar="GROUPS",
            help=f"comma-separated subset of: {', '.join(groups)}",
        )
    parser.add_argument(
        "--repetitions", type=int, metavar="N", help="measured repetitions (after one warm-up)"
    )
    if tuning:
        parser.add_argument(
            "--max-tokens", type=int, metavar="N", help="tokens per LLM generation (decode runs)"
        )
        parser.add_argument(
            "--threads",
            type=int,
            metavar="N",
            help="CPU threads for both sides (default: each engine's own default, set explicitly)",
        )
    parser.add_argument(
        "--models-dir",
        type=Path,
        metavar="DIR",
        help="model store to read (default: the settings' models folder)",
    )
    return parser


def parse_with_groups(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, groups: Sequence[str]
) -> tuple[argparse.Namespace, tuple[str, ...]]:
    """The parsed arguments and the groups ``--only`` picked (a usage error if unknown)."""
    args = parser.parse_args(argv)
    try:
        return args, selected_groups(args.only, groups)
    except ValueError as exc:
        parser.error(str(exc))


def selected_groups(only: str | None, groups: Sequence[str]) -> tuple[str, ...]:
    """The groups named by ``--only`` (all when None), in the canonical order."""
    if only is None:
        return tuple(groups)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = sorted(wanted - set(groups))
    if unknown or not wanted:
        raise ValueError(f"unknown group(s) {', '.join(unknown) or '(none)'}; known: {groups}")
    return tuple(name for name in groups if name in wanted)


def jsonable(value: Any) -> Any:
    """``value`` with dataclasses, tuples, paths and enums turned into JSON types."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(payload), indent=2) + "\n", encoding="utf-8")


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the results)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def model_store(models_dir: Path | None) -> ModelStore:
    """The model store to benchmark from (the settings' one unless ``models_dir``)."""
    from assistant.services import build_model_store
    from assistant.settings import Settings

    settings = Settings.load(models={"dir": models_dir}) if models_dir else Settings.load()
    return build_model_store(settings)
