"""GSM8K → alpha-UMi dialogues with one ``calculator`` tool.

A GSM8K solution is a few lines with calculator annotations ``<<48/2=24>>`` and a last line
``#### 72``. Each annotation becomes one tool round:

* planner: the solution text leading to it (annotation markup removed; the line is cut after the
  annotation's written result, the rest of the line goes to the next annotation on that line, and lines
  without annotations are prepended to the next annotation's text), ending `` Next: caller.``;
* caller: ``Action: calculator\\nAction Input: {"expression": "48/2"}``;
* observation: what the calculator tool (``umi_lab.tools.calculator``) answers, e.g.
  ``{"error": "", "response": "24"}``.

``#### answer`` becomes a planner turn (the lines after the last annotation, or a fixed sentence when
there are none) ending `` Next: conclusion.`` and a conclusion turn holding the answer. The dialogue's
``extra`` keeps ``id``, ``answer``, ``source``, ``split``.

An annotation whose expression does not equal its written result (or cannot be evaluated) is listed in
the report with its problem index. What the observation holds then is ``Gsm8kConfig.on_mismatch``:
``"computed"`` (default: the calculator's real answer, so the data never shows a tool answering something
it would not answer at run time; an expression the calculator refuses excludes the problem),
``"stated"`` (the written result) or ``"skip"`` (the problem is excluded). Excluded problems are listed.
On the shared GSM8K files (7,473 + 1,319 problems, 27,998 annotations) every annotation matches.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_jsonl
from umi_lab.protocol.dialogue import Dialogue, Tool, Turn, save_dialogues
from umi_lab.tools.calculator import (
    CalculatorError,
    CalculatorRegistry,
    evaluate_expression,
    format_number,
    matches_stated,
    parse_annotation,
)
from umi_lab.tools.registry import OK, Observation

ANNOTATION = re.compile(r"<<([^<>]*)>>")
CONCLUDE_THOUGHT = "All the calculations are done, so I can give the final answer."
MISMATCH_POLICIES = ("computed", "stated", "skip")


@dataclass
class Gsm8kConfig:
    """How to convert. ``on_mismatch``: computed | stated | skip (see the module doc)."""

    on_mismatch: str = "computed"

    def __post_init__(self) -> None:
        if self.on_mismatch not in MISMATCH_POLICIES:
            raise ValueError(f"on_mismatch must be one of {', '.join(MISMATCH_POLICIES)}, got {self.on_mismatch!r}")


@dataclass
class Gsm8kReport:
    """What a conversion did: counts, and every mismatching annotation and excluded problem."""

    problems: int = 0
    converted: int = 0
    annotations: int = 0
    without_annotations: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "mismatch_count": len(self.mismatches), "excluded_count": len(self.excluded)}


@dataclass
class _Step:
    rationale: str
    expression: str
    stated: str


def _clean(text: str) -> str:
    return " ".join(ANNOTATION.sub("", text).split())


def solution_steps(solution: str) -> tuple[list[_Step], str, str]:
    """Split a GSM8K solution into calculator steps, the text after the last one, and the answer.

    >>> steps, tail, answer = solution_steps("Half is 48/2 = <<48/2=24>>24.\\n#### 24")
    >>> (steps[0].rationale, steps[0].expression, tail, answer)
    ('Half is 48/2 = 24.', '48/2', '', '24')
    """
    if solution.count("####") != 1:
        raise DataError(f"expected exactly one '####' answer marker, found {solution.count('####')}",
                        field="answer")
    body, answer = solution.split("####")
    steps: list[_Step] = []
    pending: list[str] = []
    for line in body.split("\n"):
        matches = list(ANNOTATION.finditer(line))
        if not matches:
            if line.strip():
                pending.append(_clean(line))
            continue
        start = 0
        for k, m in enumerate(matches):
            try:
                expression, stated = parse_annotation(m.group(1))
            except CalculatorError as e:
                raise DataError(f"bad calculator annotation <<{m.group(1)}>>: {e}", field="answer") from None
            if k == len(matches) - 1:
                end = len(line)
            else:
                end = m.end() + (len(stated) if line.startswith(stated, m.end()) else 0)
            pending.append(_clean(line[start:end]))
            steps.append(_Step(" ".join(p for p in pending if p), expression, stated))
            pending, start = [], end
    return steps, " ".join(pending), answer.strip()


def _call_value(expression: str) -> str:
    return "Action: calculator\nAction Input: " + json.dumps({"expression": expression})


def convert_problem(record: Any, index: int, *, split: str = "train", config: Gsm8kConfig | None = None,
                    report: Gsm8kReport | None = None, file: str | None = None,
                    registry: CalculatorRegistry | None = None) -> Dialogue | None:
    """One GSM8K record (``question``, ``answer``) → a Dialogue, or None when the policy excludes it.

    Example: ``convert_problem({"question": "q", "answer": "2+2=<<2+2=4>>4\\n#### 4"}, 0)``.
    """
    config = config or Gsm8kConfig()
    report = report if report is not None else Gsm8kReport()
    registry = registry or CalculatorRegistry()
    pid = f"gsm8k-{split}-{index:05d}"
    if not isinstance(record, dict):
        raise DataError(f"expected an object, got {type(record).__name__}", file=file, record=index)
    for key in ("question", "answer"):
        if not isinstance(record.get(key), str):
            raise DataError("missing or not a string", file=file, record=index, field=key)
    try:
        steps, tail, answer = solution_steps(record["answer"])
    except DataError as e:
        raise e.located(file=file, record=index) from None
    report.problems += 1
    report.annotations += len(steps)
    report.without_annotations += not steps
    turns = [Turn("user", record["question"])]
    excluded = None
    for k, step in enumerate(steps):
        arguments = json.dumps({"expression": step.expression})
        try:
            value = evaluate_expression(step.expression)
            computed, ok = format_number(value), matches_stated(value, step.stated)
        except CalculatorError as e:
            computed, ok = f"error: {e}", False
            value = None
        if not ok:
            report.mismatches.append({"problem": index, "id": pid, "step": k, "expression": step.expression,
                                      "stated": step.stated, "computed": computed})
            if config.on_mismatch == "skip" or (config.on_mismatch == "computed" and value is None):
                excluded = f"annotation {k} <<{step.expression}={step.stated}>>: computed {computed}"
        if config.on_mismatch == "stated":
            observation = Observation.make(OK, response=step.stated).text
        else:
            observation = registry.call("calculator", arguments).text
        turns += [Turn("assistant", f"{step.rationale} Next: caller."), Turn("caller", _call_value(step.expression)),
                  Turn("observation", observation)]
    if excluded is not None:
        report.excluded.append({"problem": index, "id": pid, "reason": excluded})
        return None
    turns += [Turn("assistant", f"{tail or CONCLUDE_THOUGHT} Next: conclusion."), Turn("conclusion", answer)]
    report.converted += 1
    return Dialogue(registry.tool_docs(), record["question"], turns,
                    {"id": pid, "answer": answer, "source": "gsm8k", "split": split})


def convert_gsm8k(records: list[Any], *, split: str = "train", config: Gsm8kConfig | None = None,
                  file: str | None = None) -> tuple[list[Dialogue], Gsm8kReport]:
    """Convert GSM8K records; returns the dialogues and the report (counts, mismatches, exclusions).

    Example: ``dialogues, report = convert_gsm8k(read_jsonl("gsm8k/test.jsonl"), split="test")``.
    """
    report, registry = Gsm8kReport(), CalculatorRegistry()
    dialogues = []
    for i, record in enumerate(records):
        d = convert_problem(record, i, split=split, config=config, report=report, file=file, registry=registry)
        if d is not None:
            dialogues.append(d)
    return dialogues, report


def load_gsm8k(path: str | os.PathLike, config: Gsm8kConfig | None = None,
               split: str | None = None) -> tuple[list[Dialogue], Gsm8kReport]:
    """Read a GSM8K JSONL file and convert it; ``split`` defaults to the file stem (train/test).

    Example: ``load_gsm8k("/work/shared/data/gsm8k/test.jsonl")``.
    """
    return convert_gsm8k(read_jsonl(path), split=split or Path(path).stem, config=config, file=str(path))


def calculator_tool() -> Tool:
    """The calculator's tool document (the same one the runtime registry shows the agent)."""
    return CalculatorRegistry().tool_docs()[0]


def _cmd_convert(args: argparse.Namespace) -> int:
    dialogues, report = load_gsm8k(args.input, Gsm8kConfig(on_mismatch=args.on_mismatch), split=args.split)
    save_dialogues(args.out, dialogues)
    print(json.dumps({**report.summary(), "out": args.out}))
    return 0


def register_convert(sub: Any) -> None:
    """Add ``convert gsm8k`` to the convert command's subparsers."""
    p = sub.add_parser("gsm8k", help="GSM8K JSONL → dialogues with a calculator tool")
    p.add_argument("--input", required=True, help="GSM8K JSONL (question, answer)")
    p.add_argument("--out", required=True, help="dialogues (.json list or .jsonl)")
    p.add_argument("--on-mismatch", default="computed", choices=MISMATCH_POLICIES,
                   help="observation for an annotation whose expression differs from its written result")
    p.add_argument("--split", default=None, help="split name used in ids (default: the file stem)")
    p.set_defaults(func=_cmd_convert)
