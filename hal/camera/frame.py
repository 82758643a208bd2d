"""The one image type that crosses every boundary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Frame:
    """A decoded image."""

    image: npt.NDArray[np.uint8]
    """Height x width x 3, RGB, uint8."""
    timestamp: float = 0.0
    """Seconds (monotonic clock of the source) when it was captured."""
    source: str = ""
    """Where it came from (camera name, file name, upload)."""

    @property
    def width(self) -> int:
        """Pixels across."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Pixels down."""
        return int(self.image.shape[0])
