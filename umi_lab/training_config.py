"""Typed, validated configuration for GLPFT training and its baselines.

``GLPFTConfig`` is the whole run (method, model, data, LoRA, schedule, init, seed, prompt style);
``GLPFTStageConfig`` extends TRL's ``SFTConfig`` with the role and stage being trained, and is what
each ``SFTTrainer`` receives. Schedules come from presets (``SCHEDULE_PRESETS``):

* ``paper``: the α-UMi paper's full fine-tuning schedule — stage 1: 2 epochs, lr 5e-5, warmup 0.4,
  cosine; planner and caller: 1 epoch, lr 1e-5, weight decay 0.01, warmup 0.2; summarizer: 2 epochs,
  lr 1e-5, weight decay 0.01, warmup 0.4.
* ``lora`` (default): the same epochs and warmup shapes with learning rates scaled for LoRA (stage 1
  2e-4, stage 2 5e-5). A LoRA update starts at zero and lives in a rank-r subspace, so each step moves
  the model much less than a full-parameter step at the same lr; LoRA practice (LoRA, QLoRA papers)
  therefore uses roughly 10x the full fine-tuning rate. Stage 2 keeps the paper's 5x ratio between
  stage 1 and stage 2 rates.
* ``tiny``: for the embedded CPU model, whose few hundred training steps need larger rates still.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from trl import SFTConfig

from umi_lab.errors import DataError
from umi_lab.io import read_text
from umi_lab.methods import METHODS, REFERENCE, get_method, with_init  # noqa: F401  (the registry owns method names)
from umi_lab.protocol.prompts import FAMILIES, PromptStyle

TRAIN_ROLES = ("backbone", "planner", "caller", "summarizer", "multitask")
INITS = ("copy", "merge")
DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class LoRASettings:
    """LoRA hyper-parameters; ``enabled=False`` switches to full fine-tuning."""

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))

    def peft_config(self):
        """The matching ``peft.LoraConfig``. Example: ``LoRASettings(r=8).peft_config().r == 8``."""
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules), bias="none", task_type="CAUSAL_LM")


@dataclass
class StageSchedule:
    """Optimisation schedule of one role's training, in TRL ``SFTConfig``'s own field names.

    ``warmup_steps`` below 1 is a fraction of the total steps (as in transformers). The older names
    ``epochs``, ``batch_size`` and ``warmup_ratio`` are accepted in configs and readable as properties.
    """

    num_train_epochs: float = 1.0
    learning_rate: float = 1e-4
    warmup_steps: float = 0.0
    weight_decay: float = 0.0
    lr_scheduler_type: str = "cosine"
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_steps: int = -1

    @property
    def epochs(self) -> float:
        return self.num_train_epochs

    @property
    def batch_size(self) -> int:
        return self.per_device_train_batch_size

    @property
    def warmup_ratio(self) -> float:
        return self.warmup_steps


SCHEDULE_ALIASES = {"epochs": "num_train_epochs", "batch_size": "per_device_train_batch_size",
                    "warmup_ratio": "warmup_steps"}


@dataclass
class Schedule:
    """One ``StageSchedule`` per trainable role."""

    backbone: StageSchedule = field(default_factory=StageSchedule)
    planner: StageSchedule = field(default_factory=StageSchedule)
    caller: StageSchedule = field(default_factory=StageSchedule)
    summarizer: StageSchedule = field(default_factory=StageSchedule)
    multitask: StageSchedule = field(default_factory=StageSchedule)


def _schedule(stage1_lr: float, stage2_lr: float) -> Schedule:
    s1 = StageSchedule(num_train_epochs=2, learning_rate=stage1_lr, warmup_steps=0.4)
    pc = StageSchedule(num_train_epochs=1, learning_rate=stage2_lr, weight_decay=0.01, warmup_steps=0.2)
    summ = StageSchedule(num_train_epochs=2, learning_rate=stage2_lr, weight_decay=0.01, warmup_steps=0.4)
    return Schedule(backbone=s1, planner=pc, caller=replace(pc), summarizer=summ, multitask=replace(s1))


SCHEDULE_PRESETS: dict[str, Schedule] = {
    "paper": _schedule(5e-5, 1e-5),
    "lora": _schedule(2e-4, 5e-5),
    "tiny": _schedule(2e-3, 1e-3),
}


@dataclass
class GLPFTStageConfig(SFTConfig):
    """TRL ``SFTConfig`` plus the role and stage being trained (``stage`` 1 = backbone, 2 = roles)."""

    role: str = "backbone"
    stage: int = 1


@dataclass
class GLPFTConfig:
    """A whole training run. Example::

        GLPFTConfig(method="alpha_umi", model="tiny", data="data/toolworld", out="runs/a", smoke=True)

    ``schedule`` is a preset name or a ``Schedule``; ``schedule_overrides`` maps a role to field changes
    (``{"planner": {"learning_rate": 2e-5}}``); ``sft_overrides`` are extra ``SFTConfig`` keyword arguments.
    """

    method: str = REFERENCE
    model: str = "tiny"
    data: str = ""
    out: str = ""
    init: str | None = None
    seed: int = 42
    schedule: str | Schedule = "lora"
    schedule_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    lora: LoRASettings = field(default_factory=LoRASettings)
    prompt_style: PromptStyle = field(default_factory=PromptStyle)
    family: str = "toolbench"
    compat: str = "default"
    max_length: int = 1024
    min_prompt_tokens: int = 32
    max_dialogues: int | None = None
    sample_seed: int = 0
    smoke: bool = False
    logging_steps: int = 1
    save_steps: int = 50
    report_to: str = "none"
    sft_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.lora, dict):
            self.lora = _build(LoRASettings, self.lora, "lora")
        if isinstance(self.prompt_style, dict):
            self.prompt_style = _build(PromptStyle, self.prompt_style, "prompt_style")
        self.validate()

    # ------------------------------------------------------------------ validation / resolution
    def validate(self) -> None:
        """Raise ``DataError`` (naming the field) for an invalid value."""
        def bad(name, msg):
            raise DataError(msg, field=name)

        if self.init is not None and self.init not in INITS:
            bad("init", f"unknown init {self.init!r}; expected one of {', '.join(INITS)}")
        get_method(self.method)  # DataError naming the registered methods
        self.method = with_init(self.method, self.init)
        method = get_method(self.method)
        self.init = method.init if method.init != "base" else "copy"  # normalised: the method decides
        if isinstance(self.schedule, str) and self.schedule not in SCHEDULE_PRESETS:
            bad("schedule", f"unknown schedule preset {self.schedule!r}; expected one of {', '.join(SCHEDULE_PRESETS)}")
        if self.family not in FAMILIES:
            bad("family", f"unknown prompt family {self.family!r}; expected one of {', '.join(FAMILIES)}")
        for name in ("max_length", "min_prompt_tokens", "logging_steps", "save_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                bad(name, f"expected a positive integer, got {getattr(self, name)!r}")
        if self.min_prompt_tokens >= self.max_length:
            bad("min_prompt_tokens", "must be smaller than max_length")
        if self.max_dialogues is not None and (not isinstance(self.max_dialogues, int) or self.max_dialogues < 1):
            bad("max_dialogues", f"expected a positive integer or null, got {self.max_dialogues!r}")
        if self.report_to not in ("none", "tensorboard", "trackio", "wandb", "mlflow", "all"):
            bad("report_to", f"unknown tracker {self.report_to!r}; expected none, tensorboard or trackio")
        if not isinstance(self.seed, int):
            bad("seed", f"expected an integer, got {self.seed!r}")
        if self.lora.r < 1 or not 0 <= self.lora.dropout < 1 or not self.lora.target_modules:
            bad("lora", "need r >= 1, 0 <= dropout < 1 and at least one target module")
        for role, changes in self.schedule_overrides.items():
            if role not in TRAIN_ROLES:
                bad(f"schedule_overrides.{role}", f"unknown role; expected one of {', '.join(TRAIN_ROLES)}")
            checked = _build(StageSchedule, changes, f"schedule_overrides.{role}")  # names and types
            self.schedule_overrides[role] = {SCHEDULE_ALIASES.get(k, k): getattr(checked, SCHEDULE_ALIASES.get(k, k))
                                             for k in changes}
        known_sft = {f.name for f in fields(SFTConfig)}
        for key in self.sft_overrides:
            if key not in known_sft:
                bad(f"sft_overrides.{key}", "not an SFTConfig field")

    def resolved_schedule(self) -> Schedule:
        """The preset (or given ``Schedule``) with overrides applied and, in smoke mode, shrunk."""
        base = SCHEDULE_PRESETS[self.schedule] if isinstance(self.schedule, str) else self.schedule
        out = {}
        for f in fields(Schedule):
            stage = getattr(base, f.name)
            if self.smoke:
                stage = replace(stage, **smoke_preset()["schedule_overrides"].get(f.name, {}))
            stage = replace(stage, **self.schedule_overrides.get(f.name, {}))  # explicit overrides win
            out[f.name] = stage
        return Schedule(**out)

    def effective(self) -> dict[str, Any]:
        """Smoke-mode adjustments of the data size (dialogues drawn) and sequence length."""
        if not self.smoke:
            return {"max_dialogues": self.max_dialogues, "max_length": self.max_length}
        preset = smoke_preset()
        cap = preset["max_dialogues"]
        return {"max_dialogues": min(self.max_dialogues or cap, cap), "max_length": min(self.max_length,
                                                                                        preset["max_length"])}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the schedule resolved (what ``config.json`` holds)."""
        d = asdict(self)
        d["schedule_preset"] = self.schedule if isinstance(self.schedule, str) else None
        d["schedule"] = asdict(self.resolved_schedule())
        d["prompt_style"] = asdict(self.prompt_style)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> GLPFTConfig:
        """Build from a plain dict; unknown fields or bad values → ``DataError`` naming file and field.

        >>> GLPFTConfig.from_dict({"method": "single_llm", "lora": {"r": 4}}).lora.r
        4
        """
        if not isinstance(d, dict):
            raise DataError("expected a mapping of config fields", file=file)
        d = dict(d)
        d.pop("schedule_preset", None)
        d.pop("resume", None)  # runs resume by themselves; old configs may still carry the flag
        if "max_samples" in d:  # renamed: the subsample is drawn by dialogue
            d.setdefault("max_dialogues", d.pop("max_samples"))
        try:
            if isinstance(d.get("schedule"), dict):
                d["schedule"] = Schedule(**{role: _build(StageSchedule, v, f"schedule.{role}")
                                            for role, v in _checked(d["schedule"], Schedule, "schedule").items()})
            return _build(cls, d, None)
        except DataError as e:
            raise e.located(file=file) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> GLPFTConfig:
        """Load a YAML or JSON config file. Example: ``GLPFTConfig.from_file("umi_lab/configs/smoke.yaml")``."""
        return cls.from_dict(read_config_file(path), file=str(path))


