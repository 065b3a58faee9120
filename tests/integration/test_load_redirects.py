"""Locust against a target that only redirects: a 3xx is a failure the user saw, never followed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gameday.load import LoadConfig, running
from gameday.probes.scripted import ScriptedHttpServer, closed_port
from gameday.timeline import Outcome, Timeline

pytestmark = pytest.mark.integration

QUICK = LoadConfig(users=2, rate=20.0, duration_s=60.0, stop_grace_s=20.0)  # a busy machine stops locust slowly


def test_redirected_requests_are_http_3xx_failures_with_their_location(tmp_path: Path) -> None:
    elsewhere = f"http://127.0.0.1:{closed_port()}/other-region/index.html"  # refused, were it ever followed
    timeline = Timeline("itest", time.time(), time.monotonic())
    with ScriptedHttpServer("301", location=elsewhere) as moved:
        with running(QUICK, moved.url, tmp_path, timeline):
            time.sleep(2.0)
        asked = moved.requests
    samples = [s for s in timeline.samples if s.kind == "load"]
    # One request each, no redirect followed (the redirect's target is elsewhere and refused). A request of each
    # user may still be in flight when locust is stopped: the server saw it, no sample was recorded.
    assert len(samples) > 10 and len(samples) <= asked <= len(samples) + QUICK.users
    assert {(s.outcome, s.status) for s in samples} == {(Outcome.HTTP_3XX, 301)}
    assert all(elsewhere in s.detail for s in samples)
    stats = json.loads((tmp_path / "load" / "locust.json").read_text())
    assert sum(e["num_failures"] for e in stats) == sum(e["num_requests"] for e in stats) == len(samples)
