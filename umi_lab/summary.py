"""One statistics row per table cell (method × benchmark × metric), from item frames or the tidy table.

``summarize`` gives ``mean``, ``std`` (over seeds, only with ≥ 2), ``n_seeds``, ``n_items``, the 95 %
bootstrap CI over items (``ci_lo``, ``ci_hi``), the paired test against the reference method (α-UMi:
``test_ref``, ``p_ref``) and ``bold``. The bold rule: in each column, the method with the best mean is
bold only when it is the unique best and its paired test against *every* other method in the column
has p < ``alpha`` (0.05); ties or a non-significant gap bold nothing. Without item-level data there is no
CI, no test and no bold.

``check_settings`` refuses a table whose cells come from different settings (their ``config`` column
differs in anything but the per-cell keys such as method and seed) unless ``allow_mixed=True``.
``pass_k`` gives τ-bench's pass^k from repeated trials (seeds) of the same tasks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from umi_lab import stats
from umi_lab.errors import DataError
from umi_lab.methods import REFERENCE

SUMMARY_COLUMNS = ("method", "benchmark", "metric", "mean", "std", "n_seeds", "n_items", "ci_lo", "ci_hi",
                   "test_ref", "p_ref", "bold", "config")
# configuration keys that differ from cell to cell by design (flattened key, last component)
CELL_KEYS = frozenset({"method", "init", "seed", "out", "run", "run_dir", "name", "benchmark", "mode", "identity",
                       "run_identity", "hash"})


def _lower_is_better(metric: str) -> bool:
    from umi_lab.tidy import METRICS

    return METRICS.get(metric, ("", False, False))[1]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix or "config": d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(_flat(v, key) if isinstance(v, dict) and v else {key: v})
    return out


def settings_of(config: Any) -> dict[str, Any]:
    """The flattened settings of a config (dict or JSON text) without the per-cell keys; a plain string
    that is not JSON (a hash) is returned as ``{"config": text}``.

    >>> settings_of({"method": "a", "seed": 1, "run": {"max_samples": 8}})
    {'run.max_samples': 8}
    """
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            return {"config": config}
    if config is None or (isinstance(config, float) and math.isnan(config)):
        return {}
    return {k: v for k, v in _flat(config).items() if k.rsplit(".", 1)[-1] not in CELL_KEYS}


def settings_hash(config: Any) -> str:
    """Short hash of ``settings_of(config)``: equal settings, equal hash. ``settings_hash({"seed": 1})`` ==
    ``settings_hash({"seed": 2})``."""
    text = json.dumps(settings_of(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def check_settings(frame: pd.DataFrame, *, allow_mixed: bool = False) -> list[str]:
    """Differences in settings between the cells of ``frame`` (needs a ``config`` column, else nothing to
    check). Raises ``DataError`` naming the differing settings unless ``allow_mixed``; returns them.

    Example: ``check_settings(tidy_with_config)`` → ``[]`` when every cell ran with the same settings.
    """
    if "config" not in frame.columns or frame.empty:
        return []
    configs = {c if isinstance(c, str) else json.dumps(c, sort_keys=True, default=str)
               for c in frame["config"].dropna()}
    flats = [settings_of(c) for c in configs]
    if len(flats) < 2:
        return []
    keys = sorted({k for f in flats for k in f})
    differ = []
    for k in keys:
        values = {json.dumps(f.get(k, "<absent>"), sort_keys=True, default=str) for f in flats}
        if len(values) > 1:
            differ.append(f"{k} ({' vs '.join(sorted(values))})")
    if differ and not allow_mixed:
        raise DataError("the table would mix cells run with different settings: " + "; ".join(differ) +
                        " — tabulate each setting separately or pass allow_mixed=True", field="config")
    return differ


def _matrix(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str], list]:
    """Seeds × items arrays (values, weights) over the items every seed has."""
    seeds = sorted(part["seed"].unique())
    by_seed = {s: part[part["seed"] == s].drop_duplicates("item_id", keep="last").set_index("item_id")
               for s in seeds}
    common = set.intersection(*(set(df.index) for df in by_seed.values()))
    items = sorted(common, key=str)
    v = np.array([by_seed[s].loc[items, "value"].to_numpy(float) for s in seeds]).reshape(len(seeds), len(items))
    w = np.array([by_seed[s].loc[items, "weight"].to_numpy(float) for s in seeds]).reshape(len(seeds), len(items))
    return v, w, items, seeds


def _pair(a: tuple, b: tuple, resamples: int, seed: int) -> stats.PairedResult | None:
    """Paired test of two methods' ``_matrix`` results on their shared items."""
    va, wa, ia, _ = a
    vb, wb, ib, _ = b
    shared = sorted(set(ia) & set(ib), key=str)
    if not shared:
        return None
    pa, pb = [ia.index(i) for i in shared], [ib.index(i) for i in shared]
    unweighted = bool((wa == 1).all() and (wb == 1).all())
    return stats.paired_test(va[:, pa], vb[:, pb], None if unweighted else wa[:, pa], None if unweighted else wb[:, pb],
                             resamples=resamples, seed=seed)


