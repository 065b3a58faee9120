"""Reversible monkey-patches on moto's classes: installed when a cloud starts, removed when it stops."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from localcloud.errors import LocalCloudError

_MISSING = object()
_MARKER = "_localcloud_patched_by"


class Patches:
    """A set of (class or module, attribute) replacements. One owner per attribute at a time."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._planned: list[tuple[type | ModuleType, str, Any]] = []
        self._saved: list[tuple[type | ModuleType, str, Any]] = []

    def add(self, cls: type | ModuleType, name: str, value: Any) -> None:
        self._planned.append((cls, name, value))

    @property
    def installed(self) -> bool:
        return bool(self._saved)

    def install(self) -> None:
        if self._saved:
            return
        for cls, name, _ in self._planned:
            holder = getattr(cls.__dict__.get(name), _MARKER, None)
            if holder is not None:
                raise LocalCloudError(f"{cls.__name__}.{name} is already patched by {holder}: "
                                      "only one LocalCloud can run in a process")
        try:
            for cls, name, value in self._planned:
                self._saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
                if callable(value) and not isinstance(value, (classmethod, staticmethod)):
                    setattr(value, _MARKER, self._owner)
                setattr(cls, name, value)
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._saved):
            if original is _MISSING:
                if name in cls.__dict__:
                    delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._saved.clear()
