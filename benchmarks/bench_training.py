"""LoRA SFT throughput on role data: the library's recipe against TRL's defaults, plus the four GLPFT trainings.

Every arm uses TRL's ``SFTTrainer`` on the same model, the same rows tokenised by the library
(``umi_lab.training.build_dataset``: the ``system:`` prompt style, prompt masked, EOS appended, left
truncation, exactly as ``train`` does) and the same number of optimizer steps; only the recipe differs.
The LoRA adapter is the library's (``LoRASettings.peft_config``).

* **TRL defaults**: ``SFTConfig`` as shipped (random sampler, padding to the longest sample, full
  activation checkpointing, bf16, fused AdamW), with only the run shape set (steps, batch size,
  ``max_length``), and ``bf16=False`` on CPU (TRL's default ``bf16=True`` refuses to start on CPU).
* **library**: the ``SFTConfig`` that ``python -m umi_lab train`` builds (``umi_lab.training.stage_config``
  of a ``GLPFTConfig``), the run shape set through ``schedule_overrides`` / ``sft_overrides`` as a user would.
* **ours**: the library's config plus the speed options a user can switch on in ``sft_overrides``. With
  flash-attention (a CUDA install with ``flash_attn``): packing (BFD) + padding-free batches, which the
  varlen kernels keep per-sample exact. Without it (SDPA, and always on CPU): SDPA cannot separate samples
  in a flattened batch (checked: the second sample attends to the first), so padding-free would change the
  results; length-grouped batches instead. On GPU also selective activation checkpointing and fused AdamW;
  on CPU fp32, no checkpointing, fused AdamW.

Reported per arm: real (non-pad) tokens/s, padding share, MFU = 6·N·tokens/s ÷ peak FLOP/s (N: parameters
that take part in matmuls, i.e. without the input embedding; attention score FLOPs not counted; on CPU the
peak is a measured fp32 matmul rate, an estimate), and peak memory (CUDA max allocated; CPU peak RSS of
the process sampled during training). ``--glpft`` also runs stage 1 (backbone) and the three stage-2 role
trainings (each a copy of the stage-1 adapter) in one process with the peak memory of each stage.

    python benchmarks/bench_training.py                           # CPU, tiny model
    python benchmarks/bench_training.py --tiny                    # a few steps (test suite)
    python benchmarks/bench_training.py --device cuda --shape llama2-7b --seq-len 4096 --glpft
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

import common
from recipes import ARMS, flash_attention_available, glpft_config, sft_config, shown_settings
from roles import GLPFT_ROLES, load_role_samples

# Random-initialised shapes: weights do not change speed, so nothing is downloaded.
SHAPES: dict[str, dict[str, Any]] = {
    "llama2-7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                      intermediate_size=11008, vocab_size=32000, tie_word_embeddings=False),
    "qwen2.5-0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True),
    "qwen2.5-1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                         intermediate_size=8960, vocab_size=151936, tie_word_embeddings=True),
    # a few-kB stand-in that exercises the random-shape code path on CPU (test suite)
    "llama-test": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       intermediate_size=128, vocab_size=32000, tie_word_embeddings=False),
}


@dataclass
class TrainBenchConfig:
    """What one run measures. ``shape`` is ``tiny``/``tiny-test`` (the embedded model) or a key of SHAPES."""

    device: str = "cpu"
    shape: str = "tiny"
    data: str = "auto"
    steps: int = 12
    warmup_steps: int = 2
    seq_len: int = 1024
    batch_size: int = 8
    lora_r: int = 8
    glpft: bool = False
    glpft_steps: int = 4
    seed: int = 0


# ------------------------------------------------------------------------------------------- model

def attention_for(arm: str, device: str) -> str:
    """Attention kernel of an arm: TRL defaults keep the library default (SDPA); ours takes flash-attention 2
    when it can run, else SDPA."""
    return "flash_attention_2" if arm == "ours" and flash_attention_available(device) else "sdpa"


def load_tokenizer_and_model_fn(cfg: TrainBenchConfig):
    """The tokenizer and ``make(attn)`` building a fresh model (same seed every call) for ``cfg.shape``.

    The embedded tiny model is loaded from its folder; the large shapes are random ``LlamaConfig``
    models in bf16 built directly on the GPU, tokenised with the tiny tokenizer (its ids fit any vocab).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tiny_path = common.model_folder(cfg.shape if cfg.shape.startswith("tiny") else "tiny")
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if cfg.device == "cuda" else torch.float32

    if cfg.shape.startswith("tiny"):
        def make(attn: str = "sdpa"):
            torch.manual_seed(cfg.seed)
            return AutoModelForCausalLM.from_pretrained(tiny_path, dtype=dtype,
                                                        attn_implementation=attn).to(cfg.device)
        return tokenizer, make
    if cfg.shape not in SHAPES:
        raise SystemExit(f"error: unknown --shape {cfg.shape!r}; expected tiny, tiny-test or one of {', '.join(SHAPES)}")
    config = LlamaConfig(**SHAPES[cfg.shape], max_position_embeddings=max(4096, cfg.seq_len),
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)

    def make(attn: str = "sdpa"):
        torch.manual_seed(cfg.seed)
        with torch.device(cfg.device):
            return LlamaForCausalLM._from_config(config, dtype=dtype, attn_implementation=attn)
    return tokenizer, make


