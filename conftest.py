"""Registers the gameday fixtures (fixtures/plugin.py) for the scenarios and for the suite's own tests.

An installed gameday registers the same plugin through its entry point; pytest takes it once."""

pytest_plugins = ["fixtures.plugin"]
