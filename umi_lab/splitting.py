"""Dialogues → role datasets ``{tools, history, input, target}``, and leak-free train/val/test splits.

``split_roles`` produces five datasets from alpha-UMi conversations:

* ``backbone`` (single-LLM baseline): one record per assistant turn with a decision; target = the thought
  + ``\\n`` + the caller turn, or + ``\\nconclusion: <answer>``, or + ``\\nconclusion: give up.``;
* ``planner``: one record per assistant turn that gives up or is followed by a caller/conclusion turn;
  target = the assistant value (with its ``Next: ...``);
* ``caller``: one record per caller turn, the preceding turn's value as ``{thought}``;
* ``summarizer``: one record per conclusion turn whose value is not ``none``;
* ``multitask``: planner + caller + summarizer records together, each with its own role prompt.

Inputs are rendered with ``umi_lab.protocol.prompts`` (families ``toolbench``, ``toolalpaca``, ``maths``).
``history`` is the list of turns before the record. Every history string is built incrementally in
one pass over a dialogue (``split_roles`` is linear in dialogue length apart from writing the outputs);
``split_roles_naive`` re-renders the whole history at every record (same output, for benchmarks).

Rules kept from the official GLPFT scripts in both modes: caller turns containing
``invalid_hallucination_function_name`` give no caller record and are left out of the caller's history;
the planner record of the assistant turn before such a caller is left out; a ``none`` conclusion is left
out of the summarizer's history; the backbone's history holds user and observation turns and its own
targets (``assistant: <target></s>``), no caller or conclusion turns.

Modes (``compat``):

* ``"official"`` reproduces ``train-example/train_*.json`` exactly, including the quirk that a give-up
  backbone record carries the input of the previous backbone record (possibly from the previous
  dialogue; the first give-up of a run with no previous record gets its own input, counted as
  ``giveup_without_previous_input``), and the official chained ``str.replace`` prompt filling.
* ``"default"`` fixes these: a give-up backbone record gets the input rendered from its own history,
  and placeholders that occur inside tool docs or history text are never substituted.

Where the official scripts crash we count the case in the report instead: an assistant turn with no
decision (last, or followed by a user/assistant turn) gives no record (``assistant_without_decision``);
a caller turn with no turn before it gets an empty thought (``caller_without_thought``). A turn with an
unknown role (possible only for ``Turn`` objects built in code) raises ``DataError``.

``split_dialogues`` splits dialogues into train/val/test so that no instruction (or, with
``group_by="tool"``, no tool name) occurs on two sides; seeded and reproducible, with a size report.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import write_json
from umi_lab.protocol.dialogue import TURN_ROLES, Dialogue, Turn, load_dialogues, save_dialogues
from umi_lab.protocol.prompts import (
    FAMILIES,
    ROLES,
    backbone_target,
    piece,
    role_renderer,
    role_renderers,
)

COMPAT_MODES = ("default", "official")
ROLE_SETS = ("backbone", "planner", "caller", "summarizer", "multitask")
HALLUCINATION = "invalid_hallucination_function_name"


@dataclass
class SplitReport:
    """What a role split produced: records per role, give-up/finish counts and counted leftovers."""

    dialogues: int = 0
    family: str = "toolbench"
    compat: str = "default"
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLE_SETS, 0))
    backbone_decisions: dict[str, int] = field(default_factory=lambda: {"caller": 0, "conclusion": 0, "give_up": 0})
    skipped: dict[str, int] = field(default_factory=dict)
    quirks: dict[str, int] = field(default_factory=dict)

    def count(self, reason: str) -> None:
        """Count a turn that gave no record (or a record made differently), by reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def quirk(self, name: str) -> None:
        """Count an official-compatibility quirk that was reproduced."""
        self.quirks[name] = self.quirks.get(name, 0) + 1

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict. Example: ``split_roles(ds).report.summary()["counts"]["planner"]``."""
        return {"dialogues": self.dialogues, "family": self.family, "compat": self.compat,
                "counts": dict(self.counts), "backbone_decisions": dict(self.backbone_decisions),
                "skipped": dict(sorted(self.skipped.items())), "quirks": dict(sorted(self.quirks.items()))}


class RoleSplit(dict):
    """``role -> list of records`` (a plain dict to callers) with the ``report`` attached."""

    report: SplitReport


# --------------------------------------------------------------------------------------------- helpers

def _turn_pieces(turns: Sequence[Turn], i: int) -> tuple[str, str, str, str, str | None, str]:
    """What turn ``i`` adds to the planner, caller, summarizer and backbone history strings (each role's
    own rule), then the turn's backbone ``(decision, target)`` (``(None, "")`` for non-assistant turns)."""
    turn = turns[i]
    role, value = turn.role, turn.value
    own = piece(role, value)
    caller = "" if role == "caller" and HALLUCINATION in value else own
    summarizer = "" if role == "conclusion" and value == "none" else own
    decision, target = None, ""
    if role == "assistant":
        decision, target = backbone_target(turns, i)
        backbone = piece("assistant", target)
    else:
        backbone = own if role in ("user", "observation") else ""
    return own, caller, summarizer, backbone, decision, target


