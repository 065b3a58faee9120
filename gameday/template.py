"""CloudFormation templates read as data, and a stack's own configuration read from the template and
parameters it was deployed with (as CloudFormation holds them, not the repo's copy).

Predictors ask for a resource property (`HealthCheckGracePeriod`, a lifecycle hook's
`HeartbeatTimeout`, a record's `TTL`); `Ref`s to parameters resolve to the value the stack was
deployed with, else the parameter's default. Intrinsics other than `Ref` are returned as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gameday.errors import ConfigError


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref x` -> {"Ref": x}, `!Sub s` -> {"Fn::Sub": s})."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class StackConfig:
    stack_id: str
    template: Mapping[str, Any]
    parameters: Mapping[str, str]

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        try:
            return str(self.template["Parameters"][name]["Default"])
        except KeyError:
            raise ConfigError(f"{self.stack_id}: parameter {name} has no value and no default") from None

    def resources(self, type_: str) -> dict[str, Mapping[str, Any]]:
        """Logical id -> Properties of every resource of this type."""
        return {name: body.get("Properties", {}) for name, body in self.template.get("Resources", {}).items()
                if body.get("Type") == type_}

    def value(self, logical_id: str, *path: str | int, default: Any = None) -> Any:
        """A property of a resource, `Ref`s to parameters resolved; `default` when it is not set."""
        node: Any = self.template.get("Resources", {}).get(logical_id, {}).get("Properties", {})
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return default
        return self.resolve(node)

    def number(self, logical_id: str, *path: str | int, default: float | None = None) -> float:
        value = self.value(logical_id, *path, default=default)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{self.stack_id}: {logical_id}.{'.'.join(map(str, path))} is not a number: "
                              f"{value!r}") from None

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in self.template.get("Parameters", {}):
            return self.parameter(node["Ref"])
        return node


def load_template(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read template {path}: {exc.strerror}") from exc
    return load_template_text(text, str(path))


def load_template_text(text: str, where: str) -> dict[str, Any]:
    """A template body (YAML or JSON, short intrinsic tags allowed) as a mapping."""
    try:
        data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read template {where}: {' '.join(str(exc).split())[:200]}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"template {where} is not a mapping")
    return data
