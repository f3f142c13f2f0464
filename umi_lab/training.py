"""GLPFT (global-to-local progressive fine-tuning) and its baselines, with TRL ``SFTTrainer`` and PEFT.

Methods (``METHODS``):

* ``alpha_umi`` — stage 1 trains the backbone on ``backbone`` data; stage 2 trains planner, caller and
  summarizer, each on its own data, starting from stage 1: ``init="copy"`` copies the stage-1 adapter
  into three adapters that keep training (one base model), ``init="merge"`` merges stage 1 into the base
  (saved to ``RUN_DIR/base``) and trains three fresh adapters on it.
* ``single_llm`` — stage 1 only (one model plays every role).
* ``multi_llm_one_stage`` — the three role adapters trained directly from the base.
* ``single_llm_multitask`` — one adapter on the ``multitask`` data (planner + caller + summarizer samples).

Every sample ``{tools, history, input, target}`` becomes ``prompt = style.model_prompt(input)`` and
``completion = target + EOS``. We tokenize ourselves and hand TRL ``input_ids``/``labels`` (prompt tokens
labelled -100), so the loss is on the target and EOS only; an over-long sample loses tokens from the
LEFT of its prompt, never from the target. The run directory layout is in ``docs/architecture.md``;
``run_info(run_dir)`` tells serving code what to load.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from umi_lab.errors import DataError
from umi_lab.io import atomic_write_text, read_json, read_jsonl, read_records, write_json, write_jsonl
from umi_lab.protocol.prompts import PromptStyle
from umi_lab.training_config import (
    INITS,
    METHODS,
    SCHEDULE_PRESETS,
    GLPFTConfig,
    GLPFTStageConfig,
    LoRASettings,
    Schedule,
    StageSchedule,
    read_config_file,
)

__all__ = ["GLPFTConfig", "GLPFTStageConfig", "LoRASettings", "Schedule", "StageSchedule", "SCHEDULE_PRESETS",
           "METHODS", "INITS", "LossRecorder", "encode_sample", "build_dataset", "load_role_data", "method_plan",
           "stage_config", "build_role_model", "train", "run_info", "add_cli"]

STAGE2_ROLES = ("planner", "caller", "summarizer")


# ------------------------------------------------------------------------------------------- data

def _check_sample(sample: Any, file: str | None, i: int) -> None:
    if not isinstance(sample, dict):
        raise DataError(f"expected an object, got {type(sample).__name__}", file=file, record=i)
    for key in ("input", "target"):
        if key not in sample:
            raise DataError("missing", file=file, record=i, field=key)
        if not isinstance(sample[key], str):
            raise DataError(f"expected a string, got {type(sample[key]).__name__}", file=file, record=i, field=key)


@dataclass
class EncodeStats:
    """What tokenization did to a role dataset (written to ``data_stats.json``)."""

    samples: int = 0
    prompt_truncated: int = 0
    target_truncated: int = 0
    prompt_tokens: int = 0
    target_tokens: int = 0


def encode_sample(sample: dict, tokenizer, *, style: PromptStyle, max_length: int,
                  min_prompt_tokens: int = 32) -> tuple[dict[str, list[int]], dict[str, bool]]:
    """One role sample → ``{"input_ids", "labels"}`` with the prompt masked (-100) and EOS appended.

    Over-long samples drop prompt tokens from the left; only a target longer than
    ``max_length - min_prompt_tokens`` is itself cut (from the right, keeping EOS), which is flagged.

    >>> ids, flags = encode_sample({"input": "x assistant: ", "target": "hi"}, tok, style=PromptStyle(),
    ...                            max_length=64)  # doctest: +SKIP
    """
    text = style.model_prompt(sample["input"], tools=sample.get("tools"), tokenizer=tokenizer)
    prompt = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    target = tokenizer(sample["target"], add_special_tokens=False, verbose=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if not target or target[-1] != eos:
        target = target + [eos]
    flags = {"prompt_truncated": False, "target_truncated": False}
    budget = max_length - min_prompt_tokens
    if len(target) > budget:
        target = target[:budget - 1] + [eos]
        flags["target_truncated"] = True
    room = max_length - len(target)
    if len(prompt) > room:
        prompt = prompt[len(prompt) - room:]
        flags["prompt_truncated"] = True
    return {"input_ids": prompt + target, "labels": [-100] * len(prompt) + target}, flags


def build_dataset(samples: Sequence[dict], tokenizer, *, style: PromptStyle, max_length: int,
                  min_prompt_tokens: int = 32, file: str | None = None):
    """Validate and tokenize role samples into a ``datasets.Dataset`` TRL trains on as is.

    >>> ds, stats = build_dataset(samples, tok, style=PromptStyle(), max_length=512)  # doctest: +SKIP
    """
    from datasets import Dataset

    rows, stats = [], EncodeStats()
    for i, sample in enumerate(samples):
        _check_sample(sample, file, i)
        row, flags = encode_sample(sample, tokenizer, style=style, max_length=max_length,
                                   min_prompt_tokens=min_prompt_tokens)
        rows.append(row)
        stats.samples += 1
        stats.prompt_truncated += flags["prompt_truncated"]
        stats.target_truncated += flags["target_truncated"]
        n_target = sum(1 for x in row["labels"] if x != -100)
        stats.target_tokens += n_target
        stats.prompt_tokens += len(row["input_ids"]) - n_target
    if not rows:
        raise DataError("no training samples", file=file)
    return Dataset.from_list(rows), stats


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def method_roles(method: str) -> tuple[str, ...]:
    """The datasets a method trains on. Example: ``method_roles("single_llm") == ("backbone",)``."""
    return {"alpha_umi": ("backbone", *STAGE2_ROLES), "single_llm": ("backbone",),
            "multi_llm_one_stage": STAGE2_ROLES, "single_llm_multitask": ("multitask",)}[method]


def load_role_data(data: str | os.PathLike, roles: Iterable[str], *, family: str = "toolbench",
                   compat: str = "default") -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Role samples for ``roles`` from a folder, and the sha256 of every file read.

    The folder holds ready role datasets ``train_<role>.json`` (``multitask`` falls back to planner +
    caller + summarizer), or conversations ``train.json`` split on the fly with
    ``umi_lab.splitting.split_roles``.

    >>> data, sha = load_role_data("/work/shared/data/alpha_umi_toolbench/train-example", ["planner"])  # doctest: +SKIP
    """
    folder = Path(data)
    roles = list(roles)
    if not folder.is_dir():
        raise DataError("data folder not found", file=str(folder))
    ready = {r: folder / f"train_{r}.json" for r in ("backbone", *STAGE2_ROLES, "multitask")}
    fingerprints: dict[str, str] = {}
    out: dict[str, list[dict]] = {}
    if any(ready[r].is_file() for r in roles) or not (folder / "train.json").is_file():
        for role in roles:
            wanted = [role] if role != "multitask" or ready["multitask"].is_file() else list(STAGE2_ROLES)
            out[role] = []
            for r in wanted:
                if not ready[r].is_file():
                    raise DataError(f"missing role dataset for {role!r} (and no train.json to split)",
                                    file=str(ready[r]))
                out[role].extend(read_records(ready[r]))
                fingerprints[str(ready[r])] = _sha256(ready[r])
        return out, fingerprints
    try:
        from umi_lab.splitting import split_roles
    except ModuleNotFoundError as e:
        raise DataError(f"cannot split conversations into role datasets: {e}", file=str(folder / "train.json")) from None
    from umi_lab.protocol.dialogue import load_dialogues

    dialogues = load_dialogues(folder / "train.json")
    fingerprints[str(folder / "train.json")] = _sha256(folder / "train.json")
    split = split_roles(dialogues, family=family, compat=compat)
    split = split if isinstance(split, dict) else getattr(split, "datasets", split)
    for role in roles:
        if role in split:
            out[role] = list(split[role])
        elif role == "multitask":
            out[role] = [s for r in STAGE2_ROLES for s in split[r]]
        else:
            raise DataError(f"split_roles gave no {role!r} dataset", file=str(folder / "train.json"))
    return out, fingerprints


