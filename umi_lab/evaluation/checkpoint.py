"""Checkpoint / resume of one evaluation folder.

Items (static samples or real-time tasks) are processed in chunks of ``EvalSettings.checkpoint_every``;
after each chunk the finished items are appended, one JSON line each (flushed and fsynced), to
``predictions.partial.jsonl`` / ``trajectories.partial.jsonl`` next to ``partial.json``, a fingerprint of
the evaluation's identity (``make_identity``: run, benchmark, mode, settings, data, items) and item ids.
Running the same evaluation again skips the finished items. Evaluations with other settings go to other
folders (``eval_folders``), so a different fingerprint only meets a folder written by hand or by an older
version: it is refused (``DataError`` naming ``partial.json`` and the setting that differs) unless restarted.
A torn last line (a kill mid-write) is dropped, counted and its item recomputed; reads and appends go through
``umi_lab.io`` (bad lines located, a full disk names the file).

Example: ``ck = Checkpoint(out_dir, "trajectories", fp); done = ck.open(); ck.append([(0, "t0", {...})])``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import append_text, iter_jsonl, read_json, write_json
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
        self.corrupt_lines = 0  # lines dropped: a torn last line, or an item written twice (kept once)

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
        for k in ("settings", "data"):
            if k in differ and isinstance(saved.get(k), dict):  # name the setting, not just "settings"
                old, new = _flat(saved[k], k), _flat(self.fingerprint[k], k)
                differ[differ.index(k):differ.index(k) + 1] = [x for x in sorted(set(old) | set(new))
                                                               if old.get(x) != new.get(x)]
        if differ:
            raise DataError(f"an interrupted evaluation with different settings is in this folder (differs: "
                            f"{', '.join(differ)}); re-run with the same settings to resume, or with --restart "
                            "to discard it", file=str(self.fp_path), field=differ[0])

    def _read(self) -> dict[int, dict[str, Any]]:
        rows: list[tuple[int, Any]] = []
        torn = None
        try:
            rows.extend(iter_jsonl(self.path))
        except DataError as e:
            torn = self._torn(e)
        done: dict[int, dict[str, Any]] = {}
        for i, value in rows:
            try:
                row = self._row(value, i)
            except DataError as e:
                torn = self._torn(e)
                break
            if row["index"] in done:  # two writers of an older version: keep the first, count the other
                self.corrupt_lines += 1
                continue
            done[row["index"]] = row
        if torn is not None:  # torn by a kill mid-write: cut it off, its item is recomputed
            self.corrupt_lines += 1
            keep = next(offset for i, offset, _ in self._lines() if i == torn)
            try:
                with open(self.path, "r+b") as f:
                    f.truncate(keep)
                    os.fsync(f.fileno())
            except OSError as e:
                raise DataError(f"cannot cut the torn last line: {e.strerror or e}", file=str(self.path)) from None
        elif self._missing_final_newline():  # a complete last line without its newline
            append_text(self.path, "\n")
        return done

    def _lines(self) -> Iterator[tuple[int, int, bytes]]:
        """``(index, byte offset, line)`` of the partial file, streamed."""
        try:
            with open(self.path, "rb") as f:
                offset = 0
                for i, line in enumerate(f):
                    yield i, offset, line
                    offset += len(line)
        except OSError as e:
            raise DataError(f"cannot read: {e.strerror or e}", file=str(self.path)) from None

    def _missing_final_newline(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                if f.seek(0, os.SEEK_END) == 0:
                    return False
                f.seek(-1, os.SEEK_END)
                return f.read(1) != b"\n"
        except OSError as e:
            raise DataError(f"cannot read: {e.strerror or e}", file=str(self.path)) from None

    def _torn(self, e: DataError) -> int:
        """The record of a bad line when it is the file's last (torn by a kill); else the error itself."""
        if e.record is None or any(i > e.record and line.strip() for i, _, line in self._lines()):
            raise e
        return e.record

    def _row(self, row: Any, i: int) -> dict[str, Any]:
        file = str(self.path)
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
        append_text(self.path, "".join(json.dumps({"index": i, "id": k, "item": item}, ensure_ascii=False) + "\n"
                                       for i, k, item in rows))


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


def make_identity(run_identity: str, benchmark: str, mode: str, method: str, settings, items: list[Any],
                        data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An evaluation's identity (its folder's key, ``eval_folders``): the run's identity hash, benchmark,
    mode, method, every setting that can change results (not the checkpoint cadence, not the ToolWorld
    folder's path: its files' fingerprints and world seed are in ``data``), the items' count and sha256.
    Example: ``make_identity("ab12", "gsm8k", "realtime", "alpha_umi", EvalSettings(), tasks)["n_items"]``."""
    cfg = asdict(settings)
    cfg.pop("checkpoint_every")  # the checkpoint cadence does not change results
    cfg.pop("toolworld")  # where the data lies does not either; what it holds is in ``data``
    return {"benchmark": benchmark, "mode": mode, "method": method, "run": run_identity, "settings": cfg,
            "n_items": len(items), "items_sha256": _sha256(items), "data": data or {}}


def fingerprint(identity: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """What must match for partial results to be reused: the evaluation's identity and its item ids."""
    return {**identity, "item_ids": ids}
