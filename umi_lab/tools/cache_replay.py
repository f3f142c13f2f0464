"""ToolBench cache replay: answer recorded API calls from ToolBench answer trees, with no API key.

Like StableToolBench's cache, a ``CacheReplayRegistry`` answers a call of a recorded (API, arguments)
pair with the recorded response. Arguments are compared after normalisation (JSON parsed, keys sorted,
whitespace dropped), so ``{"a": 1, "b": 2}`` and ``{ "b":2,"a":1 }`` are the same call. Any other call of a
known API gets a clear ``not_in_cache`` observation; an unknown API name is a hallucination
(``unknown_tool``); unparseable arguments that were never recorded are ``bad_arguments``.

Recordings come from both parts of an answer file (``answer/G*_answer/<id>_*.json``): every
``Action`` → ``Action Input`` pair with an observation in the DFS ``tree``, and every assistant
``function_call`` followed by a ``function`` message in ``answer_generation.train_messages``.

Example::

    replay = CacheReplay("$UMI_LAB_DATA/toolbench_example")
    task = replay.tasks()[0]
    env = replay.env_for(task)
    env.call(task.tools[0].Name, "{}").status   # "ok" if recorded, else "not_in_cache"
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import loads_json, read_json
from umi_lab.protocol.dialogue import Dialogue, Tool, Turn
from umi_lab.tools.registry import BAD_ARGUMENTS, NOT_IN_CACHE, OK, TOOL_ERROR, Observation, ToolRegistry


def normalise_arguments(arguments: str | dict | None) -> str:
    """The cache key of an argument string: canonical JSON for a JSON object, else collapsed whitespace.

    >>> normalise_arguments('{ "b": 2,\\n "a": "x y" }') == normalise_arguments({"a": "x y", "b": 2})
    True
    >>> normalise_arguments("")
    '{}'
    """
    if arguments is None:
        return "{}"
    if isinstance(arguments, dict):
        try:
            return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (ValueError, TypeError, RecursionError):  # not JSON-able or nested too deeply: never raises
            return "raw:" + repr(type(arguments))
    text = str(arguments).strip()
    if not text:
        return "{}"
    try:
        value = loads_json(text, where="arguments")
    except DataError:
        return "raw:" + re.sub(r"\s+", " ", text)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "raw:" + json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tool_document(function: dict[str, Any]) -> Tool:
    """A ToolBench ``function`` entry as an alpha-UMi tool document (the official stage-1 rules).

    ``Name`` = last 64 characters of the name; ``function`` = first 256 of the description; ``input``:
    ``"<type>, <last 256 chars of description>"`` per parameter (``"<type>"`` without a description).

    >>> tool_document({"name": "f", "description": "d", "parameters": {"properties": {"q": {"type": "string"}}}}).input
    {'q': 'string'}
    """
    props = (function.get("parameters") or {}).get("properties") or {}
    inputs = {}
    for pname, p in props.items():
        desc = p.get("description") or ""
        inputs[pname] = f"{p.get('type', '')}, {desc[-256:]}" if desc else f"{p.get('type', '')}"
    return Tool(function["name"][-64:], (function.get("description") or "")[:256], inputs)


@dataclass
class AnswerRecord:
    """What one answer file offers: the task, its tools and the recorded calls."""

    task_id: str
    query: str
    tools: list[Tool]
    recordings: dict[tuple[str, str], str]
    final_answer: str = ""
    finish_type: str = ""
    conflicts: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    def task(self) -> Dialogue:
        """The task as a dialogue holding the user's query only (what an agent starts from)."""
        return Dialogue(self.tools, self.query, [Turn("user", self.query)],
                        {"id": self.task_id, "source": "toolbench_cache", "final_answer": self.final_answer,
                         "finish_type": self.finish_type})


def _record(rec: dict, name: str, args: Any, observation: Any, stats: dict[str, int]) -> int:
    """Add one recording; return 1 when it conflicts with an earlier different response (first one kept)."""
    if not isinstance(name, str) or observation is None or name == "Finish":
        return 0
    key = (name[-64:], normalise_arguments(args if isinstance(args, (str, dict)) else json.dumps(args)))
    text = observation if isinstance(observation, str) else json.dumps(observation, ensure_ascii=False)
    if key in rec:
        return int(rec[key] != text)
    rec[key] = text
    stats["recordings"] = stats.get("recordings", 0) + 1
    return 0


def _walk_tree(node: Any, rec: dict, stats: dict[str, int], action: str | None = None) -> int:
    conflicts = 0
    if not isinstance(node, dict):
        return 0
    kind = node.get("node_type")
    if kind == "Action":
        action = node.get("description")
    elif kind == "Action Input" and action and "observation" in node:
        conflicts += _record(rec, action, node.get("description", ""), node["observation"], stats)
    for child in node.get("children") or []:
        conflicts += _walk_tree(child, rec, stats, action if kind == "Action" else None)
    return conflicts


def _walk_messages(messages: Any, rec: dict, stats: dict[str, int]) -> int:
    conflicts = 0
    if not isinstance(messages, list):
        return 0
    for k, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") != "assistant" or not msg.get("function_call"):
            continue
        nxt = messages[k + 1] if k + 1 < len(messages) else None
        if isinstance(nxt, dict) and nxt.get("role") == "function":
            call = msg["function_call"]
            conflicts += _record(rec, call.get("name"), call.get("arguments", ""), nxt.get("content"), stats)
    return conflicts


