"""Reports: pure functions of scenario results (and their timelines) written to reports/<run-id>/."""

from gameday.reports.run import RunReport, write_report

__all__ = ["RunReport", "write_report"]
