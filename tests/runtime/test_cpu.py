"""The thread policy: the pure choice (a table), the engine activity, the load probe."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from runtime.cpu import (
    CpuLoadProbe,
    CpuState,
    EngineActivity,
    ThreadPolicy,
    choose_threads,
    read_proc_stat,
)


@pytest.mark.parametrize(
    ("cpus", "busy", "external", "threads"),
    [
        # An idle machine: every core (what llama-server and Ollama use), at most 8.
        (2, 0, 0.0, 2),
        (4, 0, 0.05, 4),
        (16, 0, 0.0, 8),
        (1, 0, 0.0, 1),
        # Our other engines computing (Piper speaking, Whisper transcribing) take a core each.
        (2, 1, 0.0, 1),
        (4, 1, 0.0, 3),
        (4, 2, 0.0, 2),
        (2, 3, 0.0, 1),  # never fewer than one
        # Load from outside: a little is tolerated, each started core beyond takes one.
        (2, 0, 0.25, 2),
        (2, 0, 0.5, 1),
        (2, 0, 1.0, 1),
        (4, 0, 1.0, 3),
        (4, 0, 1.4, 2),
        (4, 0, 3.9, 1),
        (2, 0, 7.0, 1),
        # Both add up.
        (4, 1, 1.0, 2),
        (8, 2, 2.5, 3),
        # Unknown outside load (no /proc/stat, no load average): our engines only.
        (2, 0, None, 2),
        (4, 1, None, 3),
    ],
)
def test_choose_threads(cpus: int, busy: int, external: float | None, threads: int) -> None:
    assert choose_threads(CpuState(cpus, busy, external)) == threads


def test_choose_threads_limits() -> None:
    state = CpuState(cpu_count=32, busy_engines=0, external_cores=0.0)
    assert choose_threads(state, max_threads=12) == 12
    assert choose_threads(CpuState(2, 0, 0.4), tolerance_cores=0.5) == 2


def test_engine_activity_counts_other_engines_while_they_compute() -> None:
    activity = EngineActivity()
    assert activity.others("llm") == 0
    with activity.busy("tts"):
        assert activity.others("llm") == 1
        assert activity.others("tts") == 0  # an engine does not count itself
        with activity.busy("tts"), activity.busy("stt"):  # nested: still one tts
            assert activity.others("llm") == 2
            assert activity.busy_now() == {"tts", "stt"}
        assert activity.busy_now() == {"tts"}
    assert activity.busy_now() == frozenset()


def test_engine_activity_ends_on_error() -> None:
    activity = EngineActivity()
    with pytest.raises(RuntimeError), activity.busy("tts"):
        raise RuntimeError("synthesis failed")
    assert activity.others("llm") == 0


def test_engine_activity_from_threads() -> None:
    activity = EngineActivity()
    inside, release = threading.Barrier(5), threading.Event()

    def work(name: str) -> None:
        with activity.busy(name):
            inside.wait()
            release.wait()

    workers = [threading.Thread(target=work, args=(f"e{i}",)) for i in range(4)]
    for worker in workers:
        worker.start()
    inside.wait()
    assert activity.others("llm") == 4
    release.set()
    for worker in workers:
        worker.join()
    assert activity.others("llm") == 0


def test_urgent_work_holds_the_others_until_it_ends() -> None:
    activity = EngineActivity()
    assert activity.wait_for_urgent("llm", timeout=0.0)  # nothing urgent: free at once
    with activity.busy("stt"):  # busy, not urgent: nobody waits for it
        assert activity.wait_for_urgent("llm", timeout=0.0)
    speaking, release = threading.Event(), threading.Event()
    freed: list[bool] = []

    def speak() -> None:
        with activity.busy("tts", urgent=True):
            speaking.set()
            release.wait()

    def decode() -> None:
        freed.append(activity.wait_for_urgent("llm", timeout=30.0))

    voice = threading.Thread(target=speak)
    voice.start()
    speaking.wait()
    assert activity.wait_for_urgent("tts", timeout=0.0)  # its own work: no wait
    assert not activity.wait_for_urgent("llm", timeout=0.0)  # held while it is made
    chat = threading.Thread(target=decode)
    chat.start()
    release.set()
    voice.join()
    chat.join()
    assert freed == [True]  # let go when it is made, not by the timeout
    assert activity.busy_now() == frozenset()


def test_urgent_work_holds_the_others_no_longer_than_the_timeout() -> None:
    activity = EngineActivity()
    with activity.busy("tts", urgent=True):
        assert not activity.wait_for_urgent("llm", timeout=0.05)  # gave up: still urgent
    assert activity.wait_for_urgent("llm", timeout=0.0)


def test_urgent_work_starts_when_the_step_under_way_ends() -> None:
    activity = EngineActivity()
    order: list[str] = []
    stepping, started = threading.Event(), threading.Event()
    finish_step = threading.Event()

    def token() -> None:
        with activity.busy("llm"), activity.step("llm"):
            stepping.set()
            finish_step.wait()
            order.append("token done")

    def speak() -> None:
        with activity.busy("tts", urgent=True, step_wait=30.0):
            order.append("speech starts")
            started.set()

    chat = threading.Thread(target=token)
    chat.start()
    stepping.wait()
    voice = threading.Thread(target=speak)
    voice.start()
    assert not started.wait(0.05)  # held back while the token is computed
    finish_step.set()
    voice.join()
    chat.join()
    assert order == ["token done", "speech starts"]  # not by the timeout: the token ended


def test_urgent_work_waits_for_a_step_no_longer_than_step_wait() -> None:
    activity = EngineActivity()
    with activity.step("llm"):
        with activity.busy("tts", urgent=True, step_wait=0.01):
            assert activity.urgent_now() == frozenset({"tts"})
        with activity.busy("llm", urgent=True, step_wait=30.0):  # its own step: no wait
            pass
        with activity.busy("stt", step_wait=30.0):  # not urgent: no wait
            pass


def quiet_policy(cpu_count: int) -> ThreadPolicy:
    """A thread policy that sees no load from outside (the probe cannot tell)."""
    probe = CpuLoadProbe(read_system=lambda: None, read_load_average=lambda: None)
    return ThreadPolicy(probe=probe, cpu_count=cpu_count)


class Machine:
    """Scripted CPU counters: all cores' busy seconds, ours, and the clock."""

    def __init__(self, *, proc: bool = True, load_average: float | None = None) -> None:
        self.now = 100.0
        self.busy = 1000.0
        self.own = 10.0
        self.proc = proc
        self.load = load_average

    def run(self, seconds: float, *, ours: float, outside: float) -> None:
        """``seconds`` pass with ``ours`` and ``outside`` cores busy."""
        self.now += seconds
        self.own += ours * seconds
        self.busy += (ours + outside) * seconds

    def probe(self, interval: float = 0.5) -> CpuLoadProbe:
        return CpuLoadProbe(
            interval_seconds=interval,
            read_system=lambda: (self.busy, self.busy + 5000.0) if self.proc else None,
            read_own=lambda: self.own,
            read_load_average=lambda: self.load,
            clock=lambda: self.now,
        )


