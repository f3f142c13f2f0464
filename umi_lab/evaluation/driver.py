"""``evaluate_run``: one benchmark, one mode, one run folder → an evaluation folder under ``RUN_DIR/eval/``.

The folder is content-addressed (``umi_lab.eval_folders``): the evaluation's identity is its full resolved
settings (``evaluation_identity``); the same identity finds its folder again and a finished one is reused
(said, ``metrics["reused"]``), an unfinished one resumed; other settings get their own folder. Writes
``predictions.json`` (static) or ``trajectories.jsonl`` (real time), ``metrics.json`` and ``config.json``
(the run's config, the settings with their decoding profile, and the data it read: for ToolWorld the folder,
world seed, generator version and file fingerprints of its manifest), atomically, while holding the folder's
lock (a second writer of the same settings is refused, naming the holder). Resumable through
``checkpoint.Checkpoint``; ``metrics["resume"]`` says how many items were resumed and computed (``wall_s`` is
this invocation's time only). One progress bar (``tqdm.auto``); Ctrl-C keeps what is finished and says that
the same call resumes.

Example: ``evaluate_run("runs/alpha", "toolworld-id", "realtime", limit=20, decoding="official")["pass_rate"]``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.evaluation.benchmarks import BenchmarkContext, get_benchmark
from umi_lab.evaluation.checkpoint import (
    Checkpoint,
    fingerprint,
    make_identity,
    validate_prediction,
    validate_trajectory,
)
from umi_lab.evaluation.settings import EvalSettings
from umi_lab.io import write_json
from umi_lab.protocol.dialogue import RecordedTrajectory, save_trajectories
from umi_lab.rundir import NOT_IDENTITY, RunDir, canonical_hash


def resolve_settings(settings: EvalSettings | None, decoding: str | None, mode: str, smoke: bool) -> EvalSettings:
    """The settings to run: given ones (with ``decoding`` applied when it names another profile), else the
    profile's for ``mode``. Example: ``resolve_settings(None, "official", "static", False).generation``."""
    if settings is None:
        return EvalSettings.for_profile(decoding or "greedy", mode, smoke=smoke)
    if decoding and decoding != settings.decoding:
        return settings.with_profile(decoding, mode)
    return settings


@dataclass
class Plan:
    """What an evaluation will do: the benchmark, settings, context, items and their ids, its identity."""

    run: RunDir
    bench: Any
    mode: str
    settings: EvalSettings
    ctx: BenchmarkContext
    run_config: dict[str, Any]
    method: str
    items: list[Any]
    ids: list[str]
    base_ids: list[str]
    identity: dict[str, Any]

    @property
    def stem(self) -> str:
        return "predictions" if self.mode == "static" else "trajectories"


