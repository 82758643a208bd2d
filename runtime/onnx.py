"""onnxruntime sessions as every ONNX engine opens them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import ModelLoadFailed

if TYPE_CHECKING:
    import onnxruntime


def cpu_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """A CPU session on ``threads`` intra-op threads, quiet, load errors as ``ModelLoadFailed``.

    One inter-op thread: the graphs run sequentially, so more would only sit idle.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime's errors derive from Exception only
        raise ModelLoadFailed(f"onnxruntime cannot load {path.name}: {exc}") from exc
