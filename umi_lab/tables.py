"""Paper-ready result tables: rows are methods, a column group per benchmark (benchmark → metric).

Inputs: the tidy results table (``umi_lab.tidy``: ``run, method, seed, benchmark, metric, value`` and
optionally ``config``) and, for uncertainty, the item frame of ``umi_lab.item_scores`` (per-item
scores). Statistics come from ``umi_lab.summary.summarize``. Each cell shows the mean, ``± std`` over
seeds only with ≥ 2 seeds, the 95 % bootstrap CI over items, and † when the paired test against α-UMi
has p < 0.05. Bold marks the best value of a column only when it is significantly better than every
other method (paired tests, p < 0.05); ties and non-significant leads are not bold, and without item
scores nothing is bold. Every benchmark group starts with ``n`` (items × seeds). Reference rows
(trivial floors, published numbers) follow the methods in italics, labelled as not ours. The caption
states seeds, item counts, the tests and the legend. A table whose cells ran with different settings is
refused unless ``allow_mixed=True`` (``summary.check_settings``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from umi_lab.errors import DataError
from umi_lab.methods import METHODS, REFERENCE, get_method, get_zero_shot, is_zero_shot, ordered
from umi_lab.tidy import (  # noqa: F401  (the tidy table's names are public here too)
    METRICS,
    OPTIONAL_COLUMNS,
    PAPER_METRICS,
    REALTIME_METRICS,
    STATIC_METRICS,
    TIDY_COLUMNS,
    aggregate,
    load_tidy,
    metric_label,
    validate_tidy,
)


def latex_escape(text: str) -> str:
    r"""Escape LaTeX special characters. ``latex_escape("a_b 5%")`` → ``'a\_b 5\%'``."""
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(repl.get(ch, ch) for ch in str(text))


def method_label(method: str, *, latex: bool = False) -> str:
    """Display name of a method: the registry's ``label`` (``latex()`` for LaTeX); unknown methods are shown as
    they are (escaped for LaTeX). Example: ``method_label("alpha_umi")`` → ``'α-UMi'``."""
    if method in METHODS or is_zero_shot(method):
        m = get_method(method) if method in METHODS else get_zero_shot(method)
        return m.latex() if latex else m.label
    return latex_escape(method) if latex else method




@dataclass
class TableOptions:
    """How a table is laid out: metrics/benchmarks/methods shown, digits (None: 1 for percent, 2 else),
    percent scaling, std/CI/test marks shown, the reference method of the paired tests, the significance
    level, the bootstrap resamples and seed."""

    metrics: tuple[str, ...] | None = None
    benchmarks: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    digits: int | None = None
    percent: bool = True
    show_std: bool = True
    show_ci: bool = True
    reference: str = REFERENCE
    alpha: float = 0.05
    resamples: int = 2000
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _layout(summ: pd.DataFrame, opts: TableOptions) -> tuple[list[str], list[str], dict[str, list[str]]]:
    methods = list(opts.methods) if opts.methods else ordered(summ["method"])
    benchmarks = list(opts.benchmarks) if opts.benchmarks else list(dict.fromkeys(summ["benchmark"]))
    per_bench = {}
    for b in benchmarks:
        present = set(summ.loc[(summ["benchmark"] == b) & summ["method"].isin(methods), "metric"])
        if opts.metrics:
            per_bench[b] = [m for m in opts.metrics if m in present]
        else:  # the known metrics; bookkeeping numbers (counts, seconds) stay in the tidy table only
            per_bench[b] = [m for m in METRICS if m in present]
    per_bench = {b: ms for b, ms in per_bench.items() if ms}
    return methods, list(per_bench), per_bench


@dataclass
class _Table:
    """Everything both renderers need: the summary, layout, reference rows and the caption facts."""

    summ: pd.DataFrame
    methods: list[str]
    benches: list[str]
    per_bench: dict[str, list[str]]
    refs: pd.DataFrame
    opts: TableOptions
    mixed: list[str]

    def row(self, method: str, bench: str, metric: str):
        r = self.summ[(self.summ["method"] == method) & (self.summ["benchmark"] == bench)
                      & (self.summ["metric"] == metric)]
        return None if r.empty else r.iloc[0]

    def n_text(self, method: str, bench: str, times: str) -> str:
        rows = self.summ[(self.summ["method"] == method) & (self.summ["benchmark"] == bench)
                         & self.summ["metric"].isin(self.per_bench[bench])]
        if rows.empty:
            return "–"
        seeds = int(rows["n_seeds"].max())
        items = rows["n_items"].max()
        return f"{seeds} seed{'s' * (seeds != 1)}" if pd.isna(items) else f"{int(items)}{times}{seeds}"


def _prepare(tidy, items, references, opts: TableOptions | None, allow_mixed: bool) -> _Table:
    from umi_lab.summary import check_settings, summarize

    opts = opts or TableOptions()
    if tidy is None and items is None:
        raise DataError("nothing to tabulate: pass a tidy table or an item frame", field="tidy")
    tidy = validate_tidy(tidy) if tidy is not None else None
    mixed = []
    for frame in (tidy, items):
        if frame is not None:
            mixed += [d for d in check_settings(frame, allow_mixed=allow_mixed) if d not in mixed]
    if opts.methods or opts.benchmarks or opts.metrics:  # statistics (bold, seeds) only over what is shown
        tidy, items = (_select(f, opts) for f in (tidy, items))
    summ = summarize(items, tidy, reference=opts.reference, alpha=opts.alpha, resamples=opts.resamples,
                     seed=opts.seed)
    methods, benches, per_bench = _layout(summ, opts)
    if not benches:
        raise DataError("no known metric to tabulate (pass TableOptions(metrics=...))", field="metric")
    refs = references if references is not None else pd.DataFrame(columns=["label", "benchmark", "metric", "value",
                                                                              "source"])
    refs = refs[refs["benchmark"].isin(benches)]
    return _Table(summ, methods, benches, per_bench, refs, opts, mixed)


def _select(frame: pd.DataFrame | None, opts: TableOptions) -> pd.DataFrame | None:
    if frame is None:
        return None
    keep = pd.Series(True, index=frame.index)
    for col, wanted in (("method", opts.methods), ("benchmark", opts.benchmarks), ("metric", opts.metrics)):
        if wanted:
            keep &= frame[col].isin(wanted)
    return frame[keep]


def _scale(metric: str, opts: TableOptions) -> float:
    return 100.0 if (opts.percent and METRICS.get(metric, ("", False, False))[2]) else 1.0


def _fmt(x: float, metric: str, opts: TableOptions) -> str:
    scale = _scale(metric, opts)
    digits = opts.digits if opts.digits is not None else (1 if scale == 100.0 else 2)
    text = f"{x * scale:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text   # never "-0.0"


def _cell_parts(t: _Table, method: str, bench: str, metric: str) -> tuple[str, str, str, bool, bool] | None:
    """``(mean, std, ci, marked, bold)`` texts of one cell, or None when the cell is empty."""
    r = t.row(method, bench, metric)
    if r is None:
        return None
    o = t.opts
    std = _fmt(r["std"], metric, o) if (o.show_std and r["n_seeds"] >= 2 and not pd.isna(r["std"])) else ""
    ci = (f"{_fmt(r['ci_lo'], metric, o)}, {_fmt(r['ci_hi'], metric, o)}"
          if o.show_ci and not pd.isna(r["ci_lo"]) else "")
    marked = method != o.reference and not pd.isna(r["p_ref"]) and r["p_ref"] < o.alpha
    return _fmt(r["mean"], metric, o), std, ci, bool(marked), bool(r["bold"])


def _reference_cells(t: _Table, label: str) -> dict[tuple[str, str], float]:
    part = t.refs[t.refs["label"] == label]
    return {(b, m): v for b, m, v in zip(part["benchmark"], part["metric"], part["value"])}


def _seed_text(t: _Table) -> str:
    seeds = sorted({int(s) for s in t.summ.loc[t.summ["method"].isin(t.methods), "n_seeds"].dropna()})
    return " or ".join(str(s) for s in seeds) or "0"


def _caption_facts(t: _Table, latex: bool) -> list[str]:
    o = t.opts
    pm, dag = (r"$\pm$", r"\textsuperscript{\dag}") if latex else ("±", "†")
    lt = "$<$" if latex else "<"
    ref = method_label(o.reference, latex=latex)
    has_items = not t.summ["n_items"].isna().all()
    facts = []
    if any(_scale(m, o) == 100.0 for b in t.benches for m in t.per_bench[b]):
        facts.append("Rates in " + (r"\%" if latex else "%") + ".")
    seeds = _seed_text(t)
    facts.append(f"Mean{pm}std over {seeds} seed{'s' * (seeds != '1')} (std only with at least 2 seeds).")
    if has_items:
        times, percent = (r" $\times$ ", r"\%") if latex else (" × ", "%")
        counts = ", ".join(f"{latex_escape(b) if latex else b} {int(n)}" for b in t.benches
                           if not pd.isna(n := t.summ.loc[t.summ["benchmark"] == b, "n_items"].max()))
        facts.append(f"n: test items{times}seeds (items: {counts}).")
        if o.show_ci:
            facts.append(f"[lo, hi]: 95{percent} bootstrap CI over test items ({o.resamples} resamples, "
                         f"seed {o.seed}).")
        facts.append(f"{dag}: p {lt} {o.alpha:g} against {ref} on the same items (exact McNemar test for one seed of "
                     "pass/fail outcomes, otherwise a paired permutation test).")
        facts.append(f"Bold: best value of a column, significantly better (p {lt} {o.alpha:g}) than every other "
                     "method; no bold on ties.")
    else:
        facts.append("No per-item scores: no CI, no paired tests, nothing bold.")
    if not t.refs.empty:
        sources = "; ".join(dict.fromkeys(t.refs["source"]))
        facts.append(f"Italic rows are reference values, not ours ({latex_escape(sources) if latex else sources}).")
    if t.mixed:
        text = "; ".join(t.mixed)
        facts.append(f"Mixed settings: {latex_escape(text) if latex else text}.")
    return facts


def to_markdown(tidy: pd.DataFrame | None = None, opts: TableOptions | None = None, *,
                items: pd.DataFrame | None = None, references: pd.DataFrame | None = None,
                allow_mixed: bool = False) -> str:
    """Markdown: one table per benchmark (``### benchmark`` heading, ``Method | n | metrics``), cells
    ``mean ± std [lo, hi]†``, best significant value in ``**bold**``, reference rows in italics, and the
    legend below. Example: ``print(to_markdown(tidy, items=item_frame, references=floors))``.
    """
    return _markdown(_prepare(tidy, items, references, opts, allow_mixed))


def _markdown(t: _Table) -> str:
    out = []
    for b in t.benches:
        metrics = t.per_bench[b]
        out += [f"### {b}", "", "| Method | n | " + " | ".join(metric_label(m) for m in metrics) + " |",
                "|---|---:|" + "---:|" * len(metrics)]
        for method in t.methods:
            cells = []
            for m in metrics:
                parts = _cell_parts(t, method, b, m)
                if parts is None:
                    cells.append("–")
                    continue
                mean, std, ci, marked, bold = parts
                text = mean + (f" ± {std}" if std else "")
                text = (f"**{text}**" if bold else text) + (f" [{ci}]" if ci else "")
                cells.append(text + ("†" if marked else ""))
            out.append(f"| {method_label(method)} | {t.n_text(method, b, '×')} | " + " | ".join(cells) + " |")
        for label in dict.fromkeys(t.refs["label"]):
            ref = _reference_cells(t, label)
            cells = [f"*{_fmt(ref[(b, m)], m, t.opts)}*" if (b, m) in ref else "–" for m in metrics]
            if any(c != "–" for c in cells):
                out.append(f"| *{label} (not ours)* | – | " + " | ".join(cells) + " |")
        out.append("")
    out.append(" ".join(_caption_facts(t, latex=False)))
    return "\n".join(out) + "\n"


def to_latex(tidy: pd.DataFrame | None = None, opts: TableOptions | None = None, *, caption: str | None = None,
             label: str | None = None, items: pd.DataFrame | None = None, references: pd.DataFrame | None = None,
             allow_mixed: bool = False) -> str:
    r"""A booktabs ``table``: benchmark groups (``\multicolumn`` + ``\cmidrule``) over ``n`` and metric
    columns, cells ``mean$\pm$std\textsuperscript{\dag} [lo, hi]``, reference rows in italics below a rule,
    and a caption with seeds, item counts, tests and legend. Needs ``booktabs`` and ``graphicx``.

    Example: ``Path("table1.tex").write_text(to_latex(tidy, items=items, caption="Static evaluation"))``.
    """
    return _latex(_prepare(tidy, items, references, opts, allow_mixed), caption, label)


def _latex(t: _Table, caption: str | None, label: str | None) -> str:
    ncols = sum(len(t.per_bench[b]) + 1 for b in t.benches)
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\resizebox{\linewidth}{!}{%",
           r"\begin{tabular}{l" + "".join("r" + "c" * len(t.per_bench[b]) for b in t.benches) + "}", r"\toprule"]
    groups, rules, col = [""], [], 2
    for b in t.benches:
        width = len(t.per_bench[b]) + 1
        groups.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_escape(b)}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + width - 1}}}")
        col += width
    out += [" & ".join(groups) + r" \\", " ".join(rules)]
    heads = ["Method"] + [h for b in t.benches for h in ["$n$", *(latex_escape(metric_label(m)) for m in t.per_bench[b])]]
    out += [" & ".join(heads) + r" \\", r"\midrule"]
    for method in t.methods:
        cells = [method_label(method, latex=True)]
        for b in t.benches:
            cells.append(t.n_text(method, b, r"$\times$").replace("–", "--"))
            for m in t.per_bench[b]:
                parts = _cell_parts(t, method, b, m)
                if parts is None:
                    cells.append("--")
                    continue
                mean, std, ci, marked, bold = parts
                text = mean + (rf"$\pm${std}" if std else "")
                text = rf"\textbf{{{text}}}" if bold else text
                text += r"\textsuperscript{\dag}" if marked else ""
                text += rf" {{\scriptsize[{ci}]}}" if ci else ""
                cells.append(text)
        out.append(" & ".join(cells) + r" \\")
    labels = list(dict.fromkeys(t.refs["label"]))
    if labels:
        out += [r"\midrule", rf"\multicolumn{{{ncols + 1}}}{{l}}{{\textit{{Reference values (not ours)}}}} \\"]
        for lab in labels:
            ref = _reference_cells(t, lab)
            cells = [rf"\textit{{{latex_escape(lab)}}}"]
            for b in t.benches:
                cells.append("--")
                cells += [rf"\textit{{{_fmt(ref[(b, m)], m, t.opts)}}}" if (b, m) in ref else "--"
                          for m in t.per_bench[b]]
            out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}}"]
    note = latex_escape(caption).rstrip(".") + ". " if caption else ""
    out.append(rf"\caption{{{note}{' '.join(_caption_facts(t, latex=True))}}}")
    if label:
        out.append(rf"\label{{{latex_escape(label)}}}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_tables(tidy: pd.DataFrame | None, out_dir: str | os.PathLike, opts: TableOptions | None = None, *,
                 stem: str = "table", items: pd.DataFrame | None = None, references: pd.DataFrame | None = None,
                 caption: str | None = None, allow_mixed: bool = False) -> dict[str, Path]:
    """Write ``<stem>.tex``, ``<stem>.md``, the per-cell statistics ``<stem>_summary.csv`` (with each cell's
    settings hash in ``config``), ``<stem>_configs.json`` (hash → settings), the reference rows the table
    shows (floors, published numbers) as ``<stem>_references.csv`` and, when tasks ran in several
    trials (seeds), τ-bench pass^k in ``<stem>_pass_k.csv`` into ``out_dir``.

    Example: ``write_tables(load_tidy("results.parquet"), "out/tables", items=items, references=floors)``.
    """
    import json

    from umi_lab.io import atomic_write_text
    from umi_lab.summary import settings_hash, settings_of

    out_dir = Path(out_dir)
    opts = opts or TableOptions()
    t = _prepare(tidy, items, references, opts, allow_mixed)
    paths = {"latex": atomic_write_text(out_dir / f"{stem}.tex", _latex(t, caption, None)),
             "markdown": atomic_write_text(out_dir / f"{stem}.md", _markdown(t))}
    summ = t.summ
    paths["summary"] = atomic_write_text(out_dir / f"{stem}_summary.csv", summ.to_csv(index=False))
    if references is not None and not references.empty:
        paths["references"] = atomic_write_text(out_dir / f"{stem}_references.csv", references.to_csv(index=False))
    configs = {}
    for frame in (tidy, items):
        if frame is not None and "config" in frame.columns:
            configs.update({settings_hash(c): settings_of(c) for c in frame["config"].dropna().unique()})
    paths["configs"] = atomic_write_text(out_dir / f"{stem}_configs.json",
                                         json.dumps(configs, indent=2, sort_keys=True, default=str) + "\n")
    if items is not None and "pass_rate" in set(items["metric"]):  # τ-bench pass^k when tasks ran repeatedly
        from umi_lab.summary import pass_k

        pk = pass_k(items)
        if not pk.empty and pk["n_trials"].max() >= 2:
            paths["pass_k"] = atomic_write_text(out_dir / f"{stem}_pass_k.csv", pk.to_csv(index=False))
    return paths