def test_probe_sees_load_from_outside_not_ours() -> None:
    machine = Machine()
    probe = machine.probe()
    machine.run(1.0, ours=2.0, outside=0.0)
    assert probe.external_cores() == pytest.approx(0.0)
    machine.run(1.0, ours=1.0, outside=1.0)
    assert probe.external_cores() == pytest.approx(1.0)
    machine.run(2.0, ours=0.5, outside=0.25)
    assert probe.external_cores() == pytest.approx(0.25)


def test_probe_answers_from_its_last_measurement_within_the_interval() -> None:
    machine = Machine()
    probe = machine.probe(interval=0.5)
    machine.run(1.0, ours=0.0, outside=1.0)
    assert probe.external_cores() == pytest.approx(1.0)
    machine.run(0.2, ours=0.0, outside=1.0)
    assert probe.external_cores() == pytest.approx(1.0)  # too soon to measure again
    machine.run(0.4, ours=0.0, outside=0.0)
    assert probe.external_cores() == pytest.approx(1.0 / 3)  # the last 0.6 s: 0.2 busy


def test_probe_first_answer_covers_the_time_since_it_was_made() -> None:
    machine = Machine()
    probe = machine.probe(interval=0.5)
    assert probe.external_cores() is None  # no time has passed
    machine.run(0.1, ours=0.0, outside=2.0)
    assert probe.external_cores() == pytest.approx(2.0)


def test_probe_falls_back_to_the_load_average_without_proc() -> None:
    machine = Machine(proc=False, load_average=1.5)
    probe = machine.probe()
    machine.run(1.0, ours=1.0, outside=0.0)
    assert probe.external_cores() == pytest.approx(0.5)  # runnable threads, less ours
    machine.load = None
    machine.run(1.0, ours=1.0, outside=0.0)
    assert probe.external_cores() is None


def test_probe_on_this_machine_reads_something_sane() -> None:
    probe = CpuLoadProbe(interval_seconds=0.0)
    sum(i * i for i in range(200_000))  # some time passes
    cores = probe.external_cores()
    if Path("/proc/stat").is_file():
        assert cores is not None
    if cores is not None:
        assert 0.0 <= cores < 4096


def test_read_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 20 30 400 50 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    busy, total = read_proc_stat(str(stat)) or (0.0, 0.0)

    hertz = os.sysconf("SC_CLK_TCK")
    assert busy == pytest.approx((100 + 20 + 30 + 6 + 7 + 8) / hertz)
    assert total == pytest.approx((100 + 20 + 30 + 400 + 50 + 6 + 7 + 8) / hertz)
    assert read_proc_stat(str(tmp_path / "missing")) is None
    stat.write_text("intr 1 2 3\n")
    assert read_proc_stat(str(stat)) is None


def test_policy_combines_activity_and_probe() -> None:
    machine = Machine()
    policy = ThreadPolicy(probe=machine.probe(), cpu_count=2)
    machine.run(1.0, ours=0.0, outside=0.0)
    assert policy.threads("llm") == 2
    with policy.activity.busy("tts"):
        assert policy.state("llm") == CpuState(2, 1, pytest.approx(0.0))  # type: ignore[arg-type]
        assert policy.threads("llm") == 1
    with policy.activity.busy("llm"):
        assert policy.threads("llm") == 2  # its own generation is not another engine
    machine.run(1.0, ours=1.0, outside=1.0)
    assert policy.threads("llm") == 1
