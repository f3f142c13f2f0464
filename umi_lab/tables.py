"""Result tables laid out like the paper's Table 1: rows are methods, columns are metrics.

Input is the tidy results table (columns ``run, method, seed, benchmark, metric, value``, see
``docs/architecture.md``). ``aggregate`` takes mean and standard deviation over seeds; ``to_latex``
and ``to_markdown`` render one block of columns per benchmark with the best value of every column
in bold (lowest for "lower is better" metrics such as the hallucination rate).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from umi_lab.errors import DataError

TIDY_COLUMNS = ("run", "method", "seed", "benchmark", "metric", "value")

# metric key -> (column header, lower is better, shown in percent)
METRICS: dict[str, tuple[str, bool, bool]] = {
    "plan_em": ("Plan ACC", False, True),
    "action_em": ("Action EM", False, True),
    "hallu_rate": ("Hallu", True, True),
    "easy_f1": ("Arg F1 easy", False, True),
    "hard_f1": ("Arg F1 hard", False, True),
    "f1": ("Arg F1", False, True),
    "rouge": ("Rouge-L", False, True),
    # real-time evaluation (umi_lab.evaluate / agent.trajectory_stats)
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

METHOD_ORDER = ("single_llm", "single_llm_multitask", "multi_llm_one_stage", "alpha_umi", "alpha_umi_merge")
METHOD_LABELS = {
    "single_llm": ("Single-LLM", "Single-LLM"),
    "single_llm_multitask": ("Single-LLM (multi-task)", "Single-LLM (multi-task)"),
    "multi_llm_one_stage": ("Multi-LLM one-stage", "Multi-LLM one-stage"),
    "alpha_umi": ("α-UMi", r"$\alpha$-UMi"),
    "alpha_umi_merge": ("α-UMi (init=merge)", r"$\alpha$-UMi (init=merge)"),
}


@dataclass
class TableOptions:
    """How a table is laid out: which metrics/benchmarks/methods, digits, percent scaling, std shown."""

    metrics: tuple[str, ...] | None = None
    benchmarks: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    digits: int = 2
    percent: bool = True
    show_std: bool = True


def validate_tidy(df: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Check the tidy columns and numeric values; return a clean copy.

    Example: ``validate_tidy(pd.read_csv("results.csv"))``.
    """
    missing = [c for c in TIDY_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"missing columns {missing} (expected {list(TIDY_COLUMNS)})", file=file, field="columns")
    out = df.loc[:, list(TIDY_COLUMNS)].copy()
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


def _ordered(values, preferred) -> list[str]:
    values = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in values]
    return first + [v for v in values if v not in first]


def _layout(agg: pd.DataFrame, opts: TableOptions) -> tuple[list[str], list[str], dict[str, list[str]]]:
    methods = list(opts.methods) if opts.methods else _ordered(agg["method"], METHOD_ORDER)
    benchmarks = list(opts.benchmarks) if opts.benchmarks else list(dict.fromkeys(agg["benchmark"]))
    per_bench = {}
    for b in benchmarks:
        present = set(agg.loc[agg["benchmark"] == b, "metric"])
        if opts.metrics:
            per_bench[b] = [m for m in opts.metrics if m in present]
        else:  # the known metrics; bookkeeping numbers (counts, seconds) stay in the tidy table only
            per_bench[b] = [m for m in dict.fromkeys([*STATIC_METRICS, *REALTIME_METRICS, *METRICS]) if m in present]
    per_bench = {b: ms for b, ms in per_bench.items() if ms}
    return methods, list(per_bench), per_bench


def _best(agg: pd.DataFrame, methods: list[str], bench: str, metric: str) -> set[str]:
    rows = agg[(agg["benchmark"] == bench) & (agg["metric"] == metric) & agg["method"].isin(methods)]
    if rows.empty:
        return set()
    lower = METRICS.get(metric, ("", False, False))[1]
    target = rows["mean"].min() if lower else rows["mean"].max()
    return set(rows.loc[(rows["mean"] - target).abs() < 1e-12, "method"])


