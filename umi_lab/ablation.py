"""Ablation grid: methods × seeds (× training fractions) × benchmarks → one tidy results table.

Every cell of the grid is a training run (``umi_lab.training.train``) in ``OUT/runs/<method>-s<seed>-<hash8>``
(the hash of the cell's full configuration: the same settings reuse the run, different ones get their own
folder) followed by one evaluation per benchmark (``umi_lab.evaluation.evaluate_run``), whose metrics land in
``RUN/eval/<benchmark>-<mode>/metrics.json``. Finished work is reused: a run whose ``status`` is ``done``
is not trained again and an evaluation whose ``config.json`` has the grid's settings is not repeated (other
settings: evaluated again, said). Untrained rows (``zero_shot``) serve the base model as is
(``models.zero_shot_run``). A failing run or evaluation is recorded in ``failures.json`` (and reported),
never silently dropped.

Outputs in ``OUT``: ``results.csv`` and ``results.parquet`` (columns ``run, method, seed, benchmark,
metric, value, config`` and, with a sweep, ``fraction``), ``failures.json``, ``ablation.json`` (config,
counts, runs), and with ``report=True`` the paper table with CIs, paired-test marks and floors, and plots
(``ablation_report``).

CLI: ``python -m umi_lab ablate --data ROLE_DATA --methods alpha_umi single_llm --seeds 0 1 2
--benchmarks toolworld-id:static toolworld-id:realtime --fractions 0.25 0.5 1 --out runs/ablation``.
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

from umi_lab.ablation_report import eval_config, metric_rows, stale_reason, write_report  # noqa: F401
from umi_lab.errors import DataError
from umi_lab.io import read_json, write_json
from umi_lab.methods import (
    METHODS,
    default_method,
    get_zero_shot,
    grid_method_names,
    is_zero_shot,
    method_names,
)
from umi_lab.rundir import RunDir
from umi_lab.tables import OPTIONAL_COLUMNS, PAPER_METRICS, TIDY_COLUMNS

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
    ``fractions`` sweeps the training-set size: each trained cell runs once per fraction of the training
    dialogues (``max_dialogues`` = fraction × the dialogues the grid would otherwise draw), and the tidy
    table gets a ``fraction`` column. Untrained rows (``methods.is_zero_shot``, e.g. ``zero_shot``) run once,
    with the first seed. ``allow_mixed`` lets the table mix cells of different settings.
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
    fractions: tuple[float, ...] = ()
    allow_mixed: bool = False

    def __post_init__(self):
        self.methods = tuple(self.methods)
        self.seeds = tuple(int(s) for s in self.seeds)
        self.evals = tuple(EvalSpec.parse(e) if isinstance(e, str) else e for e in self.evals)
        self.fractions = tuple(sorted({float(f) for f in self.fractions}))
        for m in self.methods:
            if m not in METHODS and not is_zero_shot(m):
                raise DataError(f"unknown method {m!r}; expected one of {', '.join(grid_method_names())}",
                                field="methods")
        if not self.methods or not self.seeds:
            raise DataError("the grid needs at least one method and one seed", field="methods")
        if any(not 0 < f <= 1 for f in self.fractions):
            raise DataError(f"fractions must be in (0, 1], got {list(self.fractions)}", field="fractions")
        self._dialogues: int | None = None

    def cells(self) -> list[tuple[str, int, float | None]]:
        """The grid's cells ``(method, seed, fraction)``; fraction None when there is no sweep (and for
        untrained rows, which run once with the first seed)."""
        out = []
        for m in self.methods:
            if is_zero_shot(m):
                out.append((m, self.seeds[0], None))
            else:
                out += [(m, s, f) for s in self.seeds for f in (self.fractions or (None,))]
        return out

    def max_dialogues(self, fraction: float | None) -> int | None:
        """Training dialogues of a cell at ``fraction``: that share (at least 1) of what the grid draws
        without a sweep (``max_dialogues`` of the overrides, smoke-capped, else every dialogue of the data)."""
        from umi_lab.training_config import GLPFTConfig

        base = GLPFTConfig.from_dict({"model": self.model, "data": self.data, "smoke": self.smoke,
                                      **self.train_overrides, "method": "single_llm"}).effective()["max_dialogues"]
        if fraction is None:
            return base
        if base is None:
            base = self.dialogue_count()
        return max(1, round(fraction * base))

    def dialogue_count(self) -> int:
        """Dialogues behind the training data (what a fraction of 1 draws)."""
        if self._dialogues is None:
            from umi_lab.training.data import dialogue_id, load_role_data

            folder = Path(self.data)
            roles = [r for r in ("backbone", "planner", "caller", "summarizer")
                     if (folder / f"train_{r}.json").is_file()] or ["planner"]
            data, _ = load_role_data(folder, roles)
            self._dialogues = len({dialogue_id(s) for rows in data.values() for s in rows})
        return self._dialogues

    def run_dir(self, method: str, seed: int, fraction: float | None = None) -> Path:
        """Where one cell's run lives: ``OUT/runs/<method>-s<seed>-<hash8>``, the hash of its configuration
        (training config, model and data fingerprints; a built-in model name by ``backbone.model_key``, so
        a rebuilt backbone is a new run), so runs of other settings never collide."""
        from umi_lab.backbone import model_key
        from umi_lab.rundir import canonical_hash, data_fingerprint, model_fingerprint, run_identity

        config = train_config(self, method, seed, with_out=False, fraction=fraction).to_dict()
        if is_zero_shot(method):  # nothing is trained: the identity is the model and how it is prompted
            config = {"method": method, "model": config["model"], "prompt_style": config["prompt_style"],
                      "family": config.get("family")}
        data = data_fingerprint(self.data) if self.data and Path(self.data).is_dir() and not is_zero_shot(method) \
            else {}
        ident = run_identity(config, model=model_fingerprint(model_key(self.model)), data=data)
        return Path(self.out) / "runs" / f"{method}-s{seed}-{canonical_hash(ident)}"


@dataclass
class AblationResult:
    """What ``run_ablation`` did: the tidy table, failures, counts and written files."""

    tidy: pd.DataFrame
    failures: list[dict[str, Any]]
    counts: dict[str, int]
    paths: dict[str, Path]
    timings: dict[str, float]
    grid: list[tuple[str, int, float | None, Path]] = field(default_factory=list)  # (method, seed, fraction, run)
    eval_dirs: dict[tuple[str, str], Path] = field(default_factory=dict)  # (run folder, eval name) → its folder


def train_config(cfg: AblationConfig, method: str, seed: int, *, with_out: bool = True,
                 fraction: float | None = None):
    """The ``GLPFTConfig`` of one grid cell. Example: ``train_config(cfg, "alpha_umi_merge", 0).init == "merge"``.

    An untrained row gets the config of a Single-LLM run (what serves it); ``fraction`` sets ``max_dialogues``.
    """
    from umi_lab.training_config import GLPFTConfig

    fields = {"model": cfg.model, "data": cfg.data, "seed": seed, "smoke": cfg.smoke, **cfg.train_overrides,
              "method": default_method(get_zero_shot(method).agent) if is_zero_shot(method) else method}
    if fraction is not None:
        fields["max_dialogues"] = cfg.max_dialogues(fraction)
    config = GLPFTConfig.from_dict(fields)
    if with_out:
        config.out = str(cfg.run_dir(method, seed, fraction))
    return config


def run_status(run_dir: str | os.PathLike) -> str | None:
    """The run's status word (``running``, ``done``, ``failed``, ``interrupted``) or None when absent."""
    return RunDir(run_dir).status()


