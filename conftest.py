"""Registers the gameday fixtures (fixtures/) for the scenarios and for the suite's own tests."""

pytest_plugins = [
    "fixtures.backend",
    "fixtures.reporting",
    "fixtures.scenarios",
    "fixtures.load",
]
