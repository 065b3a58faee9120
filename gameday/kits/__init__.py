"""The registry of stack kits: the five reference kits, plus a team's own loaded from `--stacks-dir`.

`gameday plan`, `run --dry-run`, `export-fis`, the stop conditions and the pytest scenarios all read the
scenario specs from here, so they cannot drift apart.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import ConfigError
from gameday.kits.kit import (
    DeployContext,
    Deployment,
    FaultSpec,
    PartSpec,
    ScenarioSpec,
    StackKit,
)
from gameday.reports.markdown import ReportSection
from gameday.stopconditions import StopSpec

__all__ = ["REFERENCE_KITS", "DeployContext", "Deployment", "FaultSpec", "Kits", "PartSpec", "ScenarioSpec",
           "StackKit", "StopSpec", "load_kits"]

REFERENCE_KITS = ("eip_self_healing", "static_ip_haproxy", "origin_group", "dns_failover_fargate", "spot_vpc_origin")
KIT_FILE = "kit.py"  # a team's kit: <stacks-dir>/<folder>/kit.py defining KIT


@dataclass(frozen=True)
class Kits:
    kits: Mapping[str, StackKit]
    stacks_dir: Path | None = None
    team: tuple[str, ...] = ()  # the stack ids loaded from stacks_dir

    def ids(self) -> list[str]:
        return list(self.kits)

    def get(self, stack_id: str) -> StackKit:
        try:
            return self.kits[stack_id]
        except KeyError:
            raise ConfigError(f"unknown stack {stack_id[:80]!r} (available: {', '.join(self.kits)})") from None

    def scenarios(self, stack_ids: Iterable[str] | None = None, *, extended: bool = True,
                  backend: str | None = None) -> list[ScenarioSpec]:
        """The scenarios of these stacks (default: all), without the extended ones unless `extended`, and
        only those whose fault exists on `backend` ("localcloud" or "aws") when one is named."""
        wanted = list(stack_ids) if stack_ids is not None else self.ids()
        return [spec for stack_id in wanted for spec in self.get(stack_id).scenarios
                if (extended or not spec.extended) and (backend is None or spec.plays_on(backend))]

    def report_sections(self) -> dict[str, ReportSection]:
        """Stack id -> its kit's own summary.md section, for the kits that have one."""
        return {stack_id: kit.report_section for stack_id, kit in self.kits.items() if kit.report_section is not None}

    def available(self) -> list[str]:
        return [spec.scenario_id for spec in self.scenarios()]

    def scenario(self, scenario_id: str) -> ScenarioSpec:
        for spec in self.scenarios():
            if spec.scenario_id == scenario_id:
                return spec
        raise ConfigError(f"unknown scenario {scenario_id[:80]!r} (available: {', '.join(self.available())})")

    def select(self, names: Sequence[str]) -> list[ScenarioSpec]:
        """Scenarios by id, or every scenario of a stack by the stack's id; none given: all of them."""
        if not names:
            return self.scenarios()
        chosen: list[ScenarioSpec] = []
        for name in names:
            matches = self.scenarios([name]) if name in self.kits else [self.scenario(name)]
            chosen += [m for m in matches if m not in chosen]
        return chosen


def load_kits(stacks_dir: Path | str | None = None) -> Kits:
    """The reference kits, then every `<stacks_dir>/*/kit.py` (its `KIT`). A broken kit is one line, not a
    traceback: a team's typo must not look like gameday crashing."""
    found: dict[str, StackKit] = {}
    for name in REFERENCE_KITS:
        _add(found, importlib.import_module(f"gameday.kits.{name}").KIT, f"gameday.kits.{name}")
    reference = set(found)
    folder = Path(stacks_dir).resolve() if stacks_dir else None
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(f"--stacks-dir {stacks_dir}: not a directory")
        files = sorted(folder.glob(f"*/{KIT_FILE}"))
        if not files:
            raise ConfigError(f"--stacks-dir {stacks_dir}: no kit found (expected <folder>/{KIT_FILE} defining KIT)")
        for path in files:
            _add(found, _load_team_kit(path), str(path))
    return Kits(found, folder, tuple(s for s in found if s not in reference))


def _load_team_kit(path: Path) -> StackKit:
    module_name = f"gameday_team_kits.{path.parent.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load kit {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a team's code: whatever it raises is a usage error in one line
        del sys.modules[module_name]
        raise ConfigError(f"cannot load kit {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") \
            from exc
    kit = getattr(module, "KIT", None)
    if kit is None:
        raise ConfigError(f"kit {path} defines no KIT")
    return kit


def _add(found: dict[str, StackKit], kit: StackKit, where: str) -> None:
    for attribute in ("stack_id", "scenarios", "parts", "deploy", "delete", "report_section"):
        if not hasattr(kit, attribute):
            raise ConfigError(f"kit {where}: KIT has no {attribute}")
    if kit.stack_id in found:
        raise ConfigError(f"kit {where}: stack id {kit.stack_id!r} is already taken")
    for spec in kit.scenarios:
        if spec.stack_id != kit.stack_id or not spec.scenario_id.startswith(f"{kit.stack_id}/"):
            raise ConfigError(f"kit {where}: scenario {spec.scenario_id!r} must be '{kit.stack_id}/<name>'")
    found[kit.stack_id] = kit
