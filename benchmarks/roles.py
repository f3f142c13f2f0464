"""Role samples ``{tools, history, input, target}`` for the benchmarks, from the project's data.

Sources: ``toolworld`` (``data/toolworld/train.json`` split by ``umi_lab.splitting``), ``train-example``
(the official α-UMi role files in the shared data), or a folder holding role files named
``train_<role>.json``, ``<role>.json`` or ``<role>/train.json``. ``auto`` takes the first that exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common import REPO

from umi_lab.errors import DataError
from umi_lab.io import data_root, read_records

GLPFT_ROLES = ("backbone", "planner", "caller", "summarizer")
TOOLWORLD_TRAIN = REPO / "data" / "toolworld" / "train.json"


def _check(rows: list[Any], file: str) -> list[dict[str, str]]:
    for i, r in enumerate(rows):
        for key in ("input", "target"):
            if not isinstance(r, dict) or not isinstance(r.get(key), str):
                raise DataError("missing or not a string", file=file, record=i, field=key)
    return rows


def from_folder(folder: str | os.PathLike) -> dict[str, list[dict[str, str]]]:
    """Read the four role files of a folder. Example: ``from_folder("runs/a/data")``."""
    folder = Path(folder)
    out = {}
    for role in GLPFT_ROLES:
        for name in (f"train_{role}.json", f"{role}.json", f"{role}/train.json", f"train_{role}.jsonl"):
            if (folder / name).is_file():
                out[role] = _check(read_records(folder / name), str(folder / name))
                break
        else:
            raise DataError(f"no role file for {role!r} (looked for train_{role}.json, {role}.json, "
                            f"{role}/train.json)", file=str(folder))
    return out


def train_example_folder() -> Path | None:
    """The shared official ``train-example`` folder, or None when the shared data is absent."""
    root = data_root()
    folder = root / "alpha_umi_toolbench" / "train-example" if root else None
    return folder if folder is not None and (folder / "train_planner.json").is_file() else None


def from_toolworld(path: str | os.PathLike = TOOLWORLD_TRAIN) -> dict[str, list[dict[str, str]]]:
    """Split ToolWorld training dialogues into role samples with the project's splitter."""
    from umi_lab.protocol.dialogue import load_dialogues
    from umi_lab.splitting import split_roles

    split = split_roles(load_dialogues(path))
    roles = getattr(split, "roles", split)
    return {role: list(roles[role]) for role in GLPFT_ROLES}


def toolworld_available() -> bool:
    """True when ToolWorld data and the splitter are both present."""
    import importlib.util

    return TOOLWORLD_TRAIN.is_file() and importlib.util.find_spec("umi_lab.splitting") is not None


def load_role_samples(source: str = "auto") -> dict[str, Any]:
    """``{"source": str, "roles": {role: [samples]}}`` from ``auto``, ``toolworld``, ``train-example`` or a folder.

    >>> load_role_samples("train-example")["roles"]["planner"][0].keys()  # doctest: +SKIP
    dict_keys(['tools', 'history', 'input', 'target'])
    """
    if source == "auto":
        if toolworld_available():
            source = "toolworld"
        elif train_example_folder() is not None:
            source = "train-example"
        else:
            raise DataError("no role data: data/toolworld/train.json (with umi_lab.splitting) and the shared "
                            "alpha_umi_toolbench/train-example are both missing", file=str(TOOLWORLD_TRAIN))
    if source == "toolworld":
        return {"source": f"ToolWorld {TOOLWORLD_TRAIN.relative_to(REPO)} (split by umi_lab.splitting)",
                "roles": from_toolworld()}
    if source == "train-example":
        folder = train_example_folder()
        if folder is None:
            raise DataError("shared data not found (set UMI_LAB_DATA)", file="alpha_umi_toolbench/train-example")
        return {"source": "official alpha-UMi train-example role files (shared data)", "roles": from_folder(folder)}
    return {"source": f"role files in {source}", "roles": from_folder(source)}
