"""ToolBench answer trees → alpha-UMi stage 1 records → stage 2 conversations (``Dialogue``).

The two steps follow the official GLPFT preprocessing rules (summarised in ``docs/data.md``):

* **stage 1** (``raw_data_stage_1.json``): one record ``{tools, instruction, chains}`` per answer file
  ``answer/G{1,2,3}_answer/<id>_*.json`` whose ``<id>`` is not a test query id and whose
  ``answer_generation`` has ``train_messages``. ``chains`` is the last train message list. Tools are
  every ``answer_generation.function`` entry except ``Finish``: ``Name`` = last 64 characters of
  ``name``, ``function`` = first 256 of ``description``, ``input`` = ``"<type>, <last 256 characters of
  the parameter description>"`` (or ``"<type>"`` without one).
* **stage 2**: a user turn with the instruction, then ``chains[2:]`` turned into assistant / caller /
  observation / conclusion / user turns (Finish handling, invalid-JSON fallbacks and ``response``
  parsing as in the notes).

Where the official scripts would crash or produce a non-string value, we do this instead (documented
choices, never silent):

* an answer file without ``train_messages`` (or with an empty list) is a counted skip, listed with its
  file; a file that is not valid JSON, or a tree missing a needed field, raises ``DataError`` naming it;
* the official script keeps only the first 20 records (an artefact); we keep all, ordered by group
  (G1, G2, G3), then numeric query id, then file name (the official order is ``os.listdir`` order);
* Finish arguments that are a dict without ``return_type`` go through the invalid-JSON fallback on
  their JSON text; a non-string ``final_answer`` is written as its JSON text;
* a non-Finish call whose ``arguments`` is a dict is written as its JSON text;
* a function message whose JSON has no ``response`` key falls back to the raw-text rule (text after
  ``"response":``, else ``""``); a non-string ``response`` value is written as its JSON text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_json
from umi_lab.protocol.dialogue import Dialogue

ANSWER_GROUPS = ("G1_answer", "G2_answer", "G3_answer")
NAME_CHARS, FUNCTION_CHARS, PARAM_CHARS = 64, 256, 256
FINAL_ANSWER_KEY = '"final_answer": '
RESPONSE_KEY = '"response":'


@dataclass
class ConversionReport:
    """Counts of a conversion: records written and skipped inputs grouped by reason (with file names).

    >>> r = ConversionReport(); r.skip("no train_messages", "G1_answer/69_x.json"); r.summary()["skipped"]
    1
    """

    read: int = 0
    written: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, where: str) -> None:
        self.skipped.setdefault(reason, []).append(where)

    @property
    def n_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict: ``read``, ``written``, ``skipped`` and ``skipped_by_reason`` (reason → files)."""
        return {"read": self.read, "written": self.written, "skipped": self.n_skipped,
                "skipped_by_reason": {k: list(v) for k, v in self.skipped.items()}}


# ------------------------------------------------------------------------------------------- test ids

