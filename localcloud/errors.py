"""The one error localcloud raises on purpose: it could not start, or could not do what was asked.

gameday translates it into `gameday.errors.BackendError` at the backend seam (`gameday.backends.local`);
localcloud itself does not import gameday.
"""

from __future__ import annotations


class LocalCloudError(Exception):
    """localcloud could not start or could not carry out a request; the message is one line."""