def _default_train(config) -> Path:
    from umi_lab.training import train

    return train(config, progress=False)


def _default_evaluate(run_dir: Path, spec: EvalSpec, **kwargs) -> Any:
    from umi_lab.evaluation import evaluate_run

    return evaluate_run(run_dir, benchmark=spec.benchmark, mode=spec.mode, **kwargs)


def _zero_shot(cfg: AblationConfig, method: str, run_dir: Path) -> Path:
    """Write the run folder of an untrained row (``models.zero_shot_run``): the base model for every role,
    through its chat template when its tokenizer has one (or as the entry says)."""
    from umi_lab.backbone import resolve_model
    from umi_lab.models import zero_shot_run

    entry = get_zero_shot(method)
    config = train_config(cfg, method, cfg.seeds[0], with_out=False)
    template = entry.chat_template
    if template is None:
        folder = Path(resolve_model(cfg.model))
        tok_cfg = folder / "tokenizer_config.json"
        template = (folder / "chat_template.jinja").is_file() or (
            tok_cfg.is_file() and "chat_template" in tok_cfg.read_text(encoding="utf-8", errors="replace"))
    run = zero_shot_run(run_dir, cfg.model, chat_template=bool(template),
                        compact_docs=bool(config.prompt_style.compact_docs), family=config.family)
    if cfg.data:  # evaluate in the grid's world: evaluation finds the ToolWorld data through the run's data folder
        write_json(run / "config.json", {**read_json(run / "config.json"), "data": cfg.data})
    return run


