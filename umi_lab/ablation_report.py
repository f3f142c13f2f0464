"""The ablation grid's results and report: tidy rows from evaluation folders (with each cell's settings),
whether a finished evaluation matches the grid, and the report: the paper table with statistics, metric bars, loss curves, data scaling.

The table carries what ``umi_lab.summary`` computes from per-item scores (``item_scores.collect_items``):
95 % bootstrap CIs, † marks of paired tests against α-UMi, bold only for a significant best, and the
trivial floors (``item_scores.grid_floors``) as italic reference rows. Cells are checked for mixed settings
(the ``config`` column); a grid with an untrained (zero-shot) row mixes settings by design and says so.
With a data-scaling sweep (a ``fraction`` column) the table shows the largest fraction and
``plots/scaling_<benchmark>_<metric>`` shows each method's metric against the fraction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from umi_lab.tables import PAPER_METRICS

SCALING_METRICS = ("plan_em", "action_em", "pass_rate", "success_rate")  # plotted against the fraction


# ------------------------------------------------------------------ evaluation folders -> tidy rows

NOT_METRICS = ("limit", "smoke", "seed", "n_items", "wall_s")  # numbers in metrics.json that are not results


def metric_rows(metrics: dict[str, Any], *, run: str, method: str, seed: int, benchmark: str,
                config: str | None = None, fraction: float | None = None) -> list[dict]:
    """Tidy rows for the numeric top-level entries of a ``metrics.json`` (nested counts and echoed settings
    are left out), with the evaluation's ``config`` (canonical JSON) and the training ``fraction``.
    Example: ``metric_rows({"plan_em": 0.5}, run="r", method="m", seed=0, benchmark="b")``."""
    rows = []
    for key, value in metrics.items():
        if key in NOT_METRICS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        rows.append({"run": run, "method": method, "seed": seed, "benchmark": benchmark, "metric": key,
                     "value": float(value), "config": config, "fraction": fraction})
    return rows


def eval_config(eval_dir: Path) -> str | None:
    """The canonical JSON of an evaluation folder's ``config.json`` (None when absent)."""
    from umi_lab.io import read_json
    from umi_lab.item_scores import canonical_config

    path = eval_dir / "config.json"
    return canonical_config(read_json(path)) if path.is_file() else None


def stale_reason(eval_dir: Path, cfg) -> str | None:
    """Why a finished evaluation does not match what the grid asks (limit, smoke, decoding), else None.
    A folder without ``config.json`` (written by a stand-in evaluator) is taken as it is."""
    from umi_lab.io import read_json

    path = eval_dir / "config.json"
    if not path.is_file():
        return None
    got = read_json(path)
    limit = cfg.eval_overrides.get("limit")
    want = {"limit": min(limit or 4, 4) if cfg.smoke else limit, "smoke": cfg.smoke,
            "decoding": cfg.eval_overrides.get("decoding") or "greedy"}
    differ = [f"{k} {got.get(k)!r} (wanted {v!r})" for k, v in want.items() if isinstance(got, dict)
              and got.get(k, v) != v]
    return ", ".join(differ) or None




def table_cells(tidy: pd.DataFrame) -> pd.DataFrame:
    """The rows a table shows: with a ``fraction`` column, each method's largest fraction (untrained rows,
    whose fraction is empty, are kept). Example: ``table_cells(tidy)``."""
    if "fraction" not in tidy.columns or tidy["fraction"].isna().all():
        return tidy
    frac = pd.to_numeric(tidy["fraction"], errors="coerce")
    top = frac.groupby(tidy["method"]).transform("max")
    return tidy[frac.isna() | (frac == top)]