def plan_evaluation(run_dir, benchmark: str, mode: str | None = None, limit: int | None = None, smoke: bool = False,
                    settings: EvalSettings | None = None, *, models=None, decoding: str | None = None) -> Plan:
    """Resolve an evaluation without running it (no model is loaded): settings, items, identity. Refuses a
    run whose training did not finish. Example: ``plan_evaluation("runs/a", "gsm8k", "realtime").identity``."""
    run = RunDir(run_dir)
    bench, mode = get_benchmark(benchmark, mode)
    run_config = run.require_config()
    if not isinstance(run_config, dict):
        raise DataError("expected a JSON object", file=str(run.path / "config.json"))
    run.require_trained()
    settings = resolve_settings(settings, decoding, mode, smoke)
    if mode == "static" and (settings.search != "chain" or settings.trials > 1):
        raise ValueError("search and trials apply to real-time evaluation only")
    if settings.trials > 1 and settings.generation.temperature == 0:
        raise ValueError("several trials need sampling: use --decoding official (temperature 0.5)")
    if smoke:
        limit = min(limit or 4, 4)
    if models is not None:
        method, family = models.method, getattr(models, "family", "toolbench")
    else:
        info = run.info()
        method, family = info["method"], info["family"]
    ctx = BenchmarkContext(family, settings, run_config)
    if mode == "static":
        items: list[Any] = bench.static(ctx)[:limit]
        ids = [f"{i}:{s.get('id')}" for i, s in enumerate(items)]
        base_ids, fp_items = ids, items
    else:
        tasks = bench.tasks(ctx, limit)
        base_ids = [str(t.id) if t.id is not None else f"task-{i}" for i, t in enumerate(tasks)]
        items = tasks * settings.trials  # trial j of task i is item j * len(tasks) + i
        ids = [base_ids[i % len(tasks)] + (f"#{i // len(tasks)}" if settings.trials > 1 else "")
               for i in range(len(items))]
        fp_items = [t.to_dict() for t in tasks]
    data = {k: {f: v for f, v in rec.items() if f in ("world_seed", "generator_version", "files")}
            for k, rec in ctx.provenance.items()}
    run_key = canonical_hash(run.identity() or {k: v for k, v in run_config.items() if k not in NOT_IDENTITY}, 16)
    identity = make_identity(run_key, benchmark, mode, method, settings, fp_items, data)
    return Plan(run, bench, mode, settings, ctx, run_config, method, items, ids, base_ids, identity)


def evaluation_identity(run_dir, benchmark: str, mode: str | None = None, limit: int | None = None,
                        smoke: bool = False, settings: EvalSettings | None = None, *, models=None,
                        decoding: str | None = None) -> dict[str, Any]:
    """The identity an evaluation with these arguments has (the key of its folder), for readers:
    ``RunDir(run).eval_metrics(benchmark, mode, evaluation_identity(run, benchmark, mode, limit=20))``."""
    return plan_evaluation(run_dir, benchmark, mode, limit, smoke, settings, models=models,
                           decoding=decoding).identity


def evaluate_run(run_dir: str | os.PathLike, benchmark: str, mode: str | None = None, limit: int | None = None,
                 smoke: bool = False, settings: EvalSettings | None = None, *, models=None,
                 restart: bool = False, decoding: str | None = None, say: Callable[[str], None] = print,
                 progress: bool = True) -> dict[str, Any]:
    """Evaluate a run on a benchmark into its content-addressed folder; returns the metrics (plus
    ``eval_dir``, and ``reused: True`` when a finished evaluation with the same settings was found).

    ``decoding`` picks a profile (``greedy``, default; ``official``, see ``evaluation.settings``); ``models``
    replaces the run's models (a scripted stand-in in tests). Resumes an interrupted evaluation with the same
    settings (``restart=True`` discards its partial results). ``say`` prints the one-line notes (reuse, new
    folder, interruption); ``progress`` shows the progress bar. Example:
    ``evaluate_run("runs/alpha", "toolbench-ood", "static", limit=50)["plan_em"]``.
    """
    plan = plan_evaluation(run_dir, benchmark, mode, limit, smoke, settings, models=models, decoding=decoding)
    if smoke:
        limit = min(limit or 4, 4)
    run = plan.run
    out_dir = run.claim_eval_dir(benchmark, plan.mode, plan.identity, say=say)
    with run.eval_lock(out_dir):
        if (out_dir / "metrics.json").is_file():
            metrics = run.eval_metrics(benchmark, plan.mode, plan.identity) or {}
            say(f"evaluation: reusing {out_dir} (same settings, finished; remove the folder to recompute)")
            return {**metrics, "eval_dir": str(out_dir), "reused": True}
        metrics = _evaluate(plan, out_dir, limit, smoke, models, restart, say, progress)
    return {**metrics, "eval_dir": str(out_dir)}


