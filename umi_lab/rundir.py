"""``RunDir``: the one reader and writer of a training run's folder (layout in ``docs/architecture.md``).

Training writes through it (config, identity, fingerprints, versions, data stats, status, loss history,
role outputs, checkpoints, the writer lock); serving, evaluation, ablations and the study read through
it. It imports neither TRL nor torch, so loading a run for inference stays light.

A run is *content-addressed*: ``identity.json`` holds its full resolved configuration (method, model and
the model folder's fingerprint, data fingerprint, schedule, sizes, seed, prompt style) and ``hash`` is
the first characters of its sha256. The same configuration reuses the folder; a different one gets its
own folder (``RunDir.for_config``), never an error and never a silent reuse.

>>> run = RunDir("runs/alpha")                      # doctest: +SKIP
>>> run.status(), run.info()["roles"]["planner"]    # doctest: +SKIP
('done', 'planner')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from umi_lab.checkpoints import atomic_save, checkpoint_problem, publish
from umi_lab.errors import DataError
from umi_lab.eval_folders import EvalFolders, EvalLocked, hold_lock
from umi_lab.io import atomic_write_text, read_json, write_json, write_jsonl
from umi_lab.methods import Method, get_method, with_init

STATUSES = ("running", "done", "failed", "interrupted")
NOT_IDENTITY = ("out", "resume", "report_to", "verbose")  # settings that do not change what is trained
_SMALL = 16 * 2**20  # model files up to this size are hashed whole; larger ones (weights) by name and size


__all__ = ["EvalLocked", "RunDir", "RunLocked", "atomic_save", "canonical_hash", "checkpoint_problem", "data_fingerprint",
           "file_sha256", "model_fingerprint", "run_identity"]


class RunLocked(DataError):
    """Another process holds the run's writer lock."""


