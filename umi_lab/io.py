"""Reading and writing JSON/JSONL: atomic writes, and read errors that name the file and line."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text to ``path`` atomically (temp file in the same folder, then rename).

    >>> atomic_write_text("/tmp/umi_x.txt", "hi").read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON atomically. Example: ``write_json("out/metrics.json", {"plan_em": 0.5})``."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write one JSON value per line, atomically. Example: ``write_jsonl("preds.jsonl", [{"a": 1}])``."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a parse error becomes a DataError naming the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("file not found", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}", file=str(path)) from None


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a JSONL file; a bad line becomes a DataError naming the file and the record (line) index."""
    path = Path(path)
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError("file not found", file=str(path)) from None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON: {e.msg}", file=str(path), record=i) from None
    return rows


def read_records(path: str | os.PathLike) -> list[Any]:
    """Read a JSON list or a JSONL file, chosen by content. Example: ``read_records("train.json")``."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError("expected a JSON list of records", file=str(path))
    return data


def data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    """Where the shared public data lives: ``explicit``, else ``$UMI_LAB_DATA``, else the first
    ``shared/data`` folder in the working directory or one of its parents (``../shared/data`` next to a
    checkout), else None."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("UMI_LAB_DATA")
    if env:
        return Path(env)
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return None


def cache_root() -> Path:
    """Where built artefacts are cached (the tiny backbone, the default ToolWorld data): ``$UMI_LAB_CACHE``,
    else ``~/.cache/umi_lab``. Example: ``cache_root() / "toolworld"``."""
    return Path(os.environ.get("UMI_LAB_CACHE") or Path.home() / ".cache" / "umi_lab")
