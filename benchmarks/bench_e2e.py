"""End to end: the README's main command (``python -m umi_lab study``) timed stage by stage.

Runs the study in a fresh output folder (``--mode smoke`` adds ``--smoke``; ``full`` is the real study),
measures the wall-clock of the whole process, and reads the per-stage timings the study writes to
``OUT/timings.json``. The model cache (``UMI_LAB_CACHE``) is a fresh folder unless ``--reuse-cache``, so
the tiny backbone is built inside the timed run as on a new machine. ``--timings FILE`` only reports an
existing run's file (no run). Target: the CPU smoke study within 10 minutes on 2 cores.

    python benchmarks/bench_e2e.py --mode smoke
    python benchmarks/bench_e2e.py --mode full --out runs/study-full
    python benchmarks/bench_e2e.py --timings runs/study/timings.json      # report only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

from umi_lab.errors import DataError
from umi_lab.io import read_json

SMOKE_TARGET_S = 600.0


def stage_seconds(timings: Any, file: str) -> list[dict[str, Any]]:
    """Normalise a timings object to ``[{"stage", "seconds"}]``.

    Accepts ``{"stage": seconds}``, ``{"stages": {...}}`` / ``{"stages": [...]}``, a list of
    ``{"stage"|"name", "seconds"|"s"|"wall_s"}``, and ``{"stage": {"seconds": s, ...}}``; anything else is a
    DataError naming the file and field.

    >>> stage_seconds({"data": 1.5, "train": 3}, "t.json")
    [{'stage': 'data', 'seconds': 1.5}, {'stage': 'train', 'seconds': 3.0}]
    """
    if isinstance(timings, dict) and "stages" in timings:
        timings = timings["stages"]
    rows = []
    if isinstance(timings, dict):
        items = list(timings.items())
    elif isinstance(timings, list):
        items = []
        for i, r in enumerate(timings):
            if not isinstance(r, dict):
                raise DataError("expected an object per stage", file=file, record=i)
            name = r.get("stage", r.get("name"))
            if name is None:
                raise DataError("missing", file=file, record=i, field="stage")
            items.append((name, r))
    else:
        raise DataError(f"expected an object or a list, got {type(timings).__name__}", file=file)
    for name, v in items:
        if isinstance(v, dict):
            v = next((v[k] for k in ("seconds", "s", "wall_s", "elapsed_s") if k in v), None)
        if isinstance(v, bool) or not isinstance(v, int | float):
            if name in ("total", "total_s", "total_seconds", "mode", "smoke", "started", "finished"):
                continue
            raise DataError(f"no seconds for stage {name!r}", file=file, field=str(name))
        if str(name) in ("total", "total_s", "total_seconds"):
            continue
        rows.append({"stage": str(name), "seconds": float(v)})
    return rows


def run_study(mode: str, out: Path, timeout: float | None, cache: Path | None = None) -> tuple[float, int, str]:
    """Run ``python -m umi_lab study`` (``--smoke`` for smoke) into ``out``; returns (seconds, exit code, tail).

    ``cache``: a fresh ``UMI_LAB_CACHE`` so the tiny backbone is built inside the timed run, as on a new machine.
    """
    cmd = [sys.executable, "-m", "umi_lab", "study", "--out", str(out)] + (["--smoke"] if mode == "smoke" else [])
    env = dict(os.environ, **({"UMI_LAB_SMOKE": "1"} if mode == "smoke" else {}))
    if cache is not None:
        env["UMI_LAB_CACHE"] = str(cache)
    if mode == "full":
        env.pop("UMI_LAB_SMOKE", None)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=common.REPO, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - t0
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    return seconds, proc.returncode, (proc.stdout + proc.stderr)[-2000:]


def report(result: dict[str, Any], timings_file: Path, wall: float | None, mode: str) -> dict[str, Any]:
    """Fill the stage table and the target check into ``result``."""
    stages = stage_seconds(read_json(timings_file), str(timings_file))
    total_stages = sum(s["seconds"] for s in stages)
    wall = wall if wall is not None else total_stages
    for s in stages:
        s["share"] = s["seconds"] / wall if wall else None
    result.update(mode=mode, timings_file=str(timings_file), stages=stages, stages_total_s=total_stages,
                  wall_s=wall, untimed_s=wall - total_stages)
    if mode == "smoke":
        result["targets"] = {"wall_s": wall, "target_s": SMOKE_TARGET_S, "met": wall <= SMOKE_TARGET_S,
                             "cpu_cores": result["device"]["cpu_count"]}
    return result


def markdown(result: dict[str, Any]) -> str:
    """Markdown body: per-stage table and the smoke target."""
    lines = [f"Mode **{result['mode']}**; timings from `{result['timings_file']}`; exit code "
             f"{result.get('exit_code', '–')}.", "",
             common.markdown_table(result["stages"], ["stage", "seconds", "share"]), "",
             f"Whole command: {result['wall_s']:.1f} s wall-clock (stages {result['stages_total_s']:.1f} s, "
             f"untimed start-up and glue {result['untimed_s']:.1f} s)."]
    if "targets" in result:
        t = result["targets"]
        lines.append(f"Target: smoke study ≤ {t['target_s']:.0f} s on {t['cpu_cores']} cores → "
                     f"{'met' if t['met'] else 'missed'} ({t['wall_s']:.0f} s).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("smoke", "full"), default="smoke")
    p.add_argument("--out", default=None, help="study output folder (default: a temporary folder)")
    p.add_argument("--timings", default=None, help="only report this existing timings.json (no run)")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    p.add_argument("--reuse-cache", action="store_true",
                   help="keep the usual model cache (default: a fresh one, so the backbone build is timed)")
    p.add_argument("--out-dir", default=None, help="where the .json/.md go (default benchmarks/results)")
    a = p.parse_args(argv)
    result = common.header("bench_e2e", "cpu")
    name = f"bench_e2e_{a.mode}"
    if a.timings:
        result["ran"] = False
        report(result, Path(a.timings), None, a.mode)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_e2e_") as tmp:
            out = Path(a.out) if a.out else Path(tmp) / "study"
            cache = None if a.reuse_cache else Path(tmp) / "cache"
            wall, code, tail = run_study(a.mode, out, a.timeout, cache)
            result.update(ran=True, exit_code=code, study_out=str(out), fresh_model_cache=cache is not None)
            if code != 0:
                result.update(error_tail=tail, mode=a.mode, wall_s=wall, stages=[], stages_total_s=0.0,
                              untimed_s=wall, timings_file=str(out / "timings.json"))
                common.write_results(name, result, markdown(result), a.out_dir)
                return 1
            report(result, out / "timings.json", wall, a.mode)
    common.write_results(name, result, markdown(result), a.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(common.run_main(main))
