"""Ablation grid: methods × seeds × benchmarks → one tidy results table.

Every cell of the grid is a training run (``umi_lab.training.train``) in ``OUT/runs/<method>-s<seed>-<hash8>``
(the hash of the cell's full configuration: the same settings reuse the run, different ones get their own
folder) followed by one evaluation per benchmark (``umi_lab.evaluation.evaluate_run``), whose metrics land in
``RUN/eval/<benchmark>-<mode>/metrics.json``. Finished work is reused: a run whose ``status`` is ``done``
is not trained again and an evaluation with a ``metrics.json`` is not repeated. A failing run or
evaluation is recorded in ``failures.json`` (and reported), never silently dropped.

Outputs in ``OUT``: ``results.csv`` and ``results.parquet`` (columns ``run, method, seed, benchmark,
metric, value``), ``failures.json``, ``ablation.json`` (config and counts), and with ``report=True``
the paper table (``table.tex``/``table.md``) and plots.

CLI: ``python -m umi_lab ablate --data ROLE_DATA --methods alpha_umi single_llm --seeds 0 1 2
--benchmarks toolworld-id:static toolworld-id:realtime --out runs/ablation``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from umi_lab.errors import DataError
from umi_lab.io import write_json
from umi_lab.methods import METHODS, method_names
from umi_lab.rundir import RunDir
from umi_lab.tables import PAPER_METRICS, TIDY_COLUMNS

DEFAULT_METHODS = method_names()  # the registry's methods at import time, in table order
EVAL_MODES = ("static", "realtime")


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation of a run: a benchmark name and a mode (``static`` or ``realtime``).

    >>> EvalSpec.parse("toolworld-id:realtime").name
    'toolworld-id-realtime'
    """

    benchmark: str
    mode: str = "static"

    @property
    def name(self) -> str:
        """The eval folder name and the ``benchmark`` value in the tidy table."""
        return f"{self.benchmark}-{self.mode}"

    @classmethod
    def parse(cls, text: str) -> EvalSpec:
        benchmark, _, mode = text.partition(":")
        mode = mode or "static"
        if not benchmark or mode not in EVAL_MODES:
            raise DataError(f"expected BENCHMARK[:{'|'.join(EVAL_MODES)}], got {text!r}", field="benchmarks")
        return cls(benchmark, mode)


@dataclass
class AblationConfig:
    """The grid and how to train/evaluate each cell.

    ``train_overrides`` are extra ``GLPFTConfig`` fields (e.g. ``{"schedule": "tiny"}``);
    ``eval_overrides`` extra keyword arguments of ``evaluate_run`` (e.g. ``{"limit": 20}``).
    """

    data: str = ""
    out: str = "runs/ablation"
    model: str = "tiny"
    methods: tuple[str, ...] = DEFAULT_METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    evals: tuple[EvalSpec, ...] = (EvalSpec("toolworld-id", "static"), EvalSpec("toolworld-id", "realtime"))
    smoke: bool = False
    train_overrides: dict[str, Any] = field(default_factory=dict)
    eval_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.methods = tuple(self.methods)
        self.seeds = tuple(int(s) for s in self.seeds)
        self.evals = tuple(EvalSpec.parse(e) if isinstance(e, str) else e for e in self.evals)
        for m in self.methods:
            if m not in METHODS:
                raise DataError(f"unknown method {m!r}; expected one of {', '.join(METHODS)}", field="methods")
        if not self.methods or not self.seeds:
            raise DataError("the grid needs at least one method and one seed", field="methods")

    def run_dir(self, method: str, seed: int) -> Path:
        """Where one cell's run lives: ``OUT/runs/<method>-s<seed>-<hash8>``, the hash of its configuration
        (training config, model and data fingerprints), so runs of other settings never collide."""
        from umi_lab.rundir import canonical_hash, data_fingerprint, model_fingerprint, run_identity

        config = train_config(self, method, seed, with_out=False).to_dict()
        data = data_fingerprint(self.data) if self.data and Path(self.data).is_dir() else {}
        ident = run_identity(config, model=model_fingerprint(self.model), data=data)
        return Path(self.out) / "runs" / f"{method}-s{seed}-{canonical_hash(ident)}"


@dataclass
class AblationResult:
    """What ``run_ablation`` did: the tidy table, failures, counts and written files."""

    tidy: pd.DataFrame
    failures: list[dict[str, Any]]
    counts: dict[str, int]
    paths: dict[str, Path]
    timings: dict[str, float]


def train_config(cfg: AblationConfig, method: str, seed: int, *, with_out: bool = True):
    """The ``GLPFTConfig`` of one grid cell. Example: ``train_config(cfg, "alpha_umi_merge", 0).init == "merge"``."""
    from umi_lab.training_config import GLPFTConfig

    fields = {"model": cfg.model, "data": cfg.data, "seed": seed, "smoke": cfg.smoke, **cfg.train_overrides,
              "method": method}
    config = GLPFTConfig.from_dict(fields)
    if with_out:
        config.out = str(cfg.run_dir(method, seed))
    return config


