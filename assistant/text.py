"""Checks on text people send: what may reach prompts, logs, voices and other screens."""

from __future__ import annotations

import unicodedata


def control_character(text: str, *, allowed: str = "") -> tuple[int, str] | None:
    """The position and the first control character of ``text`` not in ``allowed``."""
    for position, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) == "Cc":
            return position, char
    return None