def grid_items(tidy: pd.DataFrame, run_dirs: Sequence[str | os.PathLike],
               eval_dirs: dict[tuple[str, str], Path] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-item scores and trivial floors of the runs and benchmarks in ``tidy`` (item rows of other runs
    or evaluation folders are left out). ``eval_dirs`` (``AblationResult.eval_dirs``) names the folder each
    cell was read from (another settings' folder when the readable one holds other settings); without it
    every folder under ``RUN/eval`` is read by its name. Example: ``items, floors = grid_items(tidy, run_dirs)``."""
    from umi_lab.item_scores import (
        ITEM_COLUMNS,
        REFERENCE_COLUMNS,
        collect_items,
        eval_items,
        grid_floors,
        realtime_floors,
        static_floors,
    )

    runs = {Path(d).name: Path(d) for d in run_dirs}
    wanted = [runs[r] for r in dict.fromkeys(tidy["run"]) if r in runs]
    methods = dict(zip(tidy["run"], tidy["method"]))
    if eval_dirs:
        seeds = dict(zip(tidy["run"], tidy["seed"]))
        used = {(Path(r).name, name): Path(f) for (r, name), f in eval_dirs.items()
                if Path(r).name in methods and name in set(tidy["benchmark"])}
        frames, floor_frames, seen = [], [], set()
        for (run, name), folder in used.items():
            if not ((folder / "predictions.json").is_file() or (folder / "trajectories.jsonl").is_file()):
                continue
            frames.append(eval_items(folder, run=run, method=methods[run], seed=int(seeds[run])).assign(benchmark=name))
            if name not in seen:
                seen.add(name)
                floor_frames.append(static_floors(folder / "predictions.json", name)
                                    if (folder / "predictions.json").is_file()
                                    else realtime_floors(name, folder / "trajectories.jsonl"))
        items = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ITEM_COLUMNS))
        floors = (pd.concat(floor_frames, ignore_index=True) if floor_frames
                  else pd.DataFrame(columns=list(REFERENCE_COLUMNS)))
        return items, floors
    items = collect_items(wanted, methods=methods)
    items = items[items["run"].isin(set(tidy["run"])) & items["benchmark"].isin(set(tidy["benchmark"]))]
    floors = grid_floors(wanted)
    floors = floors[floors["benchmark"].isin(set(tidy["benchmark"]))]
    return items, floors


def write_report(tidy: pd.DataFrame, out: str | os.PathLike, *, run_dirs: Sequence[str | os.PathLike] = (),
                 metrics: Sequence[str] = PAPER_METRICS, items: pd.DataFrame | None = None,
                 references: pd.DataFrame | None = None, allow_mixed: bool = False,
                 loss_runs: Sequence[str | os.PathLike] = (),
                 eval_dirs: dict[tuple[str, str], Path] | None = None) -> dict[str, Any]:
    """Paper table (LaTeX + Markdown, with CIs, † marks and floor rows when ``items``/``references`` are
    given or found under ``run_dirs``), metric bars per benchmark, loss curves of ``loss_runs`` and, with a
    ``fraction`` column, the data-scaling plots. Example: ``write_report(tidy, "runs/ablation", run_dirs=dirs)``.
    """
    from umi_lab.plots import plot_loss_curves, plot_metric_bars
    from umi_lab.tables import TableOptions, write_tables

    out = Path(out)
    cells = table_cells(tidy)
    if items is None and run_dirs:
        items, found = grid_items(cells, run_dirs, eval_dirs)
        references = found if references is None else references
    if items is not None and items.empty:
        items = None
    opts = TableOptions(metrics=tuple(metrics))
    paths: dict[str, Any] = {f"table_{k}": v for k, v in write_tables(
        cells, out / "tables", opts, items=items, references=references, allow_mixed=allow_mixed).items()}
    for bench in dict.fromkeys(cells["benchmark"]):
        present = [m for m in metrics if m in set(cells.loc[cells["benchmark"] == bench, "metric"])]
        if present:
            bench_items = None if items is None else items[items["benchmark"] == bench]
            paths[f"bars_{bench}"] = plot_metric_bars(cells, out / "plots" / f"metrics_{bench}", benchmark=bench,
                                                      metrics=present, items=bench_items)[0]
    paths.update(write_scaling(tidy, out))
    for run_dir in loss_runs:
        history = Path(run_dir) / "loss_history.jsonl"
        if history.is_file() and history.stat().st_size:
            name = Path(run_dir).name
            paths[f"loss_{name}"] = plot_loss_curves(history, out / "plots" / f"loss_{name}", title=name)[0]
    return paths


def write_scaling(tidy: pd.DataFrame, out: str | os.PathLike,
                  metrics: Sequence[str] = SCALING_METRICS) -> dict[str, Path]:
    """Data-scaling plots (``plots/scaling_<benchmark>_<metric>``) and ``tables/scaling.csv`` (mean, std
    and seeds per method, benchmark, metric and fraction) when ``tidy`` holds two or more fractions."""
    from umi_lab.plots import plot_data_scaling

    if "fraction" not in tidy.columns:
        return {}
    swept = tidy[pd.to_numeric(tidy["fraction"], errors="coerce").notna()]
    if swept["fraction"].nunique() < 2:
        return {}
    out = Path(out)
    paths: dict[str, Path] = {}
    summary = (swept.assign(fraction=swept["fraction"].astype(float))
               .groupby(["method", "benchmark", "metric", "fraction"])["value"]
               .agg(mean="mean", std="std", n_seeds="count").reset_index())
    summary["mean"] = summary["mean"].mask(summary["mean"].abs() < 1e-12, 0.0)  # the official F1's +1e-30
    (out / "tables").mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "tables" / "scaling.csv", index=False)
    paths["scaling_csv"] = out / "tables" / "scaling.csv"
    for bench in dict.fromkeys(swept["benchmark"]):
        for metric in metrics:
            if ((swept["benchmark"] == bench) & (swept["metric"] == metric)).any():
                stem = out / "plots" / f"scaling_{bench}_{metric}"
                paths[f"scaling_{bench}_{metric}"] = plot_data_scaling(swept, stem, metric=metric,
                                                                       benchmark=bench)[0]
    return paths
