"""The Python runtime's side of one invocation, run as a script in the function's own child process.

    python bootstrap.py <code dir> <handler> <event.json> <result.json> <timeout s> <request id> <function arn>

Imports the handler as Lambda's Python runtime does (`module.function`, the code directory first on
sys.path), calls it with the event and a context, and writes `{"ok": bool, "payload": ...}` to the
result file. stdout and stderr are the function's log. Standard library only: it runs before, and
apart from, anything of localcloud's.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class Context:
    """The subset of Lambda's context object handlers use."""

    def __init__(self, request_id: str, function_arn: str, timeout_s: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    code_dir, handler, event_path, result_path, timeout_s, request_id, function_arn = argv
    sys.path.insert(0, code_dir)
    context = Context(request_id, function_arn, float(timeout_s))
    try:
        module_name, _, function_name = handler.rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        function = getattr(module, function_name)
        with open(event_path) as handle:
            event = json.load(handle)
        payload: Any = function(event, context)
        outcome = {"ok": True, "payload": payload}
        json.dumps(outcome)  # an unserialisable result is the function's error, as on Lambda
    except Exception as exc:
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        outcome = {"ok": False, "payload": {"errorMessage": str(exc), "errorType": type(exc).__name__,
                                            "stackTrace": traceback.format_tb(exc.__traceback__)}}
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_path, "w") as handle:
        json.dump(outcome, handle)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
