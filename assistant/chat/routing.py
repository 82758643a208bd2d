"""Choosing the chat model for a turn (pure: a decision from facts, tested with tables)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_CODE = re.compile(
    r"```|\bdef \w+\(|\bclass \w+[:(]|\bfunction\b|\bimport \w|#include|\bSELECT\b.+\bFROM\b|=>"
    r"|\bconsole\.log|\b(python|javascript|typescript|rust|golang|java|sql|regex|bash|code"
    r"|bug|compile|stack ?trace)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """An installed model that could answer."""

    id: str
    """Model id."""
    vision: bool
    """It takes images (a vlm)."""
    memory_mb: int
    """Size class: the smallest is the quickest."""
    tags: tuple[str, ...] = ()
    """Manifest tags: ``base`` models are never chosen automatically."""

    @property
    def coder(self) -> bool:
        """Tuned for code."""
        return "coder" in self.tags or "coder" in self.id.partition(":")[0]

    @property
    def automatic(self) -> bool:
        """May be chosen without being asked for."""
        return "base" not in self.tags


@dataclass(frozen=True)
class RoutingRules:
    """The knobs of the router (from settings)."""

    default_model: str | None = None
    """Use this model unless a rule or the request says otherwise; while it is installed,
    its other quantizations (same name and size, another tag) are never chosen
    automatically: to the rules they are the same model."""
    short_message_chars: int = 60
    """Messages up to this long without a question of substance go to the smallest model."""
    route_short_to_smallest: bool = True
    """Apply the chit-chat rule."""
    route_code_to_coder: bool = True
    """Send code questions to a coder model when one is installed."""


@dataclass(frozen=True)
class Route:
    """The decision."""

    model: str | None
    """Chosen model id; None when nothing suitable is installed."""
    reason: str
    """Why, in words a user understands."""


def same_model(a: str, b: str) -> bool:
    """Two quantizations of one model: the same name and the same first part of the tag
    (``qwen2.5-coder:0.5b-q4`` and ``qwen2.5-coder:0.5b-iq4nl``, not ``qwen2.5:0.5b-...``
    and ``qwen2.5:1.5b-...``)."""
    name_a, _, tag_a = a.partition(":")
    name_b, _, tag_b = b.partition(":")
    return name_a == name_b and tag_a.partition("-")[0] == tag_b.partition("-")[0]


def looks_like_code(text: str) -> bool:
    """True when the message is about code."""
    return bool(_CODE.search(text))


def route(  # noqa: PLR0911 - one return per rule reads best
    text: str,
    *,
    has_images: bool,
    explicit: str | None,
    preferred: str | None,
    candidates: Sequence[Candidate],
    rules: RoutingRules,
) -> Route:
    """Pick a model: explicit > image needs vision > preference > rules > default."""
    if explicit:
        return Route(explicit, "requested explicitly")
    installed = {c.id: c for c in candidates}
    if has_images:
        vision = sorted((c for c in candidates if c.vision), key=lambda c: c.memory_mb)
        if vision:
            return Route(vision[-1].id, "the message has an image: vision model")
        return Route(None, "the message has an image but no vision model is installed")
    if preferred and preferred in installed and not installed[preferred].vision:
        return Route(preferred, "your preferred model")
    default = rules.default_model if rules.default_model in installed else None
    chat = [
        c
        for c in candidates
        if not c.vision
        and c.automatic
        and (default is None or c.id == default or not same_model(c.id, default))
    ]
    if not chat:
        return Route(None, "no chat model is installed")
    if rules.route_code_to_coder and looks_like_code(text):
        coders = sorted((c for c in chat if c.coder), key=lambda c: c.memory_mb)
        if coders:
            return Route(coders[-1].id, "a code question: coder model")
    if (
        rules.route_short_to_smallest
        and len(text.strip()) <= rules.short_message_chars
        and "?" not in text
        and len(chat) > 1
    ):
        smallest = min(chat, key=lambda c: c.memory_mb)
        return Route(smallest.id, "short chit-chat: smallest model")
    if default is not None:
        return Route(default, "the configured default")
    best = max(chat, key=lambda c: c.memory_mb)
    return Route(best.id, "the largest installed chat model")
