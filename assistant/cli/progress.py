"""Progress bars for long work (downloads, hashing, conversion); quiet when not a terminal."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class RichProgress:
    """Implements runtime.download.Progress with rich bars: bytes, rate, ETA."""

    def __init__(self, console: Console | None = None, *, enabled: bool | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bars = Progress(
            TextColumn("{task.description}", markup=False),  # file names are not markup
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.enabled,
            transient=False,
        )
        self._task: TaskID | None = None
        self._description = ""

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bars.stop()

    def start(self, description: str, total: int | None) -> None:
        """A new bar."""
        self._description = description
        self._task = self._bars.add_task(description, total=total)
        if not self.enabled:
            size = f" ({total / 1_000_000:.1f} MB)" if total else ""
            self.console.print(f"{description}{size} ...", highlight=False, markup=False)

    def advance(self, amount: int) -> None:
        """Move the current bar."""
        if self._task is not None:
            self._bars.advance(self._task, amount)

    def finish(self) -> None:
        """Complete the current bar."""
        if self._task is not None:
            task = self._bars.tasks[self._task]
            self._bars.update(self._task, total=task.completed)
            self._task = None
        if not self.enabled:
            self.console.print(f"{self._description}: done", highlight=False, markup=False)