def _failure(failures: list, say, *, run: str, method: str, seed: int, stage: str, benchmark: str | None,
             error: BaseException) -> None:
    failures.append({"run": run, "method": method, "seed": seed, "stage": stage, "benchmark": benchmark,
                     "error": f"{type(error).__name__}: {error}",
                     "traceback": "".join(traceback.format_exception(error))[-2000:]})
    say(f"  FAILED {stage} {run}{' ' + benchmark if benchmark else ''}: {type(error).__name__}: {error}")


def _train_cell(cfg, method, seed, fraction, run_dir, train_fn, counts, say) -> Path:
    """Train (or reuse, or set up an untrained row for) one cell; returns its run folder. Raises on failure."""
    if run_status(run_dir) == "done":
        counts["reused_runs"] += 1
        say("  training: reused (same configuration, status done)")
        return run_dir
    t0 = time.perf_counter()
    if is_zero_shot(method):
        run_dir = _zero_shot(cfg, method, run_dir)
        say(f"  untrained row: nothing to train, serving {cfg.model!r} as is")
        return run_dir
    else:
        got = train_fn(train_config(cfg, method, seed, fraction=fraction))
        run_dir = Path(got) if isinstance(got, str | os.PathLike) else run_dir  # train may redirect
    if run_status(run_dir) != "done":
        raise DataError(f"run status is {run_status(run_dir)!r} after training", file=str(run_dir))
    counts["trained"] += 1
    say(f"  training: done in {time.perf_counter() - t0:.1f} s")
    return run_dir