def _prefix_histories(turns: Sequence[Turn], i: int) -> tuple[str, ...]:
    """The four history strings of ``turns[:i]`` built from scratch (the naive way)."""
    parts = [_turn_pieces(turns, j) for j in range(i)]
    return tuple("".join(p[k] for p in parts) for k in range(4))


class _Splitter:
    """One split run: renderers per dialogue, the report, and the official give-up input carried over."""

    def __init__(self, family: str, compat: str, naive: bool):
        if family not in FAMILIES:
            raise ValueError(f"unknown prompt family {family!r}; expected one of {', '.join(FAMILIES)}")
        if compat not in COMPAT_MODES:
            raise ValueError(f"unknown compat mode {compat!r}; expected one of {', '.join(COMPAT_MODES)}")
        self.family, self.compat, self.naive = family, compat, naive
        self.out: RoleSplit = RoleSplit({r: [] for r in ROLE_SETS})
        self.out.report = self.report = SplitReport(family=family, compat=compat)
        self.last_backbone_input: str | None = None

    def _renderers(self, tools: list[dict]) -> dict[str, Callable[..., str]]:
        literal = self.compat == "official"
        if self.naive:  # everything (docs included) rendered again for each record
            return {role: (lambda h, thought="", role=role: role_renderer(
                role, tools, family=self.family, literal_replace=literal)(h, thought))
                    for role in ROLES}
        return role_renderers(tools, family=self.family, literal_replace=literal)

    def dialogue(self, d: Dialogue, index: int) -> None:
        turns = d.conversations
        for i, turn in enumerate(turns):  # Dialogue.from_dict checks this; objects built in code may not
            if turn.role not in TURN_ROLES or not isinstance(turn.value, str):
                raise DataError(f"turn {turn.role!r} with a {type(turn.value).__name__} value: expected a role in "
                                f"{', '.join(TURN_ROLES)} and a string value", record=index,
                                field=f"conversations[{i}]")
        conv = [t.to_dict() for t in turns]
        tools = [t.to_dict() for t in d.tools]
        render = self._renderers(tools)
        out, report = self.out, self.report
        report.dialogues += 1

        def add(role: str, i: int, input_text: str, target: str) -> None:
            out[role].append({"tools": tools, "history": conv[:i], "input": input_text, "target": target})

        planner_h = caller_h = summarizer_h = backbone_h = ""  # grown in place, one piece per turn
        for i, turn in enumerate(turns):
            pieces = _turn_pieces(turns, i)
            if self.naive:
                planner_h, caller_h, summarizer_h, backbone_h = _prefix_histories(turns, i)
            nxt = turns[i + 1] if i + 1 < len(turns) else None
            if turn.role == "assistant":
                decision, target = pieces[4], pieces[5]
                if decision is None:
                    report.count("assistant_without_decision")
                elif decision == "give_up" and self.compat == "official" and self.last_backbone_input is not None:
                    add("backbone", i, self.last_backbone_input, target)
                    report.quirk("giveup_input_reused")
                else:
                    if decision == "give_up" and self.compat == "official":
                        report.quirk("giveup_without_previous_input")
                    input_text = render["backbone"](backbone_h)
                    if decision != "give_up":
                        self.last_backbone_input = input_text
                    add("backbone", i, input_text, target)
                if decision is not None:
                    report.backbone_decisions[decision] += 1
                    if nxt is not None and nxt.role == "caller" and HALLUCINATION in nxt.value:
                        report.count("planner_invalid_hallucination_function_name")
                    else:
                        add("planner", i, render["planner"](planner_h), turn.value)
            elif turn.role == "caller":
                if HALLUCINATION in turn.value:
                    report.count("caller_invalid_hallucination_function_name")
                else:
                    if i == 0:
                        report.count("caller_without_thought")
                    thought = turns[i - 1].value if i > 0 else ""
                    add("caller", i, render["caller"](caller_h, thought), turn.value)
            elif turn.role == "conclusion":
                if turn.value == "none":
                    report.count("conclusion_none")
                else:
                    add("summarizer", i, render["summarizer"](summarizer_h), turn.value)
            if not self.naive:
                planner_h += pieces[0]
                caller_h += pieces[1]
                summarizer_h += pieces[2]
                backbone_h += pieces[3]

    def finish(self) -> RoleSplit:
        out = self.out
        out["multitask"] = out["planner"] + out["caller"] + out["summarizer"]
        for role in ROLE_SETS:
            self.report.counts[role] = len(out[role])
        return out


