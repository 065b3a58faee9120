import pytest

from gameday.run import RunPaths


@pytest.fixture(scope="session")
def run_paths(tmp_path_factory: pytest.TempPathFactory) -> RunPaths:
    """Integration tests keep their reports out of the repository's reports/."""
    return RunPaths.create("itest", tmp_path_factory.mktemp("reports"))
