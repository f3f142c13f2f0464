"""Paper figures: metric bars (rates and counts on separate axes, CIs as error bars), data scaling, loss
curves, planner-decision breakdown.

Every figure is drawn inside the shipped ``paper.mplstyle`` (one-column size, TrueType fonts embedded
in PDFs) and saved as both PDF and PNG. Plotting uses matplotlib's Agg backend so it works headless.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from umi_lab.errors import DataError  # noqa: E402
from umi_lab.io import read_jsonl  # noqa: E402
from umi_lab.methods import ordered  # noqa: E402
from umi_lab.protocol.dialogue import RecordedTrajectory  # noqa: E402
from umi_lab.protocol.grammar import Decision  # noqa: E402
from umi_lab.protocol.records import decisions  # noqa: E402
from umi_lab.tables import METRICS, REALTIME_METRICS, STATIC_METRICS, method_label, validate_tidy  # noqa: E402

STYLE_PATH = Path(str(importlib.resources.files("umi_lab") / "paper.mplstyle"))  # package data
DECISION_ORDER = tuple(d.label for d in Decision)  # caller, conclusion, give up, invalid
LOSS_FIELDS = ("stage", "role", "step", "loss")


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Draw inside the paper style: ``with paper_style(): fig, ax = plt.subplots()``."""
    with plt.style.context(str(STYLE_PATH)):
        yield


def save_figure(fig, stem: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``<stem>.pdf`` and ``<stem>.png``, close it, return both paths.

    Example: ``save_figure(fig, "out/plots/metrics")``.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def _is_rate(metric: str) -> bool:
    return METRICS.get(metric, ("", False, False))[2]


def plot_metric_bars(tidy: pd.DataFrame | None, out_stem: str | os.PathLike, *, benchmark: str | None = None,
                     metrics: Iterable[str] | None = None, methods: Iterable[str] | None = None,
                     items: pd.DataFrame | None = None) -> list[Path]:
    """Grouped bars, one group per metric and one bar per method; rates (%) and counts (steps, calls) on
    separate axes. Error bars: the 95 % bootstrap CI over items when ``items`` (per-item scores) are given,
    else the std over seeds when there are at least 2; none from a single seed.

    Example: ``plot_metric_bars(load_tidy("results.csv"), "plots/static", benchmark="toolworld-id-static")``.
    """
    from umi_lab.summary import summarize

    summ = summarize(items, validate_tidy(tidy) if tidy is not None else None, resamples=1000)
    if benchmark is None:
        benchmark = str(summ["benchmark"].iloc[0]) if len(summ) else None
    summ = summ[summ["benchmark"] == benchmark]
    if summ.empty:
        raise DataError(f"no results for benchmark {benchmark!r}", field="benchmark")
    present = set(summ["metric"])
    metrics = [m for m in dict.fromkeys(metrics or [*STATIC_METRICS, *REALTIME_METRICS, *sorted(present)])
               if m in present]
    methods = list(methods or ordered(summ["method"]))
    groups = [g for g in ([m for m in metrics if _is_rate(m)], [m for m in metrics if not _is_rate(m)]) if g]
    width = 0.8 / max(len(methods), 1)
    with paper_style():
        fig, axes = plt.subplots(1, len(groups), squeeze=False, figsize=(
            max(3.3, 0.55 * len(metrics) + 1.2 * len(groups)), 2.4),
            gridspec_kw={"width_ratios": [max(len(g), 1) for g in groups]})
        for ax, group in zip(axes[0], groups):
            x = np.arange(len(group))
            scale = 100.0 if _is_rate(group[0]) else 1.0
            for i, method in enumerate(methods):
                rows = summ[summ["method"] == method].set_index("metric")
                means = np.array([rows["mean"].get(m, np.nan) for m in group]) * scale
                err = _error_bars(rows, group, means / scale) * scale
                ax.bar(x + (i - (len(methods) - 1) / 2) * width, means, width, label=method_label(method),
                       yerr=err if np.isfinite(err).any() else None, error_kw={"elinewidth": 0.6, "capsize": 1.5})
            ax.set_xticks(x, [METRICS[m][0] if m in METRICS else m for m in group], rotation=30, ha="right")
            ax.set_ylabel("rate (%)" if scale == 100.0 else "count per task")
            if scale == 100.0:  # rates live on [0, 100]: an all-zero row must not draw a symmetric axis
                top = summ[summ["metric"].isin(group)]["mean"].max() * scale
                ax.set_ylim(0, 100 if top > 50 else max(10.0, ax.get_ylim()[1]))
        fig.supxlabel(str(benchmark), fontsize=7)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, ncols=min(len(methods), 3), loc="outside upper center")
        return save_figure(fig, out_stem)


