"""Auto Scaling lifecycle hooks that really hold an instance in Pending:Wait or Terminating:Wait (moto: stored only)."""

from localcloud.lifecycle.service import LifecycleService

__all__ = ["LifecycleService"]
