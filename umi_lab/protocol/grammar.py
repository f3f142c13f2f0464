"""The α-UMi text protocol: the one place that reads and writes model text.

Producers (``compose_*``) and parsers (``parse_*``) live together, so everything a producer writes
parses back unchanged (``tests/test_protocol.py`` checks it with hypothesis). Every parser returns a
``Parsed`` and never raises; the ``default`` grammar is what the agent, the recorded trajectories, the
plots, widgets, replay and success checker use. ``compat="official"`` reproduces the official GLPFT
rules (inference and ``evaluate-*.py``) for parity, and the ``official_*`` functions are those rules
verbatim as tuples. The official-shape static prediction strings are written by
``umi_lab.protocol.predictions`` from these parsers.

Grammar (``default``):

* Only the text before the first ``</s>`` counts (a model that kept writing after its end mark).
* **Planner** (``parse_decision``): the marks ``Next: give up``, ``Next: conclusion``, ``Next: caller`` —
  exact case, one space, the trailing ``.`` optional. When several occur, priority
  give up > conclusion > caller (the official rule), and the turn text is cut right after the chosen
  mark (its ``.`` added when missing; nothing else changed); the thought is the text before it, stripped. No mark (e.g.
  ``Next: Conclusion.``, ``next: caller``, ``Next:caller``) → ``Decision.INVALID`` with an error.
  **Policy:** the agent (and the static predictions) act on an invalid planner output as on a caller
  decision — the official inference does the same by appending ``Next: caller.`` — but the step is
  recorded as ``invalid``; plots and replay show ``invalid``.
* **Caller** (``parse_call``): the tool is the first line after the *last* ``Action:`` (spacing around
  the colon tolerated: ``Action : f``; surrounding quotes/backticks stripped); the arguments are the text
  after the last ``Action Input:`` (cut before any later ``Action:``), stripped, ``{}`` when absent or
  empty. Arguments are not JSON-decoded here (the tool registry reports bad JSON as an observation).
  No ``Action:`` or an empty name → ``tool=None`` and an error.
* **Backbone** (Single-LLM, ``parse_backbone``): whichever comes last wins — a ``conclusion:`` (any case)
  after the last ``Action:`` is a conclusion, whose answer starting with ``give up`` makes it a give-up;
  otherwise a ``Next: give up`` mark gives up; otherwise it is a call parsed like the caller, and without
  an ``Action:`` it is ``invalid``.

``compat="official"``: planner = the official inference (marks with the dot, no ``</s>`` cut, no mark →
caller with ``Next: caller.`` appended, never invalid); caller = the static evaluator's call branch
(``rindex`` of ``Action:`` / ``Action Input:``, ``none`` when absent); backbone = ``evaluate-backbone.py``
(``conclusion: give up`` anywhere → give up; else ``conclusion: `` anywhere → finish with the text after
the last one; else a call; all case-sensitive).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

EOS = "</s>"
COMPAT_MODES = ("default", "official")


class Decision(StrEnum):
    """What a planner (or backbone) step decided. ``Decision("give_up").mark == "Next: give up."``."""

    CALLER = "caller"
    CONCLUSION = "conclusion"
    GIVE_UP = "give_up"
    INVALID = "invalid"

    @property
    def label(self) -> str:
        """The word used in the text protocol and the official files: ``give up`` for GIVE_UP."""
        return "give up" if self is Decision.GIVE_UP else self.value

    @property
    def mark(self) -> str:
        """The planner's end mark, e.g. ``Next: caller.`` (empty for INVALID)."""
        return "" if self is Decision.INVALID else f"Next: {self.label}."

    @classmethod
    def coerce(cls, value: Any) -> Decision | None:
        """Read any spelling used in files: ``give up``, ``give_up``, ``call``/``finish`` (official plans).

        >>> Decision.coerce("give up"), Decision.coerce("finish")
        (<Decision.GIVE_UP: 'give_up'>, <Decision.CONCLUSION: 'conclusion'>)
        """
        if value is None or isinstance(value, Decision):
            return value
        key = str(value).strip().lower().replace(" ", "_")
        key = {"call": "caller", "finish": "conclusion"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            return None


VALID_DECISIONS = (Decision.CALLER, Decision.CONCLUSION, Decision.GIVE_UP)
# the one definition of the marks; keyed by the official label ("caller", "conclusion", "give up")
DECISION_MARKS = {d.label: d.mark for d in VALID_DECISIONS}
_PRIORITY = (Decision.GIVE_UP, Decision.CONCLUSION, Decision.CALLER)
INVALID_ACTS_AS = Decision.CALLER  # the agent's documented policy for an unparseable planner output


def acted_decision(decision: Decision | str | None) -> Decision:
    """What the agent does for a recorded decision: INVALID (or unknown) acts as ``INVALID_ACTS_AS``."""
    d = Decision.coerce(decision)
    return INVALID_ACTS_AS if d in (None, Decision.INVALID) else d


@dataclass(frozen=True)
class Parsed:
    """What the protocol reads from one model output (the ``parse`` CLI prints ``to_dict()``).

    ``text`` is the turn text the agent writes into the dialogue (the planner output cut after its mark,
    the canonical ``Action: …\\nAction Input: …`` of a call); ``error`` is None or a short reason.
    """

    role: str
    decision: Decision | None = None
    thought: str = ""
    tool: str | None = None
    arguments: str | None = None
    answer: str | None = None
    error: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decision"] = self.decision.value if self.decision is not None else None
        return d


def _before_eos(text: Any) -> str:
    return str(text).split(EOS)[0]


# ------------------------------------------------------------------------------------------ composers
def compose_planner(thought: str, decision: Decision | str) -> str:
    """The planner turn: ``compose_planner("Look it up.", "caller")`` → ``'Look it up. Next: caller.'``."""
    return f"{thought.strip()} {acted_decision(decision).mark}".strip()


def compose_call(tool: str, arguments: str) -> str:
    """The caller turn: ``compose_call("f", "{}")`` → ``'Action: f\\nAction Input: {}'``."""
    return f"Action: {tool}\nAction Input: {arguments}"


def compose_backbone(thought: str, decision: Decision | str, *, tool: str | None = None,
                     arguments: str | None = None, answer: str | None = None) -> str:
    """A backbone (Single-LLM) output, as the role datasets' targets write it.

    >>> compose_backbone("Done.", "conclusion", answer="42")
    'Done.\\nconclusion: 42'
    """
    d = acted_decision(decision)
    if d is Decision.GIVE_UP:
        tail = "conclusion: give up."
    elif d is Decision.CONCLUSION:
        tail = f"conclusion: {answer if answer is not None else 'none'}"
    else:
        tail = compose_call(tool or "none", arguments if arguments is not None else "{}")
    return f"{thought.strip()}\n{tail}"


def strip_mark(value: str, decision: Decision | str) -> str:
    """An assistant value without its decision mark (every occurrence, official ``replace``), stripped."""
    return value.replace(acted_decision(decision).mark, "").strip()


# ------------------------------------------------------------------------------------------ planner
_MARK_RE = {d: re.compile(re.escape(f"Next: {d.label}") + r"\.?") for d in VALID_DECISIONS}


def parse_decision(text: Any, compat: str = "default") -> Parsed:
    """Read a planner output (see the module doc for the grammar and the invalid policy).

    >>> p = parse_decision("Search it. Next: caller. junk")
    >>> p.decision.value, p.text
    ('caller', 'Search it. Next: caller.')
    >>> parse_decision("Next: Conclusion.").decision.value
    'invalid'
    """
    check_compat(compat)
    if compat == "official":
        label, cut = official_planner_decision(str(text))
        d = Decision.coerce(label)
        return Parsed("planner", d, thought=cut[:cut.rindex(d.mark)].strip(), text=cut)
    t = _before_eos(text)
    for d in _PRIORITY:
        m = _MARK_RE[d].search(t)
        if m:
            cut = t[:m.end()]  # not stripped: the official cut keeps the text as written
            return Parsed("planner", d, thought=t[:m.start()].strip(), text=cut if cut.endswith(".") else cut + ".")
    thought = t.strip()
    return Parsed("planner", Decision.INVALID, thought=thought, text=compose_planner(thought, INVALID_ACTS_AS),
                  error="no Next: decision")


# ------------------------------------------------------------------------------------------ caller
_ACTION = re.compile(r"Action\s*:")
_INPUT = re.compile(r"Action\s+Input\s*:")


def _call_parts(t: str) -> tuple[str | None, str, str | None]:
    actions = list(_ACTION.finditer(t))
    inputs = list(_INPUT.finditer(t))
    args = "{}"
    if inputs:
        later = [a.start() for a in actions if a.start() >= inputs[-1].end()]
        args = t[inputs[-1].end():later[0] if later else len(t)].strip() or "{}"
    if not actions:
        return None, args, "no Action"
    rest = t[actions[-1].end():]
    m = _INPUT.search(rest)
    name = rest[:m.start()] if m else rest
    name = name.strip().splitlines()[0].strip().strip("`'\"").strip() if name.strip() else ""
    if not name:
        return None, args, "empty Action"
    return name, args, None


def parse_call(text: Any, compat: str = "default") -> Parsed:
    """Read a caller output ``Action: name\\nAction Input: args``.

    >>> p = parse_call('Action: get_weather\\nAction Input: {"city": "Oslo"}</s>')
    >>> p.tool, p.arguments, p.error
    ('get_weather', '{"city": "Oslo"}', None)
    >>> parse_call("I think so").error
    'no Action'
    """
    check_compat(compat)
    if compat == "official":
        _, action, action_input, _ = official_call(str(text))
        err = None if "Action:" in str(text) else "no Action"
        return Parsed("caller", None, tool=action, arguments=action_input, error=err,
                      text=compose_call(action, action_input))
    t = _before_eos(text)
    name, args, err = _call_parts(t)
    if err:
        return Parsed("caller", None, arguments=args, error=err, text=clean_candidate(t.strip()))
    return Parsed("caller", None, tool=name, arguments=args, text=compose_call(name, args))


# ------------------------------------------------------------------------------------------ backbone
_GIVE_UP_RE = re.compile(r"next: give up", re.IGNORECASE)


def parse_backbone(text: Any, compat: str = "default") -> Parsed:
    """Read a Single-LLM (backbone) output: thought + call, ``conclusion: <answer>`` or a give-up.

    >>> parse_backbone("It is sunny.\\nconclusion: sunny").answer
    'sunny'
    >>> parse_backbone("x\\nconclusion: give up. The API is down.").decision.value
    'give_up'
    >>> parse_backbone("Conclusion: 42", compat="official").decision.value
    'caller'
    """
    check_compat(compat)
    if compat == "official":
        plan, action, action_input, answer = official_backbone_step(str(text))
        d = Decision.coerce(plan)
        err = "no Action" if d is Decision.CALLER and "Action:" not in str(text) else None
        return Parsed("backbone", d, tool=action, arguments=action_input, answer=answer, error=err)
    t = _before_eos(text)
    low = t.lower()
    concl = low.rfind("conclusion:")
    acts = [m.start() for m in _ACTION.finditer(t)]
    if concl >= 0 and (not acts or concl > acts[-1]):
        answer = t[concl + len("conclusion:"):].strip()
        thought = t[:concl].strip()
        if answer.lower().startswith(("give up", "i give up")):
            return Parsed("backbone", Decision.GIVE_UP, thought=thought)
        return Parsed("backbone", Decision.CONCLUSION, thought=thought, answer=clean_candidate(answer))
    g = _GIVE_UP_RE.search(t)
    if g:
        return Parsed("backbone", Decision.GIVE_UP, thought=t[:g.start()].strip())
    name, args, err = _call_parts(t)
    starts = acts + [m.start() for m in _INPUT.finditer(t)]
    thought = t[:min(starts)].strip() if starts else t.strip()
    if err:
        return Parsed("backbone", Decision.INVALID, thought=thought, arguments=args, error=err)
    return Parsed("backbone", Decision.CALLER, thought=thought, tool=name, arguments=args)


def parse_conclusion(text: Any, compat: str = "default") -> Parsed:
    """Read a summarizer output: the answer is the text before ``</s>``, stripped, official clean-up.

    >>> parse_conclusion(": 42</s>junk").answer
    '42'
    """
    check_compat(compat)
    answer = clean_candidate(str(text) if compat == "official" else _before_eos(text).strip())
    return Parsed("summarizer", None, answer=answer, text=answer)


PARSERS = {"planner": parse_decision, "caller": parse_call, "backbone": parse_backbone,
           "summarizer": parse_conclusion}


def parse(role: str, text: Any, compat: str = "default") -> Parsed:
    """Dispatch on role (``planner``, ``caller``, ``backbone``, ``summarizer``): the code behind ``python -m umi_lab parse``."""
    if role not in PARSERS:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(PARSERS)}")
    return PARSERS[role](text, compat)


