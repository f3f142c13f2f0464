"""``python -m umi_lab study``: the whole α-UMi study on the embedded default, one command.

Stages, each timed into ``OUT/timings.json`` and announced as it runs:

1. ``data``      ToolWorld data (``--toolworld DIR``, else ``$UMI_LAB_TOOLWORLD``, else the default data set
                 generated once into the cache; see ``toolworld.manifest``) split into role datasets.
2. ``backbone``  the embedded tiny model (built once and cached).
3. ``ablation``  GLPFT (α-UMi, also with ``init=merge``) and the baselines over seeds, each evaluated
                 statically and in real time on the ToolWorld tests (and GSM8K when the shared data is
                 present and the evaluator knows it); finished runs are reused.
4. ``report``    the paper-style table (LaTeX + Markdown), metric bars, loss curves, decision breakdown.
5. ``replay``    a standalone HTML replay: α-UMi beside Single-LLM with the gold trajectories.

``--smoke`` (or ``UMI_LAB_SMOKE=1``) shrinks everything: the test-sized backbone, a few training steps
per role, one seed, two methods, a handful of test tasks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import data_root, read_json, read_records, write_json
from umi_lab.methods import REFERENCE, default_method, grid_method_names, method_names
from umi_lab.tables import PAPER_METRICS

STAGES = ("data", "backbone", "plan", "ablation", "report", "replay")


@dataclass
class StudyConfig:
    """What the study runs. ``StudyConfig.preset(smoke=True)`` gives the ≤10-minute CPU version.

    The full default is sized for a 2-core CPU: every method and three seeds, but 72 training dialogues,
    drawn once for all methods (``extra_train``; on ToolWorld ≈ 200 planner samples, the former per-role
    cap), and 40 test tasks per benchmark; the model's ``MODEL_TRAIN_DEFAULTS`` (for ``tiny``: full
    fine-tuning with ``configs/tiny_study.yaml``'s schedule, 1,280 tokens, compact docs). Smoke keeps
    LoRA. On a GPU with a real checkpoint, pass ``model=...``, ``extra_train={}`` and ``eval_limit=None`` for the whole data. GSM8K (``gsm8k``)
    is off by default: the embedded model never sees GSM8K training data (notebook 05 evaluates it).
    """

    out: str = "runs/study"
    smoke: bool = False
    model: str = "tiny"
    toolworld: str = ""
    methods: tuple[str, ...] = field(default_factory=method_names)
    seeds: tuple[int, ...] = (0, 1, 2)
    benchmarks: tuple[str, ...] = ("toolworld-id:static", "toolworld-id:realtime", "toolworld-ood:static",
                                   "toolworld-ood:realtime")
    gsm8k: bool = False
    eval_limit: int | None = 40
    schedule: str = "tiny"
    extra_train: dict[str, Any] = field(default_factory=lambda: _model_train("tiny"))
    fractions: tuple[float, ...] = ()  # data scaling: shares of the training dialogues (empty: no sweep)
    probe: bool = True  # measure the model's speed for the plan's estimate
    record: str = ""  # also write the study's record (machine, wall time, metrics, floors) here (study_record)

    @classmethod
    def preset(cls, *, smoke: bool, out: str = "runs/study") -> StudyConfig:
        """The default full study, or its smoke version."""
        if not smoke:
            return cls(out=out)
        return cls(out=out, smoke=True, model="tiny-test", methods=(default_method("backbone"), REFERENCE), seeds=(0,),
                   benchmarks=("toolworld-id:static", "toolworld-id:realtime"), gsm8k=False, eval_limit=4,
                   extra_train={"max_dialogues": 72, "max_length": 1280, "prompt_style": {"compact_docs": True}})


def _model_train(model: str, max_dialogues: int | None = 72) -> dict[str, Any]:
    """The study's training fields for ``model``: its ``MODEL_TRAIN_DEFAULTS`` (a fresh copy) and the data cap.

    >>> _model_train("tiny")["lora"]
    {'enabled': False}
    """
    import copy

    from umi_lab.backbone import MODEL_TRAIN_DEFAULTS

    return {"max_dialogues": max_dialogues, "prompt_style": {}, **copy.deepcopy(MODEL_TRAIN_DEFAULTS.get(model, {}))}


@dataclass
class StudyResult:
    """Where everything went: ``outputs`` maps a name to a path, ``timings`` a stage to seconds."""

    out: Path
    outputs: dict[str, Any]
    timings: dict[str, float]
    failures: list[dict[str, Any]]


class _Stages:
    """Runs named stages in order, printing progress and recording wall-clock seconds."""

    def __init__(self, out: Path, say: Callable[[str], None]):
        self.out, self.say, self.timings = out, say, {}
        self.t_start = time.perf_counter()

    def run(self, i: int, name: str, fn: Callable[[], Any]) -> Any:
        self.say(f"\n=== [{i}/{len(STAGES)}] {name} ===")
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)
            self.timings.pop("total", None)
            self.timings["total"] = round(time.perf_counter() - self.t_start, 3)
            write_json(self.out / "timings.json", self.timings)
            self.say(f"--- {name}: {self.timings[name]:.1f} s")


def prepare_data(cfg: StudyConfig, out: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """ToolWorld data (``cfg.toolworld``, else ``$UMI_LAB_TOOLWORLD``, else the default data set), verified
    against its manifest, and its role splits in ``OUT/data/roles``; returns paths, world seed and sizes.
    Example: ``prepare_data(StudyConfig(), Path("runs/s"))``.
    """
    from umi_lab.toolworld.manifest import resolve_toolworld

    try:
        world_data = resolve_toolworld(cfg.toolworld or None)
        world, seed = world_data.path.resolve(), world_data.world_seed
        say(f"  ToolWorld data: {world} (world seed {seed}, {world_data.source})")
    except DataError as e:  # conversations that are not a generated ToolWorld folder: train on them anyway
        world, seed = Path(cfg.toolworld).resolve(), None
        if not cfg.toolworld or not (world / "train.json").is_file():
            raise
        say(f"  {world}: no valid ToolWorld manifest ({e}); evaluation will not take its world from here")
    sizes = {}
    for p in sorted(world.glob("*.json")):
        records = read_json(p)
        if isinstance(records, list):  # dialogue files; skip manifests and reports
            sizes[p.name] = len(records)
    roles = out / "data" / "roles"
    if not any(roles.glob("train_*.json")):
        from umi_lab.protocol.dialogue import load_dialogues
        from umi_lab.splitting import ROLE_SETS, split_roles

        split = split_roles(load_dialogues(world / "train.json"), family="toolbench")
        for role in ROLE_SETS:
            write_json(roles / f"train_{role}.json", split[role])
        write_json(roles / "split_report.json", {"input": str(world / "train.json"), **split.report.summary()})
    role_sizes = {p.stem.removeprefix("train_"): len(read_records(p)) for p in sorted(roles.glob("train_*.json"))}
    for name, n in {**sizes, **{f"roles/{k}": v for k, v in role_sizes.items()}}.items():
        say(f"  {name:28s} {n:6d} records")
    info = {"toolworld": str(world), "world_seed": seed, "roles": str(roles), "sizes": sizes,
            "role_sizes": role_sizes}
    write_json(out / "data" / "summary.json", info)
    return info


def _gold_file(world: Path, benchmark: str) -> Path | None:
    """The gold dialogues of a ToolWorld benchmark: ``toolworld-id`` → ``test_in_domain.json`` etc."""
    names = {"toolworld-id": "test_in_domain.json", "toolworld-ood": "test_out_of_domain.json"}
    path = world / names.get(benchmark, f"{benchmark}.json")
    return path if path.is_file() else None


def _benchmarks(cfg: StudyConfig, say) -> tuple[str, ...]:
    benchmarks = list(cfg.benchmarks)
    if cfg.gsm8k:
        root = data_root()
        from umi_lab.evaluation import BENCHMARKS

        known = tuple(BENCHMARKS)
        if root is not None and (root / "gsm8k" / "test.jsonl").is_file() and "gsm8k" in known:
            benchmarks.append("gsm8k:realtime")
        else:
            say("  GSM8K: skipped (shared data or evaluator support absent)")
    return tuple(benchmarks)


def run_study(cfg: StudyConfig, *, say: Callable[[str], None] = print, train_fn: Callable | None = None,
              evaluate_fn: Callable | None = None, resolve_fn: Callable | None = None) -> StudyResult:
    """Run every stage; returns the outputs and timings (also in ``OUT/timings.json``).

    ``train_fn``/``evaluate_fn``/``resolve_fn`` replace training, evaluation and the backbone build (tests);
    by default they are ``training.train``, ``evaluate.evaluate_run`` and ``backbone.resolve_model``.

    Example: ``run_study(StudyConfig.preset(smoke=True, out="runs/smoke")).outputs["table_markdown"]``.
    """
    from umi_lab.ablation import AblationConfig, report_grid, run_ablation
    from umi_lab.backbone import resolve_model

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "study_config.json", asdict(cfg))
    stages = _Stages(out, say)
    outputs: dict[str, Any] = {}

    say(f"plan: {len(cfg.methods)} methods x {len(cfg.seeds)} seeds on model {cfg.model!r}; the duration "
        "estimate follows the backbone stage (it is measured on this machine); finished work is reused")
    data = stages.run(1, "data", lambda: prepare_data(cfg, out, say))
    outputs["data_summary"] = out / "data" / "summary.json"

    def backbone():
        if cfg.model in ("tiny", "tiny-test"):
            say(f"  building (or reusing the cached) embedded backbone {cfg.model!r}")
        return (resolve_fn or resolve_model)(cfg.model)

    model_path = stages.run(2, "backbone", backbone)
    say(f"  backbone: {model_path}")

    abl_cfg = AblationConfig(
        data=data["roles"] if any(Path(data["roles"]).glob("train_*.json")) else data["toolworld"],
        out=str(out / "ablation"), model=cfg.model, methods=cfg.methods, seeds=cfg.seeds,
        evals=_benchmarks(cfg, say), smoke=cfg.smoke, train_overrides={"schedule": cfg.schedule, **cfg.extra_train},
        eval_overrides={"limit": cfg.eval_limit} if cfg.eval_limit else {}, fractions=cfg.fractions)
    plan = stages.run(3, "plan", lambda: study_plan(cfg, abl_cfg, data, say))
    result = stages.run(4, "ablation", lambda: run_ablation(abl_cfg, say=say, train_fn=train_fn, evaluate_fn=evaluate_fn))
    outputs.update({"results_csv": result.paths["csv"], "results_parquet": result.paths["parquet"],
                    "failures": result.paths["failures"]})

    def report():
        if result.tidy.empty:
            say("  no results to report (every run or evaluation failed; see failures.json)")
            return {}
        paths = report_grid(abl_cfg, result.tidy, out, result.grid, say=say, metrics=PAPER_METRICS,
                            eval_dirs=result.eval_dirs)
        paths.update(_decision_plot(abl_cfg, result.grid, out, result))
        say((out / "tables" / "table.md").read_text())
        return paths

    outputs.update(stages.run(5, "report", report))

    def replay():
        from umi_lab.replay import export_replay_html

        realtime = [e for e in abl_cfg.evals if e.mode == "realtime"]
        if not realtime:
            return {}
        spec = realtime[0]
        runs = _top_runs(abl_cfg, result.grid)
        files = [_eval_folder(result, runs[m][0], spec.name) / "trajectories.jsonl"
                 for m in (REFERENCE, default_method("backbone"), *cfg.methods) if m in runs]
        files = [f for f in dict.fromkeys(files) if f.is_file()][:2]
        if not files:
            say("  no recorded trajectories to replay")
            return {}
        gold = _gold_file(Path(data["toolworld"]), spec.benchmark)
        return {"replay_html": export_replay_html(files, out / "replay.html", gold=gold,
                                                  title=f"umi-lab study: {spec.name}")}

    outputs.update(stages.run(6, "replay", replay))
    outputs["timings"] = out / "timings.json"
    if "estimate_s" in plan:
        stages.timings["estimated_s"] = plan["estimate_s"]["total"]
        write_json(out / "timings.json", stages.timings)
        say(f"  estimated ~{plan['estimate_s']['total']} s for training + evaluation, measured "
            f"{stages.timings['ablation']:.0f} s (ablation stage)")
    if cfg.record:
        from umi_lab.study_record import build_record, write_record

        outputs["record"], outputs["record_markdown"] = write_record(
            cfg.record, build_record(cfg, out, result, dict(stages.timings)))
    say("\n=== outputs ===")
    for key, path in outputs.items():
        say(f"  {key:28s} {path}")
    if result.failures:
        say(f"  {len(result.failures)} failed runs/evaluations: see {result.paths['failures']}")
    return StudyResult(out, outputs, stages.timings, result.failures)


def _eval_folder(result, run_dir: Path, name: str) -> Path:
    """The evaluation folder the ablation used for a run and benchmark (its settings' folder), else
    the readable ``eval/<name>``."""
    return getattr(result, "eval_dirs", {}).get((str(run_dir), name)) or Path(run_dir) / "eval" / name


def _top_runs(abl_cfg, grid) -> dict[str, list[Path]]:
    """Method → its run folders at the largest training fraction (every seed), in grid order."""
    top = max(abl_cfg.fractions) if abl_cfg.fractions else None
    runs: dict[str, list[Path]] = {}
    for method, _seed, fraction, run_dir in grid:
        if fraction == top or fraction is None:
            runs.setdefault(method, []).append(Path(run_dir))
    return runs


def _decision_plot(abl_cfg, grid, out: Path, result=None) -> dict[str, Path]:
    from umi_lab.plots import decision_counts, plot_decision_breakdown
    from umi_lab.protocol.dialogue import load_trajectories

    by_method = {}
    for spec in abl_cfg.evals:
        if spec.mode != "realtime":
            continue
        for method, run_dirs in _top_runs(abl_cfg, grid).items():
            trajs = []
            for run_dir in run_dirs:
                path = _eval_folder(result, run_dir, spec.name) / "trajectories.jsonl"
                if path.is_file():
                    trajs += load_trajectories(path)
            if trajs:
                by_method[method] = trajs
        if by_method:
            counts = decision_counts(by_method)
            counts.to_csv(out / "tables" / f"decisions_{spec.name}.csv", index=False)
            return {"decisions": plot_decision_breakdown(counts, out / "plots" / f"decisions_{spec.name}")[0]}
    return {}


def study_plan(cfg: StudyConfig, abl_cfg, data: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Print and write (``OUT/plan.json``) what the study will run and how long it should take, from the
    model's speed measured here by a few-second probe (``study_plan.measure_speed``; ``probe=False`` skips it
    and the estimate). Nothing is refused. Example: ``study_plan(cfg, abl_cfg, data, print)["estimate_s"]``."""
    from umi_lab.study_plan import mean_sample_tokens, measure_speed, pending_work, plan_grid, plan_text

    speed, mean_tokens = None, 512.0
    if cfg.probe and any(pending_work(abl_cfg)):
        try:
            speed = measure_speed(cfg.model)
            mean_tokens = mean_sample_tokens(data["roles"], cfg.model)
        except Exception as e:  # an estimate is a courtesy: the study runs without one
            say(f"  speed probe failed ({type(e).__name__}: {e}); no estimate")
    plan = plan_grid(abl_cfg, data.get("role_sizes", {}), data.get("sizes", {}).get("train.json"), mean_tokens, speed)
    write_json(Path(cfg.out) / "plan.json", plan)
    say(plan_text(plan))
    return plan


def _cmd(args: argparse.Namespace) -> int:
    smoke = args.smoke or os.environ.get("UMI_LAB_SMOKE") == "1"
    cfg = StudyConfig.preset(smoke=smoke, out=args.out or ("runs/study-smoke" if smoke else "runs/study"))
    if args.seeds:
        cfg.seeds = tuple(args.seeds)
    if args.methods:
        cfg.methods = tuple(args.methods)
    if args.limit:
        cfg.eval_limit = args.limit
    if args.model:
        cfg.model = args.model
        cfg.extra_train = _model_train(args.model, cfg.extra_train.get("max_dialogues"))
    if args.max_dialogues is not None:
        cfg.extra_train = {**cfg.extra_train, "max_dialogues": args.max_dialogues or None}
    if args.gsm8k:
        cfg.gsm8k = True
    if args.toolworld:
        cfg.toolworld = args.toolworld
    if args.fractions:
        cfg.fractions = tuple(args.fractions)
    if args.no_probe:
        cfg.probe = False
    if args.record:
        cfg.record = args.record
    print(f"study ({'smoke' if smoke else 'full'}) into {cfg.out}; settings in {cfg.out}/study_config.json",
          file=sys.stderr)
    result = run_study(cfg)
    return 1 if result.failures else 0


def add_cli(subparsers) -> None:
    """Register ``study``."""
    from umi_lab.cli_types import non_negative_int, positive_int

    p = subparsers.add_parser("study", help="the whole study on the embedded default (data, training, "
                                            "evaluation, table, plots, replay)")
    full, smoke = StudyConfig(), StudyConfig.preset(smoke=True)
    p.add_argument("--smoke", action="store_true", help="small and fast, ≤ 3 min on 2 cores (also UMI_LAB_SMOKE=1)")
    p.add_argument("--out", help="output folder (default: runs/study; runs/study-smoke with --smoke); a second "
                                 "study into the same folder reuses the runs and evaluations that match")
    p.add_argument("--seeds", nargs="+", type=non_negative_int, metavar="SEED",
                   help=f"training seeds (default: {' '.join(map(str, full.seeds))}; "
                        f"--smoke: {' '.join(map(str, smoke.seeds))})")
    p.add_argument("--methods", nargs="+", choices=list(grid_method_names()), metavar="METHOD",
                   help=f"methods: {', '.join(grid_method_names())}; 'zero_shot' adds the untrained model as a "
                        f"row (default: {' '.join(full.methods)}; --smoke: {' '.join(smoke.methods)})")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help=f"test tasks per benchmark: real time runs N tasks; static scores the first N static "
                        f"samples (planner decisions), as 'evaluate --limit' (default: {full.eval_limit}; "
                        f"--smoke: {smoke.eval_limit})")
    p.add_argument("--model", help=f"backbone: 'tiny', 'tiny-test', 'smollm2-135m' (chat template), a hub id or a "
                                   f"local folder (default: {full.model}; --smoke: {smoke.model})")
    p.add_argument("--max-dialogues", "--max-samples", dest="max_dialogues", type=non_negative_int, metavar="N",
                   help=f"training dialogues drawn (seeded, the same for every method; 0 = all; default: "
                        f"{full.extra_train['max_dialogues']}; --smoke: 4)")
    p.add_argument("--fractions", nargs="+", type=float, metavar="F",
                   help="data scaling: train every method on these shares of the drawn dialogues, e.g. 0.25 0.5 1 "
                        "(the table shows the largest; plots/scaling_* the curves; default: no sweep)")
    p.add_argument("--gsm8k", action="store_true", help="also evaluate GSM8K with the calculator (shared data; "
                                                        "default: off)")
    p.add_argument("--toolworld", help="ToolWorld data folder with its manifest.json (default: $UMI_LAB_TOOLWORLD, "
                                       "else the default data set, generated once into the cache)")
    p.add_argument("--no-probe", action="store_true",
                   help="skip the few-second speed probe (and so the plan's duration estimate)")
    p.add_argument("--record", metavar="FILE.json",
                   help="also write the study's record here, and a .md beside it: machine, wall time per stage, "
                        "per-method metrics with CIs, trivial floors, truncated prompts, the targets' checks "
                        "(e.g. benchmarks/results/study_cpu.json)")
    p.set_defaults(func=_cmd)