def _cell(agg: pd.DataFrame, method: str, bench: str, metric: str, opts: TableOptions, pm: str) -> str | None:
    rows = agg[(agg["method"] == method) & (agg["benchmark"] == bench) & (agg["metric"] == metric)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    scale = 100.0 if (opts.percent and METRICS.get(metric, ("", False, False))[2]) else 1.0
    text = f"{row['mean'] * scale:.{opts.digits}f}"
    if opts.show_std and not math.isnan(row["std"]):
        text += f"{pm}{row['std'] * scale:.{opts.digits}f}"
    return text


def latex_escape(text: str) -> str:
    r"""Escape LaTeX special characters. ``latex_escape("a_b 5%")`` → ``'a\_b 5\%'``."""
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(repl.get(ch, ch) for ch in str(text))


def metric_label(metric: str) -> str:
    """The column header of a metric key: ``metric_label("plan_em")`` → ``'Plan ACC'``."""
    return METRICS[metric][0] if metric in METRICS else metric


def method_label(method: str, *, latex: bool = False) -> str:
    """Display name of a method; unknown methods are shown as they are (escaped for LaTeX)."""
    if method in METHOD_LABELS:
        return METHOD_LABELS[method][1 if latex else 0]
    return latex_escape(method) if latex else method


def _percent_note(opts: TableOptions, metrics: list[str]) -> bool:
    return opts.percent and any(METRICS.get(m, ("", False, False))[2] for m in metrics)


def to_markdown(tidy: pd.DataFrame, opts: TableOptions | None = None) -> str:
    """Markdown table: one row per method, ``benchmark: metric`` columns, best value in ``**bold**``.

    Without ``opts.metrics`` the columns are the known metrics (``METRICS``) present in the table.

    Example: ``print(to_markdown(load_tidy("results.csv")))``.
    """
    opts = opts or TableOptions()
    agg = aggregate(tidy)
    methods, benches, per_bench = _layout(agg, opts)
    headers = ["Method"] + [f"{b}: {metric_label(m)}" for b in benches for m in per_bench[b]]
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in headers) + " |",
             "|" + "---|" + "---:|" * (len(headers) - 1)]
    best = {(b, m): _best(agg, methods, b, m) for b in benches for m in per_bench[b]}
    for method in methods:
        cells = [method_label(method).replace("|", "\\|")]
        for b in benches:
            for m in per_bench[b]:
                text = _cell(agg, method, b, m, opts, " ± ")
                cells.append("–" if text is None else (f"**{text}**" if method in best[(b, m)] else text))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(tidy: pd.DataFrame, opts: TableOptions | None = None, *, caption: str | None = None,
             label: str | None = None) -> str:
    r"""A booktabs ``table`` with a column group per benchmark and the best value per column in bold.

    Example: ``Path("table1.tex").write_text(to_latex(tidy, caption="Static evaluation"))``.
    """
    opts = opts or TableOptions()
    agg = aggregate(tidy)
    methods, benches, per_bench = _layout(agg, opts)
    ncols = sum(len(per_bench[b]) for b in benches)
    best = {(b, m): _best(agg, methods, b, m) for b in benches for m in per_bench[b]}
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "c" * ncols + "}", r"\toprule"]
    groups, rules, col = ["Method" if len(benches) == 1 else ""], [], 2
    if len(benches) > 1:
        for b in benches:
            width = len(per_bench[b])
            groups.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_escape(b)}}}")
            rules.append(rf"\cmidrule(lr){{{col}-{col + width - 1}}}")
            col += width
        out.append(" & ".join(groups) + r" \\")
        out.append(" ".join(rules))
    heads = ["Method"] + [latex_escape(metric_label(m)) for b in benches for m in per_bench[b]]
    out.append(" & ".join(heads) + r" \\")
    out.append(r"\midrule")
    for method in methods:
        cells = [method_label(method, latex=True)]
        for b in benches:
            for m in per_bench[b]:
                text = _cell(agg, method, b, m, opts, r"$\pm$")
                if text is None:
                    cells.append("--")
                else:
                    cells.append(rf"\textbf{{{text}}}" if method in best[(b, m)] else text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption is not None or _percent_note(opts, [m for b in benches for m in per_bench[b]]):
        note = latex_escape(caption or "")
        if _percent_note(opts, [m for b in benches for m in per_bench[b]]):
            note = (note.rstrip(".") + ". " if note else "") + r"Rates in \%, mean$\pm$std over seeds."
        out.append(rf"\caption{{{note}}}")
    if label:
        out.append(rf"\label{{{latex_escape(label)}}}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_tables(tidy: pd.DataFrame, out_dir: str | os.PathLike, opts: TableOptions | None = None,
                 *, stem: str = "table") -> dict[str, Path]:
    """Write ``<stem>.tex``, ``<stem>.md`` and the aggregate ``<stem>_summary.csv`` into ``out_dir``.

    Example: ``write_tables(load_tidy("results.parquet"), "out/tables")``.
    """
    from umi_lab.io import atomic_write_text

    out_dir = Path(out_dir)
    paths = {"latex": atomic_write_text(out_dir / f"{stem}.tex", to_latex(tidy, opts)),
             "markdown": atomic_write_text(out_dir / f"{stem}.md", to_markdown(tidy, opts))}
    paths["summary"] = atomic_write_text(out_dir / f"{stem}_summary.csv", aggregate(tidy).to_csv(index=False))
    return paths