def load_test_ids(path: str | os.PathLike) -> set[str]:
    """Test query ids from a folder of JSON files (or one file): each an object keyed by id, or a list.

    Example: ``load_test_ids("data/test_query_ids")`` → ``{"10", "57", ...}``.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json")
        if not files:
            raise DataError("no .json test-id files in this folder", file=str(path))
    elif path.is_file():
        files = [path]
    else:
        raise DataError("test-id folder not found", file=str(path))
    ids: set[str] = set()
    for f in files:
        data = read_json(f)
        if not isinstance(data, dict | list):
            raise DataError(f"expected an object keyed by query id or a list, got {type(data).__name__}",
                            file=str(f))
        for i, key in enumerate(data):
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise DataError(f"a query id must be a string or integer, got {type(key).__name__}",
                                file=str(f), record=i)
            ids.add(str(key))
    return ids


# ---------------------------------------------------------------------------------- answer → stage 1

def _tool_record(fn: Any, *, file: str, where: str) -> dict[str, Any]:
    if not isinstance(fn, dict):
        raise DataError(f"expected an object, got {type(fn).__name__}", file=file, field=where)
    for key in ("name", "description"):
        if not isinstance(fn.get(key), str):
            raise DataError("missing or not a string", file=file, field=f"{where}.{key}")
    props = fn.get("parameters", {}).get("properties") if isinstance(fn.get("parameters"), dict) else None
    if not isinstance(props, dict):
        raise DataError("missing or not an object", file=file, field=f"{where}.parameters.properties")
    inputs = {}
    for arg, spec in props.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise DataError("parameter without a string type", file=file,
                            field=f"{where}.parameters.properties.{arg}.type")
        desc = spec.get("description")
        if desc is None:
            inputs[arg] = spec["type"]
        elif isinstance(desc, str):
            inputs[arg] = spec["type"] + ", " + desc[-PARAM_CHARS:]
        else:
            raise DataError("not a string", file=file, field=f"{where}.parameters.properties.{arg}.description")
    return {"Name": fn["name"][-NAME_CHARS:], "function": fn["description"][:FUNCTION_CHARS], "input": inputs}


def answer_to_stage1(tree: Any, *, file: str = "<answer>") -> dict[str, Any] | None:
    """One answer tree → a stage-1 record, or None when it has no (non-empty) ``train_messages``.

    >>> answer_to_stage1({"answer_generation": {"query": "q", "function": []}}) is None
    True
    """
    if not isinstance(tree, dict):
        raise DataError(f"expected an object, got {type(tree).__name__}", file=file)
    gen = tree.get("answer_generation")
    if not isinstance(gen, dict) or not gen.get("train_messages"):
        return None
    if not isinstance(gen["train_messages"], list) or not isinstance(gen["train_messages"][-1], list):
        raise DataError("expected a list of message lists", file=file, field="answer_generation.train_messages")
    if not isinstance(gen.get("query"), str):
        raise DataError("missing or not a string", file=file, field="answer_generation.query")
    functions = gen.get("function")
    if not isinstance(functions, list):
        raise DataError("missing or not a list", file=file, field="answer_generation.function")
    tools = [_tool_record(fn, file=file, where=f"answer_generation.function[{i}]")
             for i, fn in enumerate(functions) if not (isinstance(fn, dict) and fn.get("name") == "Finish")]
    return {"tools": tools, "instruction": gen["query"], "chains": gen["train_messages"][-1]}


def _natural_key(p: Path) -> tuple[int, int, str]:
    qid = p.name.split("_")[0]
    return (0, int(qid), p.name) if qid.isdigit() else (1, 0, p.name)


def answer_files(input_dir: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(group, file)`` for every entry of ``DIR/answer/G{1,2,3}_answer`` (or ``DIR/G*_answer``), sorted."""
    root = Path(input_dir)
    base = root / "answer" if (root / "answer").is_dir() else root
    groups = [g for g in ANSWER_GROUPS if (base / g).is_dir()]
    if not groups:
        raise DataError(f"no answer folders ({', '.join(ANSWER_GROUPS)}) here or under answer/", file=str(root))
    return [(g, p) for g in groups for p in sorted((base / g).iterdir(), key=_natural_key)]


def stage1_from_answers(input_dir: str | os.PathLike, test_ids: Iterable[str] = (), *,
                        with_source: bool = False) -> tuple[list[dict[str, Any]], ConversionReport]:
    """Stage-1 records from a ToolBench answer folder, leaving out ``test_ids``; skips are counted.

    ``with_source`` adds ``"source": "G1_answer/<file>"`` to each record (kept through stage 2).
    Example: ``records, report = stage1_from_answers("$UMI_LAB_DATA/toolbench_example")``.
    """
    test_ids = {str(t) for t in test_ids}
    report = ConversionReport()
    records = []
    for group, path in answer_files(input_dir):
        where = f"{group}/{path.name}"
        report.read += 1
        if not path.is_file() or path.suffix != ".json":
            report.skip("not a .json file", where)
            continue
        if path.name.split("_")[0] in test_ids:
            report.skip("test query id", where)
            continue
        record = answer_to_stage1(read_json(path), file=str(path))
        if record is None:
            report.skip("no train_messages", where)
            continue
        if with_source:
            record["source"] = where
        records.append(record)
        report.written += 1
    return records, report


# --------------------------------------------------------------------------------- stage 1 → stage 2

def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_finish(arguments: Any, content: str | None) -> tuple[bool, str | None]:
    """``(give_up, final_answer)`` of a Finish call; ``final_answer`` is None on give-up.

    >>> parse_finish('{"return_type": "give_answer", "final_answer": "42"}', None)
    (False, '42')
    >>> parse_finish('{"return_type": "give_answer", "final_answer": "4', "thinking")
    (False, '4')
    """
    parsed = arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError:
            parsed = None
    if isinstance(parsed, dict) and "return_type" in parsed:
        if parsed["return_type"] == "give_up_and_restart":
            return True, None
        return False, _as_text(parsed["final_answer"]) if "final_answer" in parsed else "none"
    text = _as_text(arguments)  # fallback on the raw text, as the official script does
    if "give_up_and_restart" in text:
        return True, None
    if FINAL_ANSWER_KEY in text:
        return False, text[text.index(FINAL_ANSWER_KEY) + len(FINAL_ANSWER_KEY):].strip().strip("}").strip('"')
    return False, content if content is not None else "none"