def load_answer_file(path: str | os.PathLike) -> AnswerRecord:
    """Read one ToolBench answer file. A file without ``answer_generation.function`` or ``query`` is a
    DataError naming the file and the field. Example: ``load_answer_file(".../G1_answer/10_x.json")``."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("answer_generation"), dict):
        raise DataError("missing or not an object", file=str(path), field="answer_generation")
    gen = data["answer_generation"]
    for key, typ in (("function", list), ("query", str)):
        if not isinstance(gen.get(key), typ):
            raise DataError(f"missing or not a {typ.__name__}", file=str(path), field=f"answer_generation.{key}")
    tools = []
    for i, fn in enumerate(gen["function"]):
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise DataError("expected an object with a name", file=str(path), field=f"answer_generation.function[{i}]")
        if fn["name"] != "Finish":
            tools.append(tool_document(fn))
    rec: dict[tuple[str, str], str] = {}
    stats: dict[str, int] = {}
    conflicts = _walk_tree((data.get("tree") or {}).get("tree"), rec, stats)
    for messages in gen.get("train_messages") or []:
        conflicts += _walk_messages(messages, rec, stats)
    group = path.parent.name.split("_")[0]
    task_id = f"{group}_{path.stem.split('_')[0]}"
    return AnswerRecord(task_id, gen["query"], tools, rec, str(gen.get("final_answer") or ""),
                        str(gen.get("finish_type") or ""), conflicts, stats)


class CacheReplayRegistry(ToolRegistry):
    """A registry answering recorded calls (see the module doc).

    >>> reg = CacheReplayRegistry([Tool("f", "d", {})], {("f", "{}"): '{"error": "", "response": "1"}'})
    >>> reg.call("f", " { } ").status, reg.call("f", '{"x": 1}').status, reg.call("g", "{}").status
    ('ok', 'not_in_cache', 'unknown_tool')
    """

    def __init__(self, tools: list[Tool], recordings: dict[tuple[str, str], str]):
        self.tools = list(tools)
        self.recordings = dict(recordings)
        self.counts = {"hits": 0, "misses": 0, "unknown_tool": 0, "bad_arguments": 0}

    def tool_docs(self) -> list[Tool]:
        return list(self.tools)

    def call(self, name: str, arguments: str | dict | None) -> Observation:
        known = self.names()
        if name not in known:
            self.counts["unknown_tool"] += 1
            return self.unknown_tool(name, known)
        key = (name, normalise_arguments(arguments))
        text = self.recordings.get(key)
        if text is not None:
            self.counts["hits"] += 1
            return Observation(text, _recorded_status(text), text)
        if key[1].startswith("raw:"):
            self.counts["bad_arguments"] += 1
            return self.bad_arguments(name, "arguments are not a JSON object")
        self.counts["misses"] += 1
        return Observation.make(NOT_IN_CACHE, error=f"not in cache: no recorded response for {name} with "
                                f"arguments {key[1]}; only recorded calls can be replayed")


def _recorded_status(text: str) -> str:
    try:
        value = loads_json(text, where="observation")
    except DataError:
        return OK
    if isinstance(value, dict) and value.get("error"):
        err = str(value["error"]).lower()
        return BAD_ARGUMENTS if "parameter" in err or "argument" in err else TOOL_ERROR
    return OK


class CacheReplay:
    """All answer files under a ToolBench data folder (``<root>/answer/G*_answer/*.json``) as tasks and envs.

    Files without ``train_messages`` (invalid ToolBench records) are kept as tasks only when
    ``include_invalid``; ``skipped`` lists the others with the reason.
    """

    def __init__(self, root: str | os.PathLike, *, include_invalid: bool = False):
        self.root = Path(root)
        answer_dir = self.root / "answer" if (self.root / "answer").is_dir() else self.root
        files = sorted(answer_dir.glob("G*_answer/*.json")) or sorted(answer_dir.glob("*.json"))
        if not files:
            raise DataError("no ToolBench answer files (expected answer/G*_answer/*.json)", file=str(self.root))
        self.records: dict[str, AnswerRecord] = {}
        self.skipped: list[dict[str, str]] = []
        for f in files:
            rec = load_answer_file(f)
            valid = bool(read_json(f)["answer_generation"].get("train_messages"))
            if not valid and not include_invalid:
                self.skipped.append({"file": str(f), "reason": "no train_messages (invalid ToolBench record)"})
                continue
            self.records[rec.task_id] = rec

    def tasks(self) -> list[Dialogue]:
        """One task dialogue per answer file (id ``G1_10`` etc.). Example: ``replay.tasks()[0].instruction``."""
        return [r.task() for r in self.records.values()]

    def env_for(self, task: Dialogue | str) -> CacheReplayRegistry:
        """A fresh registry with the task's tools and recordings. Example: ``replay.env_for("G1_10")``."""
        task_id = task if isinstance(task, str) else task.id
        if task_id not in self.records:
            raise DataError(f"unknown ToolBench task {task_id!r}", file=str(self.root), field="id")
        rec = self.records[task_id]
        return CacheReplayRegistry(rec.tools, rec.recordings)

    def summary(self) -> dict[str, Any]:
        """Counts: tasks, recordings, conflicting recordings, skipped files."""
        return {"tasks": len(self.records), "recordings": sum(len(r.recordings) for r in self.records.values()),
                "conflicts": sum(r.conflicts for r in self.records.values()), "skipped": len(self.skipped)}
