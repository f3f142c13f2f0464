"""Static-evaluation inference: batched three-adapter serving on one base against sequential generation.

Workload: the static-evaluation samples (one per planner decision) of ToolWorld test dialogues, or of
the 1,547 out-of-domain steps (``--source ood``). Each sample needs a planner generation and then, as the
reference decision says, a caller or summarizer generation (none after a give-up); the second prompt is
built from the reference thought, so both arms do exactly the same work whatever the (random) adapters say.

* **sequential** (what the official pipeline does): three separate models (base + each adapter, merged),
  one sample at a time, batch size 1, planner then caller/summarizer.
* **batched**: one base with three LoRA adapters (PEFT), prompts sorted by length, every ``generate``
  call a mixed-role batch (``adapter_names=``): the planners of the next chunk together with the
  callers/summarizers of the chunk before.

The adapters are random (``init_lora_weights=False``: non-zero, so the LoRA path really computes); speed
does not depend on the weights. Greedy decoding with EOS kept, at most ``--max-new-tokens`` tokens:
both arms decode the same greedy sequences, and generated tokens are counted up to each row's EOS.
(Suppressing EOS for a fixed count was tried: ``min_new_tokens`` ran several times slower and a no-EOS
generation config stalled on this machine, so a fixed count would have measured those code paths.) Prompts longer than
``--max-prompt-tokens`` keep their end. Memory: parameter bytes of one base + three adapters against three
merged models, and the peak memory of each arm (CUDA max allocated; CPU peak RSS).

    python benchmarks/bench_inference.py                    # CPU, tiny model, ToolWorld test samples
    python benchmarks/bench_inference.py --source ood --limit 200
    python benchmarks/bench_inference.py --device cuda --shape llama2-7b --source ood --batch-size 32
"""

from __future__ import annotations

import argparse
import copy
import gc
import time
from dataclasses import asdict, dataclass
from typing import Any

import common
from workload import load_workload

ROLES = ("planner", "caller", "summarizer")


@dataclass
class InferenceBenchConfig:
    """One run. ``shape``: ``tiny``/``tiny-test`` (the embedded model) or a large random shape (GPU)."""

    device: str = "cpu"
    shape: str = "tiny"
    source: str = "auto"
    limit: int = 64
    batch_size: int = 16
    max_new_tokens: int = 32
    max_prompt_tokens: int = 480
    lora_r: int = 8
    project_serving: bool = True
    seed: int = 0


# -------------------------------------------------------------------------------------------- models

def load_base(cfg: InferenceBenchConfig):
    """``(model, tokenizer)``: the embedded tiny model, or a random large shape in bf16 on the GPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path = common.model_folder(cfg.shape if cfg.shape.startswith("tiny") else "tiny")
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    dtype = torch.bfloat16 if cfg.device == "cuda" else torch.float32
    torch.manual_seed(cfg.seed)
    if cfg.shape.startswith("tiny"):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(cfg.device)
    else:
        from bench_training import SHAPES

        if cfg.shape not in SHAPES:
            raise SystemExit(f"error: unknown --shape {cfg.shape!r}")
        config = LlamaConfig(**SHAPES[cfg.shape], max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
        with torch.device(cfg.device):
            model = LlamaForCausalLM._from_config(config, dtype=dtype)
    model.eval()
    return model, tok


def add_random_adapters(base, cfg: InferenceBenchConfig):
    """Wrap ``base`` with three random LoRA adapters named after the roles (a PeftModel)."""
    from peft import LoraConfig, get_peft_model
    from recipes import LORA_TARGETS

    def lcfg():
        return LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, target_modules=LORA_TARGETS,
                          init_lora_weights=False, task_type="CAUSAL_LM")

    model = get_peft_model(base, lcfg(), adapter_name=ROLES[0])
    for role in ROLES[1:]:
        model.add_adapter(role, lcfg())
    model.eval()
    return model


def param_bytes(module) -> int:
    """Bytes held by a module's parameters and buffers."""
    return sum(p.numel() * p.element_size() for p in module.parameters()) + \
        sum(b.numel() * b.element_size() for b in module.buffers())


def adapter_bytes(peft_model, role: str) -> int:
    """Bytes of one adapter's LoRA weights."""
    return sum(p.numel() * p.element_size() for n, p in peft_model.named_parameters() if f".{role}." in n)


def merged_copies(peft_model) -> dict[str, Any]:
    """Three stand-alone merged models (base + one adapter each), as three separate checkpoints would be."""
    out = {}
    for role in ROLES:
        m = copy.deepcopy(peft_model)
        m.set_adapter(role)
        out[role] = m.merge_and_unload(adapter_names=[role])  # plain model: LoRA layers gone
        out[role].eval()
        del m
    return out


# ------------------------------------------------------------------------------------------- the arms