def smoke_preset() -> dict[str, Any]:
    """The smoke budgets from the packaged ``configs/smoke.yaml`` (its one definition).

    >>> smoke_preset()["max_dialogues"]
    4
    """
    global _SMOKE
    if _SMOKE is None:
        from importlib.resources import files

        import yaml

        raw = yaml.safe_load(files("umi_lab").joinpath("configs", "smoke.yaml").read_text(encoding="utf-8"))
        overrides = {role: {SCHEDULE_ALIASES.get(k, k): v for k, v in changes.items()}
                     for role, changes in raw.get("schedule_overrides", {}).items()}
        _SMOKE = {"max_dialogues": int(raw["max_dialogues"]), "max_length": int(raw["max_length"]),
                  "schedule_overrides": overrides}
    return _SMOKE


_SMOKE: dict[str, Any] | None = None


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping in a YAML (``.yaml``/``.yml``) or JSON config file; errors name the file."""
    path = Path(path)
    text = read_text(path)  # missing file, directory, bad encoding: DataErrors naming the file
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise DataError(f"invalid YAML: {e}", file=str(path)) from None
        except RecursionError:
            raise DataError("YAML nested too deeply to parse", file=str(path)) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"invalid JSON at line {e.lineno}: {e.msg}", file=str(path)) from None
        except RecursionError:
            raise DataError("JSON nested too deeply to parse", file=str(path)) from None
    if not isinstance(data, dict):
        raise DataError("expected a mapping of config fields", file=str(path))
    return data


def _checked(d: Any, cls, where: str) -> dict:
    if not isinstance(d, dict):
        raise DataError(f"expected a mapping, got {type(d).__name__}", field=where)
    known = {f.name for f in fields(cls)}
    for key in d:
        if key not in known:
            raise DataError(f"unknown field; expected one of {', '.join(sorted(known))}",
                            field=f"{where}.{key}" if where else key)
    return d


def _build(cls, d: Any, where: str | None):
    if cls is StageSchedule and isinstance(d, dict):
        d = {SCHEDULE_ALIASES.get(k, k): v for k, v in d.items()}
    d = dict(_checked(d, cls, where or ""))
    types = {f.name: f.type for f in fields(cls)}
    for key, value in list(d.items()):
        t = str(types[key])
        if t == "float" and isinstance(value, str):  # YAML reads 5e-5 (no dot) as a string
            try:
                value = d[key] = float(value)
            except ValueError:
                pass
        name = f"{where}.{key}" if where else key
        if t in ("int",) and (not isinstance(value, int) or isinstance(value, bool)):
            raise DataError(f"expected an integer, got {value!r}", field=name)
        if t == "float" and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise DataError(f"expected a number, got {value!r}", field=name)
        if t == "bool" and not isinstance(value, bool):
            raise DataError(f"expected true or false, got {value!r}", field=name)
        if t == "str" and not isinstance(value, str):
            raise DataError(f"expected a string, got {value!r}", field=name)
    try:
        return cls(**d)
    except TypeError as e:
        raise DataError(str(e), field=where) from None
