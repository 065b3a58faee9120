"""benchmarks/tools_compare.py: the curl, dig and wrk runs it times, against real loopback servers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.tools_compare import (
    curl_command,
    dig_command,
    parse_curl,
    parse_dig,
    send_figures,
    tool_loop,
    wrk_phase,
)
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, ScriptedHttpServer


def needs(tool: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed (make debian-bench)")


@needs("curl")
def test_a_curl_loop_sends_every_sample_and_reads_its_status_and_time() -> None:
    with ScriptedHttpServer("ok") as ok, ScriptedHttpServer("503") as failing:
        good = tool_loop("curl", curl_command(f"http://127.0.0.1:{ok.port}/"), parse_curl, 20.0, 0.5)
        bad = tool_loop("curl", curl_command(f"http://127.0.0.1:{failing.port}/"), parse_curl, 20.0, 0.5)

    assert (good["samples"], good["good"], good["latency"]["n"]) == (10, 10, 10)
    assert good["cpu"]["tool_processes"]["cpu_s"] > 0  # the reaped curls' CPU is counted
    assert (bad["samples"], bad["good"]) == (10, 0)


@needs("dig")
def test_a_dig_loop_reads_answers_and_query_time() -> None:
    with ScriptedDnsServer(DnsMode(answers=("127.0.0.9",))) as answering, ScriptedDnsServer(DnsMode()) as empty:
        good = tool_loop("dig", dig_command(("127.0.0.1", answering.port)), parse_dig, 20.0, 0.5)
        nodata = tool_loop("dig", dig_command(("127.0.0.1", empty.port)), parse_dig, 20.0, 0.5)

    assert (good["samples"], good["good"], good["latency"]["n"]) == (10, 10, 10)
    assert (nodata["samples"], nodata["good"]) == (10, 0)


@needs("wrk")
def test_wrk_paced_by_its_delay_stays_near_the_rate(tmp_path: Path) -> None:
    with ScriptedHttpServer("ok") as server:
        paced = wrk_phase(f"http://127.0.0.1:{server.port}/", 2.0, 2, tmp_path, paced_rate=20.0)

    assert paced["exit_code"] == 0 and paced["requests"]
    assert paced["requests_per_s"] <= 25.0  # flat out, two connections to loopback send thousands
    assert set(paced["latency"]) == {"p50_ms", "p99_ms"}
    assert paced["cpu_ms_per_1000_requests"] is not None


def test_send_figures_from_late_sends() -> None:
    scheduled = [0.0, 0.1, 0.2, 0.3]
    figures = send_figures([0.001, 0.102, 0.250, 0.301], scheduled, 10.0, 0.4, good=4)

    assert figures["send_lateness"]["max_ms"] == 50.0
    assert figures["interval_jitter"]["max_ms"] == pytest.approx(49.0)
    assert figures["due"] == 4 and figures["achieved_rate_hz"] == pytest.approx(3 / 0.3, rel=1e-3)
