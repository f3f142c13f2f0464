"""``evaluate_run``: one benchmark, one mode, one run folder → ``RUN_DIR/eval/<benchmark>-<mode>/``.

Writes ``predictions.json`` (static) or ``trajectories.jsonl`` (real time), ``metrics.json`` and
``config.json`` (the run's config, the evaluation settings with their decoding profile, and the data it read:
for ToolWorld the folder, world seed, generator version and file fingerprints of its manifest), atomically.
Resumable through ``checkpoint.Checkpoint``; ``metrics["resume"]`` says how many items were resumed and
computed (``wall_s`` is this invocation's time only).

Example: ``evaluate_run("runs/alpha", "toolworld-id", "realtime", limit=20, decoding="official")["pass_rate"]``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import Any

from umi_lab.errors import DataError
from umi_lab.evaluation.benchmarks import BenchmarkContext, get_benchmark
from umi_lab.evaluation.checkpoint import Checkpoint, fingerprint, validate_prediction, validate_trajectory
from umi_lab.evaluation.settings import EvalSettings
from umi_lab.io import write_json
from umi_lab.protocol.dialogue import RecordedTrajectory, save_trajectories
from umi_lab.rundir import RunDir


def _run_config(run: RunDir, models) -> dict[str, Any]:
    cfg = run.require_config()
    if not isinstance(cfg, dict):
        raise DataError("expected a JSON object", file=str(run.path / "config.json"))
    if models is None:  # a stand-in model may evaluate an unfinished run
        run.require_trained()
    return cfg


def resolve_settings(settings: EvalSettings | None, decoding: str | None, mode: str, smoke: bool) -> EvalSettings:
    """The settings to run: given ones (with ``decoding`` applied when it names another profile), else the
    profile's for ``mode``. Example: ``resolve_settings(None, "official", "static", False).generation``."""
    if settings is None:
        return EvalSettings.for_profile(decoding or "greedy", mode, smoke=smoke)
    if decoding and decoding != settings.decoding:
        return settings.with_profile(decoding, mode)
    return settings


def evaluate_run(run_dir: str | os.PathLike, benchmark: str, mode: str | None = None, limit: int | None = None,
                 smoke: bool = False, settings: EvalSettings | None = None, *, models=None,
                 restart: bool = False, decoding: str | None = None) -> dict[str, Any]:
    """Evaluate a run on a benchmark and write ``RUN_DIR/eval/<benchmark>-<mode>/``; returns the metrics.

    ``decoding`` picks a profile (``greedy``, default; ``official``, see ``evaluation.settings``); ``models``
    replaces the run's models (a scripted stand-in in tests). Resumes an interrupted evaluation with the same
    settings (``restart=True`` discards it). Example:
    ``evaluate_run("runs/alpha", "toolbench-ood", "static", limit=50)["plan_em"]``.
    """
    from umi_lab.evaluation.realtime import agent_for, run_chunk
    from umi_lab.evaluation.static import predict_chunk, score_static
    from umi_lab.serving import RoleModels

    run = RunDir(run_dir)
    bench, mode = get_benchmark(benchmark, mode)
    run_config = _run_config(run, models)
    settings = resolve_settings(settings, decoding, mode, smoke)
    if mode == "static" and (settings.search != "chain" or settings.trials > 1):
        raise ValueError("search and trials apply to real-time evaluation only")
    if settings.trials > 1 and settings.generation.temperature == 0:
        raise ValueError("several trials need sampling: use --decoding official (temperature 0.5)")
    if smoke:
        limit = min(limit or 4, 4)
    models = models or RoleModels.from_run(run.path)
    ctx = BenchmarkContext(getattr(models, "family", "toolbench"), settings, run_config)
    out_dir = run.eval_dir(benchmark, mode)
    out_dir = out_dir.with_name(out_dir.name + settings.suffix)  # -dfsdt / -kK: results keyed by search, trials
    start = time.perf_counter()
    if mode == "static":
        items: list[Any] = bench.static(ctx)[:limit]
        ids = [f"{i}:{s.get('id')}" for i, s in enumerate(items)]
        stem, validate, fp_items = "predictions", validate_prediction, items
    else:
        tasks = bench.tasks(ctx, limit)
        base_ids = [str(t.id) if t.id is not None else f"task-{i}" for i, t in enumerate(tasks)]
        items = tasks * settings.trials  # trial j of task i is item j * len(tasks) + i
        ids = [base_ids[i % len(tasks)] + (f"#{i // len(tasks)}" if settings.trials > 1 else "")
               for i in range(len(items))]
        stem, validate, fp_items = "trajectories", validate_trajectory, [t.to_dict() for t in tasks]
        agents = [agent_for(models, settings, j) for j in range(settings.trials)]
        env = bench.environment(ctx)
    data = {k: {f: v for f, v in rec.items() if f in ("world_seed", "generator_version", "files")}
            for k, rec in ctx.provenance.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = Checkpoint(out_dir, stem, fingerprint(run_config, benchmark, mode, limit, smoke, models.method,
                                                       settings, ids, fp_items, data), validate)
    if restart:
        checkpoint.discard()
    done = {i: row["item"] for i, row in checkpoint.open().items()}
    resumed = len(done)
    todo = [i for i in range(len(items)) if i not in done]
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
            trajs = run_chunk(agents[trial], [items[i] for i in chunk], [base_ids[i % n_tasks] for i in chunk], env)
            for t in trajs:
                if settings.trials > 1:
                    t.meta["trial"] = trial
            results = [t.to_dict() for t in trajs]
        checkpoint.append([(i, ids[i], r) for i, r in zip(chunk, results)])
        done.update(zip(chunk, results))
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
    write_json(out_dir / "config.json", {"run": run_config, "benchmark": benchmark, "mode": mode, "limit": limit,
                                         "smoke": smoke, "decoding": settings.decoding,
                                         "search": settings.search, "trials": settings.trials,
                                         "settings": asdict(settings), "data": ctx.provenance})
    write_json(out_dir / "metrics.json", metrics)
    checkpoint.discard()
    return metrics