def _encode(tok, prompts: list[str], max_prompt: int, device: str):
    """Encode each prompt as the library does (``umi_lab.backbone.encode_prompt``: the tokenizer's own BOS
    convention, left truncation to ``max_prompt`` tokens keeping a leading BOS) and left-pad the batch."""
    import torch

    from umi_lab.backbone import encode_prompt

    ids = [encode_prompt(tok, p, max_prompt)[0] for p in prompts]  # the library's rule (training and serving)
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, width - len(x):] = torch.tensor(x)
        mask[i, width - len(x):] = 1
    return input_ids.to(device), mask.to(device), sum(len(x) for x in ids)


def _generate(model, tok, prompts, cfg, adapter_names=None) -> tuple[int, int]:
    """One greedy ``generate`` call (EOS kept); returns (generated tokens up to and including each row's
    EOS, prompt tokens)."""
    import torch

    input_ids, mask, n_prompt = _encode(tok, prompts, cfg.max_prompt_tokens, cfg.device)
    kwargs = {"adapter_names": adapter_names} if adapter_names is not None else {}
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=cfg.max_new_tokens,
                             do_sample=False, pad_token_id=tok.pad_token_id, use_cache=True, **kwargs)
    generated = 0
    for row in out[:, input_ids.shape[1]:].tolist():
        generated += row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
    return generated, n_prompt


def run_sequential(models: dict[str, Any], tok, requests, cfg) -> dict[str, Any]:
    """One request at a time, in sample order, each role on its own merged model."""
    for role in {r["role"] for r in requests}:  # warm-up, untimed: first-call allocations and kernels
        _generate(models[role], tok, [requests[0]["prompt"]], cfg)
    generated = prompt_tokens = calls = 0
    with common.PeakMemory(cfg.device) as mem:
        common.sync(cfg.device)
        t0 = time.perf_counter()
        for r in requests:
            g, p = _generate(models[r["role"]], tok, [r["prompt"]], cfg)
            generated, prompt_tokens, calls = generated + g, prompt_tokens + p, calls + 1
        common.sync(cfg.device)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "generate_calls": calls, "generated_tokens": generated,
            "prompt_tokens": prompt_tokens, "peak_memory_bytes": mem.peak_bytes}


def batched_schedule(requests: list[dict[str, Any]], tok, batch_size: int) -> list[list[dict[str, Any]]]:
    """Mixed-role batches: samples sorted by planner prompt length, cut into chunks of ``batch_size``;
    batch k holds the planners of chunk k and the callers/summarizers of chunk k-1 (a two-stage pipeline:
    a second-role prompt follows its planner's output)."""
    planners = [r for r in requests if r["role"] == "planner"]
    seconds = {r["sample"]: r for r in requests if r["role"] != "planner"}
    from umi_lab.backbone import encode_prompt

    planners.sort(key=lambda r: len(encode_prompt(tok, r["prompt"])[0]))
    chunks = [planners[i:i + batch_size] for i in range(0, len(planners), batch_size)]
    batches = []
    for k in range(len(chunks) + 1):
        batch = list(chunks[k]) if k < len(chunks) else []
        if k > 0:
            batch += [seconds[r["sample"]] for r in chunks[k - 1] if r["sample"] in seconds]
        if batch:
            batches.append(batch)
    return batches


def run_batched(peft_model, tok, requests, cfg) -> dict[str, Any]:
    """Mixed-role batches on one base with three adapters (``adapter_names=`` per row)."""
    batches = batched_schedule(requests, tok, cfg.batch_size)
    first = batches[0]
    _generate(peft_model, tok, [r["prompt"] for r in first], cfg, adapter_names=[r["role"] for r in first])  # warm-up
    generated = prompt_tokens = 0
    mixed = 0
    with common.PeakMemory(cfg.device) as mem:
        common.sync(cfg.device)
        t0 = time.perf_counter()
        for batch in batches:
            names = [r["role"] for r in batch]
            mixed += len(set(names)) > 1
            g, p = _generate(peft_model, tok, [r["prompt"] for r in batch], cfg, adapter_names=names)
            generated, prompt_tokens = generated + g, prompt_tokens + p
        common.sync(cfg.device)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "generate_calls": len(batches), "mixed_role_calls": mixed,
            "generated_tokens": generated, "prompt_tokens": prompt_tokens, "peak_memory_bytes": mem.peak_bytes}