def run_status(run_dir: str | os.PathLike) -> str | None:
    """The run's status word (``running``, ``done``, ``failed``, ``interrupted``) or None when absent."""
    return RunDir(run_dir).status()


NOT_METRICS = ("limit", "smoke", "seed")  # numeric settings echoed in metrics.json, not results


def metric_rows(metrics: dict[str, Any], *, run: str, method: str, seed: int, benchmark: str) -> list[dict]:
    """Tidy rows for the numeric top-level entries of a ``metrics.json`` (nested counts and echoed settings
    are left out). Example: ``metric_rows({"plan_em": 0.5}, run="r", method="m", seed=0, benchmark="b")``."""
    rows = []
    for key, value in metrics.items():
        if key in NOT_METRICS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        rows.append({"run": run, "method": method, "seed": seed, "benchmark": benchmark, "metric": key,
                     "value": float(value)})
    return rows


def _default_train(config) -> Path:
    from umi_lab.training import train

    return train(config, progress=False)


def _default_evaluate(run_dir: Path, spec: EvalSpec, **kwargs) -> Any:
    from umi_lab.evaluation import evaluate_run

    return evaluate_run(run_dir, benchmark=spec.benchmark, mode=spec.mode, **kwargs)


def _failure(failures: list, say, *, run: str, method: str, seed: int, stage: str, benchmark: str | None,
             error: BaseException) -> None:
    failures.append({"run": run, "method": method, "seed": seed, "stage": stage, "benchmark": benchmark,
                     "error": f"{type(error).__name__}: {error}",
                     "traceback": "".join(traceback.format_exception(error))[-2000:]})
    say(f"  FAILED {stage} {run}{' ' + benchmark if benchmark else ''}: {type(error).__name__}: {error}")


def run_ablation(cfg: AblationConfig, *, train_fn: Callable | None = None, evaluate_fn: Callable | None = None,
                 report: bool = False, say: Callable[[str], None] = print) -> AblationResult:
    """Train and evaluate every (method, seed), reuse finished work, write the tidy table.

    ``train_fn(config) -> run_dir`` and ``evaluate_fn(run_dir, spec, **eval_overrides)`` default to
    ``umi_lab.training.train`` and ``umi_lab.evaluation.evaluate_run``. Example:
    ``run_ablation(AblationConfig(data="runs/study/roles", seeds=(0, 1), smoke=True)).tidy``.
    """
    train_fn = train_fn or _default_train
    evaluate_fn = evaluate_fn or _default_evaluate
    out = Path(cfg.out)
    rows: list[dict] = []
    failures: list[dict] = []
    counts = dict.fromkeys(("trained", "reused_runs", "evaluated", "reused_evals", "failed_runs", "failed_evals"), 0)
    timings: dict[str, float] = {}
    cells = [(m, s) for m in cfg.methods for s in cfg.seeds]
    for i, (method, seed) in enumerate(cells, 1):
        run_dir = cfg.run_dir(method, seed)
        run = run_dir.name
        say(f"[{i}/{len(cells)}] {run}")
        t0 = time.perf_counter()
        if run_status(run_dir) == "done":
            counts["reused_runs"] += 1
            say("  training: reused (status done)")
        else:
            try:
                got = train_fn(train_config(cfg, method, seed))
                run_dir = Path(got) if isinstance(got, str | os.PathLike) else run_dir  # train may redirect
                counts["trained"] += 1
            except Exception as e:  # recorded and reported; the grid goes on
                counts["failed_runs"] += 1
                _failure(failures, say, run=run, method=method, seed=seed, stage="train", benchmark=None, error=e)
                continue
            if run_status(run_dir) != "done":
                counts["failed_runs"] += 1
                _failure(failures, say, run=run, method=method, seed=seed, stage="train", benchmark=None,
                         error=DataError(f"run status is {run_status(run_dir)!r} after training", file=str(run_dir)))
                continue
            say(f"  training: done in {time.perf_counter() - t0:.1f} s")
        timings[f"train/{run}"] = round(time.perf_counter() - t0, 3)
        for spec in cfg.evals:
            metrics_path = RunDir(run_dir).eval_dir(spec.benchmark, spec.mode) / "metrics.json"
            t1 = time.perf_counter()
            if metrics_path.is_file():
                counts["reused_evals"] += 1
            else:
                try:
                    evaluate_fn(run_dir, spec, **({"smoke": True} if cfg.smoke else {}), **cfg.eval_overrides)
                    if not metrics_path.is_file():
                        raise DataError("evaluation wrote no metrics.json", file=str(metrics_path))
                    counts["evaluated"] += 1
                except Exception as e:
                    counts["failed_evals"] += 1
                    _failure(failures, say, run=run, method=method, seed=seed, stage="evaluate",
                             benchmark=spec.name, error=e)
                    continue
            metrics = RunDir(run_dir).eval_metrics(spec.benchmark, spec.mode)
            new = metric_rows(metrics, run=run, method=method, seed=seed, benchmark=spec.name)
            rows += new
            timings[f"eval/{run}/{spec.name}"] = round(time.perf_counter() - t1, 3)
            say(f"  {spec.name}: " + ", ".join(f"{r['metric']}={r['value']:.3f}" for r in new[:6]))
    tidy = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    paths = write_results(tidy, out, failures=failures,
                          meta={"config": _config_dict(cfg), "counts": counts, "timings": timings})
    if report and not tidy.empty:
        paths.update(write_report(tidy, out, run_dirs=[cfg.run_dir(m, cfg.seeds[0]) for m in cfg.methods]))
    say(f"ablation: {counts['trained']} trained, {counts['reused_runs']} reused, {counts['evaluated']} evaluations, "
        f"{counts['reused_evals']} reused, {counts['failed_runs']} failed runs, {counts['failed_evals']} failed "
        f"evaluations; table {paths['csv']}")
    return AblationResult(tidy, failures, counts, paths, timings)


