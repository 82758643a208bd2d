"""Each engine through the runtime against the bare library on the same model file.

    python -m benchmarks.engines [--quick] [--only llm,stt,...] [--json PATH]

Both sides load the same files with the same settings (threads set explicitly on both),
run in the same process, turn about, after one warm-up round. The runtime side is the
engine class as the services use it (``runtime.engines.load_engine`` with the installed
model's parameters); the raw side calls the library directly, as a program without this
runtime would. benchmarks/README.md explains every number.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from assistant.problems import OWN_ERRORS
from benchmarks.common import (
    base_parser,
    header_line,
    load_average,
    machine_info,
    model_store,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)
from benchmarks.engines.base import Plan, Section, speech_clip
from benchmarks.engines.detect import bench_detect
from benchmarks.engines.llm import bench_llm
from benchmarks.engines.ocr import bench_ocr
from benchmarks.engines.stt import bench_faster_whisper, bench_whispercpp
from benchmarks.engines.tts import bench_piper
from benchmarks.engines.vad import bench_vad
from benchmarks.engines.wake import bench_wake
from hal.audio import AudioChunk
from runtime.modelstore import ModelStore

Speech = Callable[[], AudioChunk]
"""The spoken clip, made on first use and shared by the groups that need it."""
Group = Callable[[ModelStore, Plan, Speech], list[Section]]

GROUPS: dict[str, Group] = {
    "llm": lambda store, plan, speech: [bench_llm(store, plan)],
    "stt": lambda store, plan, speech: [
        bench_whispercpp(store, plan, speech()),
        bench_faster_whisper(store, plan, speech()),
    ],
    "tts": lambda store, plan, speech: [bench_piper(store, plan)],
    "ocr": lambda store, plan, speech: [bench_ocr(store, plan)],
    "detect": lambda store, plan, speech: [bench_detect(store, plan)],
    "vad": lambda store, plan, speech: [bench_vad(store, plan, speech())],
    "wake": lambda store, plan, speech: [bench_wake(store, plan, speech())],
}
"""What ``--only`` can pick, in the order they run."""

LIBRARIES = (
    "llama-cpp-python",
    "pywhispercpp",
    "faster-whisper",
    "ctranslate2",
    "piper-tts",
    "onnxruntime",
    "rapidocr-onnxruntime",
    "numpy",
)
"""Distributions whose versions go in the header line."""


def run_groups(
    store: ModelStore, plan: Plan, groups: Sequence[str]
) -> tuple[Section, dict[str, str]]:
    """Every selected group, merged into one section; failures by group."""
    merged = Section()
    errors: dict[str, str] = {}
    speech = cache(lambda: speech_clip(plan.workdir))
    for group in groups:
        try:
            parts = GROUPS[group](store, plan, speech)
        except (*OWN_ERRORS, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            errors[group] = f"{type(exc).__name__}: {exc}"
            progress(f"{group} failed: {errors[group]}")
            continue
        for part in parts:
            merged.rows.extend(part.rows)
            merged.notes.extend(part.notes)
            merged.details[part.rows[0].engine] = part.details
    return merged, errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the engine benchmarks; print the header and the table; 1 if a group failed."""
    parser = base_parser(
        __doc__.splitlines()[0] if __doc__ else "",
        tuple(GROUPS),
        prog="python -m benchmarks.engines",
    )
    args, groups = parse_with_groups(parser, argv, tuple(GROUPS))
    info = machine_info(LIBRARIES)
    store = model_store(args.models_dir)
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as scratch:
        plan = Plan.make(
            quick=args.quick,
            repetitions=args.repetitions,
            max_tokens=args.max_tokens,
            threads=args.threads,
            workdir=Path(scratch),
        )
        try:
            section, errors = run_groups(store, plan, groups)
        finally:
            store.close()
    print(header_line(info))
    print()
    print(rows_table(section.rows))
    print()
    for note in section.notes:
        print(f"- {note}")
    print(
        f"- Values are median (p90) of {plan.repetitions} rounds ({plan.fast_repetitions} for"
        " detection, VAD and wake word) after one warm-up round, raw and runtime turn about;"
        " p90 is the slow tail (10th percentile of a rate). runtime/raw is runtime speed over"
        " raw speed: 1.000 = as fast, below 1 = slower."
    )
    print(f"- Load average at the end: {' '.join(f'{v:.2f}' for v in load_average())}.")
    for group, error in errors.items():
        print(f"- {group}: FAILED: {error}")
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "engines",
                "machine": info,
                "plan": plan,
                "rows": [row.as_dict() for row in section.rows],
                "notes": section.notes,
                "errors": errors,
                "details": section.details,
            },
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
