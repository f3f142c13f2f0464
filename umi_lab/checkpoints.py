"""Is a trainer checkpoint complete? And saving a folder atomically (no TRL or torch imports).

A checkpoint can be cut short by a full disk or a kill mid-save: ``checkpoint_problem`` says why one cannot
be resumed from (``RunDir.last_complete_checkpoint`` skips those); ``atomic_save`` makes a folder appear only
when complete.

>>> checkpoint_problem("/tmp/none")
'missing trainer_state.json'
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why a trainer checkpoint folder cannot be resumed from (None when it looks complete): a missing
    ``trainer_state.json`` or unreadable one, no weights, or a truncated safetensors/optimizer file.

    >>> checkpoint_problem("/tmp/none")
    'missing trainer_state.json'
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "missing trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "unreadable trainer_state.json"
    weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        return "no weights"
    for p in weights:
        if p.suffix == ".safetensors" and not _safetensors_complete(p):
            return f"truncated {p.name}"
    for name in ("optimizer.pt", "scheduler.pt"):
        p = folder / name
        if p.exists() and not _zip_complete(p):
            return f"truncated {name}"
    return None


def _safetensors_complete(path: Path) -> bool:
    size = path.stat().st_size
    if size < 8:
        return False
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n <= 0 or 8 + n > size:
            return False
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    return 8 + n + max(ends, default=0) == size


def _zip_complete(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())  # the central directory sits at the end: a cut file has none
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def atomic_save(save: Callable[[Path], None], final: Path) -> Path:
    """Run ``save(tmp)`` into a temporary sibling folder, then rename it to ``final``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        save(tmp)
        return publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish(tmp: Path, final: Path) -> Path:
    """Rename the complete folder ``tmp`` to ``final`` (replacing an older ``final``): the last step of
    ``atomic_save``, also used alone when several processes wrote ``tmp`` together. Example:
    ``publish(Path("run/adapters/.planner.saving"), Path("run/adapters/planner"))``."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
