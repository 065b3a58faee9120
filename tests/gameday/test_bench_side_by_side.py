"""benchmarks/side_by_side.py: the other benchmarks' figures next to their targets, labelled, and what is
missing listed as missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.side_by_side import main, merge, unit_of


def write(folder: Path, name: str, doc: dict[str, Any]) -> None:
    (folder / f"{name}.json").write_text(json.dumps(doc))


def rows_named(table: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [r for r in table["rows"] if r["figure"].startswith(prefix)]


def probe_capacity(http_p99_ms: float) -> dict[str, Any]:
    lateness = {"p99_ms": http_p99_ms}
    return {"finished_at": "2026-11-20T23:02:25Z",
            "combined": {"probes": {"http": {"lateness": lateness}, "dns": {"lateness": {"p99_ms": 2.0}}}},
            "per_kind": {"http": {"sustained_samples_per_s": 1600.0}}}


def test_figures_carry_value_target_labels_and_time(tmp_path: Path) -> None:
    write(tmp_path, "probe_capacity", probe_capacity(http_p99_ms=7.5))
    write(tmp_path, "load_capacity", {
        "finished_at": "2026-11-21T10:00:00Z",
        "endpoint": {"kind": "localcloud instance", "profile": "fast"},
        "verdict": {"locust_2_processes_max_rps": 2500.0, "probe_lateness_p99_ms_under_paced_locust_2": 3.0}})

    table = merge(tmp_path)

    lateness = {r["path"]: r for r in rows_named(table, "probe p99 send lateness")}
    assert lateness["combined.probes.http.lateness.p99_ms"]["meets_target"] is False
    assert lateness["combined.probes.dns.lateness.p99_ms"]["meets_target"] is True
    assert lateness["combined.probes.http.lateness.p99_ms"]["value"] == 7.5
    assert lateness["combined.probes.http.lateness.p99_ms"]["backend"] == "loopback scripted targets (no cloud)"
    [locust] = rows_named(table, "locust, 2 processes")
    assert (locust["value"], locust["target"], locust["meets_target"]) == (2500.0, ">= 2000 req/s", True)
    assert (locust["backend"], locust["profile"]) == ("localcloud", "fast")
    assert locust["measured_at"] == "2026-11-21T10:00:00Z"
    assert locust["measured_at_from"] == "the file's finished_at"


def test_missing_files_and_figures_are_listed_never_filled_in(tmp_path: Path) -> None:
    write(tmp_path, "probe_capacity", {"finished_at": "2026-11-20T23:02:25Z", "combined": {}})
    (tmp_path / "load_capacity.json").write_text("{not json")

    table = merge(tmp_path)

    [soak] = rows_named(table, "bytes per sample")
    assert soak["status"] == "missing" and soak["value"] is None
    assert soak["note"] == "soak_scale.json not found"
    [fresh] = rows_named(table, "probes: fresh-connection")
    assert (fresh["status"], fresh["note"]) == ("missing", "not in probe_capacity.json")
    [locust] = rows_named(table, "locust, 2 processes")
    assert locust["status"] == "missing" and locust["note"].startswith("load_capacity.json unreadable")
    assert "test wall time (test_wall.json)" in table["missing"]
    assert all(r["status"] == "missing" for r in table["rows"])


def test_game_day_runs_per_label_with_their_backend_and_profile(tmp_path: Path) -> None:
    def label(seconds: float, profile: str) -> dict[str, Any]:
        return {"runs": [{"backend": "localcloud", "profile": profile}],
                "summary": {"game_day_s_median": seconds, "cpu_s_median": 80.0}}
    write(tmp_path, "gameday_speed", {"labels": {"before": label(181, "fast"), "after": label(110, "fast"),
                                                 "realistic": label(1500, "realistic")}})

    table = merge(tmp_path)

    walls = {r["path"]: r for r in rows_named(table, "game day wall time")}
    assert walls["labels.before.summary.game_day_s_median"]["meets_target"] is False
    assert walls["labels.after.summary.game_day_s_median"]["meets_target"] is True
    realistic = walls["labels.realistic.summary.game_day_s_median"]
    assert (realistic["profile"], realistic["target"], realistic["meets_target"]) == ("realistic", None, None)
    # gameday_speed.json has no timestamp of its own: the time says where it came from
    assert "no timestamp of its own" in walls["labels.after.summary.game_day_s_median"]["measured_at_from"]


def test_figures_found_by_key_are_compared_in_the_target_unit(tmp_path: Path) -> None:
    write(tmp_path, "soak_scale", {"backend": "none (synthetic timeline)", "synthetic_3h": {
        "bytes_per_sample": 41.5, "report_html_bytes": 6_200_000, "html_render_s": 4.2,
        "peak_rss_mb_per_hour": [120.0, 121.5, 121.9]}})

    table = merge(tmp_path)

    [html] = rows_named(table, "report.html size")
    assert (html["value"], html["unit"], html["meets_target"]) == (6_200_000, "B", False)
    [render] = rows_named(table, "report.html render")
    assert render["meets_target"] is True
    [rss] = rows_named(table, "runner peak RSS")
    assert (rss["value"], rss["unit"], rss["meets_target"]) == ([120.0, 121.5, 121.9], "MB", None)
    assert rows_named(table, "bytes per sample")[0]["path"] == "synthetic_3h.bytes_per_sample"


def test_units_named_by_keys() -> None:
    assert unit_of("a.render_s", "x") == "s"
    assert unit_of("a.cpu_ms_per_1000_requests", "x") == "ms"
    assert unit_of("a.sustained_samples_per_s", "samples/s") == "samples/s"


def test_writes_the_table_and_refuses_a_missing_folder(tmp_path: Path, capsys: Any) -> None:
    write(tmp_path, "probe_capacity", probe_capacity(http_p99_ms=1.0))

    assert main(["--results", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "side_by_side.json").read_text())
    assert written["sources"]["probe_capacity"] == "read"
    assert main(["--results", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: --results")