def run_project_serving(peft_model, tok, requests, cfg) -> dict[str, Any]:
    """The project's own ``umi_lab.serving.RoleModels`` on the same base and adapters: all requests in one
    ``generate`` call (sorted by prompt length, mixed-role batches of ``batch_size``) against one request
    per call (batch 1, ``set_adapter`` switching). It stops at EOS as deployed, so token counts are reported,
    not forced equal. Decoding settings: the static evaluation's (``EvalSettings.for_profile("greedy",
    "static")``, what ``evaluate`` runs) with the benchmark's token budgets and batch size."""
    from dataclasses import replace

    from umi_lab.backbone import encode_prompt
    from umi_lab.evaluation import EvalSettings
    from umi_lab.serving import RoleModels

    models = RoleModels(peft_model, tok, {r: r for r in ROLES})
    lengths = {i: len(encode_prompt(tok, r["prompt"])[0]) for i, r in enumerate(requests)}
    order = sorted(range(len(requests)), key=lengths.__getitem__)
    arms = {}
    for name, batch_size in (("batched", cfg.batch_size), ("sequential", 1)):
        settings = replace(EvalSettings.for_profile("greedy", "static").generation, max_new_tokens=cfg.max_new_tokens,
                           batch_size=batch_size, max_prompt_tokens=cfg.max_prompt_tokens, mixed_roles=batch_size > 1)
        models.generate([requests[0]["prompt"]], [requests[0]["role"]], settings)  # warm-up
        common.sync(cfg.device)
        t0 = time.perf_counter()
        if batch_size > 1:
            gens = models.generate([requests[i]["prompt"] for i in order], [requests[i]["role"] for i in order],
                                   settings)
        else:
            gens = [models.generate([r["prompt"]], [r["role"]], settings)[0] for r in requests]
        common.sync(cfg.device)
        seconds = time.perf_counter() - t0
        n_samples = len({r["sample"] for r in requests})
        generated = sum(g.generated_tokens for g in gens)
        arms[name] = {"seconds": seconds, "samples_per_s": n_samples / seconds, "generated_tokens": generated,
                      "generated_tokens_per_s": generated / seconds}
    arms["speedup_samples_per_s"] = arms["batched"]["samples_per_s"] / arms["sequential"]["samples_per_s"]
    return arms


# ---------------------------------------------------------------------------------------------- main

TARGETS = {"memory_ratio_max": 1.1, "speedup_min": 10.0}


def run(cfg: InferenceBenchConfig) -> dict[str, Any]:
    """Run both arms on the same requests and return the result object."""
    import torch

    result = common.header("bench_inference", cfg.device)
    result["model_folder"] = common.model_folder(cfg.shape if cfg.shape.startswith("tiny") else "tiny")
    source, requests = load_workload(cfg.source, cfg.limit)
    n_samples = len({r["sample"] for r in requests})
    base, tok = load_base(cfg)
    base_bytes = param_bytes(base)
    with common.PeakMemory(cfg.device) as load_mem:
        peft_model = add_random_adapters(base, cfg)
    one_base_three_adapters = param_bytes(peft_model)
    adapters = {r: adapter_bytes(peft_model, r) for r in ROLES}

    batched = run_batched(peft_model, tok, requests, cfg)
    project = run_project_serving(peft_model, tok, requests, cfg) if cfg.project_serving else None
    torch.manual_seed(cfg.seed)
    before = common.current_rss_bytes() if cfg.device == "cpu" else torch.cuda.memory_allocated()
    merged = merged_copies(peft_model)
    after = common.current_rss_bytes() if cfg.device == "cpu" else torch.cuda.memory_allocated()
    three_merged = sum(param_bytes(m) for m in merged.values())
    del peft_model, base
    gc.collect()
    sequential = run_sequential(merged, tok, requests, cfg)
    del merged
    gc.collect()

    for arm in (batched, sequential):
        arm["samples_per_s"] = n_samples / arm["seconds"]
        arm["generated_tokens_per_s"] = arm["generated_tokens"] / arm["seconds"]
        arm["peak_memory_gib"] = common.gib(arm["peak_memory_bytes"])
    memory = {"one_model_bytes": base_bytes, "adapter_bytes": adapters,
              "one_base_three_adapters_bytes": one_base_three_adapters, "three_merged_models_bytes": three_merged,
              "ratio_base_plus_adapters_to_one_model": one_base_three_adapters / base_bytes,
              "ratio_three_merged_to_one_model": three_merged / base_bytes,
              "measured_growth_three_merged_bytes": after - before,
              "measured_growth_adapters_bytes": load_mem.peak_bytes - load_mem.start_bytes,
              "measured_note": "CUDA: memory_allocated deltas; CPU: RSS deltas (allocator caching makes them rough)"}
    speedup = batched["samples_per_s"] / sequential["samples_per_s"]
    result.update(config=asdict(cfg), workload=source, samples=n_samples, requests=len(requests),
                  requests_per_role={r: sum(q["role"] == r for q in requests) for r in ROLES},
                  arms={"batched_one_base_three_adapters": batched, "sequential_three_models": sequential},
                  memory=memory, speedup_samples_per_s=speedup, project_serving=project,
                  targets={"memory_ratio": memory["ratio_base_plus_adapters_to_one_model"],
                           "memory_ratio_target": TARGETS["memory_ratio_max"],
                           "memory_ratio_met": memory["ratio_base_plus_adapters_to_one_model"] <= TARGETS["memory_ratio_max"],
                           "speedup": speedup, "speedup_target": TARGETS["speedup_min"],
                           "speedup_met": speedup >= TARGETS["speedup_min"]})
    return result


