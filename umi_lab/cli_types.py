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


def finite_positive_float(text: str) -> float:
    """A finite number > 0 (timeouts in seconds, rates): ``nan``, ``inf`` and ``-1`` are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (``nan`` and ``inf`` are refused): ``finite_float("0") == 0.0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