def check_compat(compat: str) -> None:
    """Raise ValueError for a compat mode other than ``default`` / ``official``."""
    if compat not in COMPAT_MODES:
        raise ValueError(f"unknown compat mode {compat!r}; expected one of {', '.join(COMPAT_MODES)}")


# ------------------------------------------------------------------------------------------ official rules
def official_planner_decision(planner_out: str) -> tuple[str, str]:
    """The official inference's decision (``caller``/``conclusion``/``give up``) and the cut output.

    No mark counts as ``caller`` and gets ``Next: caller.`` appended (no space, as official).

    >>> official_planner_decision("Look it up. Next: caller. extra")
    ('caller', 'Look it up. Next: caller.')
    """
    for d in _PRIORITY:
        if d.mark in planner_out:
            return d.label, planner_out[:planner_out.index(d.mark) + len(d.mark)]
    return "caller", planner_out + Decision.CALLER.mark


def official_call(seg: str) -> tuple[str, str, str, None]:
    """The official evaluators' call branch on one text: ``("call", action, action_input, None)``."""
    action_input = seg[seg.rindex("Action Input:") + len("Action Input:"):].strip() if "Action Input:" in seg else "{}"
    if "Action:" in seg:
        action = seg[seg.rindex("Action:") + len("Action:"):].strip()
        if "Action Input:" in action:
            action = action[:action.index("Action Input:")].strip()
    else:
        action = "none"
    return "call", action, action_input, None


