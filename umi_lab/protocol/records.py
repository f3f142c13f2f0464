"""Reading what a trajectory recorded: the decision and call of each step, for plots, widgets, replay and
the success checker. Recorded steps are read as recorded; only a turn with no step behind it (a gold
dialogue, or a file older than the step fields) is read with the protocol's own parser, the same code
the agent used.
"""

from __future__ import annotations

from collections.abc import Sequence

from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord, Turn
from umi_lab.protocol.grammar import Decision, parse_backbone, parse_call, parse_decision

# which model call produced a turn; one backbone call (Single-LLM) writes the thought and the action or
# answer together
STEP_ROLE_FOR_TURN = {"assistant": ("planner", "backbone"), "caller": ("caller", "backbone"),
                      "conclusion": ("summarizer", "backbone")}
DECISION_ROLES = ("planner", "backbone")


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


def turn_decision(turn: Turn) -> Decision | None:
    """The decision an assistant turn states (for turns with no step record, e.g. gold dialogues)."""
    return parse_decision(turn.value).decision if turn.role == "assistant" else None


def turn_call(turn: Turn) -> tuple[str | None, str | None]:
    """``(tool, arguments)`` of a caller turn with no step record (``(None, None)`` for other turns)."""
    if turn.role != "caller":
        return None, None
    p = parse_call(turn.value)
    return p.tool, p.arguments


def align_steps(dialogue: Dialogue, steps: Sequence[StepRecord]) -> list[StepRecord | None]:
    """Pair each turn with the model call that produced it (n-th planner step ↔ n-th assistant turn …;
    a backbone step with the assistant turn and the caller or conclusion turn right after it)."""
    queues: dict[str, list[StepRecord]] = {}
    for s in steps:
        queues.setdefault(s.role, []).append(s)
    out: list[StepRecord | None] = []
    last: StepRecord | None = None
    for turn in dialogue.conversations:
        found = None
        if turn.role in ("caller", "conclusion") and last is not None and last.role == "backbone":
            found = last
        else:
            for role in STEP_ROLE_FOR_TURN.get(turn.role, ()):
                if queues.get(role):
                    found = queues[role].pop(0)
                    break
        last = found if turn.role == "assistant" else None
        out.append(found)
    return out


def decisions(track: RecordedTrajectory | Dialogue) -> list[Decision | None]:
    """One decision per assistant turn: recorded by its step, else read from the turn."""
    if isinstance(track, RecordedTrajectory):
        dialogue, steps = track.dialogue, track.steps
    else:
        dialogue, steps = track, []
    paired = align_steps(dialogue, steps)
    return [step_decision(s) if s is not None else turn_decision(t)
            for t, s in zip(dialogue.conversations, paired) if t.role == "assistant"]


def calls(track: RecordedTrajectory | Dialogue) -> list[tuple[str | None, str | None]]:
    """``(tool, arguments)`` per caller turn: recorded by its step, else read from the turn."""
    if isinstance(track, RecordedTrajectory):
        dialogue, steps = track.dialogue, track.steps
    else:
        dialogue, steps = track, []
    out = []
    for t, s in zip(dialogue.conversations, align_steps(dialogue, steps)):
        if t.role != "caller":
            continue
        out.append((s.tool, s.arguments) if s is not None and (s.tool or s.parse_error) else turn_call(t))
    return out
