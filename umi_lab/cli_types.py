"""Argparse ``type=`` helpers: numbers checked when parsed, so a bad value is a usage error (exit 2).

>>> positive_int("3"), non_negative_int("0"), finite_positive_float("0.5")
(3, 0, 0.5)
"""

from __future__ import annotations

import argparse
import math


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer ≥ 1 (batch sizes, step counts, intervals)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer ≥ 0 (limits where 0 means "none", seeds, offsets)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _float(text: str, ok, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def finite_positive_float(text: str) -> float:
    """A finite number > 0 (timeouts in seconds, rates): ``nan``, ``inf`` and ``-1`` are refused."""
    return _float(text, lambda v: v > 0, "a finite number > 0")


def finite_non_negative_float(text: str) -> float:
    """A finite number ≥ 0 (tolerances, where 0 means exact): ``finite_non_negative_float("0") == 0.0``."""
    return _float(text, lambda v: v >= 0, "a finite number >= 0")


def finite_float(text: str) -> float:
    """Any finite number (``nan`` and ``inf`` are refused): ``finite_float("0") == 0.0``."""
    return _float(text, lambda v: True, "a finite number")