# -------------------------------------------------------------------------------- trainer pieces

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

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        row = {"stage": self.stage, "role": self.role, "step": state.global_step,
               "epoch": round(state.epoch or 0.0, 4), "loss": float(logs["loss"]),
               "learning_rate": float(logs.get("learning_rate", 0.0))}
        self.records.append(row)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        if self.hook:
            self.hook(row)


class _RunHistory(LossRecorder):
    """The run's own recorder (a subclass, so a user's ``LossRecorder`` is not reported as a duplicate)."""


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def stage_config(config: GLPFTConfig, role: str, stage: int, output_dir: str | os.PathLike, *,
                 progress: bool = True, max_length: int | None = None) -> GLPFTStageConfig:
    """The ``SFTConfig`` for one role of a run (schedule, checkpoints, precision for this machine).

    >>> stage_config(GLPFTConfig(), "planner", 2, "/tmp/w").learning_rate
    5e-05
    """
    import torch

    s: StageSchedule = getattr(config.resolved_schedule(), role)
    gpu = _on_gpu()
    kwargs = dict(
        output_dir=str(output_dir), role=role, stage=stage, num_train_epochs=s.epochs,
        learning_rate=s.learning_rate, warmup_steps=s.warmup_ratio, weight_decay=s.weight_decay,
        lr_scheduler_type=s.lr_scheduler_type, per_device_train_batch_size=s.batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps, max_steps=s.max_steps,
        max_length=max_length or config.effective()["max_length"], seed=config.seed, data_seed=config.seed,
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=2, report_to="none", use_cpu=not gpu, bf16=gpu and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=None, activation_checkpointing=gpu, disable_tqdm=not progress, packing=False, padding_free=False,
        dataloader_num_workers=0, shuffle_dataset=False,
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
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if _on_gpu() else "cpu"  # each rank its own GPU
    if not config.lora.enabled:
        model, _ = load_backbone(init_from or base_path, device=device)
        return model
    from peft import PeftModel, get_peft_model

    base, _ = load_backbone(base_path, device=device)
    if _on_gpu():
        base.enable_input_require_grads()
    if init_from:
        return PeftModel.from_pretrained(base, str(init_from), is_trainable=True)
    return get_peft_model(base, config.lora.peft_config())


# ------------------------------------------------------------------------------------ run plan

@dataclass
class RoleJob:
    """One ``SFTTrainer`` run: train ``role`` (stage 1 or 2) from ``init`` (an adapter/model dir or None)."""

    stage: int
    role: str
    init: str | None  # "backbone" = the stage-1 result of this run, None = the base


def method_plan(method: str) -> list[RoleJob]:
    """The trainer runs of a method, in order.

    >>> [j.role for j in method_plan("alpha_umi")]
    ['backbone', 'planner', 'caller', 'summarizer']
    """
    if method == "alpha_umi":
        return [RoleJob(1, "backbone", None)] + [RoleJob(2, r, "backbone") for r in STAGE2_ROLES]
    if method == "single_llm":
        return [RoleJob(1, "backbone", None)]
    if method == "multi_llm_one_stage":
        return [RoleJob(1, r, None) for r in STAGE2_ROLES]
    if method == "single_llm_multitask":
        return [RoleJob(1, "multitask", None)]
    raise DataError(f"unknown method {method!r}", field="method")


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _status(run_dir: Path) -> str | None:
    f = run_dir / "status"
    return f.read_text().strip() if f.is_file() else None


def _set_status(run_dir: Path, value: str) -> None:
    if _is_main():
        atomic_write_text(run_dir / "status", value + "\n")


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


def _versions() -> dict[str, Any]:
    import torch

    return {**library_versions(), "world_size": int(os.environ.get("WORLD_SIZE", "1")),
            "cuda": torch.cuda.is_available()}


def _comparable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("resume",)}


