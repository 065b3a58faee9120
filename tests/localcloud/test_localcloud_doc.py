"""docs/localcloud.md cannot drift from the code: its CloudFormation table lists exactly the resource types
localcloud's template engine knows (and who provides each), and it names every flag of `localcloud serve`.

Regenerate the table rows (keeping the notes already written) with:

    .venv/bin/python -m tests.localcloud.test_localcloud_doc
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pkgutil
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "localcloud.md"
ROW = re.compile(r"^\| `(?P<type>[A-Za-z0-9:]+)` \| (?P<origin>moto|localcloud) \|(?P<notes>.*)\|$")
# moto's own placeholders in its model list, not resource types a template can use
NOT_TYPES = {"?", "AWS::SERVICE::RESOURCE"}


def registered_types() -> dict[str, str]:
    """Every resource type moto's template engine resolves once localcloud's types are loaded -> "moto" or
    "localcloud" (a type localcloud adds, or replaces moto's model of)."""
    import localcloud.cfn
    from localcloud.cfn import resources

    for module in pkgutil.iter_modules(localcloud.cfn.__path__):
        importlib.import_module(f"localcloud.cfn.{module.name}")
    resources.register()  # moto caches its model map: list the types just imported too
    from moto.cloudformation import parsing

    return {name: "localcloud" if model.__module__.startswith("localcloud.") else "moto"
            for name, model in parsing.get_model_map().items() if name not in NOT_TYPES}


def documented_types(text: str) -> dict[str, tuple[str, str]]:
    return {m["type"]: (m["origin"], m["notes"].strip()) for m in map(ROW.match, text.splitlines()) if m}


def serve_flags() -> set[str]:
    from localcloud.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["serve", "--help"])
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", out.getvalue())) - {"--help"}


def test_every_registered_resource_type_is_in_the_table_and_nothing_else() -> None:
    registered, documented = registered_types(), documented_types(DOC.read_text())

    missing = sorted(set(registered) - set(documented))
    stale = sorted(set(documented) - set(registered))
    wrong_origin = sorted(t for t in set(registered) & set(documented) if registered[t] != documented[t][0])

    hint = "regenerate the rows: .venv/bin/python -m tests.localcloud.test_localcloud_doc"
    assert not missing, f"{DOC.name} lacks {missing}; {hint}"
    assert not stale, f"{DOC.name} lists types localcloud does not register: {stale}; {hint}"
    assert not wrong_origin, f"{DOC.name} names the wrong provider for {wrong_origin}; {hint}"


def test_the_types_localcloud_adds_are_listed_as_its_own() -> None:
    registered = registered_types()

    assert {"AWS::EC2::EIPAssociation", "AWS::CloudFront::VpcOrigin", "AWS::EC2::VPCCidrBlock"} <= {
        t for t, origin in registered.items() if origin == "localcloud"}
    assert registered["AWS::EC2::Instance"] == "moto"


def test_every_serve_flag_is_documented() -> None:
    text = DOC.read_text()

    flags = serve_flags()

    assert "--profile" in flags
    assert not sorted(f for f in flags if f"`{f}" not in text), "document every `localcloud serve` flag"


def table_rows(registered: dict[str, str], documented: dict[str, tuple[str, str]]) -> list[str]:
    return [f"| `{name}` | {origin} | {documented.get(name, ('', ''))[1]} |"
            for name, origin in sorted(registered.items())]


if __name__ == "__main__":
    print("| Type | From | Notes |\n|---|---|---|")
    print("\n".join(table_rows(registered_types(), documented_types(DOC.read_text()))))
