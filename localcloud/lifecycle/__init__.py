"""Auto Scaling lifecycle hooks that really hold an instance in Pending:Wait (moto only stores them)."""

from localcloud.lifecycle.service import LifecycleService

__all__ = ["LifecycleService"]
