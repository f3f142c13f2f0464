"""Machine-checkable task success for ToolWorld: no LLM judge needed.

A dialogue's ``task`` object says what a correct episode must contain:

- ``solvable`` / ``expected``: ``"conclusion"`` (answer the question) or ``"give_up"`` (the thing does
  not exist, or every API that could answer is down);
- ``facts``: normalised strings or numbers the final conclusion must state;
- ``required_calls``: groups of acceptable calls ``{"api", "args", "response"}``; each group needs one
  call that succeeded with those arguments or with that response (an alternative API counts too);
- ``tools``: the API names offered; a call to any other name is a hallucinated tool.

``check_success(task, episode)`` reads the caller turns and the observation that follows each one
(the ToolBench ``{"error": ..., "response": ...}`` text: an empty error means success). Given a
``RecordedTrajectory`` it reads the calls and decisions its steps recorded; given a plain ``Dialogue``
(gold data) it reads them with the protocol grammar (``umi_lab.protocol.records``), the same code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord
from umi_lab.protocol.grammar import Decision, parse_call
from umi_lab.protocol.records import turn_infos

_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def normalise_text(text: str) -> str:
    """Lower-case, punctuation to spaces, single spaces. ``normalise_text("Light-Rain!") == "light rain"``."""
    s = re.sub(r"[^0-9a-z.+\-]+", " ", str(text).lower().replace("'", ""))
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", s)   # keep decimal points only
    s = re.sub(r"[+\-](?!\d)", " ", s)           # keep signs and date dashes only before digits
    return " ".join(s.split())


def normalise_fact(value: Any) -> str:
    """The stored form of a fact: numbers as JSON numbers, text normalised.

    >>> normalise_fact(21.40), normalise_fact("Light Rain")
    ('21.4', 'light rain')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return normalise_text(value)


def _is_number(fact: str) -> bool:
    return _NUM.fullmatch(fact) is not None


def _numbers(text: str) -> list[str]:
    return _NUM.findall(re.sub(r"(?<=\d),(?=\d{3})", "", text))


def fact_in(fact: str, text: str) -> bool:
    """Whether ``text`` states ``fact``: a number equal to it, or the normalised words in sequence.

    >>> fact_in("21.4", "It is 21.4°C."), fact_in("21.4", "It is 21°C."), fact_in("rain", "It is raining")
    (True, False, False)
    """
    if _is_number(fact):
        return any(abs(float(n) - float(fact)) < 1e-9 for n in _numbers(text))
    return f" {fact} " in f" {normalise_text(text)} "


@dataclass
class Call:
    """One call in a dialogue: the action, its parsed arguments (None if not JSON), whether it succeeded,
    and the digest of the response it got (``""`` when it failed)."""

    api: str
    args: dict | None
    ok: bool
    error: str
    digest: str = ""


