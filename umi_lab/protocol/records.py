"""Reading what a trajectory recorded: the decision and call of each step, for plots, widgets, replay and
the success checker. Recorded steps are read as recorded; only a turn with no step behind it (a gold
dialogue, or a file older than the step fields) is read with the protocol's own parser, the same code
the agent used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord
from umi_lab.protocol.grammar import Decision, parse_backbone, parse_call, parse_decision

# which model call produced a turn; one backbone call (Single-LLM) writes the thought and the action or
# answer together: it is paired with the assistant turn, and its call read for the caller turn after it
STEP_ROLE_FOR_TURN = {"assistant": ("planner", "backbone"), "caller": ("caller",), "conclusion": ("summarizer",)}
DECISION_ROLES = ("planner", "backbone")


@dataclass(frozen=True)
class TurnInfo:
    """What the protocol knows about one turn: the decision of an assistant turn, the call of a caller turn,
    and whether it comes from a step record (``recorded``) or was read from the turn text."""

    decision: Decision | None = None
    tool: str | None = None
    arguments: str | None = None
    error: str | None = None
    recorded: bool = False


def step_decision(step: StepRecord) -> Decision | None:
    """The decision a planner/backbone step recorded (parsed from its output for records without one).

    >>> step_decision(StepRecord("planner", "x", decision="invalid")).value
    'invalid'
    """
    if step.role not in DECISION_ROLES:
        return None
    if step.decision is not None:
        return Decision.coerce(step.decision) or Decision.INVALID
    parsed = parse_decision(step.output) if step.role == "planner" else parse_backbone(step.output)
    return parsed.decision


def _step_call(step: StepRecord) -> tuple[str | None, str | None, str | None]:
    if step.tool is None and step.parse_error is None and step.arguments is None:  # a record without the fields
        p = parse_call(step.output) if step.role == "caller" else parse_backbone(step.output)
        return p.tool, p.arguments, p.error
    return step.tool, step.arguments, step.parse_error


def align_steps(dialogue: Dialogue, steps: Sequence[StepRecord]) -> list[StepRecord | None]:
    """Pair each turn with the model call that produced it (n-th planner step ↔ n-th assistant turn …)."""
    queues: dict[str, list[StepRecord]] = {}
    for s in steps:
        queues.setdefault(s.role, []).append(s)
    out: list[StepRecord | None] = []
    for turn in dialogue.conversations:
        found = None
        for role in STEP_ROLE_FOR_TURN.get(turn.role, ()):
            if queues.get(role):
                found = queues[role].pop(0)
                break
        out.append(found)
    return out


def turn_infos(dialogue: Dialogue, steps: Sequence[StepRecord] = ()) -> list[TurnInfo]:
    """Per turn, the recorded decision / call (read from the turn text only where no step recorded it).

    >>> from umi_lab.protocol.dialogue import Turn
    >>> d = Dialogue([], "q", [Turn("user", "q"), Turn("assistant", "hm Next: caller.")])
    >>> [i.decision for i in turn_infos(d, [StepRecord("planner", "hm", decision="invalid")])]
    [None, <Decision.INVALID: 'invalid'>]
    """
    out: list[TurnInfo] = []
    backbone: StepRecord | None = None
    for turn, step in zip(dialogue.conversations, align_steps(dialogue, steps)):
        if turn.role == "assistant":
            backbone = step if step is not None and step.role == "backbone" else None
            if step is not None:
                out.append(TurnInfo(decision=step_decision(step), error=step.parse_error, recorded=True))
            else:
                p = parse_decision(turn.value)
                out.append(TurnInfo(decision=p.decision, error=p.error))
            continue
        if turn.role == "caller":
            source = step if step is not None else backbone
            if source is not None:
                tool, args, err = _step_call(source)
                out.append(TurnInfo(tool=tool, arguments=args, error=err, recorded=True))
            else:
                p = parse_call(turn.value)
                out.append(TurnInfo(tool=p.tool, arguments=p.arguments, error=p.error))
            continue
        out.append(TurnInfo())
    return out


def _parts(track: RecordedTrajectory | Dialogue) -> tuple[Dialogue, list[StepRecord]]:
    if isinstance(track, RecordedTrajectory):
        return track.dialogue, track.steps
    return track, []


def decisions(track: RecordedTrajectory | Dialogue) -> list[Decision | None]:
    """One decision per assistant turn: recorded by its step, else read from the turn."""
    dialogue, steps = _parts(track)
    return [i.decision for t, i in zip(dialogue.conversations, turn_infos(dialogue, steps)) if t.role == "assistant"]


def calls(track: RecordedTrajectory | Dialogue) -> list[tuple[str | None, str | None]]:
    """``(tool, arguments)`` per caller turn: recorded by its step, else read from the turn."""
    dialogue, steps = _parts(track)
    return [(i.tool, i.arguments) for t, i in zip(dialogue.conversations, turn_infos(dialogue, steps))
            if t.role == "caller"]