def matmul_params(model) -> int:
    """Parameters that take part in matmuls: all of them minus the input embedding (a lookup).

    A tied output head shares its weight with the embedding but is a matmul, so it is counted.
    """
    emb = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    out = model.get_output_embeddings()
    tied = out is not None and out.weight.data_ptr() == emb.data_ptr()
    return total if tied else total - emb.numel()


# -------------------------------------------------------------------------------------------- data

def to_dataset(samples: list[dict[str, str]], tokenizer, max_length: int, rows: int, seed: int = 0):
    """A ``datasets.Dataset`` of exactly ``rows`` rows tokenised by the library (``umi_lab.training.build_dataset``
    with the default prompt style: ``{"input_ids", "labels"}``, prompt masked, EOS appended, prompt cut on the
    left). Rows are a seeded random draw from ``samples`` (with repeats only when there are fewer samples than
    rows), so a run of ``rows / batch`` steps is exactly one epoch and every recipe trains on the same multiset
    of rows, whatever order its sampler picks."""
    import random

    from umi_lab.protocol.prompts import DEFAULT_STYLE
    from umi_lab.training import build_dataset

    if not samples:
        raise SystemExit("error: no role samples to train on")
    rng = random.Random(seed)
    picked = rng.sample(samples, rows) if rows <= len(samples) else [rng.choice(samples) for _ in range(rows)]
    dataset, _stats = build_dataset(picked, tokenizer, style=DEFAULT_STYLE, max_length=max_length)
    return dataset


# ---------------------------------------------------------------------------------------- recipes
def _counting_trainer_class():
    """``SFTTrainer`` that counts the real (non-pad) and padded tokens of every micro-batch."""
    from trl import SFTTrainer

    class CountingSFTTrainer(SFTTrainer):
        real_tokens = 0
        batch_tokens = 0

        def training_step(self, model, inputs, *args, **kwargs):
            ids = inputs["input_ids"]
            if "attention_mask" in inputs:
                self.real_tokens += int(inputs["attention_mask"].sum().item())
            else:  # padding-free: one flattened row without pad tokens
                self.real_tokens += ids.numel()
            self.batch_tokens += ids.numel()
            return super().training_step(model, inputs, *args, **kwargs)

    return CountingSFTTrainer


def _timing_callback(trainer, device: str, marks: list[tuple[float, int, int]]):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            common.sync(device)
            marks.append((time.perf_counter(), trainer.real_tokens, trainer.batch_tokens))

    return StepTimer()


