"""Backends: where the stacks run. `local` (localcloud, default) or `aws`."""

from gameday.backends.base import Backend, Resolver

__all__ = ["Backend", "Resolver"]
