"""Where the game days' history is kept: a JSON Lines file (default reports/history.jsonl, or `--history PATH`),
or an S3 prefix (`--history s3://bucket/prefix`) that outlives the machine a run was on.

On S3 every run is its own object, `<prefix>/<run-id>.json` (one history line), written once with
`If-None-Match: *` and read back by listing the prefix. Game days started at once (a CI matrix, one job per
stack) would race on a single object's read-modify-write and lose each other's lines; objects of their own
never collide, need no lock, and a damaged one costs one run's line, not the history.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gameday.backends.aws import aws_errors, check_endpoint, check_profile
from gameday.errors import ConfigError, GamedayError
from gameday.reports.history import append_history, history_json, read_history, read_history_text

log = logging.getLogger(__name__)

_S3_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/(?P<prefix>[^\s]*))?")
DEFAULT_REGION = "us-east-1"
READERS = 8


class HistoryStore(Protocol):
    """The history lines of earlier game days, oldest first, and the way to add one."""

    @property
    def where(self) -> str: ...

    def read(self) -> list[dict[str, Any]]: ...

    def append(self, line: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class FileHistory:
    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def read(self) -> list[dict[str, Any]]:
        return read_history(self.path)

    def append(self, line: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_history(self.path, line)


@dataclass(frozen=True)
class S3History:
    bucket: str
    prefix: str  # "" or ending in "/"
    client: Any  # a boto3 S3 client

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def read(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        with aws_errors(f"reading history at {self.where}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])
                    if item["Key"].endswith(".json") and "/" not in item["Key"][len(self.prefix):]]
            # One GET per run: several at once, as S3 answers each in tens of milliseconds.
            with ThreadPoolExecutor(max_workers=READERS) as pool:
                bodies = list(pool.map(self._body, keys))
        for key, body in zip(keys, bodies, strict=True):
            lines += read_history_text(body, f"s3://{self.bucket}/{key}")
        return sorted(lines, key=lambda line: (line["started_at"], line["run_id"]))

    def _body(self, key: str) -> str:
        return str(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode(errors="replace"))

    def append(self, line: Mapping[str, Any]) -> None:
        from botocore.exceptions import ClientError

        body = history_json(line).encode()
        key = f"{self.prefix}{line['run_id']}.json"
        with aws_errors(f"writing history to {self.where}"):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*",
                                       ContentType="application/json")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
                # The same run id written before (a re-run with --run-id): keep both lines, never overwrite.
                key = f"{self.prefix}{line['run_id']}.{secrets.token_hex(3)}.json"
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*",
                                       ContentType="application/json")
        log.info("history line written to s3://%s/%s", self.bucket, key)


def is_s3(spec: str) -> bool:
    return spec.startswith("s3://")


def check_history(spec: str) -> None:
    """A malformed --history value is a usage error before anything starts."""
    if is_s3(spec):
        if not _S3_URL.fullmatch(spec):
            raise ConfigError(f"--history {spec[:80]!r}: expected s3://BUCKET/PREFIX (a bucket name of 3-63 "
                              f"lowercase letters, digits, dots and hyphens)")
        return
    path = Path(spec)
    if not spec or path.is_dir():
        raise ConfigError(f"--history {spec[:80]!r}: expected a file (JSON Lines) or s3://BUCKET/PREFIX")
    if not path.parent.is_dir():
        raise ConfigError(f"--history {spec[:80]!r}: folder {path.parent} does not exist")


def open_history(spec: str | None, default: Path, *, endpoint_url: str | None = None, region: str | None = None,
                 aws_profile: str | None = None) -> HistoryStore:
    """The store `--history` names (a path or s3:// URL), or the default file when it names none."""
    if not spec:
        return FileHistory(default)
    check_history(spec)
    if not is_s3(spec):
        return FileHistory(Path(spec))
    matched = _S3_URL.fullmatch(spec)
    assert matched is not None  # check_history refused anything else
    prefix = (matched.group("prefix") or "").strip("/")
    return S3History(matched.group("bucket"), f"{prefix}/" if prefix else "",
                     _s3_client(endpoint_url, region, aws_profile))


def _s3_client(endpoint_url: str | None, region: str | None, aws_profile: str | None) -> Any:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    chosen = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    try:
        session = boto3.session.Session(profile_name=check_profile(aws_profile), region_name=chosen)
    except BotoCoreError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                    s3={"addressing_style": "path"} if endpoint_url else {})
    return session.client("s3", endpoint_url=check_endpoint(endpoint_url), config=config)


@dataclass(frozen=True)
class KeptLocally:
    """A durable store that must not cost a game day its report: when it cannot be read, the run is compared
    with nothing; when it cannot be written, the line goes to the local file instead and `warn` says where."""

    durable: HistoryStore
    local: FileHistory
    warn: Callable[[str], None]

    @property
    def where(self) -> str:
        return self.durable.where

    def read(self) -> list[dict[str, Any]]:
        try:
            return self.durable.read()
        except GamedayError as exc:
            self.warn(f"history not read, the run is compared with no earlier game day: {exc}")
            return []

    def append(self, line: Mapping[str, Any]) -> None:
        try:
            self.durable.append(line)
        except GamedayError as exc:
            self.local.append(line)
            self.warn(f"history line kept in {self.local.where} instead: {exc}")
