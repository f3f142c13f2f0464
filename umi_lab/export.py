"""Role datasets as Hugging Face ``datasets``, and in TRL's conversational tool-calling format.

``python -m umi_lab export-roles --roles ROLES --out OUT`` reads the role datasets written by
``python -m umi_lab split`` (``train_{backbone,planner,caller,summarizer,multitask}.json``, records
``{tools, history, input, target}``) and writes

* ``OUT/records``  a ``DatasetDict`` (``save_to_disk``), one split per role, the records as they are;
* ``OUT/chat``     a ``DatasetDict`` in TRL's conversational tool-calling format, one split per role: ``messages``
  (``system`` / ``user`` / ``assistant`` / ``tool``; a call is an assistant message with ``tool_calls``, an
  observation a ``tool`` message) and ``tools`` (JSON-schema function descriptions), plus ``role``;
* ``OUT/parquet/{records,chat}/<role>.parquet`` the same tables as Parquet files;
* ``OUT/export_report.json`` rows per role and what could not be structured (counted, never dropped).

The chat rows keep every text verbatim except the call (``Action: … / Action Input: {…}`` becomes a structured
``tool_calls`` entry) and the tool documentation (becomes the ``tools`` column). The last message is the role's
target; the system message is the role's instruction. A call whose text does not parse, or whose arguments are
not a JSON object, stays an assistant message with its text and is counted in the report. ``SFTTrainer`` reads
the ``chat`` splits directly (``load_from_disk(OUT / "chat")["planner"]``) with a tool-capable chat template.

Messages and tools are stored with ``datasets.Json`` so that tools and arguments of any shape survive Arrow
and Parquet unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_records, write_json
from umi_lab.protocol.dialogue import Turn
from umi_lab.protocol.grammar import Decision, parse_backbone, parse_call
from umi_lab.protocol.prompts import backbone_target

ROLES = ("backbone", "planner", "caller", "summarizer")
MULTITASK_PARTS = ("planner", "caller", "summarizer")

ROLE_INSTRUCTIONS = {
    "backbone": "Solve the user's task with the tools. At each step write your thought, then either call one "
                "tool, or write 'conclusion: ' followed by the final answer, or 'conclusion: give up.'",
    "planner": "You are the planner. Write the thought of the next step, ending with 'Next: caller.' when a "
               "tool should be called, 'Next: conclusion.' when the task can be answered, or 'Next: give up.'",
    "caller": "You are the caller. Make the one tool call that the planner's last thought asks for.",
    "summarizer": "You are the summarizer. Write the final answer to the user's task from the conversation.",
}
_JSON_TYPES = {"string": "string", "str": "string", "integer": "integer", "int": "integer", "number": "number",
               "float": "number", "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
               "object": "object", "dict": "object"}


def _read_call(text: str) -> tuple[str | None, str, str | None]:
    """``(tool, arguments text, error)`` of a caller text, read by the protocol grammar."""
    p = parse_call(text)
    return p.tool, p.arguments or "{}", p.error


@dataclass
class ExportReport:
    """Rows per role, tool calls made structured (history and targets) and calls kept as text (by reason)."""

    rows: dict[str, int] = field(default_factory=dict)
    structured_calls: dict[str, int] = field(default_factory=dict)
    calls_kept_as_text: dict[str, dict[str, int]] = field(default_factory=dict)
    tool_messages_without_call: dict[str, int] = field(default_factory=dict)
    out: dict[str, str] = field(default_factory=dict)

    def _count(self, table: dict, role: str, key: str | None = None) -> None:
        if key is None:
            table[role] = table.get(role, 0) + 1
        else:
            inner = table.setdefault(role, {})
            inner[key] = inner.get(key, 0) + 1


def tool_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """A ToolBench-style tool document → a JSON-schema function description (the chat-template ``tools`` form).

    Parameters written ``"<type>, [required|optional,] <description>"`` give a typed property; ``required``
    ones are listed as such. A parameter given as a dict is taken as its schema.

    >>> tool_schema({"Name": "f", "function": "Adds.", "input": {"a": "integer, required, first"}})["function"]
    {'name': 'f', 'description': 'Adds.', 'parameters': {'type': 'object', 'properties': {'a': {'type': 'integer', \
'description': 'first'}}, 'required': ['a']}}
    """
    properties, required = {}, []
    for name, spec in (tool.get("input") or {}).items():
        if isinstance(spec, dict):
            properties[name] = spec
            continue
        parts = [p.strip() for p in str(spec).split(",")]
        typ = _JSON_TYPES.get(parts[0].lower(), "string")
        rest = parts[1:] if parts[0].lower() in _JSON_TYPES else parts
        if rest and rest[0].lower() in ("required", "optional"):
            if rest[0].lower() == "required":
                required.append(name)
            rest = rest[1:]
        prop = {"type": typ}
        description = ", ".join(rest).strip()
        if description:
            prop["description"] = description
        properties[name] = prop
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return {"type": "function",
            "function": {"name": tool["Name"], "description": tool.get("function", ""), "parameters": parameters}}


class _Converter:
    """Turns of one role record → messages, numbering tool calls and counting what stays text."""

    def __init__(self, role: str, report: ExportReport):
        self.role, self.report, self.n_calls, self.last_call = role, report, 0, None

    def call(self, name: str | None, args: str, error: str | None) -> dict[str, Any] | None:
        if error is None:
            try:
                arguments = json.loads(args)
                error = None if isinstance(arguments, dict) else "arguments are not a JSON object"
            except json.JSONDecodeError:
                error = "arguments are not JSON"
        if error is not None:
            self.report._count(self.report.calls_kept_as_text, self.role, error)
            return None
        self.n_calls += 1
        self.report._count(self.report.structured_calls, self.role)
        self.last_call = (f"call_{self.n_calls}", name)
        return {"id": self.last_call[0], "type": "function", "function": {"name": name, "arguments": arguments}}

    def caller_message(self, text: str, thought: str = "", parsed: tuple | None = None) -> dict[str, Any]:
        call = self.call(*(parsed or _read_call(text)))
        if call is None:  # kept as written (counted); a backbone text already holds its thought
            keep = text if parsed is not None or not thought else thought + "\n" + text
            return {"role": "assistant", "content": keep}
        return {"role": "assistant", "content": thought, "tool_calls": [call]}

    def tool_message(self, text: str) -> dict[str, Any]:
        if self.last_call is None:
            self.report._count(self.report.tool_messages_without_call, self.role)
            return {"role": "tool", "content": text}
        return {"role": "tool", "tool_call_id": self.last_call[0], "name": self.last_call[1], "content": text}

    def history(self, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Non-backbone roles: one message per turn. The backbone sees its own past outputs (as the splitter
        renders them): user and observation turns, and each decision's backbone target."""
        parsed = [Turn.from_dict(turn, where=f"history[{i}]") for i, turn in enumerate(turns)]
        out: list[dict[str, Any]] = []
        for i, turn in enumerate(parsed):
            if turn.role == "user":
                out.append({"role": "user", "content": turn.value})
            elif turn.role == "observation":
                out.append(self.tool_message(turn.value))
            elif self.role == "backbone":
                decision, text = backbone_target(parsed, i) if turn.role == "assistant" else (None, "")
                if decision is not None:
                    out.append(self.target(text))
            elif turn.role == "caller":
                out.append(self.caller_message(turn.value))
            else:  # assistant (planner thought) or conclusion
                out.append({"role": "assistant", "content": turn.value})
        return out

    def target(self, text: str) -> dict[str, Any]:
        if self.role == "caller":
            return self.caller_message(text)
        if self.role == "backbone":
            step = parse_backbone(text)
            if step.decision is Decision.CALLER:
                return self.caller_message(text, thought=step.thought, parsed=(step.tool, step.arguments, step.error))
        return {"role": "assistant", "content": text}