def _run(dialogues: Iterable[Dialogue | dict], family: str, compat: str, naive: bool) -> RoleSplit:
    splitter = _Splitter(family, compat, naive)
    for i, d in enumerate(dialogues):
        splitter.dialogue(d if isinstance(d, Dialogue) else Dialogue.from_dict(d, record=i), i)
    return splitter.finish()


def split_roles(dialogues: Iterable[Dialogue | dict], family: str = "toolbench", compat: str = "default") -> RoleSplit:
    """Role datasets ``{backbone, planner, caller, summarizer, multitask}`` (a dict with ``.report``).

    Extra dialogue keys (``id``, ``split``, ...) are ignored; plain dicts are validated first.
    Example: ``split_roles(load_dialogues("raw_data_stage_2.json"), compat="official")["planner"][0]["target"]``.
    """
    return _run(dialogues, family, compat, naive=False)


def split_roles_naive(dialogues: Iterable[Dialogue | dict], family: str = "toolbench",
                      compat: str = "default") -> RoleSplit:
    """Same output as ``split_roles``, re-rendering every history (and the tool docs) per record.

    Quadratic in dialogue length: kept only as the benchmark baseline. Example: ``split_roles_naive(ds)``.
    """
    return _run(dialogues, family, compat, naive=True)


# ------------------------------------------------------------------------------------ dialogue splits

