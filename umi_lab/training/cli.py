"""``python -m umi_lab train``: flags generated from the typed config (every field a YAML can set)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from umi_lab.cli_types import finite_float, non_negative_int
from umi_lab.methods import METHODS
from umi_lab.training_config import GLPFTConfig, LoRASettings, StageSchedule, read_config_file

ROLES = ("backbone", "planner", "caller", "summarizer", "multitask")
_SKIP = {"schedule_overrides", "sft_overrides", "lora", "prompt_style", "resume"}
HELP = {
    "method": "a registered method (umi_lab.methods): " + ", ".join(METHODS),
    "model": "hub id, local folder, 'tiny', 'tiny-test' or 'smollm2-135m'",
    "data": "folder with train.json (conversations) or train_<role>.json (role datasets)",
    "out": "run directory (another configuration already there goes to <out>-<hash8>)",
    "init": "stage-2 initialisation of alpha_umi: copy or merge (= method alpha_umi_merge)",
    "schedule": "schedule preset: paper, lora or tiny; fields per role below",
    "max_dialogues": "train on this many dialogues, drawn with sample_seed (the same for every method)",
    "smoke": "apply the smoke budgets of umi_lab/configs/smoke.yaml",
    "report_to": "experiment tracker via TRL's report_to: none (default) or tensorboard (RUN/tracking/)",
}


def _scalar_type(tp) -> type | None:
    tp = tp if not isinstance(tp, str) else {"str": str, "int": int, "float": float, "bool": bool}.get(tp, tp)
    if isinstance(tp, str):
        names = [t.strip() for t in tp.split("|")]
        kinds = [t for t in names if t != "None"]
        if len(kinds) == 1 and kinds[0] in ("str", "int", "float", "bool"):
            return {"str": str, "int": int, "float": float, "bool": bool}[kinds[0]]
        return str if "str" in kinds else None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return tp if tp in (str, int, float, bool) else (args[0] if len(args) == 1 else None)



def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_fields(p, cls, prefix: str, dest: str, skip=()) -> None:
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = _scalar_type(f.type)
        if kind is None:
            continue
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        extra = {"nargs": "?", "const": True} if kind is bool else {}  # `--smoke` alone means true
        parse = {bool: _bool, float: finite_float, str: str}.get(kind, non_negative_int)
        if kind is int and f.name == "max_steps":  # TRL's -1 means "no step limit"
            parse = int
        p.add_argument(flag, dest=f"{dest}{f.name}", type=parse, default=None,
                       metavar=kind.__name__.upper(),
                       help=f"{HELP.get(f.name, '') if not prefix else ''} (config field {prefix}{f.name})".strip(),
                       **extra)


def build_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one flag per config field: ``--seed``, ``--lora.r``, ``--planner.learning-rate`` (one role),
    ``--all.learning-rate`` (every role), plus ``--config FILE``, ``--full-finetune``, ``--verbose``."""
    p.add_argument("--config", default=None, help="YAML/JSON config file (see umi_lab/configs/); flags override it")
    _add_fields(p, GLPFTConfig, "", "cfg.", skip=_SKIP)
    _add_fields(p, LoRASettings, "lora.", "lora.")
    for role in ("all", *ROLES):
        _add_fields(p, StageSchedule, f"{role}.", f"sched.{role}.")
    p.add_argument("--full-finetune", action="store_true", help="train all weights instead of LoRA")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--verbose", action="store_true", help="show TRL/transformers logs (else in RUN/train.log)")
    return p


def config_from_args(args) -> GLPFTConfig:
    """Merge ``--config FILE`` with the command-line flags (flags win) into a validated config."""
    raw: dict[str, Any] = read_config_file(args.config) if args.config else {}
    lora, sched = dict(raw.get("lora", {})), {k: dict(v) for k, v in raw.get("schedule_overrides", {}).items()}
    for key, value in vars(args).items():
        if value is None or "." not in key:
            continue
        kind, _, rest = key.partition(".")
        if kind == "cfg":
            raw[rest] = value
        elif kind == "lora":
            lora[rest] = value
        elif kind == "sched":
            role, _, name = rest.partition(".")
            for r in (ROLES if role == "all" else (role,)):
                sched.setdefault(r, {})[name] = value
    if args.full_finetune:
        lora["enabled"] = False
    if lora:
        raw["lora"] = lora
    if sched:
        raw["schedule_overrides"] = sched
    return GLPFTConfig.from_dict(raw, file=args.config)


def _cli_train(args) -> int:
    from umi_lab.rundir import RunDir
    from umi_lab.training.run import TrainingInterrupted, train

    config = config_from_args(args)
    try:
        run_dir = train(config, progress=not args.no_progress, verbose=args.verbose)
    except TrainingInterrupted as e:
        print(f"\n{e}", file=sys.stderr)
        return 130
    run = RunDir(run_dir)
    info = run.info()
    print(f"run: {run_dir} ({info['status']})")
    for role, path in {**info["adapters"], **info["models"]}.items():
        print(f"  {role:10s} {path}")
    stats = run.read("data_stats.json") or {}
    rows, _ = run.loss_history()
    for role in dict.fromkeys(r["role"] for r in rows):
        losses = [r["loss"] for r in rows if r["role"] == role]
        print(f"  loss {role:10s} {losses[0]:.4f} -> {losses[-1]:.4f} ({len(losses)} logged steps)")
    for role, st in stats.items():
        if isinstance(st, dict) and "samples" in st:
            print(f"  data {role:10s} {st['samples']} samples from {st.get('dialogues', '?')} dialogues, "
                  f"{100 * st['prompt_truncated_share']:.1f}% prompts truncated, "
                  f"{100 * st['target_truncated_share']:.1f}% targets cut")
    return 0


def add_cli(subparsers) -> None:
    """Register ``train``: ``python -m umi_lab train --method alpha_umi --model tiny --data DIR --out RUN``."""
    p = subparsers.add_parser("train", help="GLPFT (alpha_umi) and baseline training with TRL + LoRA")
    build_parser(p)
    p.set_defaults(func=_cli_train)
