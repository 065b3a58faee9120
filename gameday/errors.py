"""The one error tree of gameday.

    GamedayError
    ├── SystemUnderTestFailed       the stack did not recover as promised (a verdict, not a crash)
    │   ├── NoRecovery              a phase never happened within the watch window
    │   └── BudgetExceeded          it recovered, but slower than the budget
    └── SuiteError                  the suite itself broke; the number, if any, is not to be trusted
        ├── ConfigError             bad input from the user (one line, exit 2)
        ├── BackendError            the backend could not start or answer
        ├── DeployError             a stack did not deploy or did not delete
        ├── ProbeError              a probe could not run at all (not: a probe saw a failure)
        ├── FaultError              a fault could not be injected
        └── RevertFailed            a fault could not be reverted: something is left broken
"""

from __future__ import annotations


class GamedayError(Exception):
    """Base of everything gameday raises on purpose."""


class SystemUnderTestFailed(GamedayError):
    """The system under test did not behave as its stack promises."""

    def __init__(self, message: str, *, stack: str = "", scenario: str = "", phase: str = "") -> None:
        super().__init__(message)
        self.stack = stack
        self.scenario = scenario
        self.phase = phase


class NoRecovery(SystemUnderTestFailed):
    """A phase of the failover never happened inside the watch window."""


class BudgetExceeded(SystemUnderTestFailed):
    """The failover completed but took longer than its budget."""


class SuiteError(GamedayError):
    """The suite itself failed; whatever it measured is not a verdict on the stack."""


class ConfigError(SuiteError):
    """Bad user input: reported as one line and exit code 2."""


class BackendError(SuiteError):
    """The backend (localcloud or AWS) could not be started or reached."""


class DeployError(SuiteError):
    """A stack failed to deploy, or failed to delete cleanly."""

    def __init__(self, message: str, *, stack: str = "") -> None:
        super().__init__(message)
        self.stack = stack


class ProbeError(SuiteError):
    """A probe could not run at all (bad target, no event loop), as opposed to observing a failure."""


class FaultError(SuiteError):
    """A fault could not be injected."""

    def __init__(self, message: str, *, fault: str = "", target: str = "") -> None:
        super().__init__(message)
        self.fault = fault
        self.target = target


class RevertFailed(SuiteError):
    """A revert did not succeed: the system may be left broken; the journal still holds it."""

    def __init__(self, message: str, *, fault: str = "", target: str = "") -> None:
        super().__init__(message)
        self.fault = fault
        self.target = target
