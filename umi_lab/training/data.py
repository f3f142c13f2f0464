"""Role samples → tokens, and the dialogue-level subsample every method of a study shares.

Every sample ``{tools, history, input, target}`` becomes ``prompt = style.model_prompt(input, tools=...)`` and
``completion = target + EOS``; the prompt is encoded the way the tokenizer encodes a text on its own
(``add_special_tokens=True``: a Llama-style tokenizer prepends ``<s>``, the tiny one adds nothing), the
target without special tokens, exactly as serving encodes prompts. We hand TRL ``input_ids``/``labels``
(prompt tokens -100), so the loss is on the target and EOS only; an over-long sample loses prompt
tokens from the LEFT (after the BOS), never from the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from umi_lab.backbone import encode_prompt
from umi_lab.errors import DataError, require_strings
from umi_lab.io import read_records
from umi_lab.methods import get_method
from umi_lab.protocol.prompts import PromptStyle
from umi_lab.rundir import file_sha256

STAGE2_ROLES = ("planner", "caller", "summarizer")
DATASETS = ("backbone", *STAGE2_ROLES, "multitask")


def _check_sample(sample: Any, file: str | None, i: int) -> None:
    require_strings(sample, ("input", "target"), file=file, index=i)


@dataclass
class EncodeStats:
    """What tokenization did to a role dataset (written to ``data_stats.json``)."""

    samples: int = 0
    prompt_truncated: int = 0
    target_truncated: int = 0
    prompt_tokens: int = 0
    target_tokens: int = 0
    dialogues: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The counts plus the truncated shares (``prompt_truncated_share``, ``target_truncated_share``)."""
        n = self.samples or 1
        return {**self.__dict__, "prompt_truncated_share": round(self.prompt_truncated / n, 4),
                "target_truncated_share": round(self.target_truncated / n, 4)}


def prompt_ids(tokenizer, text: str) -> list[int]:
    """A prompt's token ids under the tokenizer's own convention (``umi_lab.backbone.encode_prompt``)."""
    return encode_prompt(tokenizer, text)[0]


def encode_sample(sample: dict, tokenizer, *, style: PromptStyle, max_length: int,
                  min_prompt_tokens: int = 32) -> tuple[dict[str, list[int]], dict[str, bool]]:
    """One role sample → ``{"input_ids", "labels"}`` with the prompt masked (-100) and EOS appended.

    Over-long samples drop prompt tokens from the left (a leading BOS is kept); only a target longer than
    ``max_length - min_prompt_tokens`` is itself cut (from the right, keeping EOS), which is flagged.

    >>> ids, flags = encode_sample({"input": "x assistant: ", "target": "hi"}, tok, style=PromptStyle(),
    ...                            max_length=64)  # doctest: +SKIP
    """
    target = tokenizer(style.target_text(sample["target"]), add_special_tokens=False, verbose=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if not target or target[-1] != eos:
        target = target + [eos]
    flags = {"prompt_truncated": False, "target_truncated": False}
    budget = max_length - min_prompt_tokens
    if len(target) > budget:
        target = target[:budget - 1] + [eos]
        flags["target_truncated"] = True
    text = style.model_prompt(sample["input"], tools=sample.get("tools"), tokenizer=tokenizer)
    prompt, flags["prompt_truncated"] = encode_prompt(tokenizer, text, max_length - len(target))
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
    stats.dialogues = len({dialogue_id(s) for s in samples})
    return Dataset.from_list(rows), stats


def method_roles(method: str) -> tuple[str, ...]:
    """The datasets a method trains on. Example: ``method_roles("single_llm") == ("backbone",)``."""
    return get_method(method).datasets


def dialogue_id(sample: dict) -> str:
    """The dialogue a role sample comes from: its ``dialogue_id``/``id`` field when the splitter wrote one,
    else a hash of its tools and first user turn (the instruction), which every role sample of a dialogue shares.

    >>> dialogue_id({"tools": [], "history": [{"from": "user", "value": "q"}]}) == dialogue_id(
    ...     {"tools": [], "history": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "t"}]})
    True
    """
    for key in ("dialogue_id", "id"):
        if isinstance(sample.get(key), str | int):
            return str(sample[key])
    history = sample.get("history")
    first = ""
    if isinstance(history, list):
        first = next((t.get("value", "") for t in history if isinstance(t, dict) and t.get("from") == "user"), "")
    elif isinstance(history, str):
        first = history.split("</s>", 1)[0]
    text = json.dumps(sample.get("tools"), sort_keys=True, ensure_ascii=False) + "\0" + str(first)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def subsample_dialogues(data: dict[str, list[dict]], n: int | None, seed: int) -> tuple[dict[str, list[dict]], list[str]]:
    """Keep the samples of ``n`` dialogues drawn at random (``random.Random(seed)``) from the dialogues of
    all given datasets; the draw depends only on the dialogue ids and the seed, so every method of a study
    trains on the same dialogues. Returns the kept data and the sorted ids drawn (all when ``n`` is None).

    >>> kept, ids = subsample_dialogues({"planner": samples}, 8, seed=0)  # doctest: +SKIP
    """
    universe = sorted({dialogue_id(s) for rows in data.values() for s in rows})
    if n is None or n >= len(universe):
        return data, universe
    chosen = set(random.Random(seed).sample(universe, n))
    return {role: [s for s in rows if dialogue_id(s) in chosen] for role, rows in data.items()}, sorted(chosen)


def load_role_data(data: str | os.PathLike, roles: Iterable[str], *, family: str = "toolbench",
                   compat: str = "default") -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Role samples for ``roles`` from a folder, and the sha256 of every file read.

    The folder holds ready role datasets ``train_<role>.json`` (``multitask`` falls back to planner +
    caller + summarizer), or conversations ``train.json`` split on the fly with
    ``umi_lab.splitting.split_roles``.

    >>> data, sha = load_role_data("$UMI_LAB_DATA/alpha_umi_toolbench/train-example", ["planner"])  # doctest: +SKIP
    """
    folder = Path(data)
    roles = list(roles)
    if not folder.is_dir():
        raise DataError("data folder not found", file=str(folder))
    ready = {r: folder / f"train_{r}.json" for r in DATASETS}
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
                fingerprints[str(ready[r])] = file_sha256(ready[r])
        return out, fingerprints
    try:
        from umi_lab.splitting import split_roles
    except ModuleNotFoundError as e:
        raise DataError(f"cannot split conversations into role datasets: {e}", file=str(folder / "train.json")) from None
    from umi_lab.protocol.dialogue import load_dialogues

    dialogues = load_dialogues(folder / "train.json")
    fingerprints[str(folder / "train.json")] = file_sha256(folder / "train.json")
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
