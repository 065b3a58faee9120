"""The runner killed with SIGKILL at random points mid-fault, twenty times; after each, `gameday rollback`
puts every security-group rule and association, NACL association, desired count and bucket policy back.

The runner is this file run as a script: it injects six faults (both security-group modes, NACL, ECS,
two bucket policies) through the aws backend against a moto server started by the test, holds them,
and reverts. It prints a line after each step; the test kills it a random delay after a random step.
"""

from __future__ import annotations

import json
import queue
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as the runner script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gameday.faults.journal import RollbackJournal  # noqa: E402
from tests.integration.test_aws_sandbox import (  # noqa: E402
    ACCOUNT,
    ROOT,
    World,
    build_world,
    child_env,
    differences,
    moto_server,
    snapshot,
)

REGION = "ca-west-1"
KILLS = 20
CHUNK = 5
SEED = 20260909
STEPS = 8  # ready, six faults injected, reverting
MAX_DELAY_S = 0.12
HOLD_S = 0.3


@dataclass(frozen=True)
class Kill:
    step: int
    delay_s: float
    pending: int  # journal entries not yet reverted when the runner died
    left_behind: tuple[str, ...]  # what differed from the snapshot before `gameday rollback`
    rollback_rc: int
    rollback_s: float


class Runner:
    """The runner child, with its step lines read by a thread (so waiting on them is bounded)."""

    def __init__(self, url: str, world: World, journal: Path, hold_s: float = HOLD_S) -> None:
        config = journal.with_suffix(".runner.json")
        config.write_text(json.dumps({"url": url, "world": world.to_json(), "journal": str(journal),
                                      "hold_s": hold_s}))
        self.proc = subprocess.Popen([sys.executable, __file__, str(config)], cwd=ROOT, env=child_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for_step(self, step: int, timeout_s: float = 60.0) -> bool:
        """True once the runner reports `step`; False if it ended first."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                return False
            if line.startswith(f"step {step} "):
                return True
        raise AssertionError(f"runner did not reach step {step} within {timeout_s} s")

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._reader.join(10)
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        return code, stderr


def rollback(journal: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", "rollback", "--journal", str(journal),
                           "--allow-account", ACCOUNT, *extra],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    # moto's accounts live in the worker process: a second sandbox there (another unit of four kills) sees what the
    # first created, so each world has names of its own.
    with moto_server() as url:
        yield url, build_world(url, REGION, f"sigkill-{secrets.token_hex(3)}")


pytestmark = pytest.mark.integration


def _plan() -> list[tuple[int, float]]:
    """Where each of the KILLS kills lands: (step, delay after it), one seeded sequence."""
    rng = random.Random(SEED)
    return [(rng.randrange(STEPS), rng.uniform(0.0, MAX_DELAY_S)) for _ in range(KILLS)]


# Twenty kills in four runs of five (each its own sandbox), so `make test` plays them side by side.
@pytest.mark.parametrize("first", range(0, KILLS, CHUNK))
def test_twenty_sigkills_mid_fault_then_rollback_leave_nothing_behind(sandbox: tuple[str, World],
                                                                      tmp_path: Path, first: int) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    kills: list[Kill] = []
    for iteration, (step, delay) in enumerate(_plan()[first:first + CHUNK], start=first):
        journal = tmp_path / f"kill-{iteration}.jsonl"
        runner = Runner(url, world, journal)
        try:
            if runner.wait_for_step(step):
                time.sleep(delay)
            runner.proc.send_signal(signal.SIGKILL)
        finally:
            code, stderr = runner.finish()
        assert code in (-signal.SIGKILL, 0), stderr[-2000:]
        pending = len(RollbackJournal(journal).unfinished())
        left = tuple(differences(before, snapshot(url, world)))
        if not journal.exists():  # killed before the first revert was recorded: nothing was injected either
            assert left == ()
            missing = rollback(journal)
            assert missing.returncode == 2 and "not found" in missing.stderr
            kills.append(Kill(step, delay, 0, left, missing.returncode, 0.0))
            continue
        # Half the replays use only the journal; half override its endpoint and region as an operator might.
        extra = ("--endpoint-url", url, "--region", REGION) if iteration % 2 else ()
        started = time.monotonic()
        done = rollback(journal, *extra)
        kills.append(Kill(step, delay, pending, left, done.returncode, time.monotonic() - started))

        assert done.returncode == 0, done.stderr
        after = snapshot(url, world)
        assert after == before, f"kill {iteration} (step {step}): {differences(before, after)} left behind"
        assert RollbackJournal(journal).unfinished() == []
        again = rollback(journal)
        assert again.returncode == 0 and "nothing to roll back" in again.stdout

    _print_figures(kills)
    assert sum(1 for k in kills if k.left_behind) >= CHUNK // 4  # the kills really landed mid-fault


def _print_figures(kills: list[Kill]) -> None:
    print(f"\n{len(kills)} SIGKILLs (of {KILLS}, seed {SEED}): step, delay, pending reverts, "
          "left behind before rollback")
    for number, kill in enumerate(kills):
        print(f"  {number:2d}  step {kill.step}  +{kill.delay_s:.3f} s  pending {kill.pending}  "
              f"left {','.join(kill.left_behind) or '-'}  rollback rc {kill.rollback_rc} in {kill.rollback_s:.2f} s"
              + ("  (no journal yet)" if kill.rollback_rc == 2 else ""))
    print(f"  left something behind: {sum(1 for k in kills if k.left_behind)}/{len(kills)}; "
          f"after rollback: 0/{len(kills)}")


# --- the runner ---

def _run(config_path: str) -> int:
    from contextlib import ExitStack

    from gameday.backends.aws import AwsBackend, AwsOptions
    from gameday.clock import SystemClock
    from gameday.faults import BlockAzNacl, BlockAzSecurityGroups, DenyBucketPolicy, ScaleEcsService, injected
    from gameday.faults.signals import interrupt_on_sigterm
    from gameday.timeline import Timeline

    config = json.loads(Path(config_path).read_text())
    world = World.from_json(config["world"])
    backend = AwsBackend(AwsOptions(region=world.region, endpoint_url=config["url"],
                                    allow_accounts=frozenset({ACCOUNT}), run_id=world.run_id))
    journal = RollbackJournal(Path(config["journal"]))
    clock = SystemClock()
    timeline = Timeline.begin(world.run_id, clock)
    faults = [BlockAzSecurityGroups(backend, world.vpc, world.az_a, mode="strip"),
              BlockAzSecurityGroups(backend, world.vpc, world.az_a, mode="swap"),
              BlockAzNacl(backend, world.vpc, world.az_a),
              ScaleEcsService(backend, world.cluster, world.service, 0),
              DenyBucketPolicy(backend, world.bucket_with_policy),
              DenyBucketPolicy(backend, world.bucket_without_policy)]
    print("step 0 ready", flush=True)
    try:
        with interrupt_on_sigterm(), ExitStack() as stack:
            for number, fault in enumerate(faults, start=1):
                stack.enter_context(injected(fault, backend=backend, journal=journal, timeline=timeline, clock=clock))
                print(f"step {number} injected {fault.name}", flush=True)
            time.sleep(float(config["hold_s"]))
            print(f"step {len(faults) + 1} reverting", flush=True)
    except KeyboardInterrupt:
        print("interrupted: reverted", flush=True)
        return 130
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1]))
