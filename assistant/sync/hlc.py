"""Hybrid logical clocks: timestamps that order writes across devices whose clocks differ.

A stamp is ``(wall_ms, counter, device)``. The wall part follows the physical clock but
never goes back; the counter orders events within one millisecond or while a faster
clock elsewhere is ahead; the device id breaks the last tie, so every device picks the
same winner. Stamps travel as fixed-width strings that sort like the tuples. Pure: the
physical time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

_WALL_DIGITS = 15
_COUNTER_DIGITS = 6
_COUNTER_MAX = 10**_COUNTER_DIGITS - 1


@dataclass(frozen=True, order=True)
class Hlc:
    """One hybrid logical timestamp; compares in causal-then-device order."""

    wall_ms: int
    """The largest physical time (Unix milliseconds) seen when it was made."""
    counter: int
    """Events at the same ``wall_ms``."""
    device: str
    """The device that made it: the deterministic tie-break."""

    def encode(self) -> str:
        """The stamp as a string that sorts like the stamp."""
        return f"{self.wall_ms:0{_WALL_DIGITS}d}.{self.counter:0{_COUNTER_DIGITS}d}.{self.device}"

    @classmethod
    def decode(cls, text: str) -> Hlc:
        """Parse :meth:`encode`'s output; ``ValueError`` if it is not one."""
        wall, counter, device = text.split(".", 2)
        if len(wall) != _WALL_DIGITS or len(counter) != _COUNTER_DIGITS or not device:
            raise ValueError(f"{text!r} is not a hybrid logical timestamp")
        if not (wall.isdigit() and counter.isdigit()):
            raise ValueError(f"{text!r} is not a hybrid logical timestamp")
        return cls(int(wall), int(counter), device)


@dataclass(frozen=True)
class ClockState:
    """What a device remembers of its clock between events."""

    wall_ms: int
    """Wall part of the last stamp made or seen."""
    counter: int
    """Counter of that stamp."""


def tick(state: ClockState, physical_ms: int) -> ClockState:
    """The clock after a local event at ``physical_ms``."""
    if physical_ms > state.wall_ms:
        return ClockState(physical_ms, 0)
    return _bump(state.wall_ms, state.counter + 1)


def observe(state: ClockState, remote: Hlc, physical_ms: int) -> ClockState:
    """The clock after receiving ``remote`` at ``physical_ms`` (never behind either)."""
    wall = max(state.wall_ms, remote.wall_ms, physical_ms)
    if wall == state.wall_ms == remote.wall_ms:
        counter = max(state.counter, remote.counter) + 1
    elif wall == state.wall_ms:
        counter = state.counter + 1
    elif wall == remote.wall_ms:
        counter = remote.counter + 1
    else:
        counter = 0
    return _bump(wall, counter)


def _bump(wall_ms: int, counter: int) -> ClockState:
    # A counter this large means a million events in one millisecond: move the wall on.
    if counter > _COUNTER_MAX:
        return ClockState(wall_ms + 1, 0)
    return ClockState(wall_ms, counter)
