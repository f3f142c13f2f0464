"""Learning probe: train one configuration of the embedded model and score it on ToolWorld in-domain.

    python -m benchmarks.learning_probe NAME --method single_llm --lora 0 --lr1 1e-3 --samples 200 ...

Writes ``OUT/NAME/probe.json`` (config, tokens trained, wall times, load, metrics). Measurements only.

Runs against the ``smollm`` branch code (``PromptStyle(compact_docs=...)``, ``render_docs_compact``);
results: ``benchmarks/results/learning_probe.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _load() -> float:
    return os.getloadavg()[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("--out", default="/tmp/learn/probes")
    p.add_argument("--model", default="/tmp/learn/tiny")
    p.add_argument("--data", default="/tmp/learn/roles")
    p.add_argument("--method", default="single_llm")
    p.add_argument("--init", default="copy")
    p.add_argument("--lora", type=int, default=1)
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--lr1", type=float, default=2e-3, help="stage-1 / multitask learning rate")
    p.add_argument("--lr2", type=float, default=1e-3, help="stage-2 learning rate")
    p.add_argument("--epochs1", type=float, default=2)
    p.add_argument("--epochs2", type=float, default=1)
    p.add_argument("--bs", type=int, default=4)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--max-length", type=int, default=1280)
    p.add_argument("--compact", type=int, default=1)
    p.add_argument("--static", type=int, default=60)
    p.add_argument("--realtime", type=int, default=20)
    p.add_argument("--max-new", type=int, default=128)
    a = p.parse_args(argv)

    from umi_lab.evaluate import EvalSettings, evaluate_run
    from umi_lab.serving import GenerationSettings
    from umi_lab.training import train
    from umi_lab.training_config import GLPFTConfig

    out = Path(a.out) / a.name
    s2 = {"learning_rate": a.lr2, "batch_size": a.bs, "epochs": a.epochs2}
    overrides = {"backbone": {"learning_rate": a.lr1, "batch_size": a.bs, "epochs": a.epochs1},
                 "multitask": {"learning_rate": a.lr1, "batch_size": a.bs, "epochs": a.epochs1},
                 "planner": dict(s2), "caller": dict(s2), "summarizer": {**s2, "epochs": 2 * a.epochs2}}
    cfg = GLPFTConfig(method=a.method, init=a.init, model=a.model, data=a.data, out=str(out / "run"), seed=0,
                      schedule="tiny", schedule_overrides=overrides, max_length=a.max_length,
                      max_samples=a.samples, save_steps=100000,
                      lora={"enabled": bool(a.lora), "r": a.r, "alpha": 2 * a.r, "dropout": 0.0},
                      prompt_style={"compact_docs": bool(a.compact)})
    rec = {"name": a.name, "args": vars(a), "load_start": _load()}
    t0 = time.perf_counter()
    run = train(cfg, progress=False)
    rec["train_s"] = round(time.perf_counter() - t0, 1)
    stats = json.loads((Path(run) / "data_stats.json").read_text())
    rec["data_stats"] = stats
    losses = [json.loads(x) for x in (Path(run) / "loss_history.jsonl").read_text().splitlines() if x.strip()]
    by_role: dict[str, list[float]] = {}
    for row in losses:
        if "loss" in row:
            by_role.setdefault(row["role"], []).append(row["loss"])
    rec["loss"] = {r: {"first": round(v[0], 3), "last5": round(sum(v[-5:]) / len(v[-5:]), 3), "steps": len(v)}
                   for r, v in by_role.items()}
    settings = EvalSettings(GenerationSettings(max_new_tokens=a.max_new, batch_size=8, max_prompt_tokens=1536 - a.max_new))
    t1 = time.perf_counter()
    rec["static"] = evaluate_run(run, "toolworld-id", "static", limit=a.static, settings=settings)
    rec["static_s"] = round(time.perf_counter() - t1, 1)
    (out / "probe.json").write_text(json.dumps(rec, indent=1, default=str))
    rec["realtime"], rec["realtime_s"] = {}, 0.0
    if a.realtime > 0:
        t2 = time.perf_counter()
        rec["realtime"] = evaluate_run(run, "toolworld-id", "realtime", limit=a.realtime, settings=settings)
        rec["realtime_s"] = round(time.perf_counter() - t2, 1)
    rec["load_end"] = _load()
    (out / "probe.json").write_text(json.dumps(rec, indent=1, default=str))
    keep = ("plan_acc", "action_em", "argument_f1", "pass_rate", "success_rate", "hallucination_rate")
    short = {k: v for k, v in {**{f"st_{k}": v for k, v in rec["static"].items()},
                               **{f"rt_{k}": v for k, v in rec["realtime"].items()}}.items()
             if any(k.endswith(x) for x in keep)}
    print(json.dumps({"name": a.name, "train_s": rec["train_s"], "static_s": rec["static_s"],
                      "realtime_s": rec["realtime_s"], "loss": rec["loss"], **short}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