def markdown(result: dict[str, Any]) -> str:
    """The Markdown body: the two arms, memory, targets."""
    cfg = result["config"]
    rows = [{"arm": name, "samples/s": a["samples_per_s"], "generated tokens/s": a["generated_tokens_per_s"],
             "generate calls": a["generate_calls"], "peak memory GiB": a["peak_memory_gib"], "seconds": a["seconds"]}
            for name, a in result["arms"].items()]
    m = result["memory"]
    t = result["targets"]
    return "\n".join([
        f"Model `{cfg['shape']}`, LoRA r={cfg['lora_r']} (random adapters), {result['workload']}, "
        f"{result['requests']} generations {result['requests_per_role']}; batch size {cfg['batch_size']}, "
        f"at most {cfg['max_new_tokens']} new tokens per generation (greedy, EOS kept), prompts cut to the last "
        f"{cfg['max_prompt_tokens']} tokens.", "",
        common.markdown_table(rows), "",
        f"Batched over sequential: **{result['speedup_samples_per_s']:.2f}×** samples/s "
        f"(target ≥ {t['speedup_target']:.0f}×: {'met' if t['speedup_met'] else 'missed'}).", "",
        "| memory | bytes | × one model |", "|---|---|---|",
        f"| one model | {m['one_model_bytes']:,} | 1.00 |",
        f"| one base + three adapters | {m['one_base_three_adapters_bytes']:,} | {m['ratio_base_plus_adapters_to_one_model']:.3f} |",
        f"| three merged models | {m['three_merged_models_bytes']:,} | {m['ratio_three_merged_to_one_model']:.3f} |",
        "", f"Target: one base + three adapters ≤ {t['memory_ratio_target']}× one model: "
        f"{'met' if t['memory_ratio_met'] else 'missed'} ({t['memory_ratio']:.3f}×).",
    ] + ([] if not result.get("project_serving") else [
        "", "The project's `umi_lab.serving.RoleModels` on the same base and adapters (stops at EOS as deployed; "
        "all requests sorted by length in mixed-role batches vs one request per call):", "",
        common.markdown_table([{"arm": k, "samples/s": v["samples_per_s"], "generated tokens": v["generated_tokens"],
                                "generated tokens/s": v["generated_tokens_per_s"], "seconds": v["seconds"]}
                               for k, v in result["project_serving"].items() if isinstance(v, dict)]), "",
        f"RoleModels batched over one-at-a-time: **{result['project_serving']['speedup_samples_per_s']:.2f}×** samples/s.",
    ]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--shape", default="tiny", help="tiny | tiny-test | llama2-7b | qwen2.5-0.5b | qwen2.5-1.5b")
    p.add_argument("--source", default="auto", help="auto | toolworld | ood | a dialogue file")
    p.add_argument("--limit", type=int, default=None, help="static samples to run (0 = all)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--max-prompt-tokens", type=int, default=None)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--no-project-serving", action="store_true", help="skip the umi_lab.serving.RoleModels pass")
    p.add_argument("--tiny", action="store_true", help="a handful of samples on the test-size model")
    p.add_argument("--out-dir", default=None, help="where the .json/.md go (default benchmarks/results)")
    a = p.parse_args(argv)
    device = common.resolve_device(a.device)
    cfg = InferenceBenchConfig(device=device, shape=a.shape, source=a.source, lora_r=a.lora_r,
                               project_serving=not a.no_project_serving)
    if device == "cuda":
        cfg.limit, cfg.batch_size, cfg.max_new_tokens, cfg.max_prompt_tokens = 256, 64, 64, 3968
    if a.tiny:
        cfg.shape = "tiny-test" if a.shape == "tiny" else a.shape
        cfg.limit, cfg.batch_size, cfg.max_new_tokens, cfg.max_prompt_tokens = 6, 4, 4, 128
    for name in ("limit", "batch_size", "max_new_tokens", "max_prompt_tokens"):
        if getattr(a, name) is not None:
            setattr(cfg, name, getattr(a, name))
    with common.quiet():
        result = run(cfg)
    name = "bench_inference" + ("" if device == "cpu" and cfg.shape == "tiny" else f"_{device}_{cfg.shape}")
    common.write_results(name, result, markdown(result), a.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(common.run_main(main))
