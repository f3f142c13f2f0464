"""GSM8K → alpha-UMi dialogues with one ``calculator`` tool.

A GSM8K solution is a few lines with calculator annotations ``<<48/2=24>>`` and a last line
``#### 72``. Each annotation becomes one tool round:

* planner: the intent and the expression, never the result — the solution text leading to the annotation,
  cut before the written result, ending ``next I compute 48/2. Next: caller.``; the written result and the
  text after it open the *next* planner turn as a recap ("That gives 24 ...") once the calculator has
  answered (issue 15 defect 8: before, 97 % of thoughts already wrote the result; ``thought_result_share``);
* caller: ``Action: calculator\\nAction Input: {"expression": "48/2"}``;
* observation: what the calculator tool (``umi_lab.tools.calculator``) answers, e.g.
  ``{"error": "", "response": "24"}``.

``#### answer`` becomes a planner turn (the recap of the last result and the lines after it, or a fixed
sentence when there are none) ending `` Next: conclusion.`` and a conclusion turn holding the answer. The dialogue's
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
    rationale: str  # what the planner says before the call: intent and expression, never the result
    expression: str
    stated: str


def _clean(text: str) -> str:
    return " ".join(ANNOTATION.sub("", text).split())


_TRAILING = re.compile(r"[\s=$≈]+$")


def _thought(context: str, expression: str) -> str:
    context = context.strip()
    if not context:
        return f"Next I compute {expression}."
    return f"{context}{' ' if context[-1] in '.!?:' else '; '}next I compute {expression}."


def _mask_result(text: str, stated: str, expression: str) -> str:
    """Replace the written result in the text before a call by ``?`` ("He needs 9 scoops because 3 / (1/3)"
    → "He needs ? scoops because ..."), unless that number is also one of the expression's operands."""
    value = stated.strip()
    if not value or result_in_thought(expression, value) or not result_in_thought(text, value):
        return text
    return re.sub(rf"\$?(?<![\d.]){re.escape(value)}(?!\d|\.\d)", "?", text)


def solution_steps(solution: str) -> tuple[list[_Step], str, str]:
    """Split a GSM8K solution into calculator steps, the text after the last one, and the answer.

    A step's rationale is the solution text leading to its annotation, cut before the written result
    (a trailing ``=``/``$`` dropped), ending "next I compute EXPR."; the written result and the text after
    it open the next thought as a recap ("That gives 24 ..."), once the calculator has answered.

    >>> steps, tail, answer = solution_steps("Half is 48/2 = <<48/2=24>>24 cups.\\n#### 24")
    >>> (steps[0].rationale, steps[0].expression, tail, answer)
    ('Half is 48/2; next I compute 48/2.', '48/2', 'That gives 24 cups.', '24')
    """
    if solution.count("####") != 1:
        raise DataError(f"expected exactly one '####' answer marker, found {solution.count('####')}",
                        field="answer")
    body, answer = solution.split("####")
    steps: list[_Step] = []
    recap, pending = "", []
    for line in body.split("\n"):
        matches = list(ANNOTATION.finditer(line))
        if not matches:
            if line.strip():
                pending.append(_clean(line))
            continue
        start, lead = 0, ""
        for m in matches:
            try:
                expression, stated = parse_annotation(m.group(1))
            except CalculatorError as e:
                raise DataError(f"bad calculator annotation <<{m.group(1)}>>: {e}", field="answer") from None
            raw = _clean(line[start:m.start()])
            currency = "$" if raw.rstrip(" =").endswith("$") else ""
            prefix = _mask_result(_TRAILING.sub("", raw), stated, expression)
            prefix = lead + prefix if prefix and lead else prefix
            steps.append(_Step(_thought(" ".join(p for p in (recap, *pending, prefix) if p), expression),
                               expression, stated))
            recap, pending, start, lead = "", [], m.end(), f"That gives {currency}"
        rest = _clean(line[start:])
        recap = lead + rest if rest else ""
    return steps, " ".join(p for p in (recap, *pending) if p), answer.strip()


def result_in_thought(thought: str, result: str) -> bool:
    """Whether a thought writes the number ``result`` (as a whole number token, ``1,000`` = ``1000``).

    >>> result_in_thought("She makes 9 * 2 = $18.", "18"), result_in_thought("She makes 9 * 2.", "18")
    (True, False)
    """
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", thought)
    value = result.strip()
    if not value:
        return False
    return re.search(rf"(?<![\d.]){re.escape(value)}(?!\d|\.\d)", plain) is not None


def thought_result_share(dialogues: list[Dialogue]) -> dict[str, Any]:
    """How many calculator steps have a planner thought that already states the calculator's result.

    Returns ``{"steps", "stated_in_thought", "share", "coincidental", "share_new"}``: ``coincidental``
    counts thoughts whose result number was already known — one of the expression's own numbers (``20-10``
    gives 10), in the question, or an earlier observation — and ``share_new`` the others (a real leak).
    Issue 15 defect 8 measured 97.8 % before the rewrite. Example: ``thought_result_share(load_gsm8k("train.jsonl")[0])["share"]``.
    """
    steps = stated = coincidental = 0
    for d in dialogues:
        turns, seen = d.conversations, []
        for k, turn in enumerate(turns):
            if turn.role != "caller" or k == 0 or k + 1 >= len(turns) or turns[k + 1].role != "observation":
                continue
            try:
                response = str(json.loads(turns[k + 1].value).get("response", ""))
            except (json.JSONDecodeError, AttributeError):
                continue
            steps += 1
            if result_in_thought(turns[k - 1].value.removesuffix(" Next: caller."), response):
                stated += 1
                expression = str(json.loads(caller_arguments(turn.value)).get("expression", ""))
                known = [expression, turns[0].value, *seen]
                coincidental += any(result_in_thought(text, response) for text in known)
            seen.append(response)
    return {"steps": steps, "stated_in_thought": stated, "share": stated / steps if steps else 0.0,
            "coincidental": coincidental, "share_new": (stated - coincidental) / steps if steps else 0.0}


def caller_arguments(value: str) -> str:
    """The JSON text after ``Action Input:`` in a caller turn (``"{}"`` when absent)."""
    return value.split("Action Input:", 1)[1].strip() if "Action Input:" in value else "{}"


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

    Example: ``load_gsm8k("$UMI_LAB_DATA/gsm8k/test.jsonl")``.
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
