"""The study's own record of what it measured on this machine: ``study --record FILE.json`` writes it (and a
``FILE.md`` beside it) at the end of the study, from the study's outputs only.

The record holds the machine (cores usable, torch threads, CPU model, load), the configuration, the wall
time of each stage and of the whole study beside the plan's estimate, the per-method statistics of the
paper table (``tables/table_summary.csv``: mean, seed std, bootstrap CI over items, paired p-value against
α-UMi), the trivial floors of each benchmark the table shows (``tables/table_references.csv``), the share of truncated prompts per role in
training (each run's ``data_stats.json``) and checks against the study's targets (``TARGETS``): the wall
time, α-UMi's in-domain real-time pass rate, and every method above zero and above its floors.

>>> TARGETS["wall_s"], TARGETS["alpha_umi_pass_rate"]
(3600, 0.3)
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd

from umi_lab.io import atomic_write_text, read_json, write_json
from umi_lab.methods import REFERENCE

# what the default study on a 2-core CPU is meant to show (issue 14)
TARGETS = {"wall_s": 3600, "alpha_umi_pass_rate": 0.3, "benchmark": "toolworld-id-realtime"}
# metric -> the floor rows it must beat (label of the trivial predictor)
FLOOR_OF = {"pass_rate": "always gives up", "plan_em": "always Next: caller."}


def machine() -> dict[str, Any]:
    """Where the study ran: cores (all and usable), torch threads, CPU model, memory, 1-min load.

    >>> machine()["usable_cores"] >= 1
    True
    """
    import torch

    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": os.cpu_count(), "usable_cores": usable, "torch_threads": torch.get_num_threads(),
            "cpu_model": model or platform.processor(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cuda": bool(torch.cuda.is_available()),
            "load_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def truncation(run_dirs) -> dict[str, dict[str, Any]]:
    """Training prompts cut per role, summed over the runs' ``data_stats.json``: samples, cut, share.

    >>> truncation([])
    {}
    """
    from umi_lab.rundir import RunDir

    totals: dict[str, list[int]] = {}
    for run_dir in dict.fromkeys(str(d) for d in run_dirs):
        for role, st in (RunDir(run_dir).read("data_stats.json") or {}).items():
            if isinstance(st, dict) and "samples" in st:
                t = totals.setdefault(role, [0, 0, 0])
                t[0] += int(st["samples"])
                t[1] += int(st.get("prompt_truncated", 0))
                t[2] += int(st.get("target_truncated", 0))
    return {role: {"samples": n, "prompt_truncated": cut, "prompt_truncated_share": round(cut / n, 4) if n else 0.0,
                   "target_truncated": tcut} for role, (n, cut, tcut) in totals.items()}


def _rows(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    keep = [c for c in columns if c in frame.columns]
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame[keep].to_dict("records")]


def checks(metrics: list[dict[str, Any]], floors: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """The targets, each with the measured value and whether it is met.

    >>> checks([], [], 10.0)["wall_time"]["met"]
    True
    """
    out: dict[str, Any] = {"wall_time": {"target_s": TARGETS["wall_s"], "measured_s": round(wall_s, 1),
                                         "met": wall_s <= TARGETS["wall_s"]}}
    ref = next((m["mean"] for m in metrics if m["method"] == REFERENCE and m["benchmark"] == TARGETS["benchmark"]
                and m["metric"] == "pass_rate"), None)
    out["alpha_umi_pass_rate"] = {"benchmark": TARGETS["benchmark"], "target": TARGETS["alpha_umi_pass_rate"],
                                  "measured": ref, "met": ref is not None and ref >= TARGETS["alpha_umi_pass_rate"]}
    floor_of = {(f["benchmark"], f["metric"]): f["value"] for f in floors if FLOOR_OF.get(f["metric"]) == f["label"]}
    cells = []
    for m in metrics:
        if m["metric"] not in FLOOR_OF:
            continue
        floor = floor_of.get((m["benchmark"], m["metric"]))
        cells.append({"method": m["method"], "benchmark": m["benchmark"], "metric": m["metric"], "mean": m["mean"],
                      "floor": floor, "above_zero": (m["mean"] or 0) > 0,
                      "above_floor": floor is not None and m["mean"] is not None and m["mean"] > floor})
    out["above_floors"] = {"cells": cells, "met": bool(cells) and all(c["above_zero"] and c["above_floor"]
                                                                      for c in cells)}
    return out


def build_record(cfg, out: str | os.PathLike, result, timings: dict[str, float]) -> dict[str, Any]:
    """The record of a finished study (``cfg``: its ``StudyConfig``, ``result``: the ``AblationResult``).
    Example: ``build_record(cfg, "runs/study", result, stages.timings)["checks"]``."""
    from dataclasses import asdict

    out = Path(out)

    def table(name: str) -> pd.DataFrame | None:
        f = out / "tables" / f"table_{name}.csv"
        return pd.read_csv(f) if f.is_file() else None

    metrics = _rows(table("summary"), ("method", "benchmark", "metric", "mean", "std", "n_seeds", "n_items", "ci_lo",
                                       "ci_hi", "p_ref"))
    refs = table("references")
    floors = _rows(None if refs is None else refs[refs["source"].str.startswith("trivial floor")],
                   ("label", "benchmark", "metric", "value"))
    run_dirs = [d for *_, d in result.grid]
    wall = float(timings.get("total", 0.0))
    plan = read_json(out / "plan.json") if (out / "plan.json").is_file() else {}
    return {"date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
            "config": asdict(cfg), "wall_s": round(wall, 1), "timings_s": timings,
            "estimate_s": (plan.get("estimate_s") or {}).get("total"), "runs": len(run_dirs),
            "failures": len(result.failures), "truncation": truncation(run_dirs), "metrics": metrics,
            "floors": floors, "checks": checks(metrics, floors, wall)}


def _pct(x: Any, metric: str = "pass_rate") -> str:
    """A value as the tables show it: rates in percent, counts (``avg_steps``) as they are."""
    from umi_lab.tidy import METRICS

    if x is None:
        return "—"
    return f"{100 * float(x):.1f}" if METRICS.get(metric, ("", False, True))[2] else f"{float(x):.2f}"


def record_markdown(rec: dict[str, Any]) -> str:
    """The record as a page: machine, time, checks, per-method metrics with CIs, floors, truncation.

    >>> record_markdown({"machine": {}, "wall_s": 1, "metrics": [], "floors": [], "truncation": {},
    ...                  "checks": {}, "config": {}}).splitlines()[0]
    '# The default study on this machine'
    """
    m, c = rec.get("machine", {}), rec.get("checks", {})
    estimate = "—" if rec.get("estimate_s") is None else f"{rec['estimate_s'] / 60:.1f} min"
    lines = ["# The default study on this machine", "",
             f"Written by `python -m umi_lab study --record` on {rec.get('date', '?')}: "
             f"{m.get('usable_cores', '?')} usable cores ({m.get('cpu_model', '?')}), torch threads "
             f"{m.get('torch_threads', '?')}, CUDA {'yes' if m.get('cuda') else 'no'}, 1-min load at the end "
             f"{m.get('load_1min', '?')}.", "",
             f"Model `{rec['config'].get('model', '?')}`, methods {', '.join(rec['config'].get('methods', []))}, "
             f"seeds {', '.join(map(str, rec['config'].get('seeds', [])))}, {rec['config'].get('eval_limit')} "
             f"test tasks per benchmark; {rec.get('runs', 0)} runs, {rec.get('failures', 0)} failures.", "",
             f"**Wall time: {rec['wall_s'] / 60:.1f} min** (estimate before it started: {estimate} for "
             "training and evaluation).", "", "## Checks", ""]
    for name, check in c.items():
        if name == "above_floors":
            bad = [x for x in check["cells"] if not (x["above_zero"] and x["above_floor"])]
            lines.append(f"- every method above zero and its trivial floor: {'met' if check['met'] else 'NOT met'} "
                         f"({len(check['cells']) - len(bad)} of {len(check['cells'])} cells)")
        elif name == "wall_time":
            lines.append(f"- wall time ≤ {check['target_s'] / 60:.0f} min: {'met' if check['met'] else 'NOT met'} "
                         f"({check['measured_s'] / 60:.1f} min)")
        else:
            lines.append(f"- α-UMi pass rate on {check['benchmark']} ≥ {_pct(check['target'])} %: "
                         f"{'met' if check['met'] else 'NOT met'} ({_pct(check['measured'])} %)")
    lines += ["", "## Per method (mean over seeds, 95 % bootstrap CI over items, paired p against α-UMi)", "",
              "Rates in %, `avg_steps` in steps.", "",
              "| benchmark | metric | method | mean | 95 % CI | seed std | p vs α-UMi |", "|---|---|---|---|---|---|---|"]
    for r in rec["metrics"]:
        m = r["metric"]
        ci = "—" if r.get("ci_lo") is None else f"{_pct(r['ci_lo'], m)}–{_pct(r['ci_hi'], m)}"
        p = "—" if r.get("p_ref") is None else f"{r['p_ref']:.3g}"
        lines.append(f"| {r['benchmark']} | {m} | {r['method']} | {_pct(r['mean'], m)} | {ci} | "
                     f"{_pct(r.get('std'), m)} | {p} |")
    lines += ["", "## Trivial floors", "", "| benchmark | metric | predictor | value % |", "|---|---|---|---|"]
    lines += [f"| {f['benchmark']} | {f['metric']} | {f['label']} | {_pct(f['value'])} |" for f in rec["floors"]]
    lines += ["", "## Training prompts truncated (all runs)", "", "| role | samples | cut | share % |", "|---|---|---|---|"]
    lines += [f"| {role} | {t['samples']} | {t['prompt_truncated']} | {_pct(t['prompt_truncated_share'])} |"
              for role, t in rec["truncation"].items()]
    return "\n".join(lines) + "\n"


def write_record(path: str | os.PathLike, rec: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and the page beside it (``.md``). Example: ``write_record("study_cpu.json", rec)``."""
    path = Path(path)
    return write_json(path, rec), atomic_write_text(path.with_suffix(".md"), record_markdown(rec))
