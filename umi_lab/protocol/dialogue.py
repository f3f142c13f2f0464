"""The one data model for dialogues and agent trajectories in the alpha-UMi conversation format.

A ``Dialogue`` is ``{"tools": [{"Name", "function", "input"}], "instruction": str,
"conversations": [{"from", "value"}]}``; any other keys (ids, splits, success criteria) are kept in
``extra`` so that loading and saving is lossless. A ``RecordedTrajectory`` is what an agent run leaves:
the dialogue it produced plus per-step records (role, token counts, latency, errors) and, for every
model call, what the protocol (``umi_lab.protocol.grammar``) read from it: ``decision``, ``tool``,
``arguments``, ``parse_error``. Plots, widgets, replay and the success checker read these fields and never
re-parse model text. Files written before these fields existed are read too: the decision an old agent
stored in ``extra["decision"]`` is converted, and an old "no Next: decision" parse error reads as ``invalid``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_records, write_json, write_jsonl
from umi_lab.protocol.grammar import DECISION_MARKS, Decision, Parsed

TURN_ROLES = ("user", "assistant", "caller", "observation", "conclusion")
DECISIONS = tuple(DECISION_MARKS)  # the words after "Next: " ("caller", "conclusion", "give up")


@dataclass
class Tool:
    """One tool document: ``Name`` (``<api>_for_<tool>``), ``function`` (description), ``input`` (params)."""

    Name: str
    function: str
    input: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "tools[?]") -> Tool:
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}", field=where)
        for key, typ in (("Name", str), ("function", str), ("input", dict)):
            if key not in d:
                raise DataError("missing", field=f"{where}.{key}")
            if not isinstance(d[key], typ):
                raise DataError(f"expected {typ.__name__}, got {type(d[key]).__name__}", field=f"{where}.{key}")
        extra = {k: v for k, v in d.items() if k not in ("Name", "function", "input")}
        return cls(d["Name"], d["function"], d["input"], extra)

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.Name, "function": self.function, "input": self.input, **self.extra}


@dataclass
class Turn:
    """One turn: ``role`` (JSON key ``from``) in TURN_ROLES and its text ``value``."""

    role: str
    value: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "conversations[?]") -> Turn:
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}", field=where)
        if "from" not in d:
            raise DataError("missing", field=f"{where}.from")
        if d["from"] not in TURN_ROLES:
            raise DataError(f"unknown role {d['from']!r} (expected one of {', '.join(TURN_ROLES)})",
                            field=f"{where}.from")
        if "value" not in d:
            raise DataError("missing", field=f"{where}.value")
        if not isinstance(d["value"], str):
            raise DataError(f"expected str, got {type(d['value']).__name__}", field=f"{where}.value")
        return cls(d["from"], d["value"], {k: v for k, v in d.items() if k not in ("from", "value")})

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.role, "value": self.value, **self.extra}


@dataclass
class Dialogue:
    """A whole agent task: tools, instruction and the conversation so far.

    >>> d = Dialogue.from_dict({"tools": [], "instruction": "hi", "conversations": [{"from": "user", "value": "hi"}]})
    >>> d.to_dict()["conversations"][0]["from"]
    'user'
    """

    tools: list[Tool]
    instruction: str
    conversations: list[Turn]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, *, file: str | None = None, record: int | None = None) -> Dialogue:
        """Validate and build; errors name ``file``, ``record`` and the field."""
        try:
            if not isinstance(d, dict):
                raise DataError(f"expected an object, got {type(d).__name__}")
            for key, typ in (("tools", list), ("instruction", str), ("conversations", list)):
                if key not in d:
                    raise DataError("missing", field=key)
                if not isinstance(d[key], typ):
                    raise DataError(f"expected {typ.__name__}, got {type(d[key]).__name__}", field=key)
            tools = [Tool.from_dict(t, where=f"tools[{i}]") for i, t in enumerate(d["tools"])]
            turns = [Turn.from_dict(t, where=f"conversations[{i}]") for i, t in enumerate(d["conversations"])]
        except DataError as e:
            raise e.located(file=file, record=record) from None
        extra = {k: v for k, v in d.items() if k not in ("tools", "instruction", "conversations")}
        return cls(tools, d["instruction"], turns, extra)

    def to_dict(self) -> dict[str, Any]:
        return {"tools": [t.to_dict() for t in self.tools], "instruction": self.instruction,
                "conversations": [t.to_dict() for t in self.conversations], **self.extra}

    @property
    def tool_names(self) -> list[str]:
        return [t.Name for t in self.tools]

    @property
    def id(self) -> str | None:
        return self.extra.get("id")


def load_dialogues(path: str | os.PathLike) -> list[Dialogue]:
    """Load and validate a JSON list (or JSONL) of dialogues. Example: ``load_dialogues("out_of_domain.json")``."""
    records = read_records(path)
    return [Dialogue.from_dict(r, file=str(path), record=i) for i, r in enumerate(records)]


def save_dialogues(path: str | os.PathLike, dialogues: list[Dialogue]) -> Path:
    """Save dialogues atomically: ``.jsonl`` one per line, else a JSON list (indent 2)."""
    rows = [d.to_dict() for d in dialogues]
    return write_jsonl(path, rows) if str(path).endswith(".jsonl") else write_json(path, rows)


@dataclass
class StepRecord:
    """What one model call of an agent did.

    ``role`` is planner/caller/summarizer/backbone; ``error`` is None or a short tag with detail, e.g.
    ``"parse: no Action"`` or ``"tool: unknown_tool"``. ``decision`` (a ``Decision`` value, planner and
    backbone steps), ``tool`` and ``arguments`` (caller and backbone calls) and ``parse_error`` are what
    the protocol read from ``output`` (``record_parse``).

    >>> StepRecord.from_dict({"role": "planner", "output": "x", "decision": "give up"}).decision
    'give_up'
    """

    role: str
    output: str
    prompt_tokens: int = 0
    generated_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    decision: str | None = None
    tool: str | None = None
    arguments: str | None = None
    parse_error: str | None = None

    def record_parse(self, parsed: Parsed) -> StepRecord:
        """Store what the protocol read (decision, tool, arguments, parse error); returns self."""
        self.decision = parsed.decision.value if parsed.decision is not None and self.role != "caller" else None
        self.tool, self.arguments, self.parse_error = parsed.tool, parsed.arguments, parsed.error
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "output": self.output, "prompt_tokens": self.prompt_tokens,
                "generated_tokens": self.generated_tokens, "latency_s": self.latency_s,
                "error": self.error, "decision": self.decision, "tool": self.tool, "arguments": self.arguments,
                "parse_error": self.parse_error, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepRecord:
        known = ("role", "output", "prompt_tokens", "generated_tokens", "latency_s", "error",
                 "decision", "tool", "arguments", "parse_error")
        step = cls(**{k: d[k] for k in known if k in d}, extra={k: v for k, v in d.items() if k not in known})
        if step.decision is not None:  # any spelling in old files: "give up", backbone "call", ...
            coerced = Decision.coerce(step.decision)
            step.decision = coerced.value if coerced is not None else Decision.INVALID.value
        if "parse_error" not in d and isinstance(step.error, str) and step.error.startswith("parse:"):
            step.parse_error = step.error[len("parse:"):].strip()  # written before parse_error existed
            if step.role == "planner" and "Next:" in step.parse_error:
                step.decision = Decision.INVALID.value
        return step


@dataclass
class RecordedTrajectory:
    """An agent run on one task: the produced dialogue, per-step records and how it ended.

    ``outcome`` is one of ``conclusion``, ``give_up``, ``step_limit``, ``repetition``, ``error``.
    """

    task_id: str
    method: str
    dialogue: Dialogue
    steps: list[StepRecord]
    outcome: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "method": self.method, "dialogue": self.dialogue.to_dict(),
                "steps": [s.to_dict() for s in self.steps], "outcome": self.outcome, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None, record: int | None = None) -> RecordedTrajectory:
        for key in ("task_id", "method", "dialogue", "steps", "outcome"):
            if key not in d:
                raise DataError("missing", file=file, record=record, field=key)
        return cls(d["task_id"], d["method"], Dialogue.from_dict(d["dialogue"], file=file, record=record),
                   [StepRecord.from_dict(s) for s in d["steps"]], d["outcome"], d.get("meta", {}))


def load_trajectories(path: str | os.PathLike) -> list[RecordedTrajectory]:
    """Load recorded trajectories (JSONL, one per line). Example: ``load_trajectories("run/trajectories.jsonl")``."""
    return [RecordedTrajectory.from_dict(r, file=str(path), record=i) for i, r in enumerate(read_records(path))]


def save_trajectories(path: str | os.PathLike, trajs: list[RecordedTrajectory]) -> Path:
    """Save recorded trajectories as JSONL, atomically."""
    return write_jsonl(path, [t.to_dict() for t in trajs])