def canonical_hash(obj: Any, n: int = 8) -> str:
    """The first ``n`` hex digits of the sha256 of ``obj`` as canonical JSON.

    >>> canonical_hash({"b": 1, "a": [2]}) == canonical_hash({"a": [2], "b": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in blocks. Example: ``file_sha256("data/toolworld/train.json")``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_fingerprint(name_or_path: str | os.PathLike) -> str:
    """A fingerprint of a model folder: small files (config, tokenizer) by content, weight files by name and
    size; for a name that is not a folder (a hub id), the name itself.

    >>> model_fingerprint("some-org/some-model")
    'name:some-org/some-model'
    """
    folder = Path(name_or_path)
    if not folder.is_dir():
        return f"name:{name_or_path}"
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = f.relative_to(folder).as_posix()
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        if size <= _SMALL and not rel.endswith((".safetensors", ".bin", ".pt", ".pth", ".gguf")):
            h.update(f.read_bytes())
    return "sha256:" + h.hexdigest()


def data_fingerprint(folder: str | os.PathLike) -> dict[str, str]:
    """sha256 of each training file in a data folder (``train.json``, ``train_<role>.json``), by name.

    >>> data_fingerprint("data/toolworld")["train.json"][:8]  # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("data folder not found", file=str(folder))
    return {p.name: _cached_sha256(p) for p in sorted(folder.glob("train*.json*")) if p.is_file()}


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """``file_sha256`` remembered per (path, size, mtime) within a process (the study asks many times)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = file_sha256(path)
    return _SHA_CACHE[key]


def run_identity(config: dict[str, Any], *, model: str | None = None, data: str | None = None) -> dict[str, Any]:
    """The identity of a run: its resolved config without output-only settings, plus the model and data
    fingerprints (computed from ``config["model"]``/``config["data"]`` unless given).

    >>> run_identity({"method": "single_llm", "out": "x", "seed": 1}, model="name:m", data={})["seed"]
    1
    """
    ident = {k: v for k, v in config.items() if k not in NOT_IDENTITY and k != "data"}
    ident["model_fingerprint"] = model if model is not None else model_fingerprint(config.get("model", ""))
    ident["data_fingerprint"] = data if data is not None else (
        data_fingerprint(config["data"]) if config.get("data") else {})
    return ident


class RunDir(EvalFolders):
    """A run folder. Every read and write of ``config.json``, ``identity.json``, ``status``,
    ``loss_history.jsonl``, ``adapters/``, ``models/``, ``base/``, ``work/`` and ``eval/`` goes through here.

    >>> RunDir("/tmp/none").status() is None
    True
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------------------ identity
    @classmethod
    def for_config(cls, out: str | os.PathLike, identity: dict[str, Any], *, say: Callable[[str], None] = print
                   ) -> RunDir:
        """The folder for a run of ``identity``: ``out`` itself when it is free or holds this identity, else
        the sibling ``<out>-<hash8>`` (said once). Never an error, never a reuse of another config.

        >>> RunDir.for_config("/tmp/r", {"seed": 1}, say=print).path  # doctest: +SKIP
        """
        first = cls(out)
        held = first.identity()
        if held == identity or (held is None and first.config() is None):
            return first
        other = cls(f"{first.path}-{canonical_hash(identity)}")
        before = held or first.config() or {}
        differ = sorted(k for k in set(before) | set(identity) if before.get(k) != identity.get(k))
        say(f"run: {first.path} holds another configuration (differs in {', '.join(differ[:6])}); "
            f"this one goes to {other.path}")
        return other

    def identity(self) -> dict[str, Any] | None:
        """The recorded identity (``identity.json``), or None for a new or pre-identity run."""
        f = self.path / "identity.json"
        return read_json(f) if f.is_file() else None

    # ------------------------------------------------------------------------------ metadata
    def config(self) -> dict[str, Any] | None:
        """``config.json`` (the resolved training config + ``model_name_or_path``), or None."""
        f = self.path / "config.json"
        return read_json(f) if f.is_file() else None

    def method(self) -> Method:
        """The run's registered method (old runs: ``alpha_umi`` + ``init: merge`` → ``alpha_umi_merge``)."""
        cfg = self.require_config()
        try:
            return get_method(with_init(cfg["method"], cfg.get("init")))
        except KeyError:
            raise DataError("config has no method", file=str(self.path / "config.json"), field="method") from None

    def require_config(self) -> dict[str, Any]:
        cfg = self.config()
        if cfg is None:
            raise DataError("not a run directory (no config.json)", file=str(self.path))
        return cfg

    def write_meta(self, *, config: dict, identity: dict, fingerprints: dict, versions: dict, data_stats: dict
                   ) -> None:
        """Write the files that describe a run before it trains."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "identity.json", identity)  # first: a folder with a config always has its identity
        write_json(self.path / "config.json", config)
        write_json(self.path / "fingerprints.json", fingerprints)
        write_json(self.path / "versions.json", versions)
        write_json(self.path / "data_stats.json", data_stats)

    def read(self, name: str) -> Any:
        """A JSON file of the run by name, e.g. ``run.read("data_stats.json")``; None when absent."""
        f = self.path / name
        return read_json(f) if f.is_file() else None

    # ------------------------------------------------------------------------------ status
    def status(self) -> str | None:
        """``running``, ``done``, ``failed``, ``interrupted`` or None."""
        f = self.path / "status"
        if not f.is_file():
            return None
        text = f.read_text(encoding="utf-8", errors="replace").strip()
        return text.split()[0] if text else None

    def status_reason(self) -> str | None:
        """Why the run is ``failed``/``interrupted`` (``status.json``), or None."""
        info = self.read("status.json")
        return info.get("reason") if isinstance(info, dict) else None

    def set_status(self, value: str, reason: str | None = None) -> None:
        """Record the status word in ``status`` and the details (reason, pid, host) in ``status.json``."""
        if value not in STATUSES:
            raise ValueError(f"unknown status {value!r}")
        atomic_write_text(self.path / "status", value + "\n")
        write_json(self.path / "status.json", {"status": value, "reason": reason, "pid": os.getpid(),
                                               "host": socket.gethostname()})

    # ------------------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``RUN/.lock`` (``fcntl.flock``) while writing; a second writer gets ``RunLocked`` naming the
        holder's pid and host. The lock dies with its process, so a killed run never blocks a rerun."""
        def refuse(holder: str) -> Exception:
            return RunLocked(f"the run is being written by {holder}; wait for it or use another folder",
                             file=str(self.path))

        with hold_lock(self.path / ".lock", refuse=refuse):
            yield

    # ------------------------------------------------------------------------------ roles
    def role_output(self, role: str, *, lora: bool = True) -> Path:
        """``adapters/<role>`` (LoRA) or ``models/<role>`` (full fine-tuning)."""
        return self.path / ("adapters" if lora else "models") / role

    def _found(self, kind: str) -> dict[str, str]:
        folder = self.path / kind
        if not folder.is_dir():
            return {}
        return {p.name: str(p) for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")}

    def role_staging(self, role: str, *, lora: bool = True) -> Path:
        """``.<role>.saving`` beside the role's folder: where every rank saves a finished role together
        (sharded weights are gathered collectively) before ``publish_role``."""
        final = self.role_output(role, lora=lora)
        return final.parent / f".{final.name}.saving"

    def publish_role(self, role: str, *, lora: bool = True) -> Path:
        """Rename the complete staging folder to the role's folder, so that folder exists only when complete."""
        return publish(self.role_staging(role, lora=lora), self.role_output(role, lora=lora))

    def info(self) -> dict[str, Any]:
        """What serving needs: ``{method, base, adapters, models, prompt_style, family, init, status, roles,
        role_map}`` (``roles``: planner/caller/summarizer → adapter; ``role_map`` adds ``backbone``)."""
        cfg = self.require_config()
        method = self.method()
        lora = cfg.get("lora", {}).get("enabled", True)
        found = self._found("adapters" if lora else "models")
        base = cfg.get("model_name_or_path") or cfg.get("model")
        if lora and method.merged_base:
            base = str(self.path / "base")
        return {"method": method.name, "base": base, "adapters": found if lora else {},
                "models": {} if lora else found, "prompt_style": cfg.get("prompt_style", {}),
                "family": cfg.get("family", "toolbench"), "init": cfg.get("init"), "status": self.status(),
                "roles": {r: a for r, a in method.serving.items() if r != "backbone"},
                "role_map": {r: a for r, a in method.role_map().items() if a in found}}

    # ------------------------------------------------------------------------------ checkpoints
    def work_dir(self, role: str) -> Path:
        """``work/<role>``: the checkpoints of the role being trained."""
        return self.path / "work" / role

    def last_complete_checkpoint(self, role: str, say: Callable[[str], None] = print) -> str | None:
        """The newest ``checkpoint-N`` of ``role`` that is complete (see ``checkpoint_problem``); incomplete
        newer ones are reported and moved aside (``work/<role>/.broken-N``) so the trainer never sees them."""
        work = self.work_dir(role)
        if not work.is_dir():
            return None
        found = []
        for p in work.iterdir():
            if p.is_dir() and p.name.startswith("checkpoint-") and p.name[11:].isdigit():
                found.append((int(p.name[11:]), p))
        for step, p in sorted(found, reverse=True):
            problem = checkpoint_problem(p)
            if problem is None:
                return str(p)
            say(f"  skipping incomplete checkpoint {p.name} of {role}: {problem}")
            os.replace(p, work / f".broken-{step}-{os.getpid()}")
        return None

    # ------------------------------------------------------------------------------ loss history
    @property
    def history_path(self) -> Path:
        return self.path / "loss_history.jsonl"

    def loss_history(self) -> tuple[list[dict], int]:
        """The logged loss rows and the number of unreadable (torn or corrupt) lines that were dropped."""
        if not self.history_path.is_file():
            return [], 0
        rows, bad = [], 0
        for line in self.history_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict) and "role" in row and isinstance(row.get("step"), int):
                rows.append(row)
            else:
                bad += 1
        return rows, bad

    def trim_history(self, role: str, after_step: int) -> int:
        """Rewrite the history keeping well-formed rows, none of ``role`` past ``after_step`` and each
        (role, step) once; returns how many torn lines were dropped."""
        rows, bad = self.loss_history()
        seen, keep = set(), []
        for r in rows:
            key = (r["role"], r["step"])
            if key in seen or (r["role"] == role and r["step"] > after_step):
                continue
            seen.add(key)
            keep.append(r)
        if bad or len(keep) != len(rows):
            write_jsonl(self.history_path, keep)
        return bad

    def append_loss(self, row: dict) -> bool:
        """Append one loss row unless its (role, step) is already recorded; returns whether it was written."""
        rows, _ = self.loss_history()
        if any(r["role"] == row["role"] and r["step"] == row["step"] for r in rows):
            return False
        with open(self.history_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        return True

    # ------------------------------------------------------------------------------ evaluations
    # eval_dir, eval_metrics, evaluations, claim_eval_dir, eval_lock: umi_lab.eval_folders.EvalFolders
    def require_trained(self) -> None:
        """Raise ``DataError`` unless training finished (``status: done``), saying how to finish it."""
        self.require_config()
        status = self.status()
        if status in ("running", "failed", "interrupted"):
            reason = self.status_reason()
            raise DataError(f"training did not finish (status: {status}{'; ' + reason if reason else ''}); "
                            "run the same training command again to resume it", file=str(self.path / "status"))