def observation_value(content: str) -> str:
    """The observation text of a function message: its JSON ``response``, else the text after ``"response":``.

    >>> observation_value('{"error": "", "response": "ok"}')
    'ok'
    >>> observation_value('{"error": "", "response": "trunc')
    ' "trunc'
    """
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and "response" in parsed:
        return _as_text(parsed["response"])
    if isinstance(parsed, str):  # a JSON string: the official script searches the decoded text
        content = parsed
    if RESPONSE_KEY in content:
        return content[content.index(RESPONSE_KEY) + len(RESPONSE_KEY):]
    return ""


def stage1_to_conversations(record: Any, *, file: str | None = None, index: int | None = None) -> dict[str, Any]:
    """One stage-1 record → a stage-2 dict ``{tools, instruction, conversations, **extra}``.

    >>> rec = {"tools": [], "instruction": "q", "chains": [{}, {}, {"role": "assistant", "content": "t",
    ...        "function_call": {"name": "Finish", "arguments": {"return_type": "give_up_and_restart"}}}]}
    >>> stage1_to_conversations(rec)["conversations"][1]
    {'from': 'assistant', 'value': 't\\n Next: give up.'}
    """
    def fail(msg: str, fld: str) -> DataError:
        return DataError(msg, file=file, record=index, field=fld)

    if not isinstance(record, dict):
        raise DataError(f"expected an object, got {type(record).__name__}", file=file, record=index)
    for key, typ in (("tools", list), ("instruction", str), ("chains", list)):
        if not isinstance(record.get(key), typ):
            raise fail(f"missing or not a {typ.__name__}", key)
    turns = [{"from": "user", "value": record["instruction"]}]
    for j, msg in enumerate(record["chains"][2:], start=2):
        where = f"chains[{j}]"
        if not isinstance(msg, dict):
            raise fail(f"expected an object, got {type(msg).__name__}", where)
        role, content = msg.get("role"), msg.get("content")
        if content is not None and not isinstance(content, str):
            raise fail(f"expected a string or null, got {type(content).__name__}", f"{where}.content")
        if role == "assistant":
            call = msg.get("function_call")
            if call is None:
                continue
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or "arguments" not in call:
                raise fail("expected {name, arguments}", f"{where}.function_call")
            text = content + "\n" if content is not None else ""
            args = call["arguments"]
            if not isinstance(args, str | dict):
                raise fail(f"expected a string or object, got {type(args).__name__}", f"{where}.function_call.arguments")
            if call["name"] == "Finish":
                give_up, answer = parse_finish(args, content)
                if give_up:
                    turns.append({"from": "assistant", "value": text + " Next: give up."})
                else:
                    turns.append({"from": "assistant", "value": text + " Next: conclusion."})
                    turns.append({"from": "conclusion", "value": answer})
            else:
                turns.append({"from": "assistant", "value": text + " Next: caller."})
                turns.append({"from": "caller", "value": "Action: " + call["name"] + "\nAction Input: " + _as_text(args)})
        elif role == "user":
            if content is None:
                raise fail("a user message needs string content", f"{where}.content")
            turns.append({"from": "user", "value": content})
        elif role == "function":
            if content is None:
                raise fail("a function message needs string content", f"{where}.content")
            turns.append({"from": "observation", "value": observation_value(content)})
        elif role != "system":
            raise fail(f"unknown role {role!r} (expected system, user, assistant or function)", f"{where}.role")
    extra = {k: v for k, v in record.items() if k not in ("tools", "instruction", "chains")}
    return {"tools": record["tools"], "instruction": record["instruction"], "conversations": turns, **extra}


def stage2_from_stage1(records: list[Any], *, file: str | None = None) -> list[Dialogue]:
    """Stage-1 records → validated stage-2 ``Dialogue``s (errors name file, record and field).

    Example: ``stage2_from_stage1(read_json("raw_data_stage_1.json"), file="raw_data_stage_1.json")``.
    """
    return [Dialogue.from_dict(stage1_to_conversations(r, file=file, index=i), file=file, record=i)
            for i, r in enumerate(records)]


def toolbench_to_dialogues(input_dir: str | os.PathLike, test_ids: Iterable[str] = (), *,
                           with_source: bool = False) -> tuple[list[dict], list[Dialogue], ConversionReport]:
    """Answer folder → ``(stage-1 records, stage-2 dialogues, report)``.

    Example: ``s1, dialogues, report = toolbench_to_dialogues("$UMI_LAB_DATA/toolbench_example")``.
    """
    stage1, report = stage1_from_answers(input_dir, test_ids, with_source=with_source)
    return stage1, stage2_from_stage1(stage1, file=str(input_dir)), report

