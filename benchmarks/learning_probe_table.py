"""Collect ``probe.json`` files of ``benchmarks.learning_probe`` into one Markdown + JSON table.

    python -m benchmarks.learning_probe_table /tmp/learn/probes benchmarks/results/learning_probe
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EPOCH_KEY = {"backbone": "epochs1", "multitask": "epochs1", "planner": "epochs2", "caller": "epochs2"}


def format_stats(run: Path) -> dict:
    """Shares of static outputs (first model output of each item) that show the format at all."""
    path = run / "eval" / "toolworld-id-static" / "predictions.json"
    if not path.is_file():
        return {}
    preds = json.loads(path.read_text())
    outs = [p.get("backbone_output") or p.get("planner_output") or "" for p in preds]
    calls = [p.get("caller_output") or p.get("backbone_output") or "" for p in preds]
    n = len(outs) or 1
    return {"out_has_next": round(sum("Next:" in o for o in outs) / n, 3),
            "out_has_action": round(sum("Action:" in c for c in calls) / n, 3)}


def row(rec: dict) -> dict:
    a, stats = rec["args"], rec["data_stats"]
    tokens = target = 0
    for role, s in stats.items():
        if not isinstance(s, dict):
            continue
        ep = a[EPOCH_KEY[role]] if role in EPOCH_KEY else 2 * a["epochs2"]
        tokens += ep * (s["prompt_tokens"] + s["target_tokens"])
        target += ep * s["target_tokens"]
    st, rt = rec.get("static", {}), rec.get("realtime", {})
    run = Path(rec["args"]["out"]) / rec["name"] / "run"
    tf_path = run / "teacher_forced.json"
    tf = json.loads(tf_path.read_text()) if tf_path.is_file() else {}
    return {"name": rec["name"], "backbone": Path(a["model"]).name, "method": a["method"],
            "finetune": f"LoRA r{a['r']}" if a["lora"] else "full", "lr": f"{a['lr1']:g}/{a['lr2']:g}",
            "samples_per_role": a["samples"], "epochs": f"{a['epochs1']:g}/{a['epochs2']:g}",
            "tokens_trained": int(tokens), "target_tokens_trained": int(target),
            "train_s": rec["train_s"], "tokens_per_s": round(tokens / rec["train_s"]),
            "load_1min": round((rec["load_start"] + rec.get("load_end", rec["load_start"])) / 2, 1),
            "loss_first": {r: v["first"] for r, v in rec["loss"].items()},
            "loss_last5": {r: v["last5"] for r, v in rec["loss"].items()},
            "static_n": st.get("n_items"), "plan_acc": st.get("plan_em"), "action_em": st.get("action_em"),
            "hallu_rate": st.get("hallu_rate"), "arg_f1": st.get("f1"),
            "realtime_n": rt.get("n_items") or None, "pass_rate": rt.get("pass_rate") if rt.get("n_items") else None,
            "realtime_hallucinated_call_rate": rt.get("hallucinated_tool_rate") if rt.get("n_items") else None,
            "realtime_s": rec.get("realtime_s"), "static_s": rec.get("static_s"),
            "tf_target_loss": tf.get("target_loss"), "tf_target_acc": tf.get("target_token_acc"),
            **format_stats(run)}


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 10 else f"{v:.0f}"
    if isinstance(v, dict):
        return " ".join(f"{k[:3]}:{x:.2f}" for k, x in v.items())
    return str(v)


def main(src: str, dest: str) -> None:
    rows = [row(json.loads(p.read_text())) for p in sorted(Path(src).glob("*/probe.json"))]
    cols = ["name", "backbone", "method", "finetune", "lr", "samples_per_role", "epochs", "tokens_trained",
            "target_tokens_trained", "train_s", "tokens_per_s", "load_1min", "loss_last5", "tf_target_loss",
            "tf_target_acc", "out_has_next", "out_has_action", "static_n", "plan_acc", "action_em", "hallu_rate",
            "realtime_n", "pass_rate"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    Path(dest + ".json").write_text(json.dumps(rows, indent=1))
    Path(dest + ".table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:3])