def _atomic_save(save: Callable[[Path], None], final: Path) -> None:
    """Save into a temporary sibling folder, then rename it to ``final``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        save(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _trim_history(path: Path, role: str, after_step: int) -> None:
    """Drop loss rows of ``role`` past ``after_step`` (logged before an interruption, redone on resume)."""
    if not path.is_file() or not _is_main():
        return
    keep = [r for r in read_jsonl(path) if not (r["role"] == role and r["step"] > after_step)]
    write_jsonl(path, keep)


def _role_output(config: GLPFTConfig, run_dir: Path, role: str) -> Path:
    return run_dir / ("adapters" if config.lora.enabled else "models") / role


def _prepare_run_dir(config: GLPFTConfig, run_dir: Path) -> None:
    resolved = config.to_dict()
    status = _status(run_dir)
    if status == "done" and not config.resume:
        raise DataError("a finished run is already here; pass --resume to reuse it or choose another --out",
                        file=str(run_dir))
    if (run_dir / "config.json").is_file():
        old = read_json(run_dir / "config.json")
        old.pop("model_name_or_path", None)
        if _comparable(old) != _comparable(resolved):
            changed = sorted(k for k in set(old) | set(resolved) if old.get(k) != resolved.get(k) and k != "resume")
            raise DataError(f"this run directory holds a different config (fields {', '.join(changed)}); "
                            "choose another --out", file=str(run_dir / "config.json"))


def train(config: GLPFTConfig, *, callbacks: Sequence[TrainerCallback] = (), progress: bool = True) -> Path:
    """Run a training method end to end and return the run directory.

    Resumes an interrupted run in the same directory (finished roles are skipped, the running one restarts
    from its last checkpoint); a finished run raises ``DataError`` unless ``config.resume``.

    >>> train(GLPFTConfig(method="single_llm", model="tiny-test", data=folder, out="runs/x", smoke=True))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTTrainer

    from umi_lab.backbone import load_tokenizer, resolve_model

    if not config.out:
        raise DataError("no output directory given", field="out")
    if not config.data:
        raise DataError("no data folder given", field="data")
    run_dir = Path(config.out)
    _prepare_run_dir(config, run_dir)
    if _status(run_dir) == "done":
        return run_dir
    model_path = resolve_model(config.model)
    plan = method_plan(config.method)
    roles = list(dict.fromkeys(j.role for j in plan))
    data, fingerprints = load_role_data(config.data, roles, family=config.family, compat=config.compat)
    eff = config.effective()
    max_length = _fit_context(model_path, eff["max_length"])
    tokenizer = load_tokenizer(model_path)
    datasets, stats = {}, {}
    for role in roles:
        samples = data[role][: eff["max_samples"]] if eff["max_samples"] else data[role]
        datasets[role], st = build_dataset(samples, tokenizer, style=config.prompt_style,
                                           max_length=max_length, min_prompt_tokens=config.min_prompt_tokens,
                                           file=f"{config.data}:{role}")
        stats[role] = st.__dict__

    if _is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", {**config.to_dict(), "model_name_or_path": model_path})
        write_json(run_dir / "fingerprints.json", fingerprints)
        write_json(run_dir / "versions.json", _versions())
        write_json(run_dir / "data_stats.json", {"max_length": max_length, **stats})
    _set_status(run_dir, "running")
    history = run_dir / "loss_history.jsonl"
    user_callbacks = list(callbacks)
    try:
        bar = tqdm(plan, desc=f"{config.method}", disable=not progress or not _is_main())
        for job in bar:
            bar.set_postfix_str(f"stage {job.stage}: {job.role}")
            final = _role_output(config, run_dir, job.role)
            if final.is_dir():
                continue
            base = model_path
            init = None
            if job.init == "backbone":
                if config.init == "merge" and config.lora.enabled:
                    base = str(_merged_base(config, run_dir, model_path))
                else:
                    init = str(_role_output(config, run_dir, "backbone"))
            work = run_dir / "work" / job.role
            checkpoint = get_last_checkpoint(str(work)) if work.is_dir() else None
            _trim_history(history, job.role, int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0)
            model = build_role_model(config, base, init)
            recorder = _RunHistory(history if _is_main() else None, stage=job.stage, role=job.role)
            for cb in user_callbacks:
                if isinstance(cb, LossRecorder):
                    cb.stage, cb.role = job.stage, job.role
            trainer = SFTTrainer(model=model, args=stage_config(config, job.role, job.stage, work, progress=progress,
                                                                  max_length=max_length),
                                 train_dataset=datasets[job.role], processing_class=tokenizer,
                                 callbacks=[recorder, *user_callbacks])
            trainer.train(resume_from_checkpoint=checkpoint)
            if trainer.is_world_process_zero():
                def save(tmp, model=trainer.model):
                    model.save_pretrained(tmp)
                    if not config.lora.enabled:
                        tokenizer.save_pretrained(tmp)
                _atomic_save(save, final)
                shutil.rmtree(work, ignore_errors=True)
            _barrier()
            del trainer, model
    except BaseException:
        _set_status(run_dir, "failed")
        raise
    if _is_main():
        shutil.rmtree(run_dir / "work", ignore_errors=True)
    _set_status(run_dir, "done")
    return run_dir


