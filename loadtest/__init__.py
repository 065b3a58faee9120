"""Locustfiles, load shapes and the event-listener plugin. Loaded only inside the locust subprocess
(except `shapes`, which is plain Python and unit-tested in-process)."""
