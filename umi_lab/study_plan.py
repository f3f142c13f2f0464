"""The study's plan and its estimated duration, from speeds measured on this machine.

``measure_speed(model)`` times a few training steps (forward + backward of a LoRA-sized batch) and one
batched generation of the model, in a few seconds; ``estimate(plan, speed)`` turns the plan's work (training
tokens per cell from the role datasets and the schedule, generated tokens per evaluation) into seconds. The
estimate is rough — it assumes ~40 generated tokens per model call and ~5 model calls per real-time task —
and says so; the study records the estimate beside the measured wall time in ``timings.json``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

GEN_TOKENS_PER_CALL = 40  # rough mean of generated tokens per model call (thought or call or answer)
CALLS_PER_TASK = 5  # rough mean of model calls per real-time task (planner + caller/summarizer turns)
# fixed costs that the token speeds miss (loading the model, building the trainer, writing checkpoints), measured
# on a 2-core CPU for the smoke study (tiny-test): ~4 s per training job, ~3 s per evaluation
JOB_OVERHEAD_S = 4.0
EVAL_OVERHEAD_S = 3.0


@dataclass
class Speed:
    """Measured speeds of a model on this machine: training tokens/s and generated tokens/s (batched)."""

    model: str
    train_tokens_per_s: float
    gen_tokens_per_s: float
    probe_s: float
    source: str = "probe"


def measure_speed(model: str, *, seq_len: int = 256, batch: int = 2, steps: int = 2, new_tokens: int = 8) -> Speed:
    """Time ``steps`` forward/backward passes of ``batch`` × ``seq_len`` tokens and one generation of
    ``new_tokens`` for a batch of 2 (a few seconds). Example: ``measure_speed("tiny-test").gen_tokens_per_s``."""
    import torch
    from transformers.utils import logging as hf_logging

    from umi_lab.backbone import load_backbone

    t_start = time.perf_counter()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        net, tok = load_backbone(model)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    vocab = int(getattr(net.config, "vocab_size", 1000))
    ids = torch.randint(5, max(vocab - 1, 6), (batch, seq_len), generator=torch.Generator().manual_seed(0))
    net.train()
    net(input_ids=ids, labels=ids).loss.backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        net.zero_grad(set_to_none=True)
        net(input_ids=ids, labels=ids).loss.backward()
    train_tps = steps * batch * seq_len / max(time.perf_counter() - t0, 1e-6)
    net.eval()
    prompt = ids[:2, : seq_len // 2]
    t0 = time.perf_counter()
    with torch.no_grad():
        out = net.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    gen_tps = (out.shape[1] - prompt.shape[1]) * prompt.shape[0] / max(time.perf_counter() - t0, 1e-6)
    return Speed(str(model), round(train_tps, 1), round(gen_tps, 1), round(time.perf_counter() - t_start, 2))


def cell_train_tokens(config, role_sizes: dict[str, int], dialogues: int | None, mean_tokens: float) -> float:
    """Training tokens of one grid cell: for each job of its method, the steps of the schedule (``max_steps``
    or epochs × samples / batch) × batch × mean tokens per sample; the role datasets shrink with the
    dialogues drawn. Example: ``cell_train_tokens(train_config(cfg, "alpha_umi", 0), sizes, 72, 600.0)``."""
    from umi_lab.methods import get_method

    schedule = config.resolved_schedule()
    drawn = config.effective()["max_dialogues"]
    share = 1.0 if not drawn or not dialogues else min(1.0, drawn / dialogues)
    tokens = 0.0
    for job in get_method(config.method).plan:
        stage = getattr(schedule, job.role)
        per_step = stage.per_device_train_batch_size * stage.gradient_accumulation_steps
        samples = role_sizes.get(job.dataset, 0) * share
        steps = stage.max_steps if stage.max_steps > 0 else math.ceil(stage.num_train_epochs * samples / per_step)
        tokens += steps * per_step * min(mean_tokens, config.effective()["max_length"])
    return tokens


def eval_calls(spec, limit: int | None, static_items: int | None = None) -> int:
    """Model calls of one evaluation: one per static sample, ``CALLS_PER_TASK`` per real-time task."""
    n = limit if limit else (static_items or 200)
    return n if spec.mode == "static" else n * CALLS_PER_TASK


def pending_work(abl_cfg) -> tuple[list[tuple], list[tuple]]:
    """The cells still to train and the ``(cell, spec)`` evaluations still to run (finished, matching work
    is reused by the grid, so it costs nothing). Example: ``trains, evals = pending_work(abl_cfg)``."""
    from umi_lab.ablation import run_status, stale_reason
    from umi_lab.rundir import RunDir

    trains, evals = [], []
    for cell in abl_cfg.cells():
        run_dir = abl_cfg.run_dir(*cell)
        if run_status(run_dir) != "done":
            trains.append(cell)
        for spec in abl_cfg.evals:
            eval_dir = RunDir(run_dir).eval_dir(spec.benchmark, spec.mode)
            if not (eval_dir / "metrics.json").is_file() or stale_reason(eval_dir, abl_cfg) is not None:
                evals.append((cell, spec))
    return trains, evals


def plan_grid(abl_cfg, role_sizes: dict[str, int], dialogues: int | None, mean_tokens: float,
              speed: Speed | None) -> dict[str, Any]:
    """The plan of an ablation grid: cells, what is still to do (reused work costs nothing), its training
    tokens and model calls and (with ``speed``) the estimated seconds of training and evaluation.
    Example: ``plan_grid(abl_cfg, sizes, 72, 600.0, speed)["estimate_s"]["total"]``."""
    from umi_lab.ablation import train_config
    from umi_lab.methods import get_method, is_zero_shot

    cells = abl_cfg.cells()
    trains, evals = pending_work(abl_cfg)
    limit = abl_cfg.eval_overrides.get("limit")
    if abl_cfg.smoke:
        limit = min(limit or 4, 4)
    jobs = sum(len(get_method(m).plan) for m, _s, _f in trains if not is_zero_shot(m))
    train_tokens = sum(cell_train_tokens(train_config(abl_cfg, m, s, with_out=False, fraction=f), role_sizes,
                                         dialogues, mean_tokens) for m, s, f in trains if not is_zero_shot(m))
    calls = sum(eval_calls(spec, limit) for _, spec in evals)
    plan: dict[str, Any] = {
        "methods": list(abl_cfg.methods), "seeds": list(abl_cfg.seeds), "fractions": list(abl_cfg.fractions),
        "benchmarks": [e.name for e in abl_cfg.evals], "cells": len(cells),
        "evaluations": len(cells) * len(abl_cfg.evals), "to_train": len(trains), "to_evaluate": len(evals),
        "tasks_per_benchmark": limit, "training_jobs": jobs, "train_tokens": round(train_tokens),
        "model_calls": calls,
        "assumptions": {"gen_tokens_per_call": GEN_TOKENS_PER_CALL, "calls_per_realtime_task": CALLS_PER_TASK,
                        "mean_train_tokens_per_sample": round(mean_tokens, 1), "job_overhead_s": JOB_OVERHEAD_S,
                        "eval_overhead_s": EVAL_OVERHEAD_S}}
    if not trains and not evals:
        plan["estimate_s"] = {"train": 0, "evaluate": 0, "total": 0}
    elif speed is not None:
        train_s = train_tokens / max(speed.train_tokens_per_s, 1e-6) + jobs * JOB_OVERHEAD_S
        eval_s = calls * GEN_TOKENS_PER_CALL / max(speed.gen_tokens_per_s, 1e-6) + len(evals) * EVAL_OVERHEAD_S
        plan.update(speed=asdict(speed), estimate_s={"train": round(train_s), "evaluate": round(eval_s),
                                                     "total": round(train_s + eval_s)})
    return plan


def mean_sample_tokens(roles_folder, tokenizer_model: str, *, sample: int = 40) -> float:
    """Mean tokens of a role sample (prompt + target) over up to ``sample`` planner/caller samples."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from umi_lab.backbone import resolve_model
    from umi_lab.io import read_records

    tok = AutoTokenizer.from_pretrained(resolve_model(tokenizer_model))
    tok.model_max_length = 1 << 30  # counting only: no length warning
    texts = []
    for role in ("planner", "caller"):
        path = Path(roles_folder) / f"train_{role}.json"
        if path.is_file():
            texts += [str(s.get("input", "")) + str(s.get("target", "")) for s in read_records(path)[: sample // 2]]
    if not texts:
        return 512.0
    return sum(len(tok(t)["input_ids"]) for t in texts) / len(texts)


def plan_text(plan: dict[str, Any]) -> str:
    """The plan as the lines the study prints before it starts."""
    lines = [f"  {len(plan['methods'])} methods × {len(plan['seeds'])} seeds"
             + (f" × {len(plan['fractions'])} data fractions" if plan["fractions"] else "")
             + f" = {plan['cells']} runs; {len(plan['benchmarks'])} benchmarks = {plan['evaluations']} evaluations",
             f"  methods: {', '.join(plan['methods'])}; seeds: {plan['seeds']}"
             + (f"; fractions: {plan['fractions']}" if plan["fractions"] else ""),
             f"  benchmarks: {', '.join(plan['benchmarks'])}; tasks per benchmark: "
             f"{plan['tasks_per_benchmark'] or 'all'}",
             f"  to do: {plan['to_train']} of {plan['cells']} runs to train, {plan['to_evaluate']} of "
             f"{plan['evaluations']} evaluations to run (the rest is reused); ~{plan['train_tokens']:,} training "
             f"tokens, ~{plan['model_calls']:,} model calls"]
    if not plan["to_train"] and not plan["to_evaluate"]:
        lines.append("  estimated duration: everything is reused (a few seconds for the report)")
    elif "speed" in plan:
        sp, est = plan["speed"], plan["estimate_s"]
        lines.append(f"  speed ({sp['source']}, {sp['probe_s']:.0f} s): {sp['train_tokens_per_s']:.0f} training "
                     f"tokens/s, {sp['gen_tokens_per_s']:.0f} generated tokens/s")
        lines.append(f"  estimated duration: ~{_hms(est['total'])} (training ~{_hms(est['train'])}, evaluation "
                     f"~{_hms(est['evaluate'])}; rough: assumes {GEN_TOKENS_PER_CALL} tokens per call, "
                     f"{CALLS_PER_TASK} calls per task, {JOB_OVERHEAD_S:g} s per training job, {EVAL_OVERHEAD_S:g} s per "
                     "evaluation; nothing is refused)")
    else:
        lines.append("  estimated duration: unknown (speed probe skipped or failed)")
    return "\n".join(lines)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
