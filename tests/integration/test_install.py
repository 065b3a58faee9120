"""`pip install` of gameday into a fresh virtual environment outside the checkout, then a team's own folder
(its kit, its pytest file) played from there: `gameday plan`, `gameday run --stacks-dir`, plain pytest.

Offline: the dependencies are the checkout's .venv ones (a .pth file names its site-packages) and the
package is built with --no-deps --no-build-isolation, so setuptools and wheel come from that venv too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache")
AT_THE_ROOT = {".venv", ".git", "reports", "build"}  # gameday/reports/ is a package: only the root's are left out


def _not_copied(folder: str, names: list[str]) -> set[str]:
    return set(ANYWHERE(folder, names)) | (AT_THE_ROOT & set(names) if Path(folder) == ROOT else set())


TEAM_TEST = '''\
import pytest

pytestmark = pytest.mark.scenario


def test_scenario(scenario, play_scenario):
    play_scenario(scenario)


def test_the_plugin_gives_the_kits_and_the_profile(kits, time_profile):
    assert kits.team == ("multivalue-pair",)
    assert time_profile.name == "fast"
'''


@dataclass(frozen=True)
class Installed:
    venv: Path
    site: Path
    team: Path  # a team's repository: kits/multivalue-pair, test_gameday.py, pytest.ini

    def run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / program), *args], cwd=self.team, capture_output=True,
                              text=True, timeout=timeout, env=_env_without_checkout())


def _env_without_checkout() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS")}


def _venv_scripts_of_dependencies(target: Path) -> None:
    """The dependencies' commands (`aws`, which localcloud's bootstraps run) for the new venv, as a full install
    would write them: the checkout venv's scripts with the new interpreter in their first line."""
    own = Path(sys.executable).parent
    for script in own.iterdir():
        if script.name.startswith(("python", "pip", "activate", "Activate")) or not script.is_file():
            continue
        lines = script.read_bytes().split(b"\n", 1)
        if len(lines) == 2 and lines[0] == b"#!" + str(own / "python").encode():
            shim = target / "bin" / script.name
            shim.write_bytes(b"#!" + str(target / "bin" / "python").encode() + b"\n" + lines[1])
            shim.chmod(0o755)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    source = base / "gameday-src"  # a copy: the build's build/ and egg-info stay out of the checkout
    shutil.copytree(ROOT, source, ignore=_not_copied)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz-gameday-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _venv_scripts_of_dependencies(env_dir)
    build = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--no-index", str(source)], capture_output=True, text=True, timeout=300,
                           env=_env_without_checkout())
    assert build.returncode == 0, build.stdout + build.stderr
    team = base / "team"
    shutil.copytree(ROOT / "docs" / "examples" / "multivalue-pair", team / "kits" / "multivalue-pair")
    (team / "test_gameday.py").write_text(TEAM_TEST)
    (team / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    # A package of the team's named like gameday's plugin package: `gameday run`'s children must not import it.
    (team / "fixtures").mkdir()
    (team / "fixtures" / "__init__.py").write_text('"""The team\'s test data."""\n')
    return Installed(env_dir, site, team)


def test_the_installed_copy_is_imported_not_the_checkout(installed: Installed) -> None:
    probe = ("import json, fixtures, gameday, loadtest, localcloud, scenarios; from gameday.resources import FILES; "
             "print(json.dumps({'modules': [m.__file__ for m in (fixtures, gameday, loadtest, localcloud, scenarios)],"
             " 'checkout': FILES.checkout and str(FILES.checkout), 'stacks': str(FILES.stacks_dir),"
             " 'config': str(FILES.default_config)}))")

    done = installed.run("python", "-P", "-c", probe)  # -P: not the team's own fixtures/ from the folder

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert all(Path(m).is_relative_to(installed.site) for m in found["modules"]), found["modules"]
    assert found["checkout"] is None
    assert (Path(found["stacks"]) / "static-ip-haproxy" / "template.yaml").is_file()
    assert Path(found["config"]).is_relative_to(installed.site) and Path(found["config"]).is_file()


def test_gameday_plan_from_the_teams_folder(installed: Installed) -> None:
    reference = installed.run("gameday", "plan")
    team = installed.run("gameday", "plan", "--stacks-dir", "./kits")

    assert reference.returncode == 0, reference.stderr
    assert "eip-self-healing/terminate-instance" in reference.stdout
    assert "multivalue-pair" not in reference.stdout
    assert team.returncode == 0, team.stderr
    assert "multivalue-pair/terminate-one-node  [stack multivalue-pair]" in team.stdout


def test_gameday_run_plays_the_teams_kit_from_its_folder(installed: Installed) -> None:
    done = installed.run("gameday", "run", "--stacks-dir", "./kits", "--stack", "multivalue-pair", timeout=480)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    reports = list((installed.team / "reports").glob("*/report.json"))  # beside the team's kits, not the venv
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert [(s["stack"], s["verdict"]) for s in report["scenarios"]] == [("multivalue-pair", "passed")]
    assert (report["backend"], report["profile"]) == ("localcloud", "fast")


def test_plain_pytest_in_the_teams_folder_uses_the_plugin(installed: Installed) -> None:
    collected = installed.run("pytest", "--stacks-dir", "kits", "--collect-only", "-q")
    fixtures = installed.run("pytest", "--stacks-dir", "kits", "-q", "-k", "plugin_gives")

    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "test_gameday.py::test_scenario[multivalue-pair:terminate-one-node]" in collected.stdout
    assert fixtures.returncode == 0, fixtures.stdout + fixtures.stderr
    assert "1 passed" in fixtures.stdout