def summarize(items: pd.DataFrame | None = None, tidy: pd.DataFrame | None = None, *, reference: str = REFERENCE,
              alpha: float = 0.05, resamples: int = stats.DEFAULT_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Statistics per cell from an item frame (``item_scores.ITEM_COLUMNS``) and/or a tidy table; cells
    with items use them, the others fall back to the tidy per-run values (mean, std, no CI or test).

    Example: ``summarize(run_items("runs/a-s0")).query("metric == 'plan_em'")``.
    """
    rows: list[dict[str, Any]] = []
    done: set[tuple] = set()
    if items is not None and not items.empty:
        items = items.copy()
        if "weight" not in items.columns:
            items["weight"] = 1.0
        for (bench, metric), col in items.groupby(["benchmark", "metric"], sort=False):
            parts = {m: p for m, p in col.groupby("method", sort=False)}
            mats = {m: _matrix(p) for m, p in parts.items()}
            cell: dict[str, dict[str, Any]] = {}
            pairs: dict[tuple[str, str], stats.PairedResult | None] = {}
            for method, part in parts.items():
                v, w, ids, seeds = mats[method]
                if not ids:
                    continue
                per_seed = [stats.item_mean(v[i], w[i]) for i in range(len(seeds))]
                mean, std = stats.mean_std(per_seed)
                lo, hi = stats.bootstrap_ci(v, w, resamples=resamples, seed=seed)
                cfgs = part["config"].dropna().unique() if "config" in part.columns else []
                cell[method] = {"method": method, "benchmark": bench, "metric": metric, "mean": _clean(mean),
                                "std": std, "n_seeds": len(seeds), "n_items": len(ids), "ci_lo": _clean(lo),
                                "ci_hi": _clean(hi), "test_ref": None, "p_ref": math.nan, "bold": False,
                                "config": ",".join(sorted({settings_hash(c) for c in cfgs}))}
            if reference in cell:
                for method in cell:
                    if method != reference:
                        r = pairs[(method, reference)] = _pair(mats[method], mats[reference], resamples, seed)
                        if r is not None:
                            cell[method].update(test_ref=r.test, p_ref=r.p)
            _bold(cell, mats, pairs, metric, alpha, resamples, seed)
            rows += cell.values()
            done |= {(m, bench, metric) for m in cell}
    if tidy is not None and not tidy.empty:
        for (method, bench, metric), part in tidy.groupby(["method", "benchmark", "metric"], sort=False):
            if (method, bench, metric) in done:
                continue
            values = pd.to_numeric(part["value"], errors="coerce").dropna()
            mean, std = stats.mean_std(values.to_numpy())
            cfgs = part["config"].dropna().unique() if "config" in part.columns else []
            rows.append({"method": method, "benchmark": bench, "metric": metric, "mean": _clean(mean), "std": std,
                         "n_seeds": len(values), "n_items": math.nan, "ci_lo": math.nan, "ci_hi": math.nan,
                         "test_ref": None, "p_ref": math.nan, "bold": False,
                         "config": ",".join(sorted({settings_hash(c) for c in cfgs}))})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _clean(x: float) -> float:
    """Round away float dust (the official F1's +1e-30, 0.30000000000000004)."""
    return 0.0 if abs(x) < 1e-12 else round(float(x), 12)


def _bold(cell: dict[str, dict], mats: dict[str, tuple], pairs: dict, metric: str, alpha: float, resamples: int,
          seed: int) -> None:
    if len(cell) < 2:
        return
    sign = -1.0 if _lower_is_better(metric) else 1.0
    ranked = sorted(cell, key=lambda m: -sign * cell[m]["mean"])
    best, second = ranked[0], ranked[1]
    if abs(cell[best]["mean"] - cell[second]["mean"]) < 1e-12:
        return  # a tie at the top: nothing is bold
    for other in ranked[1:]:
        r = pairs.get((other, best)) or pairs.get((best, other)) or _pair(mats[best], mats[other], resamples, seed)
        if r is None or not r.p < alpha:
            return
    cell[best]["bold"] = True


def pass_k(items: pd.DataFrame, *, metric: str = "pass_rate", ks: Iterable[int] | None = None) -> pd.DataFrame:
    """τ-bench pass^k per method and benchmark from repeated trials (one seed/run per trial) of the same
    tasks, over the tasks every trial has. Columns ``method, benchmark, k, value, n_trials, n_tasks``.

    Example: ``pass_k(items_of_4_sampled_runs, ks=(1, 2, 4))``.
    """
    rows = []
    part_all = items[items["metric"] == metric]
    for (method, bench), part in part_all.groupby(["method", "benchmark"], sort=False):
        trials = part.assign(trial=part["run"].astype(str) + "/" + part["seed"].astype(str))
        by = {t: p.drop_duplicates("item_id", keep="last").set_index("item_id")["value"]
              for t, p in trials.groupby("trial")}
        common = sorted(set.intersection(*(set(s.index) for s in by.values())), key=str)
        matrix = np.array([[by[t][i] for i in common] for t in by]).reshape(len(by), len(common))
        for k in (ks or range(1, len(by) + 1)):
            if 1 <= k <= len(by) and common:
                rows.append({"method": method, "benchmark": bench, "k": k, "value": stats.pass_hat_k_mean(matrix, k),
                             "n_trials": len(by), "n_tasks": len(common)})
    return pd.DataFrame(rows, columns=["method", "benchmark", "k", "value", "n_trials", "n_tasks"])
