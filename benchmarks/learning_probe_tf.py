"""Teacher-forced diagnostics of a trained backbone on held-out ToolWorld in-domain backbone samples.

    python -m benchmarks.learning_probe_tf RUN_DIR [--n 60]

Loss per target token, target-token accuracy, and accuracy on the tool-name tokens after ``Action: ``
(the model is given the gold prefix), which move long before greedy Action EM does.

Runs against the ``smollm`` branch code (``PromptStyle(compact_docs=...)``, ``render_docs_compact``);
results: ``benchmarks/results/learning_probe.md``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--world", default="data/toolworld/test_in_domain.json")
    a = p.parse_args(argv)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from umi_lab.splitting import split_roles
    from umi_lab.training import encode_sample
    from umi_lab.training_config import GLPFTConfig
    from umi_lab.trajectory import load_dialogues

    run = Path(a.run)
    raw = json.loads((run / "config.json").read_text())
    known = {f.name for f in fields(GLPFTConfig)} - {"schedule"}
    cfg = GLPFTConfig.from_dict({k: v for k, v in raw.items() if k in known})
    folder = run / "models" / "backbone"
    if (run / "adapters" / "backbone").is_dir():
        from peft import PeftModel

        base = json.loads((run / "config.json").read_text())["model_name_or_path"]
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), run / "adapters" / "backbone")
        tok = AutoTokenizer.from_pretrained(base)
    else:
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
    model.eval()
    split = split_roles(load_dialogues(a.world), family="toolbench")
    split = split if isinstance(split, dict) else split.datasets
    samples = split["backbone"][: a.n]
    tot_loss = tot_tok = tot_ok = name_ok = name_tok = first_ok = first_n = 0
    for s in samples:
        enc, _ = encode_sample(s, tok, style=cfg.prompt_style, max_length=cfg.max_length, min_prompt_tokens=32)
        ids = torch.tensor([enc["input_ids"]])
        labels = torch.tensor(enc["labels"])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1]
        tgt = labels[1:]
        mask = tgt != -100
        lp = torch.log_softmax(logits.float(), -1)
        tot_loss += float(-lp[mask].gather(1, tgt[mask][:, None]).sum())
        pred = logits.argmax(-1)
        tot_tok += int(mask.sum())
        tot_ok += int((pred[mask] == tgt[mask]).sum())
        target = s["target"]
        if "Action: " in target:
            start = target.index("Action: ") + len("Action: ")
            end = target.index("\n", start) if "\n" in target[start:] else len(target)
            prompt_ids = len(ids[0]) - int(mask.sum())  # first target position in input_ids
            pre = tok(target[:start], add_special_tokens=False)["input_ids"]
            name = tok(target[:end], add_special_tokens=False)["input_ids"]
            for k in range(len(pre), len(name)):
                pos = prompt_ids + k - 1
                if 0 <= pos < len(pred):
                    name_tok += 1
                    hit = int(pred[pos] == ids[0, pos + 1])
                    name_ok += hit
                    if k == len(pre):
                        first_n += 1
                        first_ok += hit
    out = {"run": str(run), "samples": len(samples), "target_loss": round(tot_loss / tot_tok, 4),
           "target_token_acc": round(tot_ok / tot_tok, 4),
           "tool_name_token_acc": round(name_ok / name_tok, 4) if name_tok else None, "tool_name_tokens": name_tok,
           "tool_name_first_token_acc": round(first_ok / first_n, 4) if first_n else None, "calls": first_n}
    (run / "teacher_forced.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
