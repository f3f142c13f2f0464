"""Strict comparison of normalised answers: numbers, infinities, structures, then sympy.

Every comparison of one pair runs under a ``Budget``: at most ``MAX_STEPS`` element comparisons (lists
matched in any order cost up to n·m) and at most ``settings.timeout_s`` seconds of sympy in total. A
budget that runs out makes the pair "not equal" (and is counted like a sympy timeout).
"""

from __future__ import annotations

import re
import time

from umi_lab.grading.extract import MAX_ANSWER_CHARS
from umi_lab.grading.normalise import MATH_WORDS, last_number, normalize_answer, numbers_equal, parse_number
from umi_lab.grading.settings import GradeSettings
from umi_lab.grading.symbolic import WORKER

MAX_STEPS = 2000
_OPEN = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}


class Budget:
    """Work left for one comparison: element steps and sympy seconds."""

    def __init__(self, settings: GradeSettings):
        self.steps = MAX_STEPS
        self.deadline = time.monotonic() + settings.timeout_s
        self.exhausted = False

    def step(self) -> bool:
        self.steps -= 1
        if self.steps < 0:
            self.exhausted = True
        return not self.exhausted

    def sympy_seconds(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            self.exhausted = True
        return left


def split_top(s: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets. Example: ``split_top("(1,2),3")`` → ``["(1,2)", "3"]``."""
    parts, depth, start, k = [], 0, 0, 0
    while k < len(s):
        ch = s[k]
        if ch == "\\" and s[k + 1:k + 2] in ("{", "}"):
            depth += 1 if s[k + 1] == "{" else -1
            k += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(s[start:k])
            start = k + 1
        k += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _depth_ok(s: str) -> bool:
    depth = 0
    for ch in s.replace("\\{", "(").replace("\\}", ")"):
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return False
    return depth == 0


def bracketed(s: str) -> tuple[str, str, str] | None:
    """``(a,b]`` → ``("(", "a,b", "]")`` when the brackets enclose the whole string."""
    for left in ("\\{", "(", "["):
        if s.startswith(left):
            for right in ("\\}", ")", "]"):
                if s.endswith(right) and len(s) >= len(left) + len(right):
                    inner = s[len(left):len(s) - len(right)]
                    if _depth_ok(inner):
                        return left, inner, right
    return None


def _matrix(s: str) -> list[list[str]] | None:
    if not s.startswith("\\begin{"):
        return None
    m = re.fullmatch(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}", s, re.S)
    if not m:
        return None
    rows = [r for r in m.group(2).split("\\\\") if r.strip()]
    return [[c.strip() for c in r.split("&")] for r in rows]


def _match_unordered(ps: list[str], gs: list[str], eq) -> bool:
    if len(ps) != len(gs):
        return False
    left = list(gs)
    for p in ps:
        for k, g in enumerate(left):
            if eq(p, g):
                del left[k]
                break
        else:
            return False
    return True


def _letters(s: str) -> str:
    s = s.lower()
    m = re.fullmatch(r"\(([a-z])\)", s)
    return m.group(1) if m else s


def _is_text(s: str) -> bool:
    """A word of three or more letters that is no maths name: compare as text, never as a product of symbols."""
    words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", " ", s))
    return any(w.lower() not in MATH_WORDS for w in words)


def _is_sentence(s: str) -> bool:
    """Two or more plain words (LaTeX commands and function names do not count)."""
    words = re.findall(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", " ", s))
    return len([w for w in words if w.lower() not in MATH_WORDS]) >= 2


def _expand_pm(s: str) -> list[str]:
    """``1\\pm\\sqrt2`` → ``["1+\\sqrt2", "1-\\sqrt2"]``; other answers → their list elements."""
    if s.count("\\pm") == 1:
        return [s.replace("\\pm", "+"), s.replace("\\pm", "-")]
    return split_top(s)


_INFINITY = re.compile(r"([-+]?)(?:\\infty|oo|inf|infinity|\\inf)")


def infinity_sign(s: str) -> int:
    """+1 / -1 for an answer that is plus / minus infinity, else 0. Example: ``infinity_sign("-\\\\infty")`` → -1."""
    m = _INFINITY.fullmatch(s.strip())
    return 0 if not m else (-1 if m.group(1) == "-" else 1)


def equal_normalised(p: str, g: str, settings: GradeSettings, budget: Budget, depth: int = 0) -> bool:
    """Compare two normalised answers (see the package doc for the rules)."""
    if p == g or _letters(p) == _letters(g):
        return True
    if not p or not g or depth > 4 or not budget.step():
        return False
    if len(p) > MAX_ANSWER_CHARS or len(g) > MAX_ANSWER_CHARS:  # oversized: text only, or a sentence's number
        gn = parse_number(g) if len(g) <= MAX_ANSWER_CHARS else None
        last = last_number(p[-MAX_ANSWER_CHARS:]) if gn is not None else None
        ln = parse_number(last) if last else None
        return ln is not None and numbers_equal(ln, gn, settings.rel_tol, settings.percent)
    pi, gi = infinity_sign(p), infinity_sign(g)
    if pi or gi:  # infinities equal only an infinity of the same sign
        return pi == gi
    pn, gn = parse_number(p), parse_number(g)
    if pn is not None and gn is not None:
        return numbers_equal(pn, gn, settings.rel_tol, settings.percent)
    if gn is not None and pn is None and _is_sentence(p):
        last = last_number(p)
        ln = parse_number(last) if last is not None else None
        return ln is not None and numbers_equal(ln, gn, settings.rel_tol, settings.percent)
    if gn is not None and pn is None and "=" in p:  # a worked result "9*2=18": its final value counts
        rn = parse_number(p.rsplit("=", 1)[1])
        if rn is not None:
            return numbers_equal(rn, gn, settings.rel_tol, settings.percent)

    def eq(a: str, b: str) -> bool:
        return equal_normalised(normalize_answer(a), normalize_answer(b), settings, budget, depth + 1)

    if ("\\pm" in p) != ("\\pm" in g) and (p + g).count("\\pm") == 1:  # a \pm b = both solutions
        return _match_unordered(*[_expand_pm(x) for x in (p, g)], eq)
    pm, gm = _matrix(p), _matrix(g)
    if pm is not None or gm is not None:
        if pm is None or gm is None or len(pm) != len(gm) or any(len(r) != len(s) for r, s in zip(pm, gm)):
            return False
        return all(eq(a, b) for r, s in zip(pm, gm) for a, b in zip(r, s))
    pb, gb = bracketed(p), bracketed(g)
    if pb and gb and (len(split_top(pb[1])) > 1 or len(split_top(gb[1])) > 1 or pb[0] == "\\{"):
        if (pb[0], pb[2]) != (gb[0], gb[2]):
            return False
        ps, gs = split_top(pb[1]), split_top(gb[1])
        if pb[0] == "\\{":
            return _match_unordered(ps, gs, eq)
        return len(ps) == len(gs) and all(eq(a, b) for a, b in zip(ps, gs))
    if pb and pb[0] == "\\{" and not gb:  # a set against a plain list of solutions
        return _match_unordered(split_top(pb[1]), split_top(g), eq)
    if gb and gb[0] == "\\{" and not pb:
        return _match_unordered(split_top(p), split_top(gb[1]), eq)
    ps, gs = split_top(p), split_top(g)
    if len(ps) > 1 or len(gs) > 1:  # lists of solutions: any order
        if pb and len(ps) == 1:
            return False
        return _match_unordered(ps, gs, eq)
    if pb and not gb and pb[0] == "(" and pb[2] == ")" and len(split_top(pb[1])) == 1:
        return eq(pb[1], g)  # redundant parentheses: "(x+1)" for "x+1"
    if gb and not pb and gb[0] == "(" and gb[2] == ")" and len(split_top(gb[1])) == 1:
        return eq(p, gb[1])
    if p.count("=") == 1 and g.count("=") == 1:
        pl, pr = p.split("=")
        gl, gr = g.split("=")
        if eq(pl, gl) and eq(pr, gr):
            return True
    if "\\cup" in p and "\\cup" in g:  # unions of intervals, in any order
        return _match_unordered(p.split("\\cup"), g.split("\\cup"), eq)
    if not settings.symbolic or _is_text(p) or _is_text(g) or "\\infty" in p + g:
        return False  # an expression with an infinity inside is compared by its structure only
    seconds = budget.sympy_seconds()
    if budget.exhausted:
        return False
    result = WORKER.equal(p, g, timeout_s=min(seconds, settings.timeout_s), rel_tol=settings.rel_tol)
    return bool(result)
