"""What ToolWorld's API handlers share: the not-found and empty-result observations, date and text
normalisation, and the look-up of a world entity that answers not-found when it is missing.

>>> not_found("city", "Atlantis").status
'not_found'
"""

from __future__ import annotations

from datetime import date
from typing import Any

from umi_lab.tools.registry import EMPTY, NOT_FOUND, ArgumentError, Observation
from umi_lab.toolworld.world import World


def not_found(what: str, key: Any) -> Observation:
    """A 404 observation: ``not_found("film", "X")``."""
    return Observation.make(NOT_FOUND, error=f"404 Not Found: no {what} matching '{key}'")


def empty_result(message: str) -> Observation:
    """An empty result list with a message (the search found nothing)."""
    return Observation.make(EMPTY, error="", response={"results": [], "message": message})


def parse_date(value: str, name: str = "date") -> date:
    """``YYYY-MM-DD`` → ``date``; anything else is an ``ArgumentError`` naming the argument."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ArgumentError(f"argument {name!r} must be a date as YYYY-MM-DD, got {value!r}") from None


def norm(text: str) -> str:
    """Lower case with single spaces: ``norm("  The  Matrix ") == "the matrix"``."""
    return " ".join(str(text).split()).lower()


def lookup(w: World, kind: str, key: str, what: str | None = None) -> Any:
    """The world's ``kind`` entity named ``key``, or a not-found observation naming ``what`` (default ``kind``)."""
    found = w.get(kind, key)
    return found if found is not None else not_found(what or kind, key)
