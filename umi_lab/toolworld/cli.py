"""``python -m umi_lab toolworld {generate, tools, check}``.

- ``generate --seed S --out DIR [--n-train N --n-test-id N --n-test-ood N]``: write the three splits
  (the same bytes for the same arguments) and their ``manifest.json``, and print their counts;
- ``manifest --seed S DIR [--n-train ...]``: write the manifest of an existing folder, after checking that
  generating with those arguments reproduces its files byte for byte;
- ``tools [--category C]``: list the APIs with tool, category and parameters;
- ``check --data FILE [--trajectories FILE] [--out FILE]``: judge dialogues with the success checker.
  Without ``--trajectories`` it replays each gold dialogue through its environment (every observation
  must be reproduced) and checks it; with it, each recorded trajectory is judged against the task of
  the dialogue with the same id.
"""

from __future__ import annotations

import argparse
import json

from umi_lab.errors import DataError
from umi_lab.io import write_json
from umi_lab.protocol.dialogue import Dialogue, load_dialogues, load_trajectories
from umi_lab.toolworld.apis import APIS, CATEGORIES
from umi_lab.toolworld.dataset import SPLIT_FILES, GenerateConfig, dumps, generate, generate_folder, summarize
from umi_lab.toolworld.env import ToolWorld
from umi_lab.toolworld.success import check_success, parse_caller


def replay_mismatches(world: ToolWorld, dialogue: Dialogue) -> list[int]:
    """Indices of observation turns that the task's environment does not reproduce exactly.

    Example: ``replay_mismatches(ToolWorld(0), gold) == []``.
    """
    env = world.env_for(dialogue)
    turns, bad = dialogue.conversations, []
    for i, t in enumerate(turns):
        if t.role == "caller":
            obs = env.call(*parse_caller(t.value))
            if i + 1 >= len(turns) or turns[i + 1].role != "observation" or turns[i + 1].value != obs.text:
                bad.append(i + 1)
    return bad


def _generate(args: argparse.Namespace) -> int:
    cfg = GenerateConfig(args.seed, args.n_train, args.n_test_id, args.n_test_ood)
    splits, paths = generate_folder(cfg, args.out)
    for path in paths:
        print(f"wrote {path}")
    print(json.dumps(summarize(splits), indent=1))
    return 0


def _manifest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from umi_lab.toolworld.manifest import write_manifest

    cfg = GenerateConfig(args.seed, args.n_train, args.n_test_id, args.n_test_ood)
    splits = generate(cfg)
    for name, rows in splits.items():
        path = Path(args.folder) / SPLIT_FILES[name]
        if not path.is_file() or path.read_bytes() != dumps(rows).encode("utf-8"):
            raise DataError(f"not what `toolworld generate` writes with seed {args.seed} and these counts; "
                            "regenerate the folder instead", file=str(path))
    print(f"wrote {write_manifest(args.folder, cfg, {k: len(v) for k, v in splits.items()})}")
    return 0


def _tools(args: argparse.Namespace) -> int:
    if args.category and args.category not in CATEGORIES:
        raise DataError(f"unknown category {args.category!r}; expected one of {', '.join(CATEGORIES)}",
                        field="--category")
    for a in APIS:
        if args.category and a.category != args.category:
            continue
        params = ", ".join(f"{p}: {t}{'' if req else '?'}" for p, (t, _, req) in a.params.items())
        print(f"{a.category:10s} {a.tool:13s} {a.name}({params})")
    return 0


def _check(args: argparse.Namespace) -> int:
    gold = load_dialogues(args.data)
    world = ToolWorld(args.seed)
    rows = []
    if args.trajectories:
        by_id = {d.id: d for d in gold}
        for i, t in enumerate(load_trajectories(args.trajectories)):
            if t.task_id not in by_id:
                raise DataError(f"task id {t.task_id!r} is not in {args.data}", file=args.trajectories, record=i,
                                field="task_id")
            try:
                res = check_success(by_id[t.task_id], t)
            except DataError as e:
                raise e.located(file=args.data, record=gold.index(by_id[t.task_id])) from None
            rows.append({"id": t.task_id, "outcome": t.outcome, **res.to_dict()})
    else:
        for i, d in enumerate(gold):
            try:
                res = check_success(d, d)
            except DataError as e:
                raise e.located(file=args.data, record=i) from None
            mism = replay_mismatches(world, d)
            if mism:
                res.passed = False
                res.reasons.append(f"observation turn(s) {mism} are not reproduced by the environment")
            rows.append({"id": d.id, **res.to_dict()})
    passed = sum(r["passed"] for r in rows)
    summary = {"n": len(rows), "passed": passed, "pass_rate": passed / len(rows) if rows else 0.0,
               "hallucinated": sum(bool(r["hallucinated_tools"]) for r in rows),
               "missing_facts": sum(bool(r["missing_facts"]) for r in rows),
               "failed_calls": sum(bool(r["failed_calls"]) for r in rows)}
    print(json.dumps(summary))
    if args.out:
        write_json(args.out, {"summary": summary, "results": rows})
    return 0


def add_cli(subparsers) -> None:
    """Register ``toolworld`` with its three subcommands."""
    p = subparsers.add_parser("toolworld", help="offline tool world: generate data, list tools, check success")
    sub = p.add_subparsers(dest="toolworld_command", metavar="SUBCOMMAND", required=True)
    g = sub.add_parser("generate", help="write train / test_in_domain / test_out_of_domain dialogues")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--n-train", type=int, default=GenerateConfig.n_train)
    g.add_argument("--n-test-id", type=int, default=GenerateConfig.n_test_id)
    g.add_argument("--n-test-ood", type=int, default=GenerateConfig.n_test_ood)
    g.set_defaults(func=_generate)
    m = sub.add_parser("manifest", help="write the manifest.json of an existing folder (verified by regenerating)")
    m.add_argument("folder")
    m.add_argument("--seed", type=int, default=0)
    for flag, default in (("--n-train", GenerateConfig.n_train), ("--n-test-id", GenerateConfig.n_test_id),
                          ("--n-test-ood", GenerateConfig.n_test_ood)):
        m.add_argument(flag, type=int, default=default)
    m.set_defaults(func=_manifest)
    t = sub.add_parser("tools", help="list the APIs")
    t.add_argument("--category", default=None)
    t.set_defaults(func=_tools)
    c = sub.add_parser("check", help="judge gold dialogues (replayed) or recorded trajectories")
    c.add_argument("--data", required=True, help="a ToolWorld split file with task objects")
    c.add_argument("--trajectories", default=None, help="recorded trajectories (JSONL) to judge")
    c.add_argument("--seed", type=int, default=0, help="the world seed the data was generated with")
    c.add_argument("--out", default=None, help="write per-dialogue results here (JSON)")
    c.set_defaults(func=_check)
