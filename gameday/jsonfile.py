"""Reading JSON that may be damaged or hostile (reports, timelines, journals, history): bounded in size and depth,
and every way it can go wrong is one `ConfigError` naming the file (and line), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError

MAX_DEPTH = 64  # our files nest 6 levels at most; deeper is damage, and deep values crash recursive renderers
MAX_FILE_BYTES = 256 * 2**20  # a 10-minute soak timeline is ~40 MB; a bigger file is not ours


def loads(text: str, where: str) -> Any:
    """One JSON document; `where` names it in the error ("file", "file line 3")."""
    try:
        value = json.loads(text)
    except RecursionError:  # the C scanner refuses ~1000 levels this way (e.g. 100000 nested lists)
        raise ConfigError(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ConfigError(f"{where}: not readable JSON ({_short(exc)})") from None
    _check_depth_and_text(value, where)
    return value


def read_bytes(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, refused when missing, unreadable or too big."""
    try:
        if path.stat().st_size > max_bytes:
            raise ConfigError(f"{path}: larger than {max_bytes // 2**20} MiB, not a gameday file")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_text(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A file's UTF-8 text, refused when missing, unreadable, too big or not text."""
    raw = read_bytes(path, max_bytes=max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_json(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    return loads(read_text(path, max_bytes=max_bytes), str(path))


def _check_depth_and_text(value: Any, where: str) -> None:
    """Iteratively (a recursive walk is what deep values break): depth bounded, strings encodable as UTF-8
    (json accepts lone surrogates like "\\ud800", which then fail when a renderer writes them)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise ConfigError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError(f"{where}: holds a string that is not valid Unicode") from None


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:120]
