"""Any interleaving of edits, syncs, outages and clock skew converges: a hypothesis state
machine over two devices and a cloud (real change logs and SQLite, in-process transport).

After the machine stops, every device syncs twice with the cloud online; then all three
hold the same value for every field, and that value is the write with the greatest
hybrid logical timestamp (the model below remembers every write).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from assistant.sync import Outcome
from tests.sync.world import World

FIELDS = {
    "tone": st.sampled_from(["neutral", "warm", "formal", "casual", None]),
    "units": st.sampled_from(["metric", "imperial", None]),
    "verbosity": st.sampled_from(["brief", "normal", "detailed", None]),
}
DEVICES = st.sampled_from(["a", "b"])


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        # Device b's clock runs 90 s ahead of a's: skew must not break convergence.
        self.world = World(Path(self._tmp.name), {"a": 0.0, "b": 90.0})
        self.synced_ok = 0

    @rule(device=DEVICES, data=st.data())
    def edit(self, device: str, data: Any) -> None:
        field = data.draw(st.sampled_from(sorted(FIELDS)))
        self.world[device].patch(**{field: data.draw(FIELDS[field])})

    @rule(device=DEVICES)
    def sync(self, device: str) -> None:
        result = self.world.sync(device)
        expected = Outcome.OK if self.world.remote.online else Outcome.UNREACHABLE
        if self.world.remote.lose_answers and self.world.remote.online:
            assert result.outcome in (Outcome.OK, Outcome.UNREACHABLE)
        else:
            assert result.outcome is expected

    @rule(online=st.booleans(), lose_answers=st.booleans())
    def network(self, online: bool, lose_answers: bool) -> None:
        self.world.remote.online = online
        self.world.remote.lose_answers = lose_answers

    @rule(device=DEVICES, seconds=st.sampled_from([0.0, 0.001, 1.0, 30.0]))
    def time_passes(self, device: str, seconds: float) -> None:
        self.world[device].clock.advance(seconds)

    @invariant()
    def local_writes_always_succeed(self) -> None:
        # Reads never fail whatever the network does.
        for device in ("a", "b"):
            self.world[device].preferences()

    def teardown(self) -> None:
        try:
            self.world.remote.online = True
            self.world.remote.lose_answers = False
            for device in ("a", "b", "a", "b"):
                assert self.world.sync(device).outcome is Outcome.OK
            views = [
                {k: d.preferences()[k] for k in FIELDS}
                for d in (self.world["a"], self.world["b"], self.world.cloud)
            ]
            assert views[0] == views[1] == views[2], views
            logs = [
                {f: c.hlc for f, c in d.services.changes.current(d.user_id).items()}
                for d in (self.world["a"], self.world["b"], self.world.cloud)
            ]
            assert logs[0] == logs[1] == logs[2]
            for device in ("a", "b"):
                bridge = self.world[device].bridge
                assert bridge is not None
                assert bridge.status(self.world[device].user_id).pending == 0
        finally:
            self.world.close()
            self._tmp.cleanup()


TestConvergence = Convergence.TestCase
TestConvergence.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
