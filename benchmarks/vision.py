"""Vision benchmark: detection and OCR through the HTTP API against the bare engines.

The real app runs on uvicorn in a thread of this process, with its own temporary data
folder, the registry-shipped fall-detection YOLOv8 and RapidOCR's PP-OCRv4 models from
the model store. The same images go through ``POST /api/v1/vision/detect`` and ``/ocr``
(measured by an httpx client, upload to answer) and through the bare libraries on the
same loaded model (decode with Pillow, letterbox, ``onnxruntime`` ``session.run``,
decode and NMS; ``RapidOCR()(image)``), turn about. Also: images per second with two
concurrent clients, capture-to-result with the image-file camera, and a grounded
visual question end to end (OCR, detection and the chat model).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    header_line,
    interleaved,
    load_average,
    machine_info,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)
from server.background import serve_in_thread

GROUPS = ("detect", "ocr", "concurrent", "camera", "vqa")
LIBRARIES = ("onnxruntime", "rapidocr-onnxruntime", "pillow", "litestar", "uvicorn", "httpx")
DETECTOR = "yolov8-fall:fp16"
OCR = "rapidocr:ppocrv4"
PASSWORD = "correct horse battery"
V = "/api/v1/vision"


def scene_jpeg() -> bytes:
    """Two people in a room, 640 x 640, as a JPEG."""
    from runtime.testing.scenes import people_scene

    picture, _ = people_scene()
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def sign_png() -> bytes:
    """A two-line street sign, as a PNG."""
    from runtime.testing.scenes import text_image

    picture = text_image(
        ["MAIN STREET", "Town centre 2 km"],
        font="DejaVuSans-Bold.ttf",
        size=48,
        foreground=(250, 250, 250),
        background=(20, 90, 40),
    )
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Bench:
    """The running app and what the benchmarks need of it."""

    url: str
    headers: dict[str, str]
    client: httpx.Client
    engines: dict[str, Any] = field(default_factory=dict)
    """The engines the app's model manager loaded, by model id (the raw side uses them)."""
    camera_file: Path | None = None


@contextmanager
def running_app(store_dir: Path, camera_file: Path) -> Iterator[Bench]:
    """The real app on uvicorn with a temporary data folder and one signed-in user."""
    from assistant.auth import ClientInfo, PasswordHasher
    from assistant.services import build_services
    from assistant.settings import Settings
    from runtime.engines import Engine, load_engine
    from server.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-vision-") as data:
        settings = Settings.load(
            data_dir=Path(data),
            models={"dir": store_dir, "keep_alive_seconds": -1},
            vision={"camera_device": str(camera_file)},
            auth={"access_token_ttl_seconds": 3600},
        )
        services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
        engines: dict[str, Any] = {}

        def recording_loader(
            engine: str, model_id: str, path: Path, params: Mapping[str, Any]
        ) -> Engine:
            loaded = load_engine(engine, model_id, path, params)
            engines[model_id] = loaded
            return loaded

        services.manager.loader = recording_loader
        try:
            services.auth.create_user("bench", PASSWORD)
            token = services.auth.login("bench", PASSWORD, ClientInfo()).access_token
            with (
                serve_in_thread(create_app(settings, services)) as url,
                httpx.Client(base_url=url, timeout=httpx.Timeout(600.0, connect=10.0)) as client,
            ):
                yield Bench(url, {"Authorization": f"Bearer {token}"}, client, engines, camera_file)
        finally:
            services.close()


