from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from gameday.run import RunPaths
from tests.moto_server import moto_server


@pytest.fixture(scope="session")
def run_paths(tmp_path_factory: pytest.TempPathFactory) -> RunPaths:
    """Integration tests keep their reports out of the repository's reports/."""
    return RunPaths.create("itest", tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def route53() -> Iterator[Any]:
    """A Route 53 client on a plain moto server of the test's own (no localcloud)."""
    with moto_server() as endpoint:
        yield boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
