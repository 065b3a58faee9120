"""Run a Lambda function's Python handler for real: a child process of the venv's python, against localcloud.

moto cannot run a function without Docker. Here each invocation is `bootstrap.py` in its own process
(boto3 importable, localcloud's own process and environment out of reach), with Lambda's reserved
variables, the function's Environment, its execution role's temporary credentials (a session named after the
function, registered so its calls are evaluated against the role's policies) and AWS_ENDPOINT_URL at moto. The run is
bounded by the function's Timeout (never below MIN_TIMEOUT_S: starting python and importing boto3
on a busy host takes seconds that Lambda's warm runtime does not pay). Its output is the function's
log, kept per function under the work directory and in the result event's tail.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.events import LAMBDA_INVOKE, LAMBDA_RESULT, EventLog
from localcloud.iam.credentials import CredentialRegistry, Principal, role_name_of

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
MIN_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 900.0  # Lambda's own maximum
TAIL_CHARS = 2000
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class FunctionCode:
    """What an invocation needs of a function, copied from moto's model on the thread that asked."""

    name: str
    arn: str
    role_arn: str  # the execution role
    handler: str
    runtime: str
    timeout_s: float
    memory_mb: int
    environment: Mapping[str, str]
    code: bytes  # the deployment package (zip)

    @classmethod
    def of(cls, fn: Any) -> FunctionCode:
        return cls(str(fn.function_name), str(fn.function_arn), str(fn.role or ""), str(fn.handler or ""),
                   str(fn.run_time or ""), float(fn.timeout or 3), int(fn.memory_size or 128),
                   {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}, bytes(fn.code_bytes or b""))


@dataclass(frozen=True)
class Invocation:
    request_id: str
    function: str
    payload: bytes  # the handler's JSON result, or Lambda's error document
    error: str | None  # None: the handler returned; else "Unhandled" reason (errorType, timeout, …)
    log: str
    duration_s: float


@dataclass(frozen=True)
class RuntimeConfig:
    endpoint_url: str
    region: str
    workdir: Path
    registry: CredentialRegistry  # the cloud's, whose API evaluates the functions' calls against their roles
    python: str = sys.executable


