"""The evaluation folders of a run (``RUN/eval/``), content-addressed by their settings.

An evaluation's identity is its full resolved settings (``identity.json`` in its folder): benchmark, mode,
the run's identity, the method, every ``EvalSettings`` value that can change results (decoding profile,
new tokens, batch size and grouping, search, width, node budget, trials, seeds), the items evaluated (count
and sha256) and the data they came from (ToolWorld world seed, generator version, file fingerprints). The
folder has a readable name, ``<benchmark>-<mode>`` plus ``-dfsdt`` / ``-kK`` for a tree search / several
trials; the first identity evaluated there keeps it, any other goes to ``<readable>-<hash8>`` (said once).
The same identity finds its folder again (reused, or resumed when unfinished); another never reuses it.

``EvalFolders`` is mixed into ``RunDir``. Example::

    run = RunDir("runs/alpha")
    for folder, identity in run.evaluations("toolworld-id", "realtime"):
        print(folder.name, identity["settings"]["decoding"], identity["n_items"])
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_json, write_json

IDENTITY_FILE = "identity.json"
LOCK_FILE = ".lock"


class EvalLocked(DataError):
    """Another process is writing the same evaluation (same settings) of the run."""


def _hash(obj: Any, n: int = 8) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def readable_name(benchmark: str, mode: str, identity: dict[str, Any] | None = None) -> str:
    """``<benchmark>-<mode>`` plus ``-dfsdt`` and ``-kK`` from the identity's search settings.

    >>> readable_name("toy", "realtime", {"settings": {"search": "dfsdt", "trials": 4}})
    'toy-realtime-dfsdt-k4'
    """
    s = (identity or {}).get("settings") or {}
    trials = s.get("trials") or 1
    return f"{benchmark}-{mode}" + ("-dfsdt" if s.get("search") == "dfsdt" else "") + (
        f"-k{trials}" if trials > 1 else "")


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """Dotted keys whose values differ. Example: ``differences({"s": {"x": 1}}, {"s": {"x": 2}})`` → ``["s.x"]``."""
    fa, fb = _flat(a or {}), _flat(b or {})
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


@contextlib.contextmanager
def hold_lock(path: Path, *, blocking: bool = False, busy: str = "being written",
              refuse: Callable[[str], Exception] | None = None) -> Iterator[None]:
    """Hold an ``fcntl.flock`` on ``path`` (created), writing the holder (pid, host) into it; a second holder
    gets ``refuse(holder)`` (default: ``EvalLocked``) naming the first. The lock dies with its process, so a
    killed writer never blocks. Example: ``with hold_lock(Path("runs/a/.lock")): ...``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            if refuse is not None:
                raise refuse(holder) from None
            raise EvalLocked(f"this evaluation (same settings) is {busy} by {holder}; wait for it to finish "
                             "(its results will then be reused)", file=str(path.parent)) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield
    finally:
        f.close()


class EvalFolders:
    """The ``eval/`` part of ``RunDir`` (needs ``self.path``)."""

    path: Path

    @property
    def eval_root(self) -> Path:
        return self.path / "eval"

    def eval_identity(self, folder: str | os.PathLike) -> dict[str, Any] | None:
        """The identity recorded in an evaluation folder (``identity.json``), or None (new or older folder)."""
        f = Path(folder) / IDENTITY_FILE
        if not f.is_file():
            return None
        ident = read_json(f)
        if not isinstance(ident, dict):
            raise DataError("expected a JSON object", file=str(f))
        return ident

    def eval_dir(self, benchmark: str, mode: str, settings: dict[str, Any] | None = None) -> Path:
        """The folder of an evaluation (not created). Without ``settings``: the readable
        ``eval/<benchmark>-<mode>/`` (whatever it holds). With ``settings`` (an evaluation identity, see
        ``evaluation.driver.evaluation_identity``): the readable folder when it holds that identity, else
        ``eval/<readable>-<hash8>/`` (where it is, or would be, written). Example: ``run.eval_dir("gsm8k", "realtime", ident) / "metrics.json"``."""
        base = self.eval_root / readable_name(benchmark, mode, settings)
        if settings is None or self.eval_identity(base) == settings:
            return base
        return base.with_name(f"{base.name}-{_hash(settings)}")

    def eval_metrics(self, benchmark: str, mode: str, settings: dict[str, Any] | None = None
                     ) -> dict[str, Any] | None:
        """A finished evaluation's ``metrics.json`` (``eval_dir`` picks the folder), or None."""
        f = self.eval_dir(benchmark, mode, settings) / "metrics.json"
        if not f.is_file():
            return None
        metrics = read_json(f)
        if not isinstance(metrics, dict):
            raise DataError("expected an object of metrics", file=str(f))
        return metrics

    def evaluations(self, benchmark: str | None = None, mode: str | None = None, *, unfinished: bool = False
                    ) -> list[tuple[Path, dict[str, Any] | None]]:
        """``(folder, identity)`` of the finished evaluations (with ``unfinished``: also interrupted ones),
        optionally of one benchmark / mode, so a caller can pick by settings; identity None: an older folder.

        Example: ``[f for f, i in run.evaluations("gsm8k") if i and i["settings"]["decoding"] == "official"]``.
        """
        if not self.eval_root.is_dir():
            return []
        out = []
        for folder in sorted(p for p in self.eval_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not ((folder / "metrics.json").is_file() or (unfinished and (folder / "partial.json").is_file())):
                continue
            ident = self.eval_identity(folder)
            if benchmark is not None:
                got = ident.get("benchmark") if ident else None
                if got != benchmark and not (ident is None and folder.name.startswith(f"{benchmark}-")):
                    continue
            if mode is not None and ident is not None and ident.get("mode") != mode:
                continue
            out.append((folder, ident))
        return out

    def claim_eval_dir(self, benchmark: str, mode: str, identity: dict[str, Any], *,
                       say: Callable[[str], None] = print) -> Path:
        """The folder for an evaluation of ``identity``, created with its ``identity.json``: the readable one
        when free or already holding it, else ``<readable>-<hash8>`` (said once, with what differs)."""
        base = self.eval_root / readable_name(benchmark, mode, identity)
        with hold_lock(self.eval_root / ".claim.lock", blocking=True):
            held = self.eval_identity(base)
            other = base.with_name(f"{base.name}-{_hash(identity)}")
            if held == identity:
                return base
            if self.eval_identity(other) == identity:  # also when the readable folder was removed since
                return other
            if held is None and not (base.is_dir() and any(not p.name.startswith(".") for p in base.iterdir())):
                base.mkdir(parents=True, exist_ok=True)
                write_json(base / IDENTITY_FILE, identity)
                return base
            differ = differences(held, identity) if held else ["(older folder without identity.json)"]
            say(f"evaluation: {base} holds other settings (differs in {', '.join(differ[:6])}); "
                f"this one goes to {other}")
            other.mkdir(parents=True, exist_ok=True)
            write_json(other / IDENTITY_FILE, identity)
            return other

    def eval_lock(self, folder: str | os.PathLike):
        """Hold ``<folder>/.lock`` while an evaluation writes it; a second writer gets ``EvalLocked`` naming
        the holder. Example: ``with run.eval_lock(folder): ...``."""
        return hold_lock(Path(folder) / LOCK_FILE)
