"""ToolAlpaca evaluation sets → static-evaluation cases, dialogues and static samples.

``eval_simulated.json`` / ``eval_real.json`` hold one entry per API: ``Function_Description`` (one text
per function: description, ``Parameters: {json}``, ``Output: ...``; the key ``components`` is the shared
output-format text, not a function), ``Instructions`` and, per instruction, ``Golden_Answers`` (a list of
``{"Action", "Action_Input"}`` steps).

A *case* is one instruction: ``id``, ``api``, ``split``, ``instruction``, ``tools`` (ToolBench-like
``{"Name", "function", "input"}``: the function text without its Parameters line; ``input`` the parsed
Parameters) and ``golden`` steps ``{"action", "action_input", "known_action", "input_parses"}``. Golden
steps are kept as written: some name a function the API does not have (``getDetails``: ask the user)
and some inputs are templates (``${animeId from searchAnime}``) that are not JSON. The report lists them;
the official metric leaves unparseable reference inputs out of the F1 lists and counts unknown actions
as action misses.

As dialogues (prompt family ``toolalpaca``): the user instruction, then per golden step a planner turn
(``I will call <action> for this step. Next: caller.``) and the caller turn. The data has no tool
responses, so there are **no observation turns**. A final ``Next: conclusion.`` turn with the
conclusion ``none`` (the official placeholder for a missing final answer) is added unless
``include_conclusion=False``: its static sample scores the decision to stop, while its Rouge-L against
``none`` carries no information about answer quality.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_json, write_json
from umi_lab.protocol.dialogue import Dialogue, Tool, Turn, save_dialogues
from umi_lab.protocol.grammar import compose_call, compose_planner
from umi_lab.static_eval import static_samples

CONCLUDE_THOUGHT = "The required calls are done."
FORMATS = ("cases", "dialogues", "samples")
_PARAMS = re.compile(r"(?:^|\n)Parameters: ")


@dataclass
class ToolAlpacaReport:
    """Counts of a load, and the golden steps that name unknown functions or have non-JSON inputs."""

    apis: int = 0
    cases: int = 0
    golden_steps: int = 0
    multi_step_cases: int = 0
    unknown_actions: list[dict[str, Any]] = field(default_factory=list)
    unparseable_inputs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"apis": self.apis, "cases": self.cases, "golden_steps": self.golden_steps,
                "multi_step_cases": self.multi_step_cases, "unknown_action_count": len(self.unknown_actions),
                "unparseable_input_count": len(self.unparseable_inputs)}


def function_tool(name: str, text: str, *, file: str | None = None, record: int | None = None) -> Tool:
    """One ToolAlpaca function description → a Tool (``input`` = the parsed ``Parameters`` JSON).

    >>> function_tool("f", 'Does f.\\nParameters: {"x": "Required. string. An x."}\\nOutput: ok.').input
    {'x': 'Required. string. An x.'}
    """
    where = f"Function_Description.{name}"
    m = _PARAMS.search(text)
    if m is None:
        raise DataError("no 'Parameters: ' line", file=file, record=record, field=where)
    rest = text[m.end():]
    params_text, sep, output = rest.partition("\nOutput:")
    try:
        params = json.loads(params_text)
    except ValueError as e:
        raise DataError(f"Parameters are not JSON: {e}", file=file, record=record, field=where) from None
    if not isinstance(params, dict):
        raise DataError("Parameters must be a JSON object", file=file, record=record, field=where)
    function = (text[:m.start()].strip() + ("\nOutput:" + output if sep else "")).strip()
    return Tool(name, function, params)


def api_cases(api: Any, index: int, *, split: str, file: str | None = None,
              report: ToolAlpacaReport | None = None) -> list[dict[str, Any]]:
    """All cases of one API entry. Example: ``api_cases(read_json("eval_real.json")[0], 0, split="real")``."""
    report = report if report is not None else ToolAlpacaReport()
    if not isinstance(api, dict):
        raise DataError(f"expected an object, got {type(api).__name__}", file=file, record=index)
    for key, typ in (("Name", str), ("Function_Description", dict), ("Instructions", list),
                     ("Golden_Answers", list)):
        if not isinstance(api.get(key), typ):
            raise DataError(f"missing or not a {typ.__name__}", file=file, record=index, field=key)
    if len(api["Instructions"]) != len(api["Golden_Answers"]):
        raise DataError(f"{len(api['Instructions'])} instructions but {len(api['Golden_Answers'])} golden answers",
                        file=file, record=index, field="Golden_Answers")
    tools = [function_tool(n, t, file=file, record=index)
             for n, t in api["Function_Description"].items() if n != "components"]
    names = {t.Name for t in tools}
    report.apis += 1
    cases = []
    for k, (instruction, steps) in enumerate(zip(api["Instructions"], api["Golden_Answers"])):
        where = f"Golden_Answers[{k}]"
        if not isinstance(instruction, str):
            raise DataError("expected a string", file=file, record=index, field=f"Instructions[{k}]")
        if not isinstance(steps, list) or not steps:
            raise DataError("expected a non-empty list of steps", file=file, record=index, field=where)
        cid = f"toolalpaca-{split}-{index:02d}-{k:03d}"
        golden = []
        for j, step in enumerate(steps):
            if not (isinstance(step, dict) and isinstance(step.get("Action"), str)
                    and isinstance(step.get("Action_Input"), str)):
                raise DataError("a step needs string Action and Action_Input", file=file, record=index,
                                field=f"{where}[{j}]")
            action, action_input = step["Action"], step["Action_Input"]
            try:
                json.loads(action_input)
                parses = True
            except ValueError:
                parses = False
            golden.append({"action": action, "action_input": action_input, "known_action": action in names,
                           "input_parses": parses})
            if action not in names:
                report.unknown_actions.append({"case": cid, "step": j, "action": action})
            if not parses:
                report.unparseable_inputs.append({"case": cid, "step": j, "action_input": action_input})
        report.cases += 1
        report.golden_steps += len(golden)
        report.multi_step_cases += len(golden) > 1
        cases.append({"id": cid, "api": api["Name"], "split": split, "instruction": instruction,
                      "tools": [t.to_dict() for t in tools], "golden": golden})
    return cases


def load_toolalpaca(path: str | os.PathLike, split: str | None = None) -> tuple[list[dict[str, Any]], ToolAlpacaReport]:
    """Read an ``eval_{simulated,real}.json`` file as cases; ``split`` defaults to the stem without ``eval_``.

    Example: ``cases, report = load_toolalpaca("$UMI_LAB_DATA/toolalpaca/eval_real.json")``.
    """
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError("expected a JSON list of APIs", file=str(path))
    split = split or Path(path).stem.removeprefix("eval_")
    report = ToolAlpacaReport()
    cases = []
    for i, api in enumerate(data):
        cases += api_cases(api, i, split=split, file=str(path), report=report)
    return cases, report


def case_dialogue(case: dict[str, Any], *, include_conclusion: bool = True) -> Dialogue:
    """A case as an alpha-UMi dialogue (no observations; see the module doc).

    Example: ``case_dialogue(cases[0]).conversations[1].value``.
    """
    turns = [Turn("user", case["instruction"])]
    for step in case["golden"]:
        turns += [Turn("assistant", compose_planner(f"I will call {step['action']} for this step.", "caller")),
                  Turn("caller", compose_call(step["action"], step["action_input"]))]
    if include_conclusion:
        turns += [Turn("assistant", compose_planner(CONCLUDE_THOUGHT, "conclusion")), Turn("conclusion", "none")]
    extra = {"id": case["id"], "api": case["api"], "split": case["split"], "source": "toolalpaca",
             "golden": case["golden"]}
    return Dialogue([Tool.from_dict(t) for t in case["tools"]], case["instruction"], turns, extra)


def toolalpaca_samples(cases: list[dict[str, Any]], *, include_conclusion: bool = True) -> list[dict[str, Any]]:
    """Static-evaluation samples (prompt family ``toolalpaca``) of the cases, scored by ``static_eval``.

    Example: ``evaluate_predictions([{**s, "predictions": my_model(s["model_input"])} for s in samples])``.
    """
    dialogues = [case_dialogue(c, include_conclusion=include_conclusion) for c in cases]
    return static_samples(dialogues, family="toolalpaca")


def _cmd_convert(args: argparse.Namespace) -> int:
    cases, report = load_toolalpaca(args.input, split=args.split)
    if args.format == "cases":
        write_json(args.out, cases)
        written = len(cases)
    elif args.format == "dialogues":
        dialogues = [case_dialogue(c, include_conclusion=not args.no_conclusion) for c in cases]
        save_dialogues(args.out, dialogues)
        written = len(dialogues)
    else:
        samples = toolalpaca_samples(cases, include_conclusion=not args.no_conclusion)
        write_json(args.out, samples)
        written = len(samples)
    print(json.dumps({**report.summary(), "format": args.format, "written": written, "out": args.out}))
    return 0


def register_convert(sub: Any) -> None:
    """Add ``convert toolalpaca`` to the convert command's subparsers."""
    p = sub.add_parser("toolalpaca", help="ToolAlpaca eval set → cases, dialogues or static samples")
    p.add_argument("--input", required=True, help="eval_simulated.json or eval_real.json")
    p.add_argument("--out", required=True, help="output JSON (dialogues may also be .jsonl)")
    p.add_argument("--format", default="dialogues", choices=FORMATS, help="what to write (default dialogues)")
    p.add_argument("--no-conclusion", action="store_true", help="do not add the final conclusion decision")
    p.add_argument("--split", default=None, help="split name used in ids (default: simulated / real)")
    p.set_defaults(func=_cmd_convert)

