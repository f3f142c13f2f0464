"""Symbolic comparison with sympy, in a worker process with a time limit, refusing what could explode.

Before anything reaches sympy: texts over ``MAX_SYMPY_CHARS``, nested powers (``10^{10^{10}}``), powers and
factorials whose value would have more than ``MAX_RESULT_DIGITS`` digits, and huge exponents are refused
(not equal). The numeric fallback compares values only when both are finite and below 10^300.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import re

from umi_lab.grading.extract import balanced
from umi_lab.grading.normalise import FUNCS

MAX_SYMPY_CHARS = 400
MAX_RESULT_DIGITS = 10_000
_FINITE_LIMIT = 1e300


def to_sympy_text(s: str) -> str:
    """A LaTeX-ish answer as text for ``sympy.parse_expr`` (fractions, roots, powers, constants).

    >>> to_sympy_text("\\\\frac{\\\\sqrt{3}}{2}")
    '((sqrt(3))/(2))'
    """
    s = s.replace("\\infty", "oo").replace("\\pi", "pi")
    s = re.sub(r"\\(?:cdot|times)", "*", s).replace("\\div", "/")
    s = re.sub(r"\\(" + "|".join(FUNCS) + r")(?![a-zA-Z])", r"\1", s)
    s = re.sub(r"(?<![a-zA-Z])ln(?=\()", "log", s)
    changed = True
    while changed:
        changed = False
        m = re.search(r"\\frac\s*(?=\{)", s)
        if m:
            a = balanced(s, m.end())
            b = balanced(s, a[1]) if a else None
            if a and b:
                s = s[:m.start()] + f"(({a[0]})/({b[0]}))" + s[b[1]:]
                changed = True
                continue
        m = re.search(r"\\sqrt\s*\[([^\]]+)\]\s*(?=\{)", s)
        if m:
            a = balanced(s, m.end())
            if a:
                s = s[:m.start()] + f"(({a[0]})**(1/({m.group(1)})))" + s[a[1]:]
                changed = True
                continue
        m = re.search(r"\\sqrt\s*(?=\{)", s)
        if m:
            a = balanced(s, m.end())
            if a:
                s = s[:m.start()] + f"sqrt({a[0]})" + s[a[1]:]
                changed = True
    s = s.replace("\\", "").replace("{", "(").replace("}", ")").replace("^", "**")
    return s


def too_big(t: str) -> bool:
    """Whether a sympy text could exhaust time or memory: nested or huge powers, big factorials.

    >>> too_big("2**2000"), too_big("10**(10**10)"), too_big("100000!"), too_big("x**2+1")
    (False, True, True, False)
    """
    if "__" in t or len(t) > MAX_SYMPY_CHARS or re.search(r"\d[eE][-+]?\d{4,}", t):
        return True
    if re.search(r"\*\*\s*\((?:[^()]|\([^()]*\))*\*\*", t) or re.search(r"\*\*\s*\d+\s*\*\*", t):
        return True  # nested powers: 10^{10^{10}}
    for m in re.finditer(r"(\d+(?:\.\d+)?)?\s*\)?\s*\*\*\s*\(?\s*[-+]?(\d+)", t):
        base = m.group(1) or "10"  # a symbol or bracket as base: the exponent is the size
        size = math.log10(max(float(base), 10.0)) if len(base) < 300 else len(base)
        digits = int(m.group(2)) * size if len(m.group(2)) < 9 else math.inf
        if digits > MAX_RESULT_DIGITS:
            return True
    return any(len(n) > 4 or int(n) > 1000 for n in re.findall(r"(\d+)\s*!", t)) or "!!" in t


def _sympy_equal(a: str, b: str, rel_tol: float = 1e-4) -> bool:
    """Runs inside the worker: parse both and compare (difference simplifies to 0, or equal values)."""
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    trans = standard_transformations + (implicit_multiplication_application, convert_xor)

    def parse(t: str):
        if len(t) > MAX_SYMPY_CHARS:
            raise ValueError("refused")
        t = to_sympy_text(t)
        if too_big(t):
            raise ValueError("refused")
        if "=" in t and t.count("=") == 1:
            lhs, rhs = t.split("=")
            return parse_expr(lhs, transformations=trans) - parse_expr(rhs, transformations=trans), True
        return parse_expr(t, transformations=trans), False

    x, x_eq = parse(a)
    y, y_eq = parse(b)
    if x_eq != y_eq:
        return False
    for diff in ((x - y, x + y) if x_eq else (x - y,)):
        try:
            if sympy.simplify(diff) == 0:
                return True
        except Exception:
            pass
    if not x_eq and not x.free_symbols and not y.free_symbols:
        try:
            xv, yv = complex(sympy.N(x)), complex(sympy.N(y))
        except (TypeError, ValueError, OverflowError):
            return False
        parts = (xv.real, xv.imag, yv.real, yv.imag)
        if not all(math.isfinite(v) and abs(v) < _FINITE_LIMIT for v in parts):
            return False  # infinities and astronomically large values compare exactly (above) or not at all
        return abs(xv - yv) <= max(rel_tol * max(abs(xv), abs(yv)), 1e-12)
    return False


def _worker(conn) -> None:
    while True:
        try:
            a, b, rel_tol = conn.recv()
        except EOFError:
            return
        try:
            result = bool(_sympy_equal(a, b, rel_tol))
        except Exception:
            result = False
        conn.send(result)


class SympyWorker:
    """A long-lived sympy process answering ``equal(a, b)`` within ``timeout_s`` (restarted after a timeout).

    >>> SympyWorker().equal("x^2-1", "(x-1)(x+1)", timeout_s=5)  # doctest: +SKIP
    True
    """

    def __init__(self):
        self.proc = None
        self.conn = None
        self.timeouts = 0
        self._warm = False

    def _start(self) -> None:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def equal(self, a: str, b: str, *, timeout_s: float = 3.0, rel_tol: float = 1e-4) -> bool | None:
        """True/False, or None when the comparison ran out of time (the worker is then replaced)."""
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send((a, b, rel_tol))
        if self.conn.poll(timeout_s + (0.0 if self._warm else 2.0)):
            self._warm = True
            return self.conn.recv()
        self.timeouts += 1
        self.close()
        return None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(timeout=5)
        self.proc, self.conn, self._warm = None, None, False


WORKER = SympyWorker()