def _fit_context(model_path: str, max_length: int) -> int:
    """``max_length`` capped at the model's context window (recorded in ``data_stats.json``)."""
    from transformers import AutoConfig

    context = getattr(AutoConfig.from_pretrained(model_path), "max_position_embeddings", None)
    return min(max_length, context) if context else max_length


def _merged_base(config: GLPFTConfig, run_dir: Path, model_path: str) -> Path:
    """``RUN_DIR/base``: the base with the stage-1 adapter merged in (built once, by the main process)."""
    from peft import PeftModel

    from umi_lab.backbone import load_backbone

    out = run_dir / "base"
    if not out.is_dir() and _is_main():
        base, tokenizer = load_backbone(model_path, device="cpu", dtype="float32")
        merged = PeftModel.from_pretrained(base, str(run_dir / "adapters" / "backbone")).merge_and_unload()

        def save(tmp):
            merged.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        _atomic_save(save, out)
    _barrier()
    return out


def run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What serving needs to load a run: base model path, role adapters (or full models), prompt style.

    >>> info = run_info("runs/alpha")  # doctest: +SKIP
    >>> info["adapters"]["planner"]  # doctest: +SKIP
    'runs/alpha/adapters/planner'
    """
    run_dir = Path(run_dir)
    cfg = read_json(run_dir / "config.json")
    lora = cfg.get("lora", {}).get("enabled", True)
    kind = "adapters" if lora else "models"
    found = {p.name: str(p) for p in sorted((run_dir / kind).iterdir()) if p.is_dir() and not p.name.startswith(".")} \
        if (run_dir / kind).is_dir() else {}
    base = cfg["model_name_or_path"]
    if lora and cfg.get("method") == "alpha_umi" and cfg.get("init") == "merge":
        base = str(run_dir / "base")
    return {"method": cfg["method"], "base": base, "adapters": found if lora else {},
            "models": {} if lora else found, "prompt_style": cfg.get("prompt_style", {}),
            "family": cfg.get("family", "toolbench"), "init": cfg.get("init"), "status": _status(run_dir),
            "roles": {"planner": _serving_role(cfg["method"], "planner"),
                      "caller": _serving_role(cfg["method"], "caller"),
                      "summarizer": _serving_role(cfg["method"], "summarizer")}}


def _serving_role(method: str, role: str) -> str:
    """Which trained adapter plays ``role`` at inference for ``method``."""
    return {"single_llm": "backbone", "single_llm_multitask": "multitask"}.get(method, role)


# ------------------------------------------------------------------------------------------- CLI

def config_from_args(args) -> GLPFTConfig:
    """Merge ``--config FILE`` with the command-line flags (flags win) into a validated config."""
    raw: dict[str, Any] = read_config_file(args.config) if args.config else {}
    for key in ("method", "model", "data", "out", "seed", "init", "family", "schedule"):
        value = getattr(args, key, None)
        if value is not None:
            raw[key] = value
    if args.smoke:
        raw["smoke"] = True
    if args.resume:
        raw["resume"] = True
    if args.full_finetune:
        raw["lora"] = {**raw.get("lora", {}), "enabled": False}
    return GLPFTConfig.from_dict(raw, file=args.config)


def _cli_train(args) -> int:
    config = config_from_args(args)
    run_dir = train(config, progress=not args.no_progress)
    info = run_info(run_dir)
    print(f"run: {run_dir} ({info['status']})")
    for role, path in {**info["adapters"], **info["models"]}.items():
        print(f"  {role:10s} {path}")
    history = run_dir / "loss_history.jsonl"
    rows = read_jsonl(history) if history.is_file() else []
    for role in dict.fromkeys(r["role"] for r in rows):
        losses = [r["loss"] for r in rows if r["role"] == role]
        print(f"  loss {role:10s} {losses[0]:.4f} -> {losses[-1]:.4f} ({len(losses)} logged steps)")
    return 0


def add_cli(subparsers) -> None:
    """Register ``train``: ``python -m umi_lab train --method alpha_umi --model tiny --data DIR --out RUN``."""
    p = subparsers.add_parser("train", help="GLPFT (alpha_umi) and baseline training with TRL + LoRA")
    p.add_argument("--method", choices=METHODS, default=None)
    p.add_argument("--model", default=None, help="hub id, local folder, 'tiny', 'tiny-test' or 'smollm2-135m'")
    p.add_argument("--data", default=None, help="folder with train.json or train_<role>.json")
    p.add_argument("--out", default=None, help="run directory")
    p.add_argument("--config", default=None, help="YAML/JSON config file (see umi_lab/configs/)")
    p.add_argument("--schedule", choices=sorted(SCHEDULE_PRESETS), default=None)
    p.add_argument("--init", choices=INITS, default=None, help="stage-2 initialisation (alpha_umi)")
    p.add_argument("--family", default=None, help="prompt family used to split train.json")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--smoke", action="store_true", help="tiny data and a few steps per role")
    p.add_argument("--resume", action="store_true", help="accept an existing finished run")
    p.add_argument("--full-finetune", action="store_true", help="train all weights instead of LoRA")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cli_train)
