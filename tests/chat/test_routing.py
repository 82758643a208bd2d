from __future__ import annotations

import pytest

from assistant.chat.routing import Candidate, RoutingRules, looks_like_code, route

SMALL = Candidate("tiny:1", vision=False, memory_mb=300)
CODER = Candidate("qwen2.5-coder:0.5b", vision=False, memory_mb=700, tags=("coder",))
BIG = Candidate("qwen2.5:3b", vision=False, memory_mb=2800)
BASE = Candidate("gemma3:270m", vision=False, memory_mb=100, tags=("base",))
VISION = Candidate("moondream2:f16", vision=True, memory_mb=3000)
ALL = [SMALL, CODER, BIG, BASE, VISION]
RULES = RoutingRules(default_model="qwen2.5:3b")


@pytest.mark.parametrize(
    ("text", "images", "explicit", "preferred", "candidates", "model", "reason"),
    [
        ("hi", False, "tiny:1", None, ALL, "tiny:1", "requested explicitly"),
        ("what is this?", True, None, None, ALL, "moondream2:f16", "vision model"),
        ("what is this?", True, None, None, [SMALL], None, "no vision model"),
        (
            "Explain quantum tunnelling in detail please.",
            False,
            None,
            "tiny:1",
            ALL,
            "tiny:1",
            "preferred",
        ),
        (
            "fix this python bug: def f(: pass",
            False,
            None,
            None,
            ALL,
            "qwen2.5-coder:0.5b",
            "coder",
        ),
        ("hello!", False, None, None, ALL, "tiny:1", "chit-chat"),  # base model never chosen
        ("hello!", False, None, None, [BIG], "qwen2.5:3b", "configured default"),
        ("Why is the sky blue?", False, None, None, ALL, "qwen2.5:3b", "configured default"),
        (
            "Why is the sky blue?",
            False,
            None,
            "moondream2:f16",
            ALL,
            "qwen2.5:3b",
            "configured default",
        ),
        ("hi", False, None, None, [VISION], None, "no chat model"),
        ("hi", False, None, None, [BASE], None, "no chat model"),
        ("hi", False, None, "gemma3:270m", [BASE, BIG], "gemma3:270m", "preferred"),
    ],
)
def test_route(
    text: str,
    images: bool,
    explicit: str | None,
    preferred: str | None,
    candidates: list[Candidate],
    model: str | None,
    reason: str,
) -> None:
    chosen = route(
        text,
        has_images=images,
        explicit=explicit,
        preferred=preferred,
        candidates=candidates,
        rules=RULES,
    )
    assert chosen.model == model
    assert reason in chosen.reason


def test_without_a_default_the_largest_wins() -> None:
    chosen = route(
        "Tell me a long story about dragons?",
        has_images=False,
        explicit=None,
        preferred=None,
        candidates=ALL,
        rules=RoutingRules(),
    )
    assert chosen.model == "qwen2.5:3b"


def test_rules_can_be_switched_off() -> None:
    rules = RoutingRules(
        route_short_to_smallest=False, route_code_to_coder=False, default_model="qwen2.5:3b"
    )
    for text in ("hi", "def f(): pass"):
        chosen = route(
            text, has_images=False, explicit=None, preferred=None, candidates=ALL, rules=rules
        )
        assert chosen.model == "qwen2.5:3b"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("```print(1)```", True),
        ("how do I write a SQL query SELECT a FROM b", True),
        ("my javascript throws", True),
        ("what is the weather", False),
        ("class starts at nine", False),
    ],
)
def test_looks_like_code(text: str, code: bool) -> None:
    assert looks_like_code(text) is code