def timed(call: Callable[[], Any]) -> float:
    """Milliseconds a call takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000.0


def post(bench: Bench, path: str, data: bytes, media_type: str) -> dict[str, Any]:
    """A vision call with a raw image body; its JSON answer."""
    response = bench.client.post(
        path, content=data, headers={**bench.headers, "Content-Type": media_type}
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def raw_detect(engine: Any, data: bytes) -> int:
    """The bare path: Pillow decode, letterbox, onnxruntime, decode + NMS; boxes found."""
    from runtime.detect.base import DetectOptions
    from runtime.detect.yolo_onnx import model_input, postprocess

    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
    session = engine._session  # the same onnxruntime session the app uses
    tensor, layout = model_input(pixels, engine.input_width, engine.input_height, np.float32)
    output = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    found = postprocess(
        np.asarray(output[0], dtype=np.float32),
        layout,
        pixels.shape[1],
        pixels.shape[0],
        DetectOptions(),
        engine.labels,
        None,
    )
    return len(found)


def raw_ocr(engine: Any, data: bytes) -> str:
    """The bare path: Pillow decode, then the RapidOCR call; the text found."""
    with Image.open(io.BytesIO(data)) as image:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[..., ::-1])
    result, _ = engine._engine(bgr)  # the same RapidOCR object the app uses
    return " ".join(str(item[1]) for item in result or [])


def bench_detect(bench: Bench, repetitions: int, rows: list[Row], notes: list[str]) -> None:
    progress("detect: HTTP against bare onnxruntime")
    image = scene_jpeg()
    answer = post(bench, f"{V}/detect", image, "image/jpeg")  # loads the model
    engine = bench.engines[DETECTOR]
    runs = interleaved(
        {
            "http": lambda: timed(lambda: post(bench, f"{V}/detect", image, "image/jpeg")),
            "raw": lambda: timed(lambda: raw_detect(engine, image)),
        },
        repetitions,
    )
    rows.append(
        Row(
            "Detect YOLOv8 (fall) 640x640 JPEG",
            "upload to boxes",
            "ms",
            Stats.of(runs["http"]),
            Stats.of(runs["raw"]),
            target=Target("ratio", at_least=True, bound=1 / 1.10),
            digits=1,
        )
    )
    notes.append(
        f"detect: the API found {len(answer['objects'])} objects, the bare path"
        f" {raw_detect(engine, image)} (same model, same thresholds)."
    )


def bench_ocr(bench: Bench, repetitions: int, rows: list[Row], notes: list[str]) -> None:
    progress("ocr: HTTP against bare RapidOCR")
    image = sign_png()
    answer = post(bench, f"{V}/ocr", image, "image/png")
    engine = bench.engines[OCR]
    runs = interleaved(
        {
            "http": lambda: timed(lambda: post(bench, f"{V}/ocr", image, "image/png")),
            "raw": lambda: timed(lambda: raw_ocr(engine, image)),
        },
        repetitions,
    )
    rows.append(
        Row(
            "OCR PP-OCRv4 (RapidOCR), 2-line sign PNG",
            "upload to text",
            "ms",
            Stats.of(runs["http"]),
            Stats.of(runs["raw"]),
            target=Target("ratio", at_least=True, bound=1 / 1.05),
            digits=1,
        )
    )
    notes.append(f"ocr: the API read {answer['text']!r}, the bare call {raw_ocr(engine, image)!r}.")


def bench_concurrent(bench: Bench, repetitions: int, rows: list[Row]) -> None:
    progress("concurrent: images/s with 1 and 2 clients")
    image = scene_jpeg()
    per_client = max(2, repetitions)

    def rate(clients: int) -> float:
        def work() -> None:
            with httpx.Client(base_url=bench.url, timeout=600.0) as client:
                for _ in range(per_client):
                    client.post(
                        f"{V}/detect",
                        content=image,
                        headers={**bench.headers, "Content-Type": "image/jpeg"},
                    ).raise_for_status()

        threads = [threading.Thread(target=work) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return clients * per_client / (time.perf_counter() - started)

    one, two = rate(1), rate(2)
    rows.append(
        Row(
            "Detect, 2 concurrent clients (raw: 1 client)",
            "images per second",
            "img/s",
            Stats.of([two], higher_is_better=True),
            Stats.of([one], higher_is_better=True),
            higher_is_better=True,
            digits=2,
        )
    )


def bench_camera(bench: Bench, repetitions: int, rows: list[Row]) -> None:
    progress("camera: capture to result with the image-file camera")
    assert bench.camera_file is not None
    data = bench.camera_file.read_bytes()
    runs = interleaved(
        {
            "camera": lambda: timed(
                lambda: bench.client.post(
                    f"{V}/detect?source=camera", headers=bench.headers
                ).raise_for_status()
            ),
            "upload": lambda: timed(lambda: post(bench, f"{V}/detect", data, "image/jpeg")),
        },
        repetitions,
    )
    rows.append(
        Row(
            "Camera (image file) to detections (raw: the same image uploaded)",
            "capture to result",
            "ms",
            Stats.of(runs["camera"]),
            Stats.of(runs["upload"]),
            digits=1,
        )
    )


def bench_vqa(bench: Bench, repetitions: int, rows: list[Row], notes: list[str]) -> None:
    progress("vqa: a grounded question end to end")
    image = sign_png()
    answers: list[str] = []

    def ask() -> float:
        started = time.perf_counter()
        response = bench.client.post(
            f"{V}/vqa?question=What%20does%20this%20sign%20say%3F",
            content=image,
            headers={**bench.headers, "Content-Type": "image/png"},
        )
        response.raise_for_status()
        answers.append(response.json()["answer"])
        return (time.perf_counter() - started) * 1000.0

    ask()  # loads the chat model
    times = [ask() for _ in range(repetitions)]
    rows.append(
        Row(
            "VQA grounded (detect + OCR + chat model)",
            "question to answer",
            "ms",
            Stats.of(times),
            digits=0,
        )
    )
    notes.append(f"vqa: answered {statistics.mode(answers)!r}.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the vision benchmarks; print the header and the table."""
    from assistant.settings import Settings

    parser = base_parser(
        __doc__.splitlines()[0] if __doc__ else "",
        GROUPS,
        tuning=False,
        prog="python -m benchmarks.vision",
    )
    args, groups = parse_with_groups(parser, argv, GROUPS)
    repetitions = args.repetitions or (1 if args.quick else 10)
    store_dir = args.models_dir or Settings.load().models_dir
    info = machine_info(LIBRARIES)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-camera-") as folder:
        camera_file = Path(folder) / "frame.jpg"
        camera_file.write_bytes(scene_jpeg())
        with running_app(store_dir, camera_file) as bench:
            if "detect" in groups:
                bench_detect(bench, repetitions, rows, notes)
            if "ocr" in groups:
                bench_ocr(bench, repetitions, rows, notes)
            if "concurrent" in groups:
                bench_concurrent(bench, repetitions, rows)
            if "camera" in groups:
                bench_camera(bench, repetitions, rows)
            if "vqa" in groups:
                bench_vqa(bench, max(1, repetitions // 3), rows, notes)
    print(header_line(info))
    print()
    print(
        "The real app on uvicorn (same process, loopback HTTP) against the bare libraries on"
        " the same loaded models, turn about. Values are median (p90); runtime/raw above 1"
        " means the runtime is faster."
    )
    print()
    print(rows_table(rows))
    print()
    for note in notes:
        print(f"- {note}")
    print()
    print(f"Load average at the end: {' '.join(f'{v:.2f}' for v in load_average())}.")
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "vision",
                "machine": info,
                "repetitions": repetitions,
                "rows": [row.as_dict() for row in rows],
                "notes": notes,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
