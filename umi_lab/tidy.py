"""The tidy results table: its columns (``run, method, seed, benchmark, metric, value`` plus optional
``config`` and ``fraction``, see ``docs/architecture.md``), the known metrics (header, direction, percent),
validation, loading and the per-cell aggregate. ``umi_lab.tables`` renders it; plots and ablations read it.

>>> metric_label("plan_em")
'Plan ACC'
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from umi_lab.errors import DataError

TIDY_COLUMNS = ("run", "method", "seed", "benchmark", "metric", "value")
OPTIONAL_COLUMNS = ("config", "fraction")  # kept when present: the run's settings, the training-set fraction

# metric key -> (column header, lower is better, shown in percent)
METRICS: dict[str, tuple[str, bool, bool]] = {
    "plan_em": ("Plan ACC", False, True),
    "action_em": ("Action EM", False, True),
    "hallu_rate": ("Hallu", True, True),
    "easy_f1": ("Arg F1 easy", False, True),
    "hard_f1": ("Arg F1 hard", False, True),
    "f1": ("Arg F1", False, True),
    "rouge": ("Rouge-L", False, True),
    # real-time evaluation (umi_lab.evaluation / agent.trajectory_stats)
    "pass_rate": ("Pass", False, True),
    "success_rate": ("Success", False, True),
    "accuracy": ("Acc", False, True),
    "conclusion_rate": ("Concluded", False, True),
    "give_up_rate": ("Give up", True, True),
    "hallucinated_tool_rate": ("Hallu tool", True, True),
    "invalid_argument_rate": ("Bad args", True, True),
    "tool_error_rate": ("Tool errors", True, True),
    "avg_steps": ("Steps", True, False),
    "avg_model_calls": ("Model calls", True, False),
}
STATIC_METRICS = ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "rouge")  # static_eval's keys
REALTIME_METRICS = ("pass_rate", "success_rate", "accuracy", "give_up_rate", "hallucinated_tool_rate", "avg_steps")
PAPER_METRICS = STATIC_METRICS + REALTIME_METRICS  # Table 1's columns plus the real-time ones


def validate_tidy(df: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Check the tidy columns and numeric values; return a clean copy.

    Example: ``validate_tidy(pd.read_csv("results.csv"))``.
    """
    missing = [c for c in TIDY_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"missing columns {missing} (expected {list(TIDY_COLUMNS)})", file=file, field="columns")
    out = df.loc[:, list(TIDY_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in df.columns]].copy()
    values = pd.to_numeric(out["value"], errors="coerce")
    bad = values.isna() & out["value"].notna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"value {out['value'].iloc[i]!r} is not a number", file=file, record=i, field="value")
    out["value"] = values.astype(float)
    return out


def load_tidy(path: str | os.PathLike) -> pd.DataFrame:
    """Read a tidy results table from CSV or Parquet. Example: ``load_tidy("ablation/results.csv")``."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return validate_tidy(df, file=str(path))


def aggregate(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (sample, ddof=1; NaN for one seed) and seed count per method × benchmark × metric.

    >>> df = pd.DataFrame({"run": ["a", "b"], "method": ["m", "m"], "seed": [0, 1], "benchmark": ["t", "t"],
    ...                    "metric": ["plan_em", "plan_em"], "value": [0.5, 0.7]})
    >>> aggregate(df)[["mean", "n"]].values.tolist()
    [[0.6, 2.0]]
    """
    tidy = validate_tidy(tidy)
    grouped = tidy.dropna(subset=["value"]).groupby(["method", "benchmark", "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["mean"] = out["mean"].round(12)
    out["n"] = out["n"].astype(float)
    return out


def metric_label(metric: str) -> str:
    """The column header of a metric key: ``metric_label("plan_em")`` → ``'Plan ACC'``."""
    return METRICS[metric][0] if metric in METRICS else metric