def _config_dict(cfg: AblationConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["evals"] = [e.name for e in cfg.evals]
    return d


def write_results(tidy: pd.DataFrame, out: str | os.PathLike, *, failures: Sequence[dict] = (),
                  meta: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``results.parquet``, ``failures.json`` and ``ablation.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tidy = tidy.loc[:, list(TIDY_COLUMNS)]
    csv_tmp, pq_tmp = out / ".results.csv.tmp", out / ".results.parquet.tmp"
    tidy.to_csv(csv_tmp, index=False)
    tidy.to_parquet(pq_tmp, index=False)
    os.replace(csv_tmp, out / "results.csv")
    os.replace(pq_tmp, out / "results.parquet")
    paths = {"csv": out / "results.csv", "parquet": out / "results.parquet",
             "failures": write_json(out / "failures.json", list(failures))}
    if meta is not None:
        paths["meta"] = write_json(out / "ablation.json", meta)
    return paths


def write_report(tidy: pd.DataFrame, out: str | os.PathLike, *, run_dirs: Sequence[str | os.PathLike] = (),
                 metrics: Sequence[str] = PAPER_METRICS) -> dict:
    """Paper table (LaTeX + Markdown) and metric bars per benchmark over ``metrics``, and loss curves of the
    given runs. Example: ``write_report(load_tidy("results.csv"), "runs/ablation")``."""
    from umi_lab.plots import plot_loss_curves, plot_metric_bars
    from umi_lab.tables import TableOptions, write_tables

    out = Path(out)
    opts = TableOptions(metrics=tuple(metrics))
    paths: dict[str, Any] = {f"table_{k}": v for k, v in write_tables(tidy, out / "tables", opts).items()}
    for bench in dict.fromkeys(tidy["benchmark"]):
        present = [m for m in metrics if m in set(tidy.loc[tidy["benchmark"] == bench, "metric"])]
        if present:
            paths[f"bars_{bench}"] = plot_metric_bars(tidy, out / "plots" / f"metrics_{bench}", benchmark=bench,
                                                      metrics=present)[0]
    for run_dir in run_dirs:
        history = Path(run_dir) / "loss_history.jsonl"
        if history.is_file() and history.stat().st_size:
            name = Path(run_dir).name
            paths[f"loss_{name}"] = plot_loss_curves(history, out / "plots" / f"loss_{name}", title=name)[0]
    return paths


def _cmd(args: argparse.Namespace) -> int:
    smoke = args.smoke or os.environ.get("UMI_LAB_SMOKE") == "1"
    overrides = {"schedule": args.schedule} if args.schedule else {}
    if not args.data:
        from umi_lab.toolworld.manifest import resolve_toolworld

        args.data = str(resolve_toolworld().path)
    cfg = AblationConfig(data=args.data, out=args.out, model=args.model, methods=tuple(args.methods),
                         seeds=tuple(args.seeds), evals=tuple(args.benchmarks), smoke=smoke, train_overrides=overrides,
                         eval_overrides={"limit": args.limit} if args.limit else {})
    result = run_ablation(cfg, report=not args.no_report)
    for key, path in result.paths.items():
        print(f"  {key:14s} {path}")
    return 1 if result.failures else 0


def add_cli(subparsers) -> None:
    """Register ``ablate``."""
    from umi_lab.cli_types import non_negative_int, positive_int

    p = subparsers.add_parser("ablate", help="train + evaluate a grid of methods x seeds x benchmarks")
    p.add_argument("--data", default="",
                   help="training data folder: train_<role>.json files, or conversations in train.json "
                        "(default: the ToolWorld data of $UMI_LAB_TOOLWORLD, else the default data set)")
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--model", default="tiny",
                   help="'tiny', 'smollm2-135m', a local folder or a hub id already on disk")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2])
    p.add_argument("--benchmarks", nargs="+", default=["toolworld-id:static", "toolworld-id:realtime"],
                   help="BENCHMARK[:static|realtime] as understood by 'evaluate'")
    p.add_argument("--schedule", help="training schedule preset (paper, lora, tiny)")
    p.add_argument("--limit", type=positive_int, help="evaluate at most this many tasks per benchmark")
    p.add_argument("--smoke", action="store_true", help="tiny budgets (also UMI_LAB_SMOKE=1)")
    p.add_argument("--no-report", action="store_true", help="skip the table and plots")
    p.set_defaults(func=_cmd)
