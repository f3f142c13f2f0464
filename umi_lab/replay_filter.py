"""Filtering replayed tasks by outcome, error type and the role that erred (replay page and widget).

Each task gets *facets* from what its recorded trajectories say (never from the model text): the
outcomes of its runs and the ``(role, error type)`` pairs of its steps with an ``error`` (``"parse: no
Action"`` → ``parse``; ``"tool: unknown_tool"`` → ``tool: unknown_tool``), plus ``(run, <type>)`` for a
run that ended in ``error``. A filter keeps a task when one of its runs has the chosen outcome and one
of its errors matches the chosen role and error type (``ANY`` matches everything; with both error
choices left at ``ANY`` a task needs no error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ANY = "(any)"


def error_type(error: str | None) -> str | None:
    """The type of a recorded error tag: ``error_type("parse: no Action")`` → ``'parse'``;
    ``error_type("tool: unknown_tool")`` → ``'tool: unknown_tool'``."""
    if not error:
        return None
    head, _, rest = str(error).partition(":")
    head = head.strip()
    if head == "tool" and rest.strip():
        return f"tool: {rest.strip().split()[0]}"
    return head or None


def track_facets(track) -> dict[str, Any]:
    """``{"outcomes": [...], "errors": [[role, type], ...]}`` of one replay track (a recorded run)."""
    errors = []
    for step in track.steps:
        kind = error_type(step.error)
        if kind and [step.role, kind] not in errors:
            errors.append([step.role, kind])
    run_error = error_type(getattr(track, "error", None))
    if run_error and ["run", run_error] not in errors:
        errors.append(["run", run_error])
    return {"outcomes": [track.outcome] if track.outcome else [], "errors": errors}


def task_facets(tracks: Sequence[Any]) -> dict[str, Any]:
    """Facets of a task: the union over its recorded runs (gold dialogues have none).

    >>> from types import SimpleNamespace as N
    >>> task_facets([N(steps=[N(role="caller", error="parse: no Action")], outcome="give_up")])
    {'outcomes': ['give_up'], 'errors': [['caller', 'parse']]}
    """
    out: dict[str, Any] = {"outcomes": [], "errors": []}
    for t in tracks:
        if t is None:
            continue
        f = track_facets(t)
        out["outcomes"] += [o for o in f["outcomes"] if o not in out["outcomes"]]
        out["errors"] += [e for e in f["errors"] if e not in out["errors"]]
    return out


def matches(facets: dict[str, Any], outcome: str = ANY, kind: str = ANY, role: str = ANY) -> bool:
    """Whether a task with ``facets`` passes the filter (see module doc).

    >>> f = {"outcomes": ["conclusion"], "errors": [["caller", "tool: unknown_tool"]]}
    >>> matches(f, role="caller"), matches(f, kind="parse"), matches(f, outcome="give_up")
    (True, False, False)
    """
    if outcome != ANY and outcome not in facets["outcomes"]:
        return False
    if kind == ANY and role == ANY:
        return True
    return any((role in (ANY, r)) and (kind in (ANY, k)) for r, k in facets["errors"])


def filter_options(all_facets: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The choices of each filter (``ANY`` first), from every task's facets."""
    outcomes = {o for f in all_facets for o in f["outcomes"]}  # sets: a task erring twice alike counts once
    kinds = {k for f in all_facets for _, k in f["errors"]}
    roles = {r for f in all_facets for r, _ in f["errors"]}
    return {"outcome": [ANY, *sorted(outcomes)], "error": [ANY, *sorted(kinds)], "role": [ANY, *sorted(roles)]}