class LambdaRuntime:
    """`invoke` blocks (any thread but the data-plane loop's); `invoke_async` returns at once."""

    def __init__(self, config: RuntimeConfig, events: EventLog, later: Callable[[float, Callable[[], None]], None],
                 workers: int = 4) -> None:
        self._config = config
        self._events = events
        self._later = later  # run a callable after a delay without blocking the caller
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localcloud-lambda")
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def log_path(self, function: str) -> Path:
        return self._config.workdir / "lambda" / function / "function.log"

    def invoke_async(self, code: FunctionCode, event: Any, delay_s: float = 0.0, source: str = "event") -> str:
        request_id = str(uuid.uuid4())

        def submit() -> None:
            with contextlib.suppress(RuntimeError):  # the pool is shut: the cloud is stopping
                self._pool.submit(self._invoke_logged, code, event, request_id, source)

        if delay_s > 0:
            self._later(delay_s, submit)
        else:
            submit()
        return request_id

    def _invoke_logged(self, code: FunctionCode, event: Any, request_id: str, source: str) -> None:
        try:
            self.invoke(code, event, request_id=request_id, source=source)
        except Exception:
            log.exception("invocation %s of %s failed", request_id, code.name)

    def invoke(self, code: FunctionCode, event: Any, *, request_id: str | None = None,
               source: str = "request-response") -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        timeout_s = min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, code.timeout_s))
        self._events.emit(LAMBDA_INVOKE, code.name, function=code.name, request_id=request_id, source=source)
        started = time.monotonic()
        run_dir = self._config.workdir / "lambda" / code.name / "invocations" / request_id
        run_dir.mkdir(parents=True, exist_ok=True)
        if not code.runtime.startswith("python"):
            invocation = _failed(request_id, code.name, "Runtime.InvalidRuntime",
                                 f"localcloud runs Python handlers only, not {code.runtime!r}", started)
        else:
            invocation = self._run(code, event, request_id, run_dir, timeout_s, started)
        self._append_log(code.name, invocation.log)
        self._events.emit(LAMBDA_RESULT, code.name, function=code.name, request_id=request_id, source=source,
                          duration_s=invocation.duration_s, error=invocation.error,
                          log=invocation.log[-TAIL_CHARS:], log_path=str(self.log_path(code.name)))
        return invocation

    def _run(self, code: FunctionCode, event: Any, request_id: str, run_dir: Path, timeout_s: float,
             started: float) -> Invocation:
        task_root = self._unpack(code)
        (run_dir / "event.json").write_text(json.dumps(event))
        result_path = run_dir / "result.json"
        home = run_dir / "home"
        (home / ".aws").mkdir(parents=True, exist_ok=True)
        log_path = run_dir / "output.log"
        with open(log_path, "wb") as output:
            output.write(f"START RequestId: {request_id} Version: $LATEST\n".encode())
            output.flush()
            proc = subprocess.Popen(
                [self._config.python, str(BOOTSTRAP), str(task_root), code.handler, str(run_dir / "event.json"),
                 str(result_path), str(timeout_s), request_id, code.arn],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, cwd=task_root,
                env=self._environment(code, task_root, home), start_new_session=True)
            with self._lock:
                if self._closed:
                    _kill(proc)
                self._running.add(proc)
            try:
                proc.wait(timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill(proc)
                timed_out = True
            finally:
                with self._lock:
                    self._running.discard(proc)
            duration = round(time.monotonic() - started, 3)
            if timed_out:
                output.write(f"Task timed out after {timeout_s:.2f} seconds\n".encode())
            output.write(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
                         f"Duration: {duration * 1000:.2f} ms\tMemory Size: {code.memory_mb} MB\n".encode())
        text = log_path.read_text(errors="replace")
        if timed_out:
            return _failed(request_id, code.name, "Sandbox.Timedout",
                           f"Task timed out after {timeout_s:.2f} seconds", started, text)
        try:
            outcome = json.loads(result_path.read_text())
        except (OSError, ValueError):
            return _failed(request_id, code.name, "Runtime.ExitError",
                           f"RequestId: {request_id} Error: Runtime exited with code {proc.returncode}", started, text)
        payload = json.dumps(outcome["payload"]).encode()
        error = None if outcome["ok"] else str(outcome["payload"].get("errorType", "Unhandled"))
        return Invocation(request_id, code.name, payload, error, text, duration)

    def _unpack(self, code: FunctionCode) -> Path:
        digest = hashlib.sha256(code.code).hexdigest()[:16]
        task_root = self._config.workdir / "lambda" / code.name / "code" / digest
        if not task_root.is_dir():
            staging = task_root.with_name(f"{digest}.{uuid.uuid4().hex}")
            with zipfile.ZipFile(io.BytesIO(code.code)) as package:
                package.extractall(staging)
            try:
                staging.rename(task_root)
            except OSError:  # another invocation unpacked it first
                pass
        return task_root

    def _environment(self, code: FunctionCode, task_root: Path, home: Path) -> dict[str, str]:
        region = self._config.region
        reserved = {
            "PATH": f"{Path(self._config.python).parent}:{_SYSTEM_PATH}",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{code.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": code.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(code.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{code.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "localcloud",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": self._config.endpoint_url,
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            **self._role_credentials(code),
        }
        return {**code.environment, **reserved}  # as on Lambda, a function cannot override reserved keys

    def _role_credentials(self, code: FunctionCode) -> dict[str, str]:
        """The execution role's session for this function, as Lambda names it (`assumed-role/<role>/<function>`)."""
        account = code.arn.split(":")[4] if code.arn.count(":") >= 5 else ""
        principal = Principal(account, role_name_of(code.role_arn), code.name)
        return self._config.registry.credentials_for(principal).environment()

    def _append_log(self, function: str, text: str) -> None:
        path = self.log_path(function)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(text)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            running = list(self._running)
        for proc in running:
            _kill(proc)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _failed(request_id: str, function: str, error_type: str, message: str, started: float,
            text: str = "") -> Invocation:
    payload = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return Invocation(request_id, function, payload, error_type, text, round(time.monotonic() - started, 3))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the handler and anything it started
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10.0)
