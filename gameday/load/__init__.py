"""Load generation for game days: locust as a supervised subprocess, its requests on the timeline.

    with running(LoadConfig.for_shape("steady"), "http://127.0.0.1:8080/", report_dir, timeline):
        ...  # the scenario, under load
    rows = load_per_second(timeline)

Locust itself is never imported in this package (it monkey-patches the interpreter); it runs the
locustfile in `loadtest/` in a process group of its own.
"""

from gameday.load.analysis import (
    ErrorView,
    LoadSecond,
    LoadVsProbes,
    compare_load_and_probes,
    load_per_second,
    load_report,
    load_samples,
)
from gameday.load.config import LOAD_CHOICES, SHAPES, LoadConfig, Target, check_target
from gameday.load.merge import LOAD_KIND, LOAD_PREFIX, MergeSummary, merge_records
from gameday.load.records import LoadRecord, classify
from gameday.load.runner import LoadError, LoadFiles, LoadResult, LoadRun, leftover_processes, worker_command
from gameday.load.session import LoadController, LoadSettings, running

__all__ = [
    "LOAD_CHOICES",
    "LOAD_KIND",
    "LOAD_PREFIX",
    "SHAPES",
    "ErrorView",
    "LoadConfig",
    "LoadController",
    "LoadError",
    "LoadFiles",
    "LoadRecord",
    "LoadResult",
    "LoadRun",
    "LoadSecond",
    "LoadSettings",
    "LoadVsProbes",
    "MergeSummary",
    "Target",
    "check_target",
    "classify",
    "compare_load_and_probes",
    "leftover_processes",
    "load_per_second",
    "load_report",
    "load_samples",
    "merge_records",
    "running",
    "worker_command",
]