def _error_bars(rows: pd.DataFrame, metrics: list[str], means: np.ndarray) -> np.ndarray:
    """A (2, n) array of lower/upper error lengths: CI when known, else std with >= 2 seeds, else NaN."""
    err = np.full((2, len(metrics)), np.nan)
    for j, m in enumerate(metrics):
        if m not in rows.index:
            continue
        r = rows.loc[m]
        if not pd.isna(r["ci_lo"]):
            err[:, j] = [means[j] - r["ci_lo"], r["ci_hi"] - means[j]]
        elif r["n_seeds"] >= 2 and not pd.isna(r["std"]):
            err[:, j] = r["std"]
    return np.clip(err, 0, None)


def plot_data_scaling(tidy: pd.DataFrame, out_stem: str | os.PathLike, *, metric: str,
                      benchmark: str | None = None, methods: Iterable[str] | None = None) -> list[Path]:
    """A method's metric against the training-set fraction (the data-scaling sweep): one line per method,
    mean over seeds, ± std error bars only where a fraction has at least 2 seeds. ``tidy`` needs a
    ``fraction`` column (share of training dialogues, 0–1).

    Example: ``plot_data_scaling(load_tidy("scaling/results.csv"), "plots/scaling", metric="plan_em")``.
    """
    if "fraction" not in tidy.columns:
        raise DataError("the data-scaling plot needs a 'fraction' column", field="fraction")
    df = validate_tidy(tidy)
    df = df[df["metric"] == metric]
    if benchmark is not None:
        df = df[df["benchmark"] == benchmark]
    elif len(df):
        benchmark = str(df["benchmark"].iloc[0])
        df = df[df["benchmark"] == benchmark]
    if df.empty:
        raise DataError(f"no {metric!r} results for benchmark {benchmark!r}", field="metric")
    fractions = pd.to_numeric(df["fraction"], errors="coerce")
    if fractions.isna().any() or not fractions.between(0, 1, inclusive="right").all():
        raise DataError("fractions must be numbers in (0, 1]", field="fraction")
    df = df.assign(fraction=fractions)
    scale = 100.0 if _is_rate(metric) else 1.0
    with paper_style():
        fig, ax = plt.subplots()
        for method in (list(methods) if methods else ordered(df["method"])):
            part = df[df["method"] == method].groupby("fraction")["value"].agg(["mean", "std", "count"]).reset_index()
            err = np.where(part["count"] >= 2, part["std"].fillna(0.0), np.nan) * scale
            ax.errorbar(part["fraction"] * 100, part["mean"] * scale, yerr=err if np.isfinite(err).any() else None,
                        marker="o", ms=3, capsize=2, label=method_label(method))
        ax.set_xlabel("training dialogues used (%)")
        ax.set_ylabel(f"{METRICS[metric][0] if metric in METRICS else metric}" + (" (%)" if scale == 100.0 else ""))
        ax.set_title(str(benchmark), fontsize=7)
        ax.legend()
        return save_figure(fig, out_stem)


def read_loss_history(run_dir_or_file: str | os.PathLike) -> pd.DataFrame:
    """Read ``loss_history.jsonl`` (a run directory or the file) into a DataFrame, validating its fields.

    Example: ``read_loss_history("runs/alpha_umi-s0")``.
    """
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / "loss_history.jsonl"
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        for key in LOSS_FIELDS:
            if not isinstance(row, dict) or key not in row:
                raise DataError("missing", file=str(path), record=i, field=key)
        if not isinstance(row["loss"], (int, float)):
            raise DataError(f"expected a number, got {row['loss']!r}", file=str(path), record=i, field="loss")
    return pd.DataFrame(rows, columns=sorted({k for r in rows for k in r} | set(LOSS_FIELDS)))


def plot_loss_curves(history: pd.DataFrame | str | os.PathLike, out_stem: str | os.PathLike,
                     *, title: str | None = None) -> list[Path]:
    """Training loss against step: one panel per stage, one line per role.

    Example: ``plot_loss_curves("runs/alpha_umi-s0", "plots/loss_alpha_umi")``.
    """
    df = history if isinstance(history, pd.DataFrame) else read_loss_history(history)
    if df.empty:
        raise DataError("loss history is empty", field="loss")
    stages = list(dict.fromkeys(df["stage"]))
    with paper_style():
        fig, axes = plt.subplots(1, len(stages), figsize=(3.3 if len(stages) == 1 else 1.9 * len(stages), 2.0),
                                 squeeze=False, sharey=True)
        for ax, stage in zip(axes[0], stages):
            part = df[df["stage"] == stage]
            for role in dict.fromkeys(part["role"]):
                sub = part[part["role"] == role].sort_values("step")
                ax.plot(sub["step"], sub["loss"], label=str(role), marker="o" if len(sub) < 4 else None, ms=2)
            ax.set_title(f"stage {stage}")
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.legend()
        axes[0][0].set_ylabel("training loss")
        if title:
            fig.suptitle(title, fontsize=7)
        return save_figure(fig, out_stem)


