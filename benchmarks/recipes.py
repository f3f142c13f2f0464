"""The training recipes ``bench_training.py`` compares, built from the library's own configuration.

``trl_defaults``: TRL's ``SFTConfig`` as shipped with the run shape set; ``library``: the ``SFTConfig`` that
``python -m umi_lab train`` builds (``umi_lab.training.stage_config`` of a ``GLPFTConfig`` whose run shape is
set through ``schedule_overrides`` / ``sft_overrides``, as a user would); ``ours``: the library's config plus
the speed options a user can add in ``sft_overrides`` (``speed_overrides``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def flash_attention_available(device: str) -> bool:
    """True when flash-attention 2 can run here (a CUDA device and the ``flash_attn`` package)."""
    return device == "cuda" and importlib.util.find_spec("flash_attn") is not None


ARMS = ("trl_defaults", "library", "ours")


def speed_overrides(device: str) -> dict[str, Any]:
    """The ``sft_overrides`` of the ``ours`` arm: what a user adds to the library's config for speed."""
    gpu = device == "cuda"
    ours: dict[str, Any] = dict(optim="adamw_torch_fused", gradient_checkpointing=gpu,
                                gradient_checkpointing_kwargs={"use_reentrant": False, "selective": True}
                                if gpu else None)
    if flash_attention_available(device):
        # Packed rows of seq_len tokens, flattened without padding; the varlen kernels keep samples apart.
        ours.update(packing=True, packing_strategy="bfd", padding_free=True)
    else:
        ours.update(train_sampling_strategy="group_by_length")
    return ours


def glpft_config(cfg, steps: int, arm: str = "library"):  # cfg: bench_training.TrainBenchConfig
    """The ``GLPFTConfig`` a user would write for this run shape (``ours``: plus ``speed_overrides``)."""
    from umi_lab.training_config import TRAIN_ROLES, GLPFTConfig, LoRASettings

    shape = {"max_steps": steps, "per_device_train_batch_size": cfg.batch_size, "gradient_accumulation_steps": 1}
    sft = dict(save_strategy="no", logging_steps=max(1, steps), use_cpu=cfg.device == "cpu",
               **({} if cfg.device == "cuda" else {"bf16": False}))
    if arm == "ours":
        sft.update(speed_overrides(cfg.device))
    return GLPFTConfig(model=cfg.shape, seed=cfg.seed, max_length=cfg.seq_len,
                       lora=LoRASettings(r=cfg.lora_r, alpha=2 * cfg.lora_r, dropout=0.0, target_modules=LORA_TARGETS),
                       schedule_overrides={r: dict(shape) for r in TRAIN_ROLES}, sft_overrides=sft)


def sft_config(arm: str, cfg, out_dir: str, steps: int, role: str = "backbone"):
    """The ``SFTConfig`` of ``arm``: TRL's defaults with the run shape, or the library's ``stage_config``."""
    from trl import SFTConfig

    if arm == "trl_defaults":
        return SFTConfig(output_dir=out_dir, max_steps=steps, per_device_train_batch_size=cfg.batch_size,
                         max_length=cfg.seq_len, report_to="none", save_strategy="no", logging_steps=max(1, steps),
                         disable_tqdm=True, seed=cfg.seed, use_cpu=cfg.device == "cpu",
                         **({} if cfg.device == "cuda" else {"bf16": False}))
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    from umi_lab.training import stage_config

    return stage_config(glpft_config(cfg, steps, arm), role, 1 if role == "backbone" else 2, out_dir,
                        progress=False, max_length=cfg.seq_len)


SHOWN_SETTINGS = ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "max_length",
                  "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay", "optim", "bf16",
                  "gradient_checkpointing", "activation_checkpointing", "packing", "packing_strategy",
                  "padding_free", "train_sampling_strategy", "seed", "use_cpu")


def shown_settings(args, arm: str) -> dict[str, Any]:
    """The settings that shape speed, as the arm's config holds them (TRL defaults: only the changed ones)."""
    import dataclasses

    from trl import SFTConfig

    default = {f.name: f.default for f in dataclasses.fields(SFTConfig)}
    out = {}
    for k in SHOWN_SETTINGS:
        if not hasattr(args, k):
            continue
        v = getattr(args, k)
        v = v.value if hasattr(v, "value") else v
        if arm != "trl_defaults" or v != default.get(k) or k in ("max_steps", "max_length"):
            out[k] = v
    return out