@dataclass
class DialogueSplitReport:
    """Sizes of a train/val/test split: dialogues and groups per side, and the largest group."""

    group_by: str
    seed: int
    fractions: dict[str, float]
    dialogues: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    largest_group: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict. Example: ``split_dialogues(ds).report.summary()["actual_fractions"]``."""
        total = sum(self.dialogues.values()) or 1
        return {"group_by": self.group_by, "seed": self.seed, "target_fractions": self.fractions,
                "dialogues": self.dialogues, "groups": self.groups, "largest_group": self.largest_group,
                "actual_fractions": {k: round(v / total, 4) for k, v in self.dialogues.items()}}


class DialogueSplit(dict):
    """``split name -> dialogues`` (a plain dict to callers) with the ``report`` attached."""

    report: DialogueSplitReport


def _groups(dialogues: Sequence[Dialogue], group_by: str) -> list[list[int]]:
    """Indices of dialogues that must stay together, in order of first appearance."""
    if group_by == "instruction":
        by_key: dict[str, list[int]] = {}
        for i, d in enumerate(dialogues):
            by_key.setdefault(d.instruction.strip(), []).append(i)
        return list(by_key.values())
    if group_by != "tool":
        raise ValueError(f"unknown group_by {group_by!r}; expected 'instruction' or 'tool'")
    # Union-find over dialogues sharing an instruction or any tool name.
    parent = list(range(len(dialogues)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, int] = {}
    for i, d in enumerate(dialogues):
        for key in ["instruction:" + d.instruction.strip(), *("tool:" + n for n in d.tool_names)]:
            if key in owner:
                a, b = find(owner[key]), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = i
    comps: dict[int, list[int]] = {}
    for i in range(len(dialogues)):
        comps.setdefault(find(i), []).append(i)
    return list(comps.values())


def split_dialogues(dialogues: Sequence[Dialogue], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                    group_by: str = "instruction",
                    names: Sequence[str] = ("train", "val", "test")) -> DialogueSplit:
    """Seeded split into ``names`` sides with about ``fractions`` of the dialogues each, never putting
    the same instruction (``group_by="tool"``: nor any shared tool name) on two sides.

    Groups are shuffled with ``seed``, then placed largest first, each on the side furthest below its
    target size (so one big tool-sharing group cannot starve the small sides).
    Example: ``split_dialogues(ds, (0.8, 0.1, 0.1), seed=0)["test"]``.
    """
    if len(fractions) != len(names):
        raise ValueError(f"{len(fractions)} fractions for {len(names)} split names")
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    dialogues = list(dialogues)
    groups = _groups(dialogues, group_by)
    random.Random(seed).shuffle(groups)
    groups.sort(key=len, reverse=True)  # stable: big groups placed first, equal sizes in shuffled order
    n = len(dialogues)
    sizes = dict.fromkeys(names, 0)
    members: dict[str, list[int]] = {k: [] for k in names}
    for g in groups:
        side = max(names, key=lambda k: (fractions[names.index(k)] * n - sizes[k], -names.index(k)))
        members[side].extend(g)
        sizes[side] += len(g)
    out = DialogueSplit({k: [dialogues[i] for i in sorted(members[k])] for k in names})
    group_count = dict.fromkeys(names, 0)
    index_side = {i: k for k in names for i in members[k]}
    for g in groups:
        group_count[index_side[g[0]]] += 1
    out.report = DialogueSplitReport(group_by=group_by, seed=seed, fractions=dict(zip(names, fractions)),
                                     dialogues={k: len(v) for k, v in out.items()}, groups=group_count,
                                     largest_group=max((len(g) for g in groups), default=0))
    return out


# ------------------------------------------------------------------------------------------------ CLI

def _cmd_split(args: argparse.Namespace) -> int:
    dialogues = load_dialogues(args.input)
    roles = split_roles(dialogues, family=args.prompts, compat=args.compat)
    out = Path(args.out)
    for role in ROLE_SETS:
        write_json(out / f"train_{role}.json", roles[role])
    summary = {"command": "split", "input": str(args.input), **roles.report.summary(),
               "out": [str(out / f"train_{r}.json") for r in ROLE_SETS]}
    write_json(out / "split_report.json", summary)
    print(json.dumps(summary))
    return 0


def _cmd_split_data(args: argparse.Namespace) -> int:
    dialogues = load_dialogues(args.input)
    if not dialogues:
        raise DataError("no dialogues to split", file=str(args.input))
    parts = split_dialogues(dialogues, tuple(args.fractions), seed=args.seed, group_by=args.group_by)
    out = Path(args.out)
    for name, part in parts.items():
        save_dialogues(out / f"{name}.json", part)
    summary = {"command": "split-data", "input": str(args.input), **parts.report.summary()}
    write_json(out / "split_report.json", summary)
    print(json.dumps(summary))
    return 0


def add_cli(subparsers: Any) -> None:
    """Register ``split`` (role datasets) and ``split-data`` (train/val/test dialogues)."""
    p = subparsers.add_parser("split", help="conversations -> role datasets train_{backbone,planner,...}.json")
    p.add_argument("--input", required=True, help="conversations (.json list or .jsonl)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--prompts", default="toolbench", choices=FAMILIES, help="prompt family")
    p.add_argument("--compat", default="default", choices=COMPAT_MODES,
                   help="official: byte-for-byte the official GLPFT outputs, quirks included")
    p.set_defaults(func=_cmd_split)

    s = subparsers.add_parser("split-data", help="dialogues -> train/val/test with no shared instruction (or tool)")
    s.add_argument("--input", required=True, help="conversations (.json list or .jsonl)")
    s.add_argument("--out", required=True, help="output folder (train.json, val.json, test.json)")
    s.add_argument("--fractions", type=float, nargs=3, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VAL", "TEST"))
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--group-by", default="instruction", choices=("instruction", "tool"))
    s.set_defaults(func=_cmd_split_data)
