"""Checkpoint / resume of one evaluation folder.

Items (static samples or real-time tasks) are processed in chunks of ``EvalSettings.checkpoint_every``;
after each chunk the finished items are appended, one JSON line each (flushed and fsynced), to
``predictions.partial.jsonl`` / ``trajectories.partial.jsonl`` next to ``partial.json``, a fingerprint of
the run, benchmark, mode, limit, settings, data and item ids. Running the same evaluation again skips the
finished items; a different fingerprint is refused (``DataError`` naming ``partial.json`` and the setting
that differs) unless restarted. A torn last line (a kill mid-write) is dropped, counted and its item
recomputed. The checkpoint cadence is not part of the fingerprint.

Example: ``ck = Checkpoint(out_dir, "trajectories", fp); done = ck.open(); ck.append([(0, "t0", {...})])``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_json, write_json
from umi_lab.protocol.dialogue import RecordedTrajectory

FINGERPRINT_FILE = "partial.json"


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class Checkpoint:
    """The partial results of one evaluation folder: ``partial.json`` (fingerprint) and ``<stem>.partial.jsonl``
    (one ``{"index", "id", "item"}`` line per finished item, appended per chunk, flushed and fsynced).

    Example: ``ck = Checkpoint(out_dir, "trajectories", fp); done = ck.open(); ck.append([(0, "t0", {...})])``.
    """

    def __init__(self, folder: Path, stem: str, fingerprint: dict[str, Any],
                 validate: Callable[[dict, str, int], Any] | None = None):
        self.folder, self.fingerprint, self.validate = folder, fingerprint, validate
        self.fp_path = folder / FINGERPRINT_FILE
        self.path = folder / f"{stem}.partial.jsonl"
        self.corrupt_lines = 0

    def discard(self) -> None:
        """Remove the partial files (``--restart``, or after the final files are written)."""
        for path in (self.path, self.fp_path):
            path.unlink(missing_ok=True)

    def open(self) -> dict[int, dict[str, Any]]:
        """Check the fingerprint (or write it) and return the finished items by index; a torn last line is
        dropped from the file and counted in ``corrupt_lines``."""
        if self.fp_path.is_file():
            self._check_fingerprint(read_json(self.fp_path))
        elif self.path.is_file():
            raise DataError(f"partial results without their fingerprint ({FINGERPRINT_FILE}); re-run with "
                            "--restart to discard them", file=str(self.path))
        else:
            write_json(self.fp_path, self.fingerprint)
        return self._read() if self.path.is_file() else {}

    def _check_fingerprint(self, saved: Any) -> None:
        if not isinstance(saved, dict):
            raise DataError("expected a JSON object", file=str(self.fp_path))
        differ = [k for k in sorted(set(saved) | set(self.fingerprint)) if saved.get(k) != self.fingerprint.get(k)]
        for k in ("settings", "run_config", "data"):
            if k in differ and isinstance(saved.get(k), dict):  # name the setting, not just "settings"
                old, new = _flat(saved[k], k), _flat(self.fingerprint[k], k)
                differ[differ.index(k):differ.index(k) + 1] = [x for x in sorted(set(old) | set(new))
                                                               if old.get(x) != new.get(x)]
        if differ:
            raise DataError(f"an interrupted evaluation with different settings is in this folder (differs: "
                            f"{', '.join(differ)}); re-run with the same settings to resume, or with --restart "
                            "to discard it", file=str(self.fp_path), field=differ[0])

    def _read(self) -> dict[int, dict[str, Any]]:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        done: dict[int, dict[str, Any]] = {}
        keep = 0  # bytes of the file that hold complete, valid lines
        for i, raw in enumerate(lines):
            try:
                row = self._row(raw, i)
            except DataError:
                if i < len(lines) - 1:
                    raise
                self.corrupt_lines += 1  # torn by a kill mid-write: drop it, its item is recomputed
                break
            if row["index"] in done:
                raise DataError(f"item {row['index']} appears twice", file=str(self.path), record=i, field="index")
            done[row["index"]] = row
            keep += len(raw) + 1
        if keep != len(data):  # cut the torn tail (or add the missing final newline) before appending
            with open(self.path, "r+b") as f:
                f.truncate(min(keep, len(data)))
                if keep > len(data):
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
        return done

    def _row(self, raw: bytes, i: int) -> dict[str, Any]:
        file = str(self.path)
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"invalid JSON line ({e})", file=file, record=i) from None
        ids = self.fingerprint["item_ids"]
        if not isinstance(row, dict) or not isinstance(row.get("index"), int) or not 0 <= row["index"] < len(ids):
            raise DataError(f"expected an object with an index in [0, {len(ids)})", file=file, record=i, field="index")
        if row.get("id") != ids[row["index"]]:
            raise DataError(f"id {row.get('id')!r} is not item {row['index']} ({ids[row['index']]!r})", file=file,
                            record=i, field="id")
        if not isinstance(row.get("item"), dict):
            raise DataError("expected an object", file=file, record=i, field="item")
        if self.validate:
            self.validate(row["item"], file, i)
        return row

    def append(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Append finished items ``(index, id, item)`` and make them durable (flush + fsync)."""
        text = "".join(json.dumps({"index": i, "id": k, "item": item}, ensure_ascii=False) + "\n"
                       for i, k, item in rows)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def _flat(d: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}.{k}"))
        else:
            out[f"{prefix}.{k}"] = v
    return out


def validate_trajectory(item: dict, file: str, record: int) -> None:
    """A partial line's item must be a recorded trajectory."""
    RecordedTrajectory.from_dict(item, file=file, record=record)


def validate_prediction(item: dict, file: str, record: int) -> None:
    """A partial line's item must carry its ``predictions`` string."""
    if not isinstance(item.get("predictions"), str):
        raise DataError("missing or not a string", file=file, record=record, field="item.predictions")


def fingerprint(run_config: dict[str, Any], benchmark: str, mode: str, limit: int | None, smoke: bool, method: str,
                settings, ids: list[str], items: list[Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What must match for partial results to be reused (everything but the checkpoint cadence)."""
    cfg = asdict(settings)
    cfg.pop("checkpoint_every")  # the checkpoint cadence does not change results
    out = {"benchmark": benchmark, "mode": mode, "limit": limit, "smoke": smoke, "method": method,
           "run_config": run_config, "settings": cfg, "n_items": len(ids), "items_sha256": _sha256(items),
           "item_ids": ids}
    if data:
        out["data"] = data
    return out