def run_ablation(cfg: AblationConfig, *, train_fn: Callable | None = None, evaluate_fn: Callable | None = None,
                 report: bool = False, say: Callable[[str], None] = print) -> AblationResult:
    """Train and evaluate every cell (method × seed × fraction), reuse finished work, write the tidy table.

    ``train_fn(config) -> run_dir`` and ``evaluate_fn(run_dir, spec, **eval_overrides)`` default to
    ``umi_lab.training.train`` and ``umi_lab.evaluation.evaluate_run``. A finished evaluation is reused when
    its recorded settings (limit, smoke, decoding) are the grid's, else evaluated again (said). Example:
    ``run_ablation(AblationConfig(data="runs/study/roles", seeds=(0, 1), smoke=True)).tidy``.
    """
    train_fn = train_fn or _default_train
    evaluate_fn = evaluate_fn or _default_evaluate
    out = Path(cfg.out)
    rows: list[dict] = []
    failures: list[dict] = []
    counts = dict.fromkeys(("trained", "reused_runs", "evaluated", "reused_evals", "failed_runs", "failed_evals"), 0)
    timings: dict[str, float] = {}
    cells = cfg.cells()
    run_dirs: list[Path] = []
    grid: list[tuple[str, int, float | None, Path]] = []
    eval_dirs: dict[tuple[str, str], Path] = {}
    for i, (method, seed, fraction) in enumerate(cells, 1):
        run_dir = cfg.run_dir(method, seed, fraction)
        run = run_dir.name
        say(f"[{i}/{len(cells)}] {run}" + (f" (fraction {fraction:g})" if fraction is not None else ""))
        t0 = time.perf_counter()
        try:
            run_dir = _train_cell(cfg, method, seed, fraction, run_dir, train_fn, counts, say)
        except Exception as e:  # recorded and reported; the grid goes on
            counts["failed_runs"] += 1
            _failure(failures, say, run=run, method=method, seed=seed, stage="train", benchmark=None, error=e)
            continue
        run = run_dir.name
        run_dirs.append(run_dir)
        grid.append((method, seed, fraction, run_dir))
        timings[f"train/{run}"] = round(time.perf_counter() - t0, 3)
        for spec in cfg.evals:
            eval_dir = RunDir(run_dir).eval_dir(spec.benchmark, spec.mode)
            t1 = time.perf_counter()
            stale = stale_reason(eval_dir, cfg) if (eval_dir / "metrics.json").is_file() else "absent"
            if stale is None:
                counts["reused_evals"] += 1
            else:
                if stale != "absent":
                    say(f"  {spec.name}: evaluated again (the finished one differs: {stale})")
                try:
                    got = evaluate_fn(run_dir, spec, **({"smoke": True} if cfg.smoke else {}), **cfg.eval_overrides)
                    if isinstance(got, dict) and got.get("eval_dir"):  # other settings live in their own folder
                        eval_dir = Path(got["eval_dir"])
                    if not (eval_dir / "metrics.json").is_file():
                        raise DataError("evaluation wrote no metrics.json", file=str(eval_dir / "metrics.json"))
                    counts["evaluated"] += 1
                except Exception as e:
                    counts["failed_evals"] += 1
                    _failure(failures, say, run=run, method=method, seed=seed, stage="evaluate",
                             benchmark=spec.name, error=e)
                    continue
            metrics = read_json(eval_dir / "metrics.json")
            eval_dirs[(str(run_dir), spec.name)] = eval_dir
            new = metric_rows(metrics, run=run, method=method, seed=seed, benchmark=spec.name,
                              config=eval_config(eval_dir), fraction=fraction)
            rows += new
            timings[f"eval/{run}/{spec.name}"] = round(time.perf_counter() - t1, 3)
            say(f"  {spec.name}: {'reused' if stale is None else 'done'}: "
                + ", ".join(f"{r['metric']}={r['value']:.3f}" for r in new[:6]))
    columns = list(TIDY_COLUMNS) + ["config"] + (["fraction"] if cfg.fractions else [])
    tidy = pd.DataFrame(rows, columns=list(TIDY_COLUMNS) + ["config", "fraction"]).loc[:, columns]
    paths = write_results(tidy, out, failures=failures,
                          meta={"config": _config_dict(cfg), "counts": counts, "timings": timings,
                                "runs": [d.name for d in run_dirs]})
    if report and not tidy.empty:
        paths.update(report_grid(cfg, tidy, out, grid, say=say, eval_dirs=eval_dirs))
    say(f"ablation: {counts['trained']} trained, {counts['reused_runs']} reused, {counts['evaluated']} evaluations, "
        f"{counts['reused_evals']} reused, {counts['failed_runs']} failed runs, {counts['failed_evals']} failed "
        f"evaluations; table {paths['csv']}")
    return AblationResult(tidy, failures, counts, paths, timings, grid, eval_dirs)