def official_step(text: str) -> tuple[str, str | None, str | None, str | None]:
    """``evaluate-multi_agent.py``'s parse of a prediction or reference → ``(plan, action, input, answer)``.

    >>> official_step("assistant: x Next: caller.</s>caller: Action: f\\nAction Input: {}</s>")
    ('call', 'f', '{}', None)
    >>> official_step("asssitant: y Next: conclusion.</s>conclusion: 42</s>")
    ('finish', None, None, '42')
    """
    if "Next: give up" in text:
        return "give up", None, None, None
    if "Next: conclusion" in text:
        answer = text[text.rindex("conclusion: ") + len("conclusion: "):] if "conclusion: " in text else text
        return "finish", None, None, answer.replace(EOS, "")
    segments = text.split(EOS)
    return official_call(segments[1] if len(segments) > 1 else "")


def official_backbone_step(text: str) -> tuple[str, str | None, str | None, str | None]:
    """``evaluate-backbone.py``'s parse of a backbone output → ``(plan, action, input, answer)``.

    >>> official_backbone_step("x\\nconclusion: give up. The API is down.")
    ('give up', None, None, None)
    >>> official_backbone_step("conclusion: none yet\\nAction: search")[0]
    'finish'
    """
    if "conclusion: give up" in text:
        return "give up", None, None, None
    if "conclusion: " in text:
        return "finish", None, None, text[text.rindex("conclusion: ") + len("conclusion: "):]
    return official_call(text)


def clean_candidate(text: str) -> str:
    """Official clean-up of a generated text: drop a leading ``": "``; blank, ``.`` or ``,`` → ``none``."""
    if text.startswith(": "):
        text = text[2:]
    return "none" if text.strip() in ("", ".", ",") else text