def decision_counts(trajectories: Mapping[str, Iterable[RecordedTrajectory]]) -> pd.DataFrame:
    """Count planner decisions (assistant turns after the instruction) per method.

    Returns columns ``method, decision, count, fraction``. Each decision is the one the trajectory
    recorded for its planner (or backbone) step, ``invalid`` included (``umi_lab.protocol.records``);
    only turns without a step record are read with the protocol grammar.
    Example: ``decision_counts({"alpha_umi": load_trajectories("eval/t.jsonl")})``.
    """
    rows = []
    for method, trajs in trajectories.items():
        counts = dict.fromkeys(DECISION_ORDER, 0)
        for t in trajs:
            for d in decisions(t):
                counts[(d or Decision.INVALID).label] += 1
        total = sum(counts.values())
        for decision, n in counts.items():
            rows.append({"method": method, "decision": decision, "count": n, "fraction": n / total if total else 0.0})
    return pd.DataFrame(rows, columns=["method", "decision", "count", "fraction"])


def plot_decision_breakdown(counts: pd.DataFrame, out_stem: str | os.PathLike) -> list[Path]:
    """Stacked horizontal bars: share of caller / conclusion / give-up / invalid decisions per method.

    Example: ``plot_decision_breakdown(decision_counts(trajs_by_method), "plots/decisions")``.
    """
    methods = list(dict.fromkeys(counts["method"]))
    if not methods:
        raise DataError("no decisions to plot", field="method")
    with paper_style():
        fig, ax = plt.subplots(figsize=(3.3, 0.45 * len(methods) + 0.9))
        left = np.zeros(len(methods))
        for decision in DECISION_ORDER:
            part = counts[counts["decision"] == decision].set_index("method")
            vals = np.array([100.0 * part["fraction"].get(m, 0.0) for m in methods])
            ax.barh(range(len(methods)), vals, left=left, label=decision, height=0.6)
            left += vals
        ax.set_yticks(range(len(methods)), [method_label(m) for m in methods])
        ax.set_xlabel("planner decisions (%)")
        ax.set_xlim(0, 100)
        ax.grid(axis="x")
        ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
        return save_figure(fig, out_stem)


def token_lengths(samples_by_role: Mapping[str, Iterable[dict]], tokenizer, *, style=None) -> pd.DataFrame:
    """Tokens per role sample as the model sees it (``model_prompt(input)`` + ``target``).

    Returns columns ``role, prompt_tokens, target_tokens, total_tokens``. Example:
    ``token_lengths({"planner": read_records("train_planner.json")}, tokenizer)``.
    """
    from umi_lab.protocol.prompts import PromptStyle

    style = style or PromptStyle()
    rows = []
    hf_logger = logging.getLogger("transformers")  # measuring past model_max_length is the point: no warning
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        for role, samples in samples_by_role.items():
            for i, s in enumerate(samples):
                if not isinstance(s, dict) or "input" not in s or "target" not in s:
                    raise DataError("a role sample needs 'input' and 'target'", record=i, field=f"{role}.input")
                text = style.model_prompt(s["input"], tools=s.get("tools"), tokenizer=tokenizer)
                p = len(tokenizer(text, add_special_tokens=False)["input_ids"])
                t = len(tokenizer(s["target"], add_special_tokens=False)["input_ids"])
                rows.append({"role": role, "prompt_tokens": p, "target_tokens": t, "total_tokens": p + t})
    finally:
        hf_logger.setLevel(level)
    return pd.DataFrame(rows, columns=["role", "prompt_tokens", "target_tokens", "total_tokens"])


def plot_token_lengths(lengths: pd.DataFrame, out_stem: str | os.PathLike, *, column: str = "total_tokens",
                       max_length: int | None = None) -> list[Path]:
    """Histogram of sample lengths per role, with the training ``max_length`` cut drawn when given.

    Example: ``plot_token_lengths(token_lengths(samples, tok), "plots/lengths", max_length=1024)``.
    """
    if lengths.empty:
        raise DataError("no samples to plot", field=column)
    roles = list(dict.fromkeys(lengths["role"]))
    hi = float(lengths[column].max())
    bins = np.linspace(0, max(hi, max_length or 0) * 1.02 + 1, 40)
    with paper_style():
        fig, ax = plt.subplots()
        for role in roles:
            ax.hist(lengths.loc[lengths["role"] == role, column], bins=bins, histtype="step", label=role, lw=1.0)
        if max_length:
            ax.axvline(max_length, color="black", ls="--", lw=0.7)
            ax.text(max_length, ax.get_ylim()[1] * 0.95, " max_length", fontsize=6, va="top")
        ax.set_xlabel(f"tokens per sample ({column.split('_')[0]})")
        ax.set_ylabel("samples")
        ax.legend()
        return save_figure(fig, out_stem)