def report_grid(cfg: AblationConfig, tidy: pd.DataFrame, out: Path, grid: Sequence[tuple], *,
                say: Callable[[str], None] = print, metrics: Sequence[str] = PAPER_METRICS,
                eval_dirs: dict[tuple[str, str], Path] | None = None) -> dict[str, Any]:
    """The grid's report (``ablation_report.write_report``): statistics from the runs' item scores, floors,
    loss curves of the first seed's runs; ``grid`` holds ``(method, seed, fraction, run_dir)``. Untrained rows mix settings by design: the table is told so."""
    mixed = cfg.allow_mixed or any(is_zero_shot(m) for m in cfg.methods)
    if mixed and not cfg.allow_mixed:
        say("  table: the untrained row runs with other settings than the trained ones (allowed, listed in "
            "tables/table_configs.json)")
    top = max(cfg.fractions) if cfg.fractions else None
    loss = [d for m, s, f, d in grid if s == cfg.seeds[0] and f == top and not is_zero_shot(m)]
    return write_report(tidy, out, run_dirs=[d for *_, d in grid], metrics=metrics, allow_mixed=mixed, loss_runs=loss,
                        eval_dirs=eval_dirs)


def _config_dict(cfg: AblationConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["evals"] = [e.name for e in cfg.evals]
    d.pop("_dialogues", None)
    return d


def write_results(tidy: pd.DataFrame, out: str | os.PathLike, *, failures: Sequence[dict] = (),
                  meta: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``results.parquet``, ``failures.json`` and ``ablation.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tidy = tidy.loc[:, [c for c in (*TIDY_COLUMNS, *OPTIONAL_COLUMNS) if c in tidy.columns or c in TIDY_COLUMNS]]
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


def _cmd(args: argparse.Namespace) -> int:
    smoke = args.smoke or os.environ.get("UMI_LAB_SMOKE") == "1"
    overrides = {"schedule": args.schedule} if args.schedule else {}
    if not args.data:
        from umi_lab.toolworld.manifest import resolve_toolworld

        args.data = str(resolve_toolworld().path)
    cfg = AblationConfig(data=args.data, out=args.out, model=args.model, methods=tuple(args.methods),
                         seeds=tuple(args.seeds), evals=tuple(args.benchmarks), smoke=smoke, train_overrides=overrides,
                         eval_overrides={"limit": args.limit} if args.limit else {},
                         fractions=tuple(args.fractions or ()), allow_mixed=args.allow_mixed)
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
    p.add_argument("--out", default="runs/ablation", help="output folder (default: %(default)s)")
    p.add_argument("--model", default="tiny",
                   help="'tiny', 'smollm2-135m', a local folder or a hub id already on disk (default: %(default)s)")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=list(grid_method_names()),
                   metavar="METHOD", help="methods of the grid; 'zero_shot' adds the untrained model as a row "
                                          "(default: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2],
                   help="training seeds (default: %(default)s)")
    p.add_argument("--benchmarks", nargs="+", default=["toolworld-id:static", "toolworld-id:realtime"],
                   help="BENCHMARK[:static|realtime] as understood by 'evaluate' (default: %(default)s)")
    p.add_argument("--schedule", help="training schedule preset (paper, lora, tiny; default: the config's)")
    p.add_argument("--limit", type=positive_int,
                   help="evaluate at most this many items per benchmark: real time, tasks; static, the first "
                        "N static samples (planner decisions), as 'evaluate --limit' (default: all; 4 with --smoke)")
    p.add_argument("--fractions", nargs="+", type=float, metavar="F",
                   help="data scaling: train each cell on these shares of the training dialogues, e.g. "
                        "0.25 0.5 1.0 (plots/scaling_*; default: no sweep)")
    p.add_argument("--allow-mixed", action="store_true", help="let the table mix cells of different settings")
    p.add_argument("--smoke", action="store_true", help="tiny budgets (also UMI_LAB_SMOKE=1)")
    p.add_argument("--no-report", action="store_true", help="skip the table and plots")
    p.set_defaults(func=_cmd)
