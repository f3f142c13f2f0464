"""Splits of generated ToolWorld dialogues, written bit-reproducibly.

Like ToolBench: ``train``; ``test_in_domain`` (the same tools, new instructions: no instruction text
is shared with train); ``test_out_of_domain`` (tasks that need held-out tools and the held-out
category, none of which appear in any train dialogue). Every dialogue draws its randomness from
``random.Random("toolworld:<seed>:<split>:<index>:<attempt>")`` (string seeds are hashed with SHA-512,
not with Python's randomised ``hash``), so the files are identical across runs and machines.
``generate_folder`` also writes the folder's ``manifest.json`` (``umi_lab.toolworld.manifest``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from umi_lab.errors import DataError
from umi_lab.io import atomic_write_text
from umi_lab.toolworld.apis import ALTERNATIVES, API_BY_NAME, APIS, tools_of
from umi_lab.toolworld.generator import (
    GIVE_UP_RATE,
    LEVEL_WEIGHTS,
    RECOVERY_RATE,
    Episode,
    GiveUp,
    TaskType,
    all_task_types,
    is_held_out,
    request_of,
)
from umi_lab.toolworld.world import World, build_world

SPLIT_FILES = {"train": "train.json", "test_in_domain": "test_in_domain.json",
               "test_out_of_domain": "test_out_of_domain.json"}
MAX_ATTEMPTS = 200
MAX_OFFERED = 8


@dataclass
class GenerateConfig:
    """How much to generate. Example: ``GenerateConfig(seed=0, n_train=2000)``."""

    seed: int = 0
    n_train: int = 2000
    n_test_id: int = 200
    n_test_ood: int = 200

    def __post_init__(self):
        for name in ("n_train", "n_test_id", "n_test_ood"):
            if getattr(self, name) < 0:
                raise DataError(f"must not be negative, got {getattr(self, name)}", field=name)


def task_pool(split: str) -> list[TaskType]:
    """Task types a split draws from: out-of-domain ones use held-out APIs, the others never do."""
    ood = split == "test_out_of_domain"
    return [t for t in all_task_types() if t.held_out == ood]


def offered_apis(tt: TaskType, split: str, rng: random.Random) -> list[str]:
    """The APIs a dialogue documents, in catalogue order: the ones the task needs, their alternatives, and
    other APIs of the same tools as distractors, up to MAX_OFFERED in all (held-out ones only in OOD)."""
    needed = list(dict.fromkeys(list(tt.apis) + [ALTERNATIVES[a][0] for a in tt.apis if a in ALTERNATIVES]))
    others = [a for a in tools_of(needed) if a not in needed]
    if split != "test_out_of_domain":
        needed = [a for a in needed if not is_held_out(a)]
        others = [a for a in others if not is_held_out(a)]
    k = min(len(others), max(0, MAX_OFFERED - len(needed)))
    chosen = set(needed) | set(rng.sample(others, k))
    return [a.name for a in APIS if a.name in chosen]


def _choose(rng: random.Random, pool: list[TaskType]) -> tuple[TaskType, str]:
    """A task type and its mode (plain, recover, down); levels by LEVEL_WEIGHTS, then categories uniformly."""
    r = rng.random()
    if r < GIVE_UP_RATE and rng.random() < 0.5:
        missing = [t for t in pool if t.give_up]
        if missing:
            return missing[rng.randrange(len(missing))], "plain"
    mode = "down" if r < GIVE_UP_RATE else "recover" if r < GIVE_UP_RATE + RECOVERY_RATE else "plain"
    x, acc, level = rng.random(), 0.0, LEVEL_WEIGHTS[-1][0]
    for lv, wt in LEVEL_WEIGHTS:
        acc += wt
        if x < acc:
            level = lv
            break
    normal = [t for t in pool if t.level == level and not t.give_up] or [t for t in pool if not t.give_up]
    cats = sorted({t.categories[0] for t in normal})
    cat = cats[rng.randrange(len(cats))]
    normal = [t for t in normal if t.categories[0] == cat]
    return normal[rng.randrange(len(normal))], mode


def run_episode(world: World, tt: TaskType, rng: random.Random, mode: str, split: str) -> Episode:
    """Execute one task type through a fresh environment; the Episode holds the turns and the task."""
    ep = Episode(world, rng, offered_apis(tt, split, rng), mode, tt.n_calls)
    try:
        tt.fn(world, rng, ep)
    except GiveUp as g:
        ep.give_up(str(g))
    return ep


def to_dialogue(ep: Episode, tt: TaskType, *, dialogue_id: str, split: str) -> dict:
    """The dialogue dict: α-UMi keys first, then id/split/category/categories/level/task_type/task."""
    cats = tt.categories
    return {
        "tools": [{"Name": a, "function": API_BY_NAME[a].doc_function(),
                   "input": {p: f"{t}, {'required' if req else 'optional'}, {d}"
                             for p, (t, d, req) in API_BY_NAME[a].params.items()}} for a in ep.api_names],
        "instruction": ep.instruction,
        "conversations": [{"from": r, "value": v} for r, v in ep.turns],
        "id": dialogue_id,
        "split": split,
        "category": cats[0],
        "categories": cats,
        "level": tt.level,
        "task_type": tt.name,
        "task": {"solvable": ep.solvable, "expected": "conclusion" if ep.solvable else "give_up",
                 "facts": ep.facts if ep.solvable else [], "required_calls": ep.required if ep.solvable else [],
                 "fault_plan": ep.fault_plan, "recovery": ep.recovered and ep.solvable, "tools": ep.api_names},
    }


def make_dialogue(world: World, tt: TaskType, rng: random.Random, mode: str, *, dialogue_id: str,
                  split: str) -> dict:
    """Run one task type and return its dialogue dict. Example:
    ``make_dialogue(build_world(0), all_task_types()[0], random.Random(1), "plain", dialogue_id="x", split="train")``.
    """
    return to_dialogue(run_episode(world, tt, rng, mode, split), tt, dialogue_id=dialogue_id, split=split)


def generate_split(world: World, split: str, n: int, seed: int, *, avoid: set[str] | None = None) -> list[dict]:
    """``n`` dialogues of ``split`` whose requests are unique and not in ``avoid``.

    Uniqueness is judged on the request without the greeting and closing phrases, so a test instruction
    is never a train request with another "Hi!" or "Thanks!".
    """
    pool = task_pool(split)
    seen = set(avoid or ())
    out = []
    for i in range(n):
        for attempt in range(MAX_ATTEMPTS):
            rng = random.Random(f"toolworld:{seed}:{split}:{i}:{attempt}")
            tt, mode = _choose(rng, pool)
            ep = run_episode(world, tt, rng, mode, split)
            if ep.request not in seen:
                break
        else:
            raise DataError(f"could not make a new request after {MAX_ATTEMPTS} attempts", record=i, field=split)
        seen.add(ep.request)
        out.append(to_dialogue(ep, tt, dialogue_id=f"toolworld-{split}-{i:05d}", split=split))
    return out


def generate(config: GenerateConfig) -> dict[str, list[dict]]:
    """All three splits. Example: ``generate(GenerateConfig(seed=0, n_train=50, n_test_id=10, n_test_ood=10))``."""
    world = build_world(config.seed)
    train = generate_split(world, "train", config.n_train, config.seed)
    train_text = {request_of(d["instruction"]) for d in train}
    test_id = generate_split(world, "test_in_domain", config.n_test_id, config.seed, avoid=train_text)
    test_ood = generate_split(world, "test_out_of_domain", config.n_test_ood, config.seed, avoid=train_text)
    return {"train": train, "test_in_domain": test_id, "test_out_of_domain": test_ood}


def dumps(rows: list[dict]) -> str:
    """The exact bytes written: one dialogue per line inside a JSON list, keys in insertion order."""
    return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows) + "\n]\n"


def write_splits(splits: dict[str, list[dict]], out_dir: str | Path) -> list[Path]:
    """Write each split to ``out_dir/<split>.json`` atomically; return the paths."""
    out_dir = Path(out_dir)
    return [atomic_write_text(out_dir / SPLIT_FILES[name], dumps(rows)) for name, rows in splits.items()]


def generate_folder(config: GenerateConfig, out_dir: str | Path) -> tuple[dict[str, list[dict]], list[Path]]:
    """Generate the splits into ``out_dir`` with their ``manifest.json`` (world seed, generator version,
    file fingerprints); returns the splits and the paths written.
    Example: ``generate_folder(GenerateConfig(seed=0), "data/toolworld")``."""
    from umi_lab.toolworld.manifest import write_manifest

    splits = generate(config)
    paths = write_splits(splits, out_dir)
    paths.append(write_manifest(out_dir, config, {k: len(v) for k, v in splits.items()}))
    return splits, paths


def summarize(splits: dict[str, list[dict]]) -> dict[str, dict]:
    """Counts per split: dialogues, levels, categories, give-up, recovery, calls, turns."""
    out = {}
    for name, rows in splits.items():
        levels: dict[str, int] = {}
        cats: dict[str, int] = {}
        for d in rows:
            levels[d["level"]] = levels.get(d["level"], 0) + 1
            cats[d["category"]] = cats.get(d["category"], 0) + 1
        out[name] = {"dialogues": len(rows), "levels": dict(sorted(levels.items())),
                     "categories": dict(sorted(cats.items())),
                     "give_up": sum(not d["task"]["solvable"] for d in rows),
                     "recovery": sum(d["task"]["recovery"] for d in rows),
                     "calls": sum(t["from"] == "caller" for d in rows for t in d["conversations"]),
                     "turns": sum(len(d["conversations"]) for d in rows)}
    return out
