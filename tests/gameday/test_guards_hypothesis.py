"""Property-based: no config file and no command line makes gameday print a traceback.

Every input ends in a result or a one-line error (exit 2 for bad input and refusals, 3 for suite errors).
The command lines run against a moto server on loopback; a dead proxy on loopback catches any attempt to
reach anything else, and options that would write files or start localcloud are never generated.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gameday.cli import main
from gameday.errors import ConfigError
from gameday.guards import AwsConfig, load_config
from tests.integration.test_aws_sandbox import AWS_ENV, ROOT, child_env, moto_server

DEAD_PROXY = "http://127.0.0.1:9"
PROXIES = {name: DEAD_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
FORCED = ("--endpoint-url", "--report-dir", "--local", "--out")  # set by the test, or never used
OPTIONS = {
    "plan": ["--existing-stack", "--region", "--aws-profile", "--allow-account", "--config", "-v"],
    "rollback": ["--journal", "--dry-run", "--region", "--aws-profile", "--allow-account", "--config"],
    "export-fis": ["--stack-name", "--region", "--account", "--role-arn", "--az", "--duration", "--alarm"],
}
VALUES = ["us-east-1", "eu-west-1a", "123456789012", "111111111111", "eip-self-healing",
          "eip-self-healing/terminate-instance", "gd-x", "PT5M", "arn:aws:iam::123456789012:role/r", "-", "--",
          "=", "", " ", "/", ".", "reports", "gameday.toml", "-h"]


def _safe(token: str) -> bool:
    name = token.split("=", 1)[0]
    return not (len(name) >= 3 and any(option.startswith(name) for option in FORCED))


def tokens(command: str, text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(OPTIONS[command]), st.sampled_from(VALUES), text).filter(_safe)


def _pairs(command: str, text: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Well-formed `--option value` pairs and positionals: these get past argparse to the guards and AWS."""
    option = st.sampled_from([o for o in OPTIONS[command] if o not in ("--dry-run", "-v")])
    value = st.one_of(st.sampled_from(VALUES), text).filter(lambda v: not v.startswith("-"))
    pair = st.tuples(option, value).map(list)
    positional = st.sampled_from(["eip-self-healing", "eip-self-healing/terminate-instance"]).map(lambda p: [p])
    return st.lists(st.one_of(pair, positional), max_size=5).map(lambda parts: [t for p in parts for t in p])


def command_lines(text: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, list[str]]]:
    return st.sampled_from(sorted(OPTIONS)).flatmap(lambda command: st.tuples(st.just(command), st.one_of(
        st.lists(tokens(command, text), max_size=7), _pairs(command, text))))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A moto endpoint, AWS variables for it, a dead proxy for everything else, and an empty working dir."""
    workdir = tmp_path_factory.mktemp("fuzz")
    with moto_server() as url, pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            patch.delenv(key)
        for key, value in {**AWS_ENV, **PROXIES, "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(key, value)
        patch.chdir(workdir)
        yield url, workdir


def _forced(command: str, url: str, workdir: Path) -> list[str]:
    forced = {"plan": ["--endpoint-url", url], "rollback": ["--endpoint-url", url, "--report-dir", str(workdir)],
              "export-fis": []}
    return [command, *forced[command]]


def _run_in_process(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=command_lines(st.text(max_size=24)))
def test_any_command_line_ends_in_a_result_or_one_line_error(line: tuple[str, list[str]],
                                                             sandbox: tuple[str, Path]) -> None:
    url, workdir = sandbox
    command, rest = line

    code, out, err = _run_in_process([*_forced(command, url, workdir), *rest])
    event(f"{command} exit {code}" + (" (a guard refused)" if "refused:" in err else ""))

    assert code in (0, 1, 2, 3)
    if code in (2, 3) and "usage:" not in out:
        assert err.count("\n") == 1 and err.startswith("gameday"), err


# Each example is a process of its own (about 0.6 s of CPU): the in-process property above covers the command lines
# at 300 examples, this one the real entry point (interpreter start, encodings, exit codes) at 12.
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=command_lines(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=16)))
def test_no_command_line_prints_a_traceback(line: tuple[str, list[str]], sandbox: tuple[str, Path]) -> None:
    url, workdir = sandbox
    command, rest = line
    env = {**child_env(), **PROXIES}

    done = subprocess.run([sys.executable, "-m", "gameday", *_forced(command, url, workdir), *rest], cwd=workdir,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)

    assert done.returncode in (0, 1, 2, 3)
    assert "Traceback" not in done.stderr + done.stdout


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=200))
def test_any_config_text_is_a_config_or_one_line_error(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("config") / "gameday.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")

    _config_or_one_line_error(path)


toml_value = st.one_of(st.integers(), st.booleans(), st.text(max_size=14), st.floats(allow_nan=False),
                       st.lists(st.one_of(st.text(max_size=14), st.integers()), max_size=3))


@settings(max_examples=300, deadline=None, database=None)
@given(table=st.dictionaries(st.sampled_from(["allow_accounts", "region", "other"]), toml_value, max_size=3),
       accounts=st.lists(st.from_regex(r"[0-9]{12}", fullmatch=True), max_size=3))
def test_any_aws_table_is_a_config_or_one_line_error(table: dict[str, object], accounts: list[str],
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("config") / "gameday.toml"
    if accounts:
        table = {**table, "allow_accounts": accounts}
    path.write_text("[aws]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in table.items()))

    config = _config_or_one_line_error(path)

    if config is not None and accounts and set(table) <= {"allow_accounts"}:
        assert config.allow_accounts == set(accounts)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + "".join(c if c.isalnum() or c in " -_./" else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                             else f"\\U{ord(c):08x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value) if not isinstance(value, float) or value == value and abs(value) != float("inf") else "0"


def _config_or_one_line_error(path: Path) -> AwsConfig | None:
    try:
        return load_config(path)
    except ConfigError as error:
        assert "\n" not in str(error)
        return None