def response_digest(response: Any) -> str:
    """A short fingerprint of a tool response (canonical JSON, SHA-256, 16 hex digits).

    >>> response_digest({"b": 1, "a": [2]}) == response_digest({"a": [2], "b": 1})
    True
    """
    text = json.dumps(response, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class SuccessResult:
    """The verdict on one episode; ``reasons`` says in words why it failed (empty when it passed)."""

    passed: bool
    missing_facts: list[str] = field(default_factory=list)
    failed_calls: list[str] = field(default_factory=list)
    hallucinated_tools: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, e.g. for ``toolworld check --out``."""
        return {"passed": self.passed, "missing_facts": self.missing_facts, "failed_calls": self.failed_calls,
                "hallucinated_tools": self.hallucinated_tools, "reasons": self.reasons}


def parse_caller(value: str) -> tuple[str, str]:
    """A caller turn's (action, action input) by the protocol grammar (``""`` when there is no action).

    Example: ``parse_caller("Action: a\\nAction Input: {}")`` → ``('a', '{}')``.
    """
    p = parse_call(value)
    return p.tool or "", p.arguments or "{}"


def _observation_ok(text: str) -> tuple[bool, str, str]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return False, "observation is not ToolBench JSON", ""
    if not isinstance(obj, dict) or "error" not in obj:
        return False, "observation has no error field", ""
    ok = obj["error"] == ""
    return ok, str(obj["error"]), response_digest(obj.get("response")) if ok else ""


def dialogue_calls(dialogue: Dialogue, steps: list[StepRecord] | tuple = ()) -> list[Call]:
    """Every caller turn with the observation right after it (a caller without one did not succeed); the
    tool and arguments are those recorded by ``steps`` (read from the turn where none is recorded)."""
    turns, calls = dialogue.conversations, []
    for i, (t, info) in enumerate(zip(turns, turn_infos(dialogue, steps))):
        if t.role != "caller":
            continue
        name, raw = info.tool or "", info.arguments or ""
        try:
            args = json.loads(raw) if raw else {}
            args = args if isinstance(args, dict) else None
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder allows
            args = None
        if i + 1 < len(turns) and turns[i + 1].role == "observation":
            ok, err, digest = _observation_ok(turns[i + 1].value)
        else:
            ok, err, digest = False, "no observation", ""
        calls.append(Call(name, args, ok, err, digest))
    return calls


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return normalise_text(str(a)) == normalise_text(str(b))


def call_matches(call: Call, option: dict) -> bool:
    """A successful call to ``option["api"]`` that either has every argument of ``option["args"]`` equal
    (normalised) or got the very response the gold call got (``option["response"]``, a digest): asking
    for an airport by code or by city name, or for a country by name or code, is the same step."""
    if not call.ok or call.api != option["api"]:
        return False
    if option.get("response") and call.digest == option["response"]:
        return True
    return call.args is not None and all(k in call.args and _same(call.args[k], v)
                                         for k, v in option.get("args", {}).items())


def _final_decision(dialogue: Dialogue, steps: list[StepRecord] | tuple = ()) -> tuple[str | None, str]:
    """The last planner decision (as recorded; ``invalid`` included) and the conclusion text that follows
    it (``""`` when none)."""
    turns = dialogue.conversations
    infos = turn_infos(dialogue, steps)
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].role == "assistant":
            decision = infos[i].decision or Decision.INVALID
            if decision is Decision.CONCLUSION:
                nxt = turns[i + 1] if i + 1 < len(turns) else None
                return decision.value, nxt.value if nxt is not None and nxt.role == "conclusion" else ""
            return decision.value, ""
    return None, ""


def validate_task(task: Any) -> dict:
    """Check a task object's shape; raise DataError naming the bad field. Example: ``validate_task(d["task"])``."""
    if not isinstance(task, dict):
        raise DataError("missing or not an object", field="task")
    for key, typ in (("solvable", bool), ("facts", list), ("required_calls", list), ("tools", list)):
        if key not in task:
            raise DataError("missing", field=f"task.{key}")
        if not isinstance(task[key], typ):
            raise DataError(f"expected {typ.__name__}, got {type(task[key]).__name__}", field=f"task.{key}")
    if not all(isinstance(t, str) for t in task["tools"]):
        raise DataError("expected a list of API names", field="task.tools")
    for i, group in enumerate(task["required_calls"]):
        if not isinstance(group, list) or not group:
            raise DataError("expected a non-empty list of calls", field=f"task.required_calls[{i}]")
        for j, opt in enumerate(group):
            where = f"task.required_calls[{i}][{j}]"
            if not isinstance(opt, dict) or not isinstance(opt.get("api"), str):
                raise DataError("expected an object with an api name", field=where)
            if not isinstance(opt.get("args", {}), dict):
                raise DataError("expected an object", field=f"{where}.args")
    return task


def _task_of(task: dict | Dialogue) -> dict:
    return validate_task(task.extra.get("task") if isinstance(task, Dialogue) else task)


def check_success(task: dict | Dialogue, episode: Dialogue | RecordedTrajectory) -> SuccessResult:
    """Judge an episode (a recorded trajectory, or a dialogue) against its task; ``task`` may be the task
    dict or the gold Dialogue carrying it.

    >>> # check_success(gold.extra["task"], recorded_trajectory).passed
    """
    task = _task_of(task)
    if isinstance(episode, RecordedTrajectory):
        dialogue, steps = episode.dialogue, episode.steps
    else:
        dialogue, steps = episode, []
    calls = dialogue_calls(dialogue, steps)
    offered = set(task["tools"])
    hallucinated = sorted({c.api for c in calls if c.api and c.api not in offered})  # "" = no call parsed
    decision, answer = _final_decision(dialogue, steps)
    reasons: list[str] = []
    missing: list[str] = []
    failed: list[str] = []
    if hallucinated:
        reasons.append(f"called tools that were not offered: {', '.join(hallucinated)}")
    if not task["solvable"]:
        if decision != "give_up":
            reasons.append(f"the task cannot be solved, so the agent should give up; it ended with {decision}")
    else:
        if decision != "conclusion":
            reasons.append(f"expected a conclusion, the episode ended with {decision}")
        elif not answer.strip():
            reasons.append("the conclusion is empty")
        for fact in task["facts"]:
            if not fact_in(str(fact), answer):
                missing.append(str(fact))
        if missing:
            reasons.append(f"the conclusion misses {len(missing)} fact(s): {', '.join(missing)}")
        for group in task["required_calls"]:
            if not any(call_matches(c, opt) for c in calls for opt in group):
                failed.append(" or ".join(f"{o['api']}({json.dumps(o.get('args', {}), sort_keys=True)})"
                                          for o in group))
        if failed:
            reasons.append(f"{len(failed)} required call(s) never succeeded")
    return SuccessResult(not reasons, missing, failed, hallucinated, reasons)