def train_once(model, tokenizer, dataset, arm: str, cfg: TrainBenchConfig, steps: int,
               peft_config=None, role: str = "backbone") -> dict[str, Any]:
    """Train ``steps`` optimizer steps with one recipe; time the steps after ``cfg.warmup_steps``."""
    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
        args = sft_config(arm, cfg, tmp, steps, role)
        trainer = _counting_trainer_class()(model=model, args=args, train_dataset=dataset,
                                            processing_class=tokenizer, peft_config=peft_config)
        marks: list[tuple[float, int, int]] = []
        trainer.add_callback(_timing_callback(trainer, cfg.device, marks))
        with common.PeakMemory(cfg.device) as mem:
            trainer.train()
        trained = trainer.model
        del trainer
    warm = min(cfg.warmup_steps, len(marks) - 2) if len(marks) >= 2 else 0
    (t0, r0, b0), (t1, r1, b1) = marks[warm], marks[-1]
    seconds = max(t1 - t0, 1e-9)
    settings = shown_settings(args, arm)
    return {"model": trained, "timed_steps": len(marks) - 1 - warm, "seconds": seconds,
            "real_tokens": r1 - r0, "batch_tokens": b1 - b0, "tokens_per_s": (r1 - r0) / seconds,
            "padding_share": 1 - (r1 - r0) / max(1, b1 - b0), "peak_memory_bytes": mem.peak_bytes,
            "start_memory_bytes": mem.start_bytes, "settings": settings}


def lora_config(cfg: TrainBenchConfig):
    """The library's LoRA adapter config for this run shape (``LoRASettings.peft_config``)."""
    return glpft_config(cfg, 1).lora.peft_config()


def _free(device: str) -> None:
    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------- the measures

def compare_recipes(cfg: TrainBenchConfig, tokenizer, make_model, dataset, peak_flops: float) -> dict[str, Any]:
    """Every arm on a fresh copy of the same model and the same dataset; TRL defaults first."""
    arms: dict[str, Any] = {}
    n_matmul = None
    for arm in ARMS:
        model = make_model(attention_for(arm, cfg.device))
        n_matmul = matmul_params(model)
        res = train_once(model, tokenizer, dataset, arm, cfg, cfg.steps + cfg.warmup_steps,
                         peft_config=lora_config(cfg))
        del res["model"], model
        _free(cfg.device)
        res["mfu"] = 6 * n_matmul * res["tokens_per_s"] / peak_flops
        res["settings"]["attn_implementation"] = attention_for(arm, cfg.device)
        arms[arm] = res
    base = max(arms["trl_defaults"]["tokens_per_s"], 1e-9)
    return {"matmul_parameters": n_matmul, "arms": arms, "speedup_tokens_per_s": arms["ours"]["tokens_per_s"] / base,
            "library_speedup_tokens_per_s": arms["library"]["tokens_per_s"] / base}


def glpft_four(cfg: TrainBenchConfig, tokenizer, make_model, role_sets: dict[str, Any]) -> list[dict[str, Any]]:
    """Stage 1 (backbone) then planner, caller, summarizer (each a copy of the stage-1 adapter), one process,
    one base model; the peak memory of each stage."""
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    model = get_peft_model(make_model(attention_for("ours", cfg.device)), lora_config(cfg), adapter_name="backbone")
    stages = []
    stage1 = None
    for role in GLPFT_ROLES:
        if role != "backbone":
            model.add_adapter(role, lora_config(cfg))
            set_peft_model_state_dict(model, stage1, adapter_name=role)
            model.set_adapter(role)
        res = train_once(model, tokenizer, role_sets[role], "ours", cfg, cfg.glpft_steps + cfg.warmup_steps,
                         role=role)
        model = res.pop("model")
        if role == "backbone":
            stage1 = {k: v.detach().clone() for k, v in get_peft_model_state_dict(model, adapter_name="backbone").items()}
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        stages.append({"stage": 1 if role == "backbone" else 2, "role": role, "trainable_parameters": trainable,
                       "tokens_per_s": res["tokens_per_s"], "peak_memory_bytes": res["peak_memory_bytes"],
                       "peak_memory_gib": common.gib(res["peak_memory_bytes"]), "timed_steps": res["timed_steps"]})
        _free(cfg.device)
    del model
    _free(cfg.device)
    return stages


