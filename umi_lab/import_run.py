"""``python -m umi_lab import-run``: a run folder from full-weight checkpoints (e.g. the released α-UMi models).

``import-run --planner P --caller C --summarizer S --out RUN`` (α-UMi) or ``--backbone B --out RUN``
(Single-LLM) writes a run that ``evaluate``, the tables and the replay accept, exactly like a full fine-tuning
run of ``train``: ``config.json`` (method, ``lora.enabled: false``, prompt style and family, and under
``imported`` each checkpoint's absolute path and a fingerprint of its ``config.json``), ``status`` (``done``)
and ``models/<role>``, a symbolic link to each checkpoint folder (``--copy`` copies it instead; 7B weights
are 13 GB per role, so linking is the default). Each folder must hold a ``config.json``, weights
(``*.safetensors`` or ``pytorch_model*.bin``) and a tokenizer; nothing is loaded at import time.

The released models were trained with the official prompt (``system: `` prefix, ToolBench family), which is
the default here. Example::

    python -m umi_lab import-run --planner ckpt/planner-7b --caller ckpt/caller-7b \\
        --summarizer ckpt/summarizer-7b --out runs/alpha-umi-7b
    python -m umi_lab evaluate --run runs/alpha-umi-7b --benchmark toolbench-ood --decoding official
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.rundir import RunDir

MULTI_ROLES = ("planner", "caller", "summarizer")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def check_checkpoint(path: str | os.PathLike, role: str) -> dict[str, Any]:
    """Check a full-weight checkpoint folder and return its provenance record; a ``DataError`` names what is
    missing. Example: ``check_checkpoint("ckpt/planner-7b", "planner")["config_sha256"]``."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{role} checkpoint folder not found", file=str(folder), field=role)
    if not (folder / "config.json").is_file():
        raise DataError(f"{role} checkpoint has no config.json (a Hugging Face model folder is expected)",
                        file=str(folder), field=role)
    if (folder / "adapter_config.json").is_file():
        raise DataError(f"{role} checkpoint is a LoRA adapter, not full weights; import-run takes full models",
                        file=str(folder), field=role)
    weights = sorted({p.name for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)})
    if not weights:
        raise DataError(f"{role} checkpoint has no weights (*.safetensors or pytorch_model*.bin)",
                        file=str(folder), field=role)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise DataError(f"{role} checkpoint has no tokenizer ({', '.join(TOKENIZER_FILES)})", file=str(folder),
                        field=role)
    return {"path": str(folder.resolve()), "weights": weights,
            "config_sha256": hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()}


def import_run(out: str | os.PathLike, *, planner: str | None = None, caller: str | None = None,
               summarizer: str | None = None, backbone: str | None = None, method: str | None = None,
               family: str = "toolbench", system_prefix: bool = True, copy: bool = False) -> Path:
    """Write a run folder serving the given full-weight checkpoints; returns its path.

    Example: ``import_run("runs/a7b", planner="p", caller="c", summarizer="s")``.
    """
    from umi_lab.methods import default_method, get_method

    multi = {"planner": planner, "caller": caller, "summarizer": summarizer}
    if backbone and any(multi.values()):
        raise DataError("give either --backbone or --planner/--caller/--summarizer, not both", field="backbone")
    method = method or default_method("backbone" if backbone else "multi")
    served = tuple(dict.fromkeys(get_method(method).serving.values()))  # the models the method's agent calls
    if backbone:
        if len(served) != 1:
            raise DataError(f"method {method!r} serves {', '.join(served)}: give --planner/--caller/--summarizer",
                            field="backbone")
        roles = {served[0]: backbone}
    else:
        missing = [r for r in served if not multi.get(r)]
        if missing or set(served) != set(multi):
            raise DataError(f"missing --{' --'.join(missing or ['backbone'])} (method {method!r} serves "
                            f"{', '.join(served)}; give --backbone for a Single-LLM checkpoint)",
                            field=(missing or ["backbone"])[0])
        roles = {r: multi[r] for r in served}
    records = {role: check_checkpoint(path, role) for role, path in roles.items()}
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError("output folder exists and is not empty; choose another --out", file=str(out))
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    for role, rec in records.items():
        if copy:
            shutil.copytree(rec["path"], models / role, symlinks=False)
        else:
            (models / role).symlink_to(rec["path"], target_is_directory=True)
    first = next(iter(records.values()))["path"]
    config = {"method": method, "model": first, "model_name_or_path": first, "data": "", "family": family,
              "lora": {"enabled": False}, "prompt_style": {"system_prefix": system_prefix}, "seed": 0,
              "imported": {"roles": records, "copied": copy}}
    run = RunDir(out)
    run.write_meta(config=config, identity={"imported": {r: rec["config_sha256"] for r, rec in records.items()},
                                            "method": method},
                   fingerprints={r: {"config.json": rec["config_sha256"]} for r, rec in records.items()},
                   versions=_versions(), data_stats={})
    run.set_status("done")
    return out


def _versions() -> dict[str, str | None]:
    import platform
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("umi-lab", "torch", "transformers", "peft"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cmd(args: argparse.Namespace) -> int:
    out = import_run(args.out, planner=args.planner, caller=args.caller, summarizer=args.summarizer,
                     backbone=args.backbone, method=args.method, family=args.family,
                     system_prefix=not args.no_system_prefix, copy=args.copy)
    print(f"run: {out}")
    for p in sorted((out / "models").iterdir()):
        print(f"  {p.name:10s} {p.resolve()}")
    return 0


def add_cli(subparsers) -> None:
    """Register ``import-run``."""
    p = subparsers.add_parser("import-run", help="a run folder from full-weight checkpoints (released α-UMi models)")
    for role in (*MULTI_ROLES, "backbone"):
        p.add_argument(f"--{role}", help=f"{role} checkpoint folder (full weights + tokenizer)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--method", help="a registered method (default: the reference method, alpha_umi, or the first backbone method, single_llm, with --backbone); "
                                    "its serving map says which checkpoints it needs")
    p.add_argument("--family", default="toolbench", help="prompt family the checkpoints were trained with")
    p.add_argument("--no-system-prefix", action="store_true", help="prompts without the official 'system: '")
    p.add_argument("--copy", action="store_true", help="copy the checkpoint folders instead of linking them")
    p.set_defaults(func=_cmd)
