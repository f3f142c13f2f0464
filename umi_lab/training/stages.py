"""Trainer pieces: the loss recorder, one role's ``SFTConfig``, the trainable model, library versions."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from umi_lab.rundir import RunDir
from umi_lab.training_config import GLPFTConfig, GLPFTStageConfig, StageSchedule


class LossRecorder(TrainerCallback):
    """Records every logged training loss as ``{"stage", "role", "step", "epoch", "loss", "learning_rate"}``.

    Rows go to ``records``, are appended to ``path`` (JSONL) when given, and are passed to ``hook`` (e.g.
    a live plot in a notebook). ``train()`` sets ``stage``/``role`` before each role is trained.

    >>> rec = LossRecorder(hook=lambda row: print(row["loss"]))
    """

    def __init__(self, path: str | os.PathLike | None = None, hook: Callable[[dict], None] | None = None,
                 *, stage: int | None = None, role: str | None = None):
        self.path = Path(path) if path else None
        self.hook, self.stage, self.role = hook, stage, role
        self.records: list[dict] = []

    def _row(self, state, logs) -> dict | None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return None
        return {"stage": self.stage, "role": self.role, "step": state.global_step,
                "epoch": round(state.epoch or 0.0, 4), "loss": float(logs["loss"]),
                "learning_rate": float(logs.get("learning_rate", 0.0))}

    def on_log(self, args, state, control, logs=None, **kwargs):
        row = self._row(state, logs)
        if row is None:
            return
        self.records.append(row)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        if self.hook:
            self.hook(row)


class RunHistory(LossRecorder):
    """The run's own recorder: writes ``loss_history.jsonl`` through ``RunDir``, each (role, step) once."""

    def __init__(self, run: RunDir, *, stage: int, role: str):
        super().__init__(None, stage=stage, role=role)
        self.run = run
        self.seen = {(r["role"], r["step"]) for r in run.loss_history()[0]}

    def on_log(self, args, state, control, logs=None, **kwargs):
        row = self._row(state, logs)
        if row is None or (row["role"], row["step"]) in self.seen:
            return
        self.seen.add((row["role"], row["step"]))
        self.records.append(row)
        with open(self.run.history_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _fsdp_checkpoints_activations() -> bool:
    """Launched by ``accelerate launch`` with an FSDP config that checkpoints activations itself."""
    return (os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
            and os.environ.get("FSDP_ACTIVATION_CHECKPOINTING", "").lower() == "true")


def stage_config(config: GLPFTConfig, role: str, stage: int, output_dir: str | os.PathLike, *,
                 progress: bool = True, max_length: int | None = None) -> GLPFTStageConfig:
    """The ``SFTConfig`` for one role of a run (schedule, checkpoints, precision for this machine).

    >>> stage_config(GLPFTConfig(), "planner", 2, "/tmp/w").learning_rate
    5e-05
    """
    import torch

    s: StageSchedule = getattr(config.resolved_schedule(), role)
    gpu = on_gpu()
    kwargs = dict(
        output_dir=str(output_dir), role=role, stage=stage, num_train_epochs=s.num_train_epochs,
        learning_rate=s.learning_rate, warmup_steps=s.warmup_steps, weight_decay=s.weight_decay,
        lr_scheduler_type=s.lr_scheduler_type, per_device_train_batch_size=s.per_device_train_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps, max_steps=s.max_steps,
        max_length=max_length or config.effective()["max_length"], seed=config.seed, data_seed=config.seed,
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=2, report_to=config.report_to, use_cpu=not gpu,
        bf16=gpu and torch.cuda.is_bf16_supported(), gradient_checkpointing=None,
        activation_checkpointing=gpu and not _fsdp_checkpoints_activations(),
        disable_tqdm=not progress, packing=False, padding_free=False, dataloader_num_workers=0,
        shuffle_dataset=False, run_name=f"{Path(output_dir).parent.parent.name}/{role}",
    )
    kwargs.update(config.sft_overrides)
    return GLPFTStageConfig(**kwargs)


def build_role_model(config: GLPFTConfig, base_path: str | os.PathLike, init_from: str | os.PathLike | None):
    """The trainable model of one role: a fresh LoRA on ``base_path``, the adapter at ``init_from`` loaded
    trainable (stage-2 copy), or (full fine-tuning) the full model at ``init_from or base_path``.

    >>> model = build_role_model(cfg, base, run_dir / "adapters" / "backbone")  # doctest: +SKIP
    """
    from transformers import set_seed

    from umi_lab.backbone import load_backbone

    set_seed(config.seed)
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if on_gpu() else "cpu"  # each rank its own GPU
    if not config.lora.enabled:
        model, _ = load_backbone(init_from or base_path, device=device)
        return model
    from peft import PeftModel, get_peft_model

    base, _ = load_backbone(base_path, device=device)
    if on_gpu():
        base.enable_input_require_grads()
    with known_deprecations_silenced():  # PEFT reads the deprecated is_gradient_checkpointing
        if init_from:
            return PeftModel.from_pretrained(base, str(init_from), is_trainable=True)
        return get_peft_model(base, config.lora.peft_config())


@contextlib.contextmanager
def known_deprecations_silenced():
    """Hide the deprecation warnings the libraries raise about each other (not about our code):
    transformers' ``is_gradient_checkpointing`` FutureWarning read by PEFT/TRL, tokenizer length notes."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*Token indices sequence length.*")
        yield


LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "tokenizers")


def library_versions() -> dict[str, str | None]:
    """Python's and the training libraries' versions (None for one that is not installed).

    >>> "torch" in library_versions()
    True
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out


def run_versions() -> dict[str, Any]:
    """``library_versions()`` plus world size and CUDA availability (``versions.json``)."""
    import torch

    return {**library_versions(), "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "cuda": torch.cuda.is_available()}
