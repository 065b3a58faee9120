"""The evidence document (evidence.html, printed to report.pdf): what it files per scenario, from report.json data,
and what a run without Chromium does. No browser here: tests/integration/test_report_pdf.py prints it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from gameday.faults import RollbackJournal, mechanism_of
from gameday.reports import RunReport, write_outputs
from gameday.reports.configuration import configuration, template_sha256
from gameday.reports.evidence import render_evidence, utc, write_evidence
from gameday.stacks import STACKS_DIR, DeployedStack, StackSpec
from gameday.template import load_template
from gameday.timeline import Event
from tests.gameday.scenario_data import FAULT_S, scenario

HAPROXY = STACKS_DIR / "static-ip-haproxy" / "template.yaml"


def deployed(template: Path = HAPROXY, **parameters: str) -> DeployedStack:
    return DeployedStack(StackSpec("static-ip-haproxy", template_path=template), "gd-run-static-ip-haproxy",
                         "arn:aws:cloudformation:us-east-1:123456789012:stack/gd/1", {}, {},
                         load_template(template), parameters, "us-east-1")


def report(target: str = "i-1") -> dict[str, Any]:
    result = scenario(start_at=1_796_471_000.0)
    fault_at = result.fault_at
    assert fault_at is not None
    revert = "group back to min 1 / max 1 / desired 1"
    result.timeline.add_event(Event(fault_at, "fault.inject", "gameday", target,
                                    {"fault": "terminate-instance", "action": f"terminate {target}", "revert": revert}))
    result.timeline.add_event(Event(fault_at + 14.0, "fault.revert", "gameday", target,
                                    {"fault": "terminate-instance", "revert": revert}))
    run = RunReport("20261205-120000-ab12", "localcloud", "fast", started_at=fault_at - FAULT_S)
    run.scenarios.append(result)
    run.extras["eip-self-healing/terminate-instance"] = {
        "config": configuration([deployed(ZoneName="gameday.test")])}
    return run.to_dict()


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_each_scenario_files_its_configuration_mechanism_phases_journal_and_verdict() -> None:
    data = report()
    s = data["scenarios"][0]

    text = text_of(render_evidence(data))

    assert "localcloud, time profile fast" in text
    assert f"SHA-256 {template_sha256(load_template(HAPROXY))} (the template CloudFormation holds" in text
    assert f"File SHA-256 {hashlib.sha256(HAPROXY.read_bytes()).hexdigest()} (the file sent" in text
    assert "ZoneName gameday.test" in text  # parameters as deployed
    assert "RequestInterval = 10" in text and "FailureThreshold = 3" in text  # a Route 53 health check
    assert "ProxyRecordA1 www.gameday.test. A 60 Weight 1" in text  # TTL, name with its parameter filled in
    assert mechanism_of("terminate-instance") in text
    assert "detection (detection)" in text and "as configured" in text  # measured vs predicted per phase
    assert f"{utc(s['fault_at'])} +0.00 s inject i-1 terminate i-1" in text
    assert f"{utc(s['fault_at'] + 14.0)} +14.00 s revert i-1" in text
    assert "Verdict: passed" in text


def test_the_journal_of_the_run_folder_is_filed_with_the_state_of_every_revert(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    done = journal.record("terminate-instance", "i-1", "asg.restore-capacity", {}, "group back to 1")
    journal.record("block-az-nacl", "subnet-9", "nacl.restore", {}, "subnet-9 back on its ACL")
    journal.mark_reverted(done)

    write_evidence(tmp_path, report(), pdf=False)

    text = text_of((tmp_path / "evidence.html").read_text())

    assert re.search(r"UTC terminate-instance i-1 group back to 1 reverted", text)
    assert re.search(r"UTC block-az-nacl subnet-9 subnet-9 back on its ACL pending", text)


def test_a_damaged_journal_is_said_on_the_page_not_a_reason_to_file_nothing(tmp_path: Path) -> None:
    (tmp_path / "rollback.jsonl").write_text('{"op": "explode", "id": "x"}\n')

    write_evidence(tmp_path, report(), pdf=False)

    assert "could not be read (damaged)" in (tmp_path / "evidence.html").read_text()


def test_what_the_report_holds_is_escaped_and_the_page_may_load_nothing() -> None:
    html = render_evidence(report(target='<img src="http://example.com/x.png">'))

    assert "<img" not in html and "&lt;img src=&quot;http://example.com/x.png&quot;&gt;" in html
    assert "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" in html


def test_a_scenario_that_did_not_play_says_what_is_missing() -> None:
    data = report()
    data["scenarios"][0].update(config=None, phase_check=[], failover=None, prediction=None, timeline={}, target="")

    text = text_of(render_evidence(data))

    assert "Not recorded: the scenario did not deploy" in text
    assert "Nothing measured: the scenario did not play" in text and "Nothing injected" in text


def test_security_groups_and_network_acls_mean_different_things_for_tracked_connections() -> None:
    assert "connections already tracked keep flowing" in mechanism_of("block-az-security-groups")
    assert "established connections freeze too" in mechanism_of("block-az-nacl")
    assert mechanism_of("soak") == ""  # a kit's own (load), not a fault class


def test_the_template_hash_is_of_the_template_not_of_how_it_was_written(tmp_path: Path) -> None:
    as_json = tmp_path / "template.json"
    as_json.write_text(json.dumps(load_template(HAPROXY), indent=4))

    assert configuration([deployed(as_json)])[0]["template_sha256"] == configuration([deployed()])[0][
        "template_sha256"]
    other = load_template(HAPROXY)
    other["Resources"]["ProxyHealthCheckA1"]["Properties"]["HealthCheckConfig"]["FailureThreshold"] = 2
    assert template_sha256(other) != template_sha256(load_template(HAPROXY))


def test_without_chromium_the_other_reports_are_written_and_one_line_says_how_to_get_the_pdf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with caplog.at_level(logging.WARNING, logger="gameday.reports.evidence"):
        folder = write_outputs(report(), tmp_path / "reports", pdf=True)

    assert {p.name for p in folder.iterdir()} >= {"report.json", "summary.md", "junit.xml", "report.html",
                                                  "evidence.html"}
    assert not (folder / "report.pdf").exists()
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("report.pdf skipped: no Chromium") and "apt-get install chromium" in line
    assert f"gameday report {folder}" in line


def test_cloudfront_failover_criteria_and_cloud_map_ttls_are_part_of_the_snapshot() -> None:
    origin_group = deployed(STACKS_DIR / "origin-group" / "template.yaml")
    spot = deployed(STACKS_DIR / "spot-vpc-origin" / "template.yaml")

    [edge, origin] = configuration([origin_group, spot])

    [distribution] = edge["health_checks"]
    assert distribution["type"] == "AWS::CloudFront::Distribution"
    assert distribution["settings"]["s3-failover fails over on"] == [500, 502, 503, 504, 403, 404]
    assert {"resource": "OriginService", "name": "(Cloud Map service)", "type": "AAAA", "ttl": "30"} in origin["ttls"]
