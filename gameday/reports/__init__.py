"""Reports: pure functions of a run's report.json document, written to reports/<run-id>/."""

from gameday.reports.run import RunReport, merge, read_parts, write_outputs, write_part, write_report

__all__ = ["RunReport", "merge", "read_parts", "write_outputs", "write_part", "write_report"]
