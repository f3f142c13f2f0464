"""Grader settings (a typed dataclass shared by the strict and the ToRA-compatible modes)."""

from __future__ import annotations

from dataclasses import dataclass

COMPAT_MODES = ("strict", "tora")


@dataclass
class GradeSettings:
    """How lenient the grader is.

    ``rel_tol``: relative tolerance for finite, reasonably sized numbers; ``timeout_s``: the sympy time
    budget of one comparison; ``percent``: accept ``x`` for ``x%`` (strict) or gold×100 / gold/100 (tora);
    ``symbolic``: use sympy at all; ``compat``: ``strict`` (default) or ``tora`` (ToRA's rules);
    ``raw_predictions``: in tora mode, predictions are full model outputs to extract the answer from
    (ToRA's ``--execute`` path) rather than already extracted answers.
    Example: ``GradeSettings(compat="tora")``.
    """

    rel_tol: float = 1e-4
    timeout_s: float = 3.0
    percent: bool = True
    symbolic: bool = True
    compat: str = "strict"
    raw_predictions: bool = False

    def __post_init__(self) -> None:
        if self.compat not in COMPAT_MODES:
            raise ValueError(f"compat must be one of {', '.join(COMPAT_MODES)}, got {self.compat!r}")
        if not (self.timeout_s > 0 and self.timeout_s < 1e6) or not (0 <= self.rel_tol < 1):
            raise ValueError(f"timeout_s must be in (0, 1e6) and rel_tol in [0, 1), got {self.timeout_s}, "
                             f"{self.rel_tol}")
