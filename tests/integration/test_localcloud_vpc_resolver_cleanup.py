"""What runs in an instance's mount namespace (its user data's processes, the namespace itself) and the VPC
resolvers end with the cloud: nothing is left on the host. Its own cloud, so it can stop it."""

from __future__ import annotations

import os

import pytest

from localcloud import LocalCloud
from localcloud.cloud import vpc_resolver_services
from localcloud.ec2.userdata import system_resolver_unavailable
from localcloud.route53.services import dns_services
from tests.integration.test_localcloud_vpc_resolver import launch, make_vpc
from tests.localcloud.support import process_gone, tiny_profile

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(system_resolver_unavailable() is not None,
                                 reason=f"no private mount namespace here: {system_resolver_unavailable()}")]


def test_user_data_processes_their_namespace_and_the_resolvers_end_with_the_cloud(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=12, userdata_timeout_s=60,
                    services=[*dns_services(), *vpc_resolver_services()]) as cloud:
        _, subnet = make_vpc(cloud, 74)
        iid, _ = launch(cloud, subnet, "#!/bin/bash\nnohup sleep 300 >/dev/null 2>&1 &\necho $! > sleeper.pid\n")
        cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=60)
        sleeper = int((cloud.workdir / iid / "sleeper.pid").read_text())
        assert os.readlink(f"/proc/{sleeper}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        unbound = [int(vpc["pid"]) for vpc in cloud.service("vpc-resolver").describe().values()]
        assert unbound and not any(process_gone(pid) for pid in [sleeper, *unbound])

    assert process_gone(sleeper)
    assert all(process_gone(pid) for pid in unbound)
