"""static-ip-haproxy's HAProxy configuration: the template embeds stacks/static-ip-haproxy/haproxy.cfg
verbatim, Debian's `haproxy -c` accepts it as the user data renders it, and rejects a broken one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gameday.template import load_template

STACK_DIR = Path(__file__).resolve().parents[2] / "stacks" / "static-ip-haproxy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
RENDERED_ENV = {"PRIVATE_IP": "127.0.0.1", "VPC_RESOLVER": "127.0.0.1:53", "BACKEND_NAME": "backend.example.test"}

needs_haproxy = pytest.mark.skipif(not Path(HAPROXY).exists(), reason="Debian's haproxy is not installed")


def _embedded_config() -> str:
    """The haproxy.cfg heredoc of the proxy launch template's user data, `${!X}` read as `${X}`."""
    template = load_template(STACK_DIR / "template.yaml")
    user_data = template["Resources"]["ProxyLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    script = user_data["Fn::Base64"]["Fn::Sub"]
    body = script.split('haproxy.cfg" <<EOF\n', 1)[1].split("\nEOF\n", 1)[0]
    return body.replace("${!", "${") + "\n"


def test_the_template_embeds_haproxy_cfg_verbatim() -> None:
    assert _embedded_config() == (STACK_DIR / "haproxy.cfg").read_text()


def test_the_config_has_what_the_stack_relies_on() -> None:
    config = (STACK_DIR / "haproxy.cfg").read_text()
    assert 'bind "${PRIVATE_IP}:443"' in config and "mode tcp" in config  # TCP passthrough
    assert "monitor-uri /health" in config and "monitor fail if { nbsrv(app) lt 1 }" in config
    assert "resolvers vpc" in config and "init-addr last,none" in config


def _check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    env = {**os.environ, **RENDERED_ENV}
    return subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, env=env, timeout=30,
                          check=False)


@needs_haproxy
def test_haproxy_accepts_the_rendered_config(tmp_path: Path) -> None:
    checked = _check((STACK_DIR / "haproxy.cfg").read_text(), tmp_path)
    assert checked.returncode == 0, checked.stderr


@needs_haproxy
def test_haproxy_rejects_a_broken_config(tmp_path: Path) -> None:
    broken = (STACK_DIR / "haproxy.cfg").read_text().replace("monitor-uri /health", "monitor-uri")
    assert _check(broken, tmp_path).returncode != 0
