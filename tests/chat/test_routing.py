from __future__ import annotations

import pytest

from assistant.chat.routing import (
    Candidate,
    RoutingRules,
    looks_like_code,
    route,
    same_model,
)

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
    ("a", "b", "same"),
    [
        ("qwen2.5-coder:0.5b-q4", "qwen2.5-coder:0.5b-iq4nl", True),
        ("qwen2.5-coder:0.5b", "qwen2.5-coder:0.5b-q8", True),
        ("qwen2.5:0.5b-instruct-q4km", "qwen2.5:1.5b-instruct-q4km", False),
        ("qwen2.5:0.5b-instruct-q4km", "qwen2.5-coder:0.5b-q4", False),
        ("tiny:1", "tiny:1", True),
    ],
)
def test_same_model(a: str, b: str, same: bool) -> None:
    assert same_model(a, b) is same
    assert same_model(b, a) is same


FAST = Candidate("qwen2.5-coder:0.5b-iq4nl", vision=False, memory_mb=650, tags=("coder",))
SOURCE = Candidate("qwen2.5-coder:0.5b-q4", vision=False, memory_mb=700, tags=("coder",))


@pytest.mark.parametrize(
    ("text", "default", "preferred", "model"),
    [
        # Another quantization of the default is the same model to the rules: neither the
        # code rule (largest coder) nor the chit-chat rule (smallest) picks it.
        ("fix this python bug", FAST.id, None, FAST.id),
        ("hello!", SOURCE.id, None, SOURCE.id),
        ("hello!", FAST.id, None, FAST.id),
        ("Why is the sky blue?", FAST.id, None, FAST.id),
        # Asked for, it is still used; with the default missing, the rules see both.
        ("Why is the sky blue?", FAST.id, SOURCE.id, SOURCE.id),
        ("fix this python bug", "absent:1", None, SOURCE.id),
    ],
)
def test_other_quantizations_of_the_default_are_not_routed_to(
    text: str, default: str, preferred: str | None, model: str
) -> None:
    chosen = route(
        text,
        has_images=False,
        explicit=None,
        preferred=preferred,
        candidates=[FAST, SOURCE],
        rules=RoutingRules(default_model=default),
    )
    assert chosen.model == model


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
