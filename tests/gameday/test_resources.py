"""gameday.resources: the files found from a checkout or from an installed copy, and the packaging that
bundles them (pyproject.toml, gameday/_build.py) kept in step with it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import conftest
from gameday import _build, resources
from gameday.kits import load_kits
from gameday.resources import FILES, Resources

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _tree(top: Path, *paths: str) -> None:
    for path in paths:
        (top / path).parent.mkdir(parents=True, exist_ok=True)
        (top / path).touch()


def test_a_checkout_finds_its_files_at_its_root(tmp_path: Path) -> None:
    _tree(tmp_path, "gameday/__init__.py", "stacks/a/template.yaml", "gameday.toml")

    found = Resources.of(tmp_path / "gameday")

    assert found.checkout == tmp_path
    assert found.stacks_dir == tmp_path / "stacks"
    assert found.default_config == tmp_path / "gameday.toml"
    assert found.scenarios_dir == tmp_path / "scenarios"
    assert found.locustfile == tmp_path / "loadtest" / "locustfile.py"
    assert found.child_cwd(Path("/elsewhere")) == tmp_path


def test_an_installed_copy_finds_its_bundled_files_and_runs_children_where_asked(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    _tree(site, "gameday/__init__.py", "gameday/_bundled/stacks/a/template.yaml", "gameday/_bundled/gameday.toml")

    found = Resources.of(site / "gameday")

    assert found.checkout is None
    assert found.stacks_dir == site / "gameday" / "_bundled" / "stacks"
    assert found.default_config == site / "gameday" / "_bundled" / "gameday.toml"
    assert found.scenarios_dir == site / "scenarios"
    assert found.child_cwd(tmp_path / "team") == tmp_path / "team"


def test_children_of_a_checkout_import_it_first_and_installed_ones_keep_the_path(tmp_path: Path) -> None:
    checkout = Resources(tmp_path, tmp_path, tmp_path)
    installed = Resources(tmp_path, tmp_path / "gameday" / "_bundled", None)

    assert checkout.child_env({"PYTHONPATH": "/x"})["PYTHONPATH"] == f"{tmp_path}{os.pathsep}/x"
    assert checkout.child_env({})["PYTHONPATH"] == str(tmp_path)
    assert installed.child_env({"PYTHONPATH": "/x", "A": "1"}) == {"PYTHONPATH": "/x", "A": "1"}
    assert "PYTHONPATH" not in installed.child_env({})


def test_this_checkout_is_found_with_every_file_gameday_needs() -> None:
    assert FILES.checkout == ROOT
    for stack_id in load_kits(None).ids():  # every reference kit's template
        assert (FILES.stacks_dir / stack_id / "template.yaml").is_file(), stack_id
    assert FILES.default_config.is_file()
    assert (FILES.scenarios_dir / "test_stacks_dir.py").is_file()
    assert FILES.locustfile.is_file()


def test_the_build_step_bundles_what_resources_looks_for() -> None:
    # _build is loaded alone by setuptools, so it repeats these names instead of importing them.
    assert (_build.BUNDLED, _build.BUNDLED_FILES) == (resources.BUNDLED, resources.BUNDLED_FILES)
    assert all((ROOT / name).exists() for name in resources.BUNDLED_FILES)
    assert PYPROJECT["tool"]["setuptools"]["cmdclass"]["build_py"] == "gameday._build.BuildPy"


def test_the_package_pins_what_requirements_txt_pins() -> None:
    lines = {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    project = PYPROJECT["project"]

    runtime, dev = set(project["dependencies"]), set(project["optional-dependencies"]["dev"])

    assert runtime | dev == lines
    assert not runtime & dev
    assert {"pytest==9.2.0", "boto3==1.44.5", "awscli==1.46.2"} <= runtime  # the children, bootstraps


def test_the_entry_point_is_the_plugin_the_checkouts_conftest_names() -> None:
    plugins = PYPROJECT["project"]["entry-points"]["pytest11"]

    assert plugins == {"fixtures.plugin": "fixtures.plugin"}  # one name: registered once when both load
    assert conftest.pytest_plugins == ["fixtures.plugin"]
    assert PYPROJECT["project"]["scripts"] == {"gameday": "gameday.cli:main"}


def test_the_installed_packages_are_those_resources_finds_beside_gameday() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]

    assert {name.rstrip("*") for name in include} == {"gameday", "localcloud", "fixtures", "scenarios", "loadtest"}
    assert FILES.scenarios_dir.parent == FILES.locustfile.parent.parent == FILES.top
