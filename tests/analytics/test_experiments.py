"""A/B experiments: sticky, balanced assignment; exposures once; significance against a
worked example; the chat system prompt's style tested end to end."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from litestar.testing import TestClient

from assistant.analytics.experiments import (
    Variant,
    assign,
    results,
    two_proportion_z_test,
    wilson_interval,
)
from assistant.chat.models import ChatRequest
from assistant.chat.service import ChatService
from assistant.services import Services
from tests.chat.conftest import ChatEnv
from tests.conftest import Accounts

Client = TestClient  # type: ignore[type-arg]


def test_assignment_is_sticky_and_balanced_over_10k_users() -> None:
    even = (Variant("a"), Variant("b"))
    skewed = (Variant("a", 1.0), Variant("b", 3.0))
    users = [f"user-{i}" for i in range(10_000)]
    first = [assign("exp.one", u, even).name for u in users]
    assert first == [assign("exp.one", u, even).name for u in users]
    shares = Counter(first)
    assert abs(shares["a"] / 10_000 - 0.5) < 0.02
    weighted = Counter(assign("exp.two", u, skewed).name for u in users)
    assert abs(weighted["b"] / 10_000 - 0.75) < 0.02
    # Another experiment splits the same users independently of the first.
    other = [assign("exp.three", u, even).name for u in users]
    agree = sum(x == y for x, y in zip(first, other, strict=True)) / 10_000
    assert abs(agree - 0.5) < 0.03


def test_significance_against_a_worked_example() -> None:
    # Control: 100 of 1000 users converted (10%); variant: 130 of 1000 (13%).
    # Pooled p = 230/2000 = 0.115; SE = sqrt(0.115 * 0.885 * (1/1000 + 1/1000)) = 0.014267;
    # z = 0.03 / 0.014267 = 2.1027; two-sided p = 2 * (1 - Phi(2.1027)) = 0.0355.
    z, p = two_proportion_z_test(100, 1000, 130, 1000)
    assert z == pytest.approx(2.1027, abs=1e-4)
    assert p == pytest.approx(0.0355, abs=1e-4)
    # The same p from the 2x2 chi-square test (no continuity correction), computed here
    # from the table's expected counts.
    observed = [[100, 900], [130, 870]]
    expected = [[115, 885], [115, 885]]
    chi2 = sum(
        (o - e) ** 2 / e
        for row_o, row_e in zip(observed, expected, strict=True)
        for o, e in zip(row_o, row_e, strict=True)
    )
    assert chi2 == pytest.approx(z * z, rel=1e-9)
    assert math.erfc(math.sqrt(chi2 / 2)) == pytest.approx(p, rel=1e-9)
    # Wilson 95% interval of 100/1000: (0.0829, 0.1202).
    low, high = wilson_interval(100, 1000)
    assert (round(low, 4), round(high, 4)) == (0.0829, 0.1202)
    control, variant = results([("control", 1000, 100), ("brief", 1000, 130)])
    assert control.p_value is None and control.rate == 0.1
    assert variant.difference == pytest.approx(0.03)
    assert variant.p_value == pytest.approx(p)


def test_no_difference_is_not_significant() -> None:
    z, p = two_proportion_z_test(50, 500, 50, 500)
    assert (z, p) == (0.0, 1.0)


def create_style_experiment(
    client: Client, admin: dict[str, str], target: str = "chat.turn"
) -> dict[str, object]:
    answer = client.post(
        "/api/v1/analytics/experiments",
        headers=admin,
        json={
            "key": "chat.style",
            "description": "Do brief replies bring people back?",
            "variants": [
                {"name": "control"},
                {"name": "brief", "config": {"verbosity": "brief", "tone": "casual"}},
            ],
            "targets": [target],
            "window_hours": 24,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_experiments_api_is_for_admins_and_checks_variants(
    client: Client, accounts: Accounts
) -> None:
    admin = accounts.register("root")
    ada = accounts.register("ada")
    created = create_style_experiment(client, admin)
    assert created["status"] == "draft"
    assert client.get("/api/v1/analytics/experiments", headers=ada).status_code == 403
    listed = client.get("/api/v1/analytics/experiments", headers=admin).json()
    assert [e["key"] for e in listed] == ["chat.style"]
    again = client.post(
        "/api/v1/analytics/experiments",
        headers=admin,
        json={"key": "chat.style", "variants": [{"name": "a"}, {"name": "b"}], "targets": ["x.y"]},
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/analytics/experiments",
        headers=admin,
        json={
            "key": "chat.other",
            "variants": [{"name": "a"}, {"name": "a"}],
            "targets": ["x.y"],
        },
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "variants")
    wrong_style = client.patch(
        f"/api/v1/analytics/experiments/{created['id']}",
        headers=admin,
        json={"variants": [{"name": "a"}, {"name": "b", "config": {"verbosity": "endless"}}]},
    )
    assert (wrong_style.status_code, wrong_style.json()["field"]) == (422, "variants[1].config")
    started = client.patch(
        f"/api/v1/analytics/experiments/{created['id']}", headers=admin, json={"status": "running"}
    )
    assert started.json()["status"] == "running"
    frozen = client.patch(
        f"/api/v1/analytics/experiments/{created['id']}",
        headers=admin,
        json={"variants": [{"name": "a"}, {"name": "b"}]},
    )
    assert frozen.status_code == 409
    stopped = client.patch(
        f"/api/v1/analytics/experiments/{created['id']}", headers=admin, json={"status": "stopped"}
    )
    assert stopped.json()["status"] == "stopped"
    restart = client.patch(
        f"/api/v1/analytics/experiments/{created['id']}", headers=admin, json={"status": "running"}
    )
    assert restart.status_code == 409
    assert client.get("/api/v1/analytics/experiments/nope", headers=admin).status_code == 404


async def test_chat_style_experiment_end_to_end(
    chat_env: ChatEnv, client: Client, accounts: Accounts, services: Services
) -> None:
    admin = accounts.register("root")
    experiment = create_style_experiment(client, admin, "feedback.liked")
    client.patch(
        f"/api/v1/analytics/experiments/{experiment['id']}",
        headers=admin,
        json={"status": "running"},
    )
    chat = ChatService(
        services.db,
        chat_env.chat.manager,
        chat_env.catalogue,
        services.profile,
        rules=chat_env.chat.rules,
        clock=services.auth.clock,
        events=services.events,
        experiments=services.experiments,
    )
    variants = (Variant("control"), Variant("brief"))
    arms: dict[str, list[str]] = {"control": [], "brief": []}
    for i in range(40):
        user = chat_env.user(f"user{i}")
        arms[assign("chat.style", user, variants).name].append(user)
    assert arms["control"] and arms["brief"]
    # Everyone chats twice; everyone in the brief arm likes the replies, in control two do.
    for arm, users in arms.items():
        for n, user in enumerate(users):
            for _ in range(2):
                await chat.reply(user, ChatRequest(text="Hello there"))
            if arm == "brief" or n < 2:
                services.events.emit("feedback.liked", {}, user_id=user)
    # The system prompt each user got: brief and casual in the brief arm only.
    calls = chat_env.engines["fake:big"].calls
    brief = sum("Keep replies short" in call[0].content for call in calls)
    assert brief == 2 * len(arms["brief"])
    assert len(calls) - brief == 2 * len(arms["control"])
    services.analytics.emitter.flush()
    with services.db.read() as conn:
        exposures = conn.all(
            "SELECT variant, count(*) AS n FROM experiment_exposures GROUP BY variant"
        )
    assert {r["variant"]: r["n"] for r in exposures} == {
        "control": len(arms["control"]),
        "brief": len(arms["brief"]),
    }
    report = client.get(
        f"/api/v1/analytics/experiments/{experiment['id']}/results", headers=admin
    ).json()
    by_name = {v["name"]: v for v in report["variants"]}
    assert by_name["brief"]["exposures"] == len(arms["brief"])
    assert by_name["brief"]["conversions"] == len(arms["brief"])
    assert by_name["control"]["conversions"] == 2
    assert by_name["brief"]["p_value"] is not None
    assert "z-test" in report["method"]