# ---------------------------------------------------------------------------------------------- main

TARGETS = {"glpft_peak_gib_max": 40.0, "mfu_min": 0.40, "speedup_min": 1.5}


def run(cfg: TrainBenchConfig) -> dict[str, Any]:
    """Run the benchmark and return the result object (also what the script prints)."""
    import torch

    torch.manual_seed(cfg.seed)
    result = common.header("bench_training", cfg.device)
    result["model_folder"] = common.model_folder(cfg.shape if cfg.shape.startswith("tiny") else "tiny")
    samples = load_role_samples(cfg.data)
    tokenizer, make_model = load_tokenizer_and_model_fn(cfg)
    flash = flash_attention_available(cfg.device)
    if cfg.device == "cuda":
        peak = common.gpu_peak_flops(result["device"]["gpu_name"])
        peak_note = "vendor dense bf16 peak" if peak else "unknown GPU: H100 SXM bf16 peak assumed"
        peak = peak or 989e12
    else:
        peak = common.cpu_peak_flops()
        peak_note = "estimated: best fp32 1024x1024 matmul rate measured here, not a data-sheet peak"
    rows_needed = (cfg.steps + cfg.warmup_steps) * cfg.batch_size
    mixed = [s for role in GLPFT_ROLES for s in samples["roles"][role]]
    dataset = to_dataset(mixed, tokenizer, cfg.seq_len, rows_needed, cfg.seed)
    lengths = [len(ids) for ids in dataset["input_ids"]]

    comparison = compare_recipes(cfg, tokenizer, make_model, dataset, peak)
    result.update(config=asdict(cfg), data_source=samples["source"],
                  role_samples={r: len(v) for r, v in samples["roles"].items()},
                  sample_tokens={"mean": sum(lengths) / len(lengths), "max": max(lengths), "min": min(lengths)},
                  attention="flash_attention_2" if flash else "sdpa",
                  peak_flops=peak, peak_flops_note=peak_note, **comparison)
    if cfg.glpft:
        role_sets = {r: to_dataset(samples["roles"][r], tokenizer, cfg.seq_len,
                                   (cfg.glpft_steps + cfg.warmup_steps) * cfg.batch_size, cfg.seed)
                     for r in GLPFT_ROLES}
        stages = glpft_four(cfg, tokenizer, make_model, role_sets)
        result["glpft"] = {"stages": stages, "peak_memory_gib_max": max(s["peak_memory_gib"] for s in stages)}
    result["targets"] = target_report(result)
    return result


def target_report(result: dict[str, Any]) -> dict[str, Any]:
    """Measured values against the GPU targets (they apply to Llama-2-7B shape at 4,096 tokens on one GPU)."""
    ours = result["arms"]["ours"]
    rep = {"applies": result["config"]["device"] == "cuda" and result["config"]["shape"] == "llama2-7b"
           and result["config"]["seq_len"] >= 4096,
           "mfu": ours["mfu"], "mfu_target": TARGETS["mfu_min"], "mfu_met": ours["mfu"] >= TARGETS["mfu_min"],
           "speedup": result["speedup_tokens_per_s"], "speedup_target": TARGETS["speedup_min"],
           "speedup_met": result["speedup_tokens_per_s"] >= TARGETS["speedup_min"]}
    if "glpft" in result:
        peak = result["glpft"]["peak_memory_gib_max"]
        rep.update(glpft_peak_gib=peak, glpft_peak_target_gib=TARGETS["glpft_peak_gib_max"],
                   glpft_peak_met=peak <= TARGETS["glpft_peak_gib_max"])
    return rep


