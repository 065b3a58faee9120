"""`TemplateKit`: a kit made of one or several CloudFormation templates deployed in order (a later part may
read an earlier part's outputs, e.g. a replica in another region), or adopted part by part."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday import stacks
from gameday.errors import ConfigError
from gameday.kits.kit import DeployContext, Deployment, PartSpec, ScenarioSpec, one_per_part
from gameday.reports.markdown import ReportSection
from gameday.stacks import DeployedStack, StackSpec
from gameday.template import load_template

PartValues = Callable[[DeployContext, Mapping[str, DeployedStack]], Mapping[str, str]]
PartRegion = Callable[[DeployContext, Mapping[str, DeployedStack]], str | None]
Hook = Callable[[DeployContext, Deployment], None]


def _no_values(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    return {}


def _own_region(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> str | None:
    return None


@dataclass(frozen=True)
class TemplatePart:
    spec: PartSpec
    parameters: PartValues = _no_values  # what gameday passes when it deploys (zone names, scaled TTLs)
    region: PartRegion = _own_region  # None: the backend's region


@dataclass(frozen=True)
class TemplateKit:
    stack_id: str
    summary: str
    template_parts: tuple[TemplatePart, ...]
    scenarios: tuple[ScenarioSpec, ...] = ()
    prepare: Hook | None = None  # after a deploy (not an adoption): e.g. put the site's objects in place
    cleanup: Hook | None = None  # before gameday deletes what it deployed: e.g. empty the buckets
    report_section: ReportSection | None = None  # summary.md lines of its own for this stack's results

    @property
    def parts(self) -> tuple[PartSpec, ...]:
        return tuple(p.spec for p in self.template_parts)

    def deploy(self, ctx: DeployContext, deployment: str = "default") -> Deployment:
        one_per_part(self.parts, ctx.existing, self.stack_id)
        check_parameters(self.stack_id, self.parts, ctx.parameters)
        deployed: dict[str, DeployedStack] = {}
        try:
            for part in self.template_parts:
                deployed[part.spec.name] = self._part(ctx, part, deployed)
            result = Deployment(self.stack_id, deployed)
            if self.prepare is not None and not ctx.adopting:
                self.prepare(ctx, result)
        except BaseException:
            for stack in reversed(list(deployed.values())):
                stacks.delete(ctx.backend, stack)
            raise
        return result

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        if deployment.adopted:
            return
        try:
            if self.cleanup is not None:
                self.cleanup(ctx, deployment)
        finally:
            for stack in reversed(list(deployment.parts.values())):
                stacks.delete(ctx.backend, stack)

    def _part(self, ctx: DeployContext, part: TemplatePart, deployed: Mapping[str, DeployedStack]) -> DeployedStack:
        overrides = overrides_for(part.spec.template, ctx.parameters)
        spec = StackSpec(self.stack_id, {**part.parameters(ctx, deployed), **overrides}, part.spec.template,
                         part.region(ctx, deployed), part.spec.name)
        if ctx.adopting:
            return stacks.adopt(ctx.backend, ctx.existing_part(part.spec.name, self.stack_id), spec)
        return stacks.deploy(ctx.backend, spec, ctx.run_id, run_tag=ctx.run_tag)


def declared_parameters(part: PartSpec) -> set[str]:
    return set(load_template(part.template).get("Parameters", {}) or {})


def overrides_for(template: Path, values: Mapping[str, str]) -> dict[str, str]:
    """The `--param` overrides this template declares (check_parameters made sure some part declares each)."""
    names = set(load_template(template).get("Parameters", {}) or {})
    return {k: v for k, v in values.items() if k in names}


def empty_bucket(s3: Any, bucket: str) -> None:
    """CloudFormation will not delete a bucket that still holds objects: empty it first."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def check_parameters(stack_id: str, parts: tuple[PartSpec, ...], overrides: Mapping[str, str]) -> None:
    """`--param STACK.KEY=VALUE` must name a parameter one of the stack's templates declares."""
    declared = set().union(*(declared_parameters(p) for p in parts)) if parts else set()
    for key in overrides:
        if key not in declared:
            raise ConfigError(f"--param {stack_id}.{key}: no template of {stack_id} declares parameter {key!r} "
                              f"(parameters: {', '.join(sorted(declared)) or 'none'})")


def main_part(stack_id: str, folder: Path | None = None, summary: str = "the stack") -> PartSpec:
    """The one part of a one-template kit: `main`, <folder>/template.yaml (default: stacks/<id>/)."""
    return PartSpec("main", (folder or stacks.STACKS_DIR / stack_id) / "template.yaml", summary)