def chat_row(record: dict[str, Any], role: str, report: ExportReport | None = None) -> dict[str, Any]:
    """One role record → ``{"messages", "tools", "role"}`` in TRL's conversational tool-calling format.

    >>> rec = {"tools": [{"Name": "f", "function": "d", "input": {}}], "input": "...",
    ...        "history": [{"from": "user", "value": "hi"}, {"from": "assistant", "value": "Call f. Next: caller."}],
    ...        "target": 'Action: f\\nAction Input: {"x": 1}'}
    >>> chat_row(rec, "caller")["messages"][-1]["tool_calls"][0]["function"]
    {'name': 'f', 'arguments': {'x': 1}}
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    conv = _Converter(role, report or ExportReport())
    messages = [{"role": "system", "content": ROLE_INSTRUCTIONS[role]}]
    messages += conv.history(record["history"])
    messages.append(conv.target(record["target"]))
    return {"messages": messages, "tools": [tool_schema(t) for t in record["tools"]], "role": role}


def _check_records(records: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(records, list):
        raise DataError("expected a JSON list of role records", file=str(path))
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", file=str(path), record=i)
        for key, typ in (("tools", list), ("history", list), ("input", str), ("target", str)):
            if not isinstance(rec.get(key), typ):
                raise DataError(f"missing or not a {typ.__name__}", file=str(path), record=i, field=key)
    return records


def _datasets(rows_by_role: dict[str, list[dict]], kind: str):
    from datasets import Dataset, DatasetDict, Features, Json, List, Value

    if kind == "records":
        features = Features({"tools": List(Json()), "history": List(Json()), "input": Value("string"),
                             "target": Value("string")})
    else:
        features = Features({"messages": List(Json()), "tools": List(Json()), "role": Value("string")})
    return DatasetDict({role: Dataset.from_list(rows, features=features) for role, rows in rows_by_role.items()})


def export_roles(roles_dir: str | os.PathLike, out: str | os.PathLike, *, split: str = "train",
                 parquet: bool = True) -> ExportReport:
    """Write the role datasets of ``roles_dir`` as Hugging Face datasets (records and TRL chat format).

    Reads ``{split}_{role}.json`` for every role present (at least one). The chat form of ``multitask`` is the
    planner, caller and summarizer chat rows in that order, as the splitter builds it; it is written when those
    three are present and their sizes add up to the multitask file's.

    >>> export_roles("ROLES", "OUT").rows["planner"]  # doctest: +SKIP
    5637
    """
    roles_dir, out = Path(roles_dir), Path(out)
    records: dict[str, list[dict]] = {}
    for role in (*ROLES, "multitask"):
        path = roles_dir / f"{split}_{role}.json"
        if path.is_file():
            records[role] = _check_records(read_records(path), path)
    if not records:
        raise DataError(f"no {split}_<role>.json role dataset here (make them with `python -m umi_lab split`)",
                        file=str(roles_dir))
    report = ExportReport()
    chat: dict[str, list[dict]] = {}
    for role in ROLES:
        if role in records:
            path = roles_dir / f"{split}_{role}.json"
            rows = []
            for i, rec in enumerate(records[role]):
                try:
                    rows.append(chat_row(rec, role, report))
                except DataError as e:
                    raise e.located(file=str(path), record=i) from None
            chat[role] = rows
    if "multitask" in records and all(r in chat for r in MULTITASK_PARTS):
        parts = [row for r in MULTITASK_PARTS for row in chat[r]]
        if len(parts) != len(records["multitask"]):
            raise DataError(f"{len(records['multitask'])} multitask records but planner + caller + summarizer "
                            f"give {len(parts)}: the files come from different splits",
                            file=str(roles_dir / f"{split}_multitask.json"))
        chat["multitask"] = parts
    report.rows = {role: len(rows) for role, rows in records.items()}
    for kind, rows_by_role in (("records", records), ("chat", chat)):
        dd = _datasets(rows_by_role, kind)
        dd.save_to_disk(str(out / kind))
        report.out[kind] = str(out / kind)
        if parquet:
            for role, ds in dd.items():
                ds.to_parquet(str(out / "parquet" / kind / f"{role}.parquet"))
            report.out[f"parquet/{kind}"] = str(out / "parquet" / kind)
    write_json(out / "export_report.json", asdict(report))
    return report


def _cmd_export_roles(args: argparse.Namespace) -> int:
    import datasets

    datasets.disable_progress_bars()
    report = export_roles(args.roles, args.out, split=args.split, parquet=not args.no_parquet)
    print(json.dumps({"command": "export-roles", **asdict(report)}))
    return 0


def add_cli(subparsers: Any) -> None:
    """Register ``export-roles``."""
    p = subparsers.add_parser("export-roles", help="role datasets -> Hugging Face datasets + TRL tool-calling chat")
    p.add_argument("--roles", required=True, help="folder of train_<role>.json files (from `split`)")
    p.add_argument("--out", required=True, help="output folder (records/, chat/, parquet/, export_report.json)")
    p.add_argument("--split", default="train", help="file prefix: <split>_<role>.json (default: train)")
    p.add_argument("--no-parquet", action="store_true", help="skip the Parquet copies")
    p.set_defaults(func=_cmd_export_roles)