def markdown(result: dict[str, Any]) -> str:
    """The Markdown body: one row per arm, then the GLPFT stages and the targets."""
    rows = []
    for arm, r in result["arms"].items():
        rows.append({"recipe": arm, "tokens/s (real)": r["tokens_per_s"], "padding share": r["padding_share"],
                     "MFU": r["mfu"], "peak memory GiB": common.gib(r["peak_memory_bytes"]),
                     "timed steps": r["timed_steps"], "seconds": r["seconds"]})
    cfg = result["config"]
    out = [f"Model `{cfg['shape']}` ({result['matmul_parameters']:,} matmul parameters), LoRA r={cfg['lora_r']}, "
           f"batch {cfg['batch_size']}, max length {cfg['seq_len']}, attention {result['attention']}; data: "
           f"{result['data_source']} (mean {result['sample_tokens']['mean']:.0f} tokens/sample). "
           f"Peak FLOP/s {result['peak_flops']:.3g} ({result['peak_flops_note']}).", "",
           common.markdown_table(rows), "",
           f"Speed-up over TRL defaults in real tokens/s: the library's recipe as `train` runs it "
           f"**{result['library_speedup_tokens_per_s']:.2f}×**, with the speed overrides (ours) "
           f"**{result['speedup_tokens_per_s']:.2f}×**.", "",
           "Settings per arm:", ""]
    for arm, r in result["arms"].items():
        out.append(f"- {arm}: `{r['settings']}`")
    if "glpft" in result:
        out += ["", "All four GLPFT trainings in one process (stage 1 backbone, stage 2 copies):", "",
                common.markdown_table(result["glpft"]["stages"],
                                      ["stage", "role", "trainable_parameters", "tokens_per_s", "peak_memory_gib"])]
    t = result["targets"]
    out += ["", f"Targets (GPU, Llama-2-7B shape, 4,096 tokens; {'apply to this run' if t['applies'] else 'do not apply to this run, shown for reference'}): "
            f"MFU ≥ {t['mfu_target']:.0%} → {t['mfu']:.1%}; speed-up ≥ {t['speedup_target']}× → {t['speedup']:.2f}×"
            + (f"; four GLPFT trainings peak ≤ {t['glpft_peak_target_gib']} GiB → {t['glpft_peak_gib']} GiB"
               if "glpft_peak_gib" in t else "") + "."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--shape", default="tiny", help=f"tiny | tiny-test | {' | '.join(SHAPES)}")
    p.add_argument("--data", default="auto", help="role data: auto | toolworld | train-example | a folder of role files")
    p.add_argument("--steps", type=int, default=None, help="timed optimizer steps per arm")
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--seq-len", type=int, default=None, help="max_length (packed row length with flash-attention)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--glpft", action="store_true", help="also run the four GLPFT trainings in one process")
    p.add_argument("--glpft-steps", type=int, default=None)
    p.add_argument("--tiny", action="store_true", help="a few steps on the test-size model (for the test suite)")
    p.add_argument("--out-dir", default=None, help="where the .json/.md go (default benchmarks/results)")
    a = p.parse_args(argv)
    device = common.resolve_device(a.device)
    cfg = TrainBenchConfig(device=device, shape=a.shape, data=a.data, lora_r=a.lora_r, glpft=a.glpft)
    if device == "cuda" and not a.shape.startswith("tiny"):
        cfg.seq_len, cfg.batch_size, cfg.steps = 4096, 8, 10
    if a.tiny:
        cfg.shape = "tiny-test" if a.shape == "tiny" else a.shape
        cfg.steps, cfg.warmup_steps, cfg.seq_len, cfg.batch_size, cfg.glpft_steps = 2, 1, 256, 2, 1
    for name in ("steps", "warmup_steps", "seq_len", "batch_size", "glpft_steps"):
        if getattr(a, name) is not None:
            setattr(cfg, name, getattr(a, name))
    with common.quiet():
        result = run(cfg)
    name = "bench_training" + ("" if device == "cpu" and cfg.shape == "tiny" else f"_{device}_{cfg.shape}")
    common.write_results(name, result, markdown(result), a.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(common.run_main(main))
