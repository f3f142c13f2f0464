"""Reading and writing JSON/JSONL: atomic writes, and reads that never crash.

Every reader turns what can go wrong with a file into a :class:`~umi_lab.errors.DataError` naming the
file (and the record, i.e. the line of a JSONL file): missing file, a directory, no permission, bytes
that are not UTF-8, invalid JSON, JSON nested too deeply for the parser (``[`` × 100,000), a file or a
line beyond the size cap. Writes are atomic; a full disk names the file. JSON arriving from models and
tools goes through :func:`loads_json`, which bounds the nesting depth before parsing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)

MAX_FILE_BYTES = 2 << 30       # a whole-file read beyond this is refused (JSONL is streamed instead)
MAX_LINE_BYTES = 256 << 20     # one JSONL record beyond this is refused
MAX_JSON_DEPTH = 200           # nesting allowed in JSON from models and tools (loads_json)

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _os_message(e: OSError) -> str:
    return e.strerror or type(e).__name__


def _write_error(path: Path, e: OSError) -> DataError:
    return DataError(f"cannot write: {_os_message(e)}", file=str(path))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text to ``path`` atomically (temp file in the same folder, then rename).

    A failed write (full disk, no permission) leaves the old file as it was and raises a DataError
    naming ``path``.

    >>> atomic_write_text("/tmp/umi_x.txt", "hi").read_text()
    'hi'
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as e:
        _discard(tmp)
        raise _write_error(path, e) from None
    except BaseException:
        _discard(tmp)
        raise
    return path


def _discard(tmp: str | None) -> None:
    if tmp:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON atomically. Example: ``write_json("out/metrics.json", {"plan_em": 0.5})``."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Write one JSON value per line, atomically. Example: ``write_jsonl("preds.jsonl", [{"a": 1}])``."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` and flush it to disk; a failure (full disk) raises a DataError naming the file."""
    path = Path(path)
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise _write_error(path, e) from None


def _read_error(path: Path, e: OSError) -> DataError:
    if isinstance(e, FileNotFoundError):
        return DataError("file not found", file=str(path))
    if isinstance(e, IsADirectoryError) or path.is_dir():
        return DataError("is a directory, expected a file", file=str(path))
    return DataError(f"cannot read: {_os_message(e)}", file=str(path))


def _decode_error(path: Path, data: bytes, e: UnicodeDecodeError, record: int | None = None) -> DataError:
    line = data.count(b"\n", 0, e.start) + 1
    where = f"byte {e.start}" if record is not None else f"line {line}, byte {e.start}"
    return DataError(f"not UTF-8 text ({where}: {e.reason})", file=str(path), record=record)


def read_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file of at most ``max_bytes``; any failure is a DataError naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise _read_error(path, e) from None
    except MemoryError:
        raise DataError("file too large to read into memory", file=str(path)) from None
    if len(data) > max_bytes:
        raise DataError(f"file larger than the {max_bytes}-byte limit", file=str(path))
    return data


def read_text(path: str | os.PathLike, *, what: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 text file (BOM allowed) as a string; errors are DataErrors naming the file.

    >>> read_text(atomic_write_text("/tmp/umi_t.txt", "é"))
    'é'
    """
    path = Path(path)
    data = read_bytes(path, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _decode_error(path, data, e) from None


def _parse(text: str, path: Path, record: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = f" at line {e.lineno} column {e.colno}" if record is None else f" at column {e.colno}"
        raise DataError(f"invalid JSON{at}: {e.msg}", file=str(path), record=record) from None
    except RecursionError:
        raise DataError("JSON nested too deeply to parse", file=str(path), record=record) from None
    except MemoryError:
        raise DataError("JSON too large to parse in memory", file=str(path), record=record) from None


def read_json(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read a JSON file; any problem becomes a DataError naming the file (and line/column of bad JSON)."""
    path = Path(path)
    return _parse(read_text(path, max_bytes=max_bytes), path)


def iter_jsonl(path: str | os.PathLike, *, max_line_bytes: int = MAX_LINE_BYTES,
               oversize: Callable[[int], Any] | None = None) -> Iterator[tuple[int, Any]]:
    """Stream ``(line index, value)`` of a JSONL file, one line in memory at a time; blank lines skipped.

    A line longer than ``max_line_bytes``, undecodable or invalid is a DataError naming file and record;
    with ``oversize``, an over-long line is instead skipped to its end (never held in memory) and yields
    ``(index, oversize(its size in bytes))``. Example: ``for i, rec in iter_jsonl("preds.jsonl"): ...``.
    """
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _read_error(path, e) from None
    with f:
        i = 0
        while True:
            try:
                line = f.readline(max_line_bytes + 1)
            except OSError as e:
                raise _read_error(path, e) from None
            if not line:
                return
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                if oversize is None:
                    raise DataError(f"line longer than the {max_line_bytes}-byte limit", file=str(path), record=i)
                yield i, oversize(_skip_line(f, path, len(line)))
                i += 1
                continue
            if i == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _decode_error(path, line, e, record=i) from None
            if text.strip():
                yield i, _parse(text, path, record=i)
            i += 1


def _skip_line(f, path: Path, size: int) -> int:
    """Read on to the end of the current line in 1 MiB pieces; the whole line's size in bytes."""
    while True:
        try:
            piece = f.readline(2 ** 20)
        except OSError as e:
            raise _read_error(path, e) from None
        size += len(piece)
        if not piece or piece.endswith(b"\n"):
            return size


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a JSONL file; a bad line becomes a DataError naming the file and the record (line) index."""
    return [value for _, value in iter_jsonl(path)]


def read_records(path: str | os.PathLike) -> list[Any]:
    """Read a JSON list or a JSONL file, chosen by content. Example: ``read_records("train.json")``."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError("expected a JSON list of records", file=str(path))
    return data


def json_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in JSON ``text`` (brackets inside strings do not count).

    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_json(text: str, *, where: str | None = None, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON from a model or a tool: invalid, too deeply nested or too big input is a DataError.

    ``where`` names the source in the message (e.g. ``"arguments"``). Never raises anything else.

    >>> loads_json('{"x": 1}')
    {'x': 1}
    >>> loads_json("[" * 100000, where="arguments")
    Traceback (most recent call last):
    ...
    umi_lab.errors.DataError: field arguments: JSON nested deeper than 200 levels
    """
    if not isinstance(text, str):
        raise DataError(f"expected JSON text, got {type(text).__name__}", field=where)
    try:
        if json_depth(text) > max_depth:
            raise DataError(f"JSON nested deeper than {max_depth} levels", field=where)
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg} at position {e.pos}", field=where) from None
    except (RecursionError, MemoryError) as e:
        raise DataError(f"JSON cannot be parsed ({type(e).__name__})", field=where) from None


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


def build_once(out: Path, marker: str, build: Callable[[], Path], *, force: bool = False) -> Path:
    """``out`` when it holds ``marker`` (a file written last by a finished build) and ``force`` is off; else
    ``build()`` under the lock ``.<name>.lock`` beside ``out``, so that concurrent callers build once and the
    others reuse the result. Example: ``build_once(cache_root() / "m", "report.json", lambda: make("m"))``."""
    import fcntl

    if (out / marker).is_file() and not force:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then reuse its result
        if (out / marker).is_file() and not force:
            return out
        return build()