def _evaluate(plan: Plan, out_dir: Path, limit, smoke: bool, models, restart: bool, say, progress: bool
              ) -> dict[str, Any]:
    from tqdm.auto import tqdm

    from umi_lab.evaluation.realtime import agent_for, run_chunk
    from umi_lab.evaluation.static import predict_chunk, score_static
    from umi_lab.serving import RoleModels

    bench, mode, settings, items, ids, ctx = plan.bench, plan.mode, plan.settings, plan.items, plan.ids, plan.ctx
    benchmark = plan.identity["benchmark"]
    validate = validate_prediction if mode == "static" else validate_trajectory
    checkpoint = Checkpoint(out_dir, plan.stem, fingerprint(plan.identity, ids), validate)
    if restart:
        checkpoint.discard()
    done = {i: row["item"] for i, row in checkpoint.open().items()}
    resumed = len(done)
    todo = [i for i in range(len(items)) if i not in done]
    start = time.perf_counter()
    bar = tqdm(total=len(items), initial=resumed, unit="item" if mode == "static" else "task",
               desc=f"{benchmark} {mode}", disable=not progress or not items, dynamic_ncols=True)
    try:
        models = models or RoleModels.from_run(plan.run.path)
        if mode == "realtime":
            agents = [agent_for(models, settings, j) for j in range(settings.trials)]
            env = bench.environment(ctx)
        size = settings.chunk_size
        n_tasks = max(len(items) // settings.trials, 1)
        chunks = [g[c:c + size] for g in ([i for i in todo if i // n_tasks == j] for j in range(settings.trials))
                  for c in range(0, len(g), size)]  # a chunk holds one trial's tasks
        for chunk in chunks:
            if mode == "static":
                results = predict_chunk(models, [items[i] for i in chunk], settings.generation,
                                        speaker=settings.second_stage_speaker, compat=settings.compat)
            else:
                trial = chunk[0] // n_tasks
                trajs = run_chunk(agents[trial], [items[i] for i in chunk],
                                  [plan.base_ids[i % n_tasks] for i in chunk], env)
                for t in trajs:
                    if settings.trials > 1:
                        t.meta["trial"] = trial
                results = [t.to_dict() for t in trajs]
            checkpoint.append([(i, ids[i], r) for i, r in zip(chunk, results)])
            done.update(zip(chunk, results))
            bar.update(len(chunk))
    except KeyboardInterrupt:
        bar.close()
        say(f"evaluation interrupted: {len(done)} of {len(items)} items saved in {out_dir}; "
            "run the same command again to resume")
        raise
    bar.close()
    finished = [done[i] for i in range(len(items))]
    if mode == "static":
        metrics = score_static(finished, str(out_dir / "predictions.json"), bench.score_static)
        write_json(out_dir / "predictions.json", finished, indent=None)
    else:
        from umi_lab.evaluation.realtime import score_realtime, search_metrics

        trajs = [RecordedTrajectory.from_dict(d, file=str(checkpoint.path), record=i) for i, d in enumerate(finished)]
        metrics = score_realtime(benchmark, trajs, items, ctx=ctx)
        metrics.update(search_metrics(trajs, settings))
        save_trajectories(out_dir / "trajectories.jsonl", trajs)
    metrics.update(benchmark=benchmark, mode=mode, method=models.method, n_items=metrics.get("n") or
                   metrics.get("counts", {}).get("samples", 0), wall_s=round(time.perf_counter() - start, 3),
                   smoke=smoke, limit=limit, decoding=settings.decoding)
    metrics["resume"] = {"resumed": resumed, "computed": len(todo), "corrupt_lines": checkpoint.corrupt_lines,
                         "chunk_size": size}
    write_json(out_dir / "config.json", {"run": plan.run_config, "benchmark": benchmark, "mode": mode,
                                         "limit": limit, "smoke": smoke, "decoding": settings.decoding,
                                         "search": settings.search, "trials": settings.trials,
                                         "settings": asdict(settings), "data": ctx.provenance})
    write_json(out_dir / "metrics.json", metrics)
    checkpoint.discard()
    return metrics
