"""Temporary credentials localcloud hands out, and who they belong to.

An instance gets its role's credentials from IMDS, a Lambda function its execution role's from the
runtime; on AWS both are sessions of the role (`assumed-role/<role>/<instance id or function name>`).
The registry remembers, for every access key localcloud issued, that role and session, so the API in
front of moto can evaluate the call against the role's policies. A key not in the registry is the
suite's own (the operator's) and is not restricted.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

CREDENTIALS_TTL = 6 * 3600
_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    token: str
    issued_at: float  # epoch seconds
    expires_at: float

    @classmethod
    def issue(cls, now: float) -> Credentials:
        return cls("ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
                   secrets.token_urlsafe(30)[:40], secrets.token_urlsafe(96), now, now + CREDENTIALS_TTL)

    def to_json(self) -> str:
        """The document IMDS serves at `iam/security-credentials/<role>`."""
        return json.dumps({"Code": "Success", "LastUpdated": iso(self.issued_at), "Type": "AWS-HMAC",
                           "AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key,
                           "Token": self.token, "Expiration": iso(self.expires_at)}, indent=2)

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for its execution role's session."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.token}


@dataclass(frozen=True)
class Principal:
    """A session of an IAM role: what AWS names in a denial."""

    account: str
    role_name: str
    session: str  # the instance id, or the function name

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session}"


class CredentialRegistry:
    """Thread-safe: IMDS registers on the data-plane loop, Lambda on its workers, moto's threads look up."""

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self._issued: dict[Principal, Credentials] = {}
        self._lock = threading.Lock()

    def register(self, access_key_id: str, principal: Principal) -> None:
        """Calls signed with `access_key_id` are made by `principal` (its role may change: the newest wins)."""
        with self._lock:
            self._principals[access_key_id] = principal

    def credentials_for(self, principal: Principal, now: float | None = None) -> Credentials:
        """The principal's temporary credentials: issued once, renewed when they expire."""
        now = time.time() if now is None else now
        with self._lock:
            current = self._issued.get(principal)
            if current is None or current.expires_at <= now + 60:
                current = Credentials.issue(now)
                self._issued[principal] = current
                self._principals[current.access_key_id] = principal
            return current

    def principal(self, access_key_id: str) -> Principal | None:
        with self._lock:
            return self._principals.get(access_key_id)


def role_name_of(role_arn: str) -> str:
    """`arn:aws:iam::123456789012:role/path/name` -> `name` (a session names the role without its path)."""
    return role_arn.rsplit("/", 1)[-1]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
