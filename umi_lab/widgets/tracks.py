"""What the replayer shows: a ``ReplayTrack`` per conversation (a recorded run or a gold dialogue), loading
them from files and matching them by task."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_records
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord
from umi_lab.protocol.grammar import parse_call


@dataclass
class ReplayTrack:
    """One conversation to replay: a method's recorded run or a gold dialogue."""

    label: str
    task_id: str
    dialogue: Dialogue
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None  # the run's own error (outcome ``error``), from ``meta["error"]``

    @classmethod
    def from_trajectory(cls, t: RecordedTrajectory) -> ReplayTrack:
        error = t.meta.get("error") if isinstance(t.meta, dict) else None
        return cls(t.method, str(t.task_id), t.dialogue, list(t.steps), t.outcome, error)

    @classmethod
    def from_dialogue(cls, d: Dialogue, *, label: str = "gold", index: int = 0) -> ReplayTrack:
        return cls(label, task_key(d, index), d)


def task_key(d: Dialogue, index: int) -> str:
    """The id used to match a dialogue with trajectories: its ``id``/``task_id``/``query_id`` or ``#index``."""
    for key in ("id", "task_id", "query_id"):
        if d.extra.get(key) is not None:
            return str(d.extra[key])
    return f"#{index}"


def load_tracks(source: str | os.PathLike | Iterable[Any], *, label: str | None = None) -> list[ReplayTrack]:
    """Turn recorded trajectories or plain dialogues (objects, dicts or a JSON/JSONL file) into tracks.

    Example: ``load_tracks("data/toolworld/test_in_domain.json", label="gold")``.
    """
    file = None
    if isinstance(source, (str, os.PathLike)):
        file = str(source)
        source = read_records(source)
    tracks = []
    for i, item in enumerate(source):
        if isinstance(item, dict):
            item = (RecordedTrajectory.from_dict(item, file=file, record=i) if "dialogue" in item
                    else Dialogue.from_dict(item, file=file, record=i))
        if isinstance(item, RecordedTrajectory):
            track = ReplayTrack.from_trajectory(item)
        elif isinstance(item, Dialogue):
            track = ReplayTrack.from_dialogue(item, label=label or "gold", index=i)
        elif isinstance(item, ReplayTrack):
            track = item
        else:
            raise DataError(f"cannot replay a {type(item).__name__}", file=file, record=i)
        if label:
            track.label = label
        tracks.append(track)
    return tracks


def split_call(value: str) -> tuple[str | None, str]:
    """A caller value's (tool name, arguments text) by the protocol grammar; ``(None, value)`` when it holds
    no call. Example: ``split_call("Action: f\\nAction Input: {}")`` → ``('f', '{}')``."""
    p = parse_call(value)
    return (p.tool, p.arguments) if p.tool is not None else (None, value)


def group_by_task(*sources: Sequence[ReplayTrack]) -> dict[str, list[ReplayTrack | None]]:
    """Match tracks of several sources by task id (order of the first source)."""
    index = [{t.task_id: t for t in src} for src in sources]
    order = list(dict.fromkeys(t.task_id for src in sources[:1] for t in src))
    return {tid: [idx.get(tid) for idx in index] for tid in order}


def trajectory_files(run_dir: str | os.PathLike) -> list[Path]:
    """All recorded-trajectory files of a run: ``RUN/eval/*/trajectories.jsonl``."""
    return sorted(Path(run_dir).glob("eval/*/trajectories.jsonl"))
