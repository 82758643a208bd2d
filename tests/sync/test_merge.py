"""The sync bridge in process: two devices and a cloud merging per field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from assistant.errors import BackendError
from assistant.profile import ProfileFields
from assistant.sync import Outcome
from assistant.sync.hlc import ClockState, Hlc, observe, tick
from assistant.sync.secrets import Sealer
from tests.sync.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = World(tmp_path)
    yield built
    built.close()


def test_edits_of_different_fields_on_two_devices_both_survive(world: World) -> None:
    world["a"].patch(tone="formal")
    world["b"].patch(units="imperial")
    world["b"].services.profile.update_profile(
        world["b"].user_id, ProfileFields(locale="fr"), replace=False
    )
    for name in ("a", "b", "a"):
        assert world.sync(name).outcome is Outcome.OK
    for name in ("a", "b"):
        preferences = world[name].preferences()
        assert (preferences["tone"], preferences["units"]) == ("formal", "imperial")
        assert world[name].profile()["locale"] == "fr"
    assert world.cloud.preferences()["tone"] == "formal"


def test_the_same_field_converges_to_the_later_write_everywhere(world: World) -> None:
    world["a"].patch(tone="formal")
    world.advance(1)
    world["b"].patch(tone="casual")
    for name in ("b", "a", "b"):
        world.sync(name)
    tones = {d.preferences()["tone"] for d in (world["a"], world["b"], world.cloud)}
    assert tones == {"casual"}
    status = world["a"].bridge.status(world["a"].user_id)  # type: ignore[union-attr]
    assert status.conflicts_total == 1
    assert status.recent_conflicts[0].winner == "remote"


def test_a_reset_is_a_tombstone_that_wins_over_an_older_value(world: World) -> None:
    world["a"].patch(tone="formal")
    world.sync("a")
    world.sync("b")
    assert world["b"].preferences()["tone"] == "formal"
    world.advance(1)
    world["b"].patch(tone=None)
    world.sync("b")
    world.sync("a")
    assert world["a"].preferences()["tone"] == "warm"  # the default


def test_local_writes_succeed_while_the_cloud_is_down_and_go_out_later(world: World) -> None:
    world.remote.online = False
    world["a"].patch(verbosity="brief")
    result = world.sync("a")
    assert result.outcome is Outcome.UNREACHABLE
    status = world["a"].bridge.status(world["a"].user_id)  # type: ignore[union-attr]
    assert (status.pending, status.failures, status.last_error_code) == (1, 1, "unreachable")
    assert status.next_attempt_at is not None
    world.remote.online = True
    assert world.sync("a").outcome is Outcome.OK
    world.sync("b")
    assert world["b"].preferences()["verbosity"] == "brief"


def test_a_lost_push_answer_is_retried_without_duplicates(world: World) -> None:
    world["a"].patch(verbosity="detailed")
    world.remote.lose_answers = True
    assert world.sync("a").outcome is Outcome.UNREACHABLE
    world.remote.lose_answers = False
    result = world.sync("a")
    assert result.outcome is Outcome.OK
    assert world["a"].bridge.status(world["a"].user_id).pending == 0  # type: ignore[union-attr]
    assert world.cloud.preferences()["verbosity"] == "detailed"


def test_a_refused_key_is_a_status_that_waits_the_longest_backoff(world: World) -> None:
    world.remote.api_key = "ak_rotated"
    result = world.sync("a")
    assert result.outcome is Outcome.UNAUTHORIZED
    status = world["a"].bridge.status(world["a"].user_id)  # type: ignore[union-attr]
    settings = world["a"].services.settings.sync
    assert status.next_attempt_at == status.last_attempt_at + settings.backoff_max_seconds * 1000  # type: ignore[operator]
    # Nothing is due again before then, however often the bridge looks.
    assert world["a"].bridge.run_due() == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("state", "physical", "expected"),
    [
        (ClockState(100, 5), 200, ClockState(200, 0)),
        (ClockState(100, 5), 100, ClockState(100, 6)),
        (ClockState(100, 5), 50, ClockState(100, 6)),
    ],
)
def test_tick(state: ClockState, physical: int, expected: ClockState) -> None:
    assert tick(state, physical) == expected


@pytest.mark.parametrize(
    ("state", "remote", "physical", "expected"),
    [
        (ClockState(100, 5), Hlc(100, 9, "x"), 50, ClockState(100, 10)),
        (ClockState(100, 5), Hlc(300, 2, "x"), 50, ClockState(300, 3)),
        (ClockState(100, 5), Hlc(90, 2, "x"), 50, ClockState(100, 6)),
        (ClockState(100, 5), Hlc(300, 2, "x"), 400, ClockState(400, 0)),
    ],
)
def test_observe(state: ClockState, remote: Hlc, physical: int, expected: ClockState) -> None:
    assert observe(state, remote, physical) == expected


def test_stamps_sort_as_strings_like_the_tuples() -> None:
    stamps = [Hlc(5, 1, "b"), Hlc(5, 1, "a"), Hlc(40, 0, "a"), Hlc(5, 12, "a")]
    assert sorted(stamps) == sorted(stamps, key=lambda s: s.encode())
    assert Hlc.decode(stamps[0].encode()) == stamps[0]


def test_a_device_whose_clock_is_an_hour_behind_still_converges(tmp_path: Path) -> None:
    world = World(tmp_path, {"a": 0.0, "b": -3600.0})
    try:
        world["a"].patch(tone="formal")
        world["b"].patch(tone="casual")  # later in real time, but b's clock says earlier
        for name in ("a", "b", "a"):
            world.sync(name)
        # Without causality between them the stamps decide, the same way everywhere.
        tones = {d.preferences()["tone"] for d in (world["a"], world["b"], world.cloud)}
        assert tones == {"formal"}
        # Once b has seen a's write, b's next write wins even with its slow clock.
        world["b"].patch(tone="playful")
        for name in ("b", "a"):
            world.sync(name)
        tones = {d.preferences()["tone"] for d in (world["a"], world["b"], world.cloud)}
        assert tones == {"playful"}
    finally:
        world.close()


def test_a_profile_written_before_sync_existed_is_seeded_with_its_field_times(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    try:
        device = world["a"]
        services = device.services
        older = services.auth.create_user("older", "correct horse battery")
        services.profile.changes = None  # as before this version: nothing recorded
        services.profile.update_profile(older.id, ProfileFields(display_name="Ada"), replace=False)
        services.profile.patch_preferences(older.id, {"units": "imperial"})
        services.profile.changes = services.changes
        assert device.bridge is not None
        device.bridge.configure(older.id, "http://cloud.invalid", "ak_cloud-key")
        assert device.bridge.status(older.id).pending == 2
        assert device.bridge.sync_now(older.id).outcome is Outcome.OK
        assert world.cloud.profile()["display_name"] == "Ada"
        assert world.cloud.preferences()["units"] == "imperial"
    finally:
        world.close()


def test_a_key_sealed_with_a_replaced_key_file_is_reported_not_crashed(world: World) -> None:
    device = world["a"]
    assert device.bridge is not None
    device.bridge.sealer = Sealer(Fernet.generate_key())  # the sync-key file was replaced
    assert device.bridge.run_due() == []
    with pytest.raises(BackendError, match="assistant sync enable"):
        device.bridge.sync_now(device.user_id)
    device.bridge.configure(device.user_id, "http://cloud.invalid", "ak_cloud-key")
    assert world.sync("a").outcome is Outcome.OK
