"""`gameday probe` and `gameday analyze`: bad input is one line and exit 2; runtime faults are samples."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, ScriptedHttpServer, closed_port
from gameday.timeline import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["--http", "ftp://127.0.0.1/"], "malformed URL"),
    (["--http", "http://127.0.0.1:99999/"], "malformed URL"),
    (["--dns", "app.test/BOGUS@127.0.0.1:53"], "unknown record type 'BOGUS'"),
    (["--dns", "app.test@ns.example.com:53"], "must be an IP address"),
    (["--dns", "app.test"], "expected NAME[/TYPE]@HOST[:PORT]"),
    (["--tcp", "127.0.0.1"], "expected HOST:PORT"),
    (["--tcp", "127.0.0.1:80", "--rate", "0"], "--rate must be > 0"),
    (["--tcp", "127.0.0.1:80", "--rate", "-5"], "--rate must be > 0"),
    (["--tcp", "127.0.0.1:80", "--rate", "500"], "rate must be > 0 and <= 200 Hz"),
    (["--tcp", "127.0.0.1:80", "--rate", "fast"], "invalid float value"),
    (["--tcp", "127.0.0.1:80", "--duration", "0"], "--duration must be > 0"),
    (["--tcp", "127.0.0.1:80", "--allow", "not-a-network"], "bad allowed network"),
    ([], "no targets"),
])
def test_bad_probe_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 argv: list[str], message: str) -> None:
    out = tmp_path / "timeline.json"
    code, _, err = run(capsys, "probe", *argv, "--duration", "0.2", "--out", str(out)) if "--duration" not in argv \
        else run(capsys, "probe", *argv, "--out", str(out))

    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing-dir/timeline.json", "."])
def test_unwritable_output_fails_before_probing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                where: str) -> None:
    with ScriptedHttpServer("ok") as server:
        code, _, err = run(capsys, "probe", "--http", server.url, "--out", str(tmp_path / where))
    assert code == 2 and err.count("\n") == 1 and "--out" in err
    assert server.requests == 0


def test_target_outside_the_allowed_networks_is_bad_input(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    code, _, err = run(capsys, "probe", "--tcp", "127.0.0.1:9", "--allow", "10.0.0.0/8", "--duration", "0.1",
                       "--out", str(tmp_path / "t.json"))
    assert code == 2 and err.count("\n") == 1 and "outside the allowed networks" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a read-only /proc")
def test_output_in_a_read_only_place_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "probe", "--tcp", "127.0.0.1:80", "--out", "/proc/timeline.json")
    assert code == 2 and "cannot write" in err


def test_probe_writes_the_timeline_and_analyze_reads_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "timeline.json"
    with ScriptedHttpServer("ok", identity="i-1") as web, \
            ScriptedDnsServer(DnsMode(answers=("127.0.0.1",))) as dns:
        now = time.time()
        web.switch("refuse", now + 0.4)
        web.switch("ok", now + 0.7)
        dns.switch(DnsMode(answers=("127.0.0.2",)), now + 0.5)
        code, stdout, _ = run(capsys, "probe", "--http", web.url, "--http-keepalive", web.url, "--health",
                              web.url + "health", "--dns", f"app.test/A@127.0.0.1:{dns.port}", "--tcp",
                              f"127.0.0.1:{web.port}", "--rate", "50", "--duration", "1.5", "--out", str(out))
    assert code == 0 and stdout.count("\n") == 1 and str(out) in stdout

    data = json.loads(out.read_text())
    assert data["schema"] == SCHEMA_VERSION and len(data["samples"]) == 5 * 75
    assert {s["kind"] for s in data["samples"]} == {"http", "http_keepalive", "health", "dns", "tcp"}

    code, report, _ = run(capsys, "analyze", str(out), "--stable-window", "0.5")
    assert code == 0
    assert "failover time (fault -> stable)" in report and "outage windows (1)" in report
    assert "127.0.0.1 -> 127.0.0.2" in report

    code, as_json, _ = run(capsys, "analyze", str(out), "--fault-at", str(now + 0.3), "--stable-window", "0.5",
                           "--json")
    result = json.loads(as_json)
    assert code == 0 and result["recovered"] and result["outage_windows"][0]["since_fault_s"] == pytest.approx(
        0.1, abs=0.05)


def test_runtime_faults_are_samples_not_tracebacks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "timeline.json"
    with ScriptedHttpServer("reset") as web, ScriptedDnsServer(DnsMode(answers=("127.0.0.1",), truncate=True,
                                                                       tcp=False)) as dns:
        code, _, err = run(capsys, "probe", "--http", web.url, "--dns", f"a.test@127.0.0.1:{closed_port()}",
                           "--dns", f"a.test/A@127.0.0.1:{dns.port}", "--rate", "20", "--duration", "0.3",
                           "--timeout", "0.2", "--out", str(out))
    assert code == 0 and "Traceback" not in err
    outcomes = {(s["probe"].split("@")[0], s["outcome"]) for s in json.loads(out.read_text())["samples"]}
    assert outcomes == {("http:" + web.url[7:-1], "reset"), ("dns:a.test/A", "refused"),
                        ("dns:a.test/A", "dns_truncated")}


@pytest.mark.parametrize(("content", "message"), [(None, "cannot read"), ("{not json", "not JSON"),
                                                  ('{"schema": 99}', "not a timeline file")])
def test_analyze_bad_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 content: str | None, message: str) -> None:
    path = tmp_path / "timeline.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2 and err.count("\n") == 1 and message in err


def test_analyze_without_any_failure_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"schema": SCHEMA_VERSION, "run_id": "quiet", "origin_at": 0.0, "samples": []}))
    code, out, _ = run(capsys, "analyze", str(path))
    assert code == 0 and "nothing failed" in out


def test_one_line_error_from_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gameday", "probe", "--http", "http//oops", "--out",
                           str(tmp_path / "t.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "malformed URL" in done.stderr
