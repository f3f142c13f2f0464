"""Maths answer grading: is a predicted answer what the reference answer says?

The grader treats as equal what a careful human grader would, in this order:

1. **extraction** (``extract_answer``): the last ``\\boxed{}``, the text after ``####`` (GSM8K), after
   "the (final) answer is", or after a ``conclusion:`` tag; surrounding ``$``, ``\\(\\)`` and a final
   full stop are dropped;
2. **normalisation** (``normalize_answer``): ``\\dfrac``/``\\tfrac`` → ``\\frac``, ``\\left``/``\\right``,
   spacing commands, ``\\text{}``-like wrappers, degrees, currency signs, thousands separators
   (``1,000`` and ``1{,}000``), a leading ``x =``;
3. **numbers**: exact rational comparison (``0.5`` = ``1/2`` = ``\\frac{1}{2}`` = ``50%`` of 1), otherwise a
   relative tolerance of 1e-4 (as the ToRA grader); units and words after a number are ignored
   (``18 dollars``, ``5\\text{ cm}``); a percentage may be written with or without ``%`` or as a
   fraction of 1; when the reference is a number and the prediction a sentence, its last number counts;
4. **structures**: tuples and intervals element by element (bracket kinds must agree), ``\\{..\\}``
   sets and unbracketed lists of solutions in any order, matrices cell by cell, equations side by side;
5. **symbols**: sympy equivalence (``simplify(a - b) == 0`` or equal numeric values) in a worker process
   with a time limit; a timeout counts as not equal and is reported.

CLI: ``python -m umi_lab grade-answers FILE.jsonl --pred-key KEY --gold-key KEY`` prints one JSON object
with ``accuracy``, ``n`` and ``correct`` (a list-valued prediction is graded by its first element).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_records


@dataclass
class GradeSettings:
    """How lenient the grader is. ``rel_tol``: relative tolerance for inexact numbers; ``timeout_s``: the
    time limit of one sympy comparison; ``percent``: accept ``x`` for ``x%`` and ``x/100``."""

    rel_tol: float = 1e-4
    timeout_s: float = 3.0
    percent: bool = True
    symbolic: bool = True


# --------------------------------------------------------------------------------------------- extraction
def _balanced(text: str, start: int) -> tuple[str, int] | None:
    """Content of the ``{...}`` group opening at ``text[start]`` and the index after it."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for k in range(start, len(text)):
        depth += (text[k] == "{") - (text[k] == "}")
        if depth == 0:
            return text[start + 1:k], k + 1
    return None


def last_boxed_content(text: str) -> str | None:
    """Content of the last ``\\boxed{}``/``\\fbox{}`` (or ``\\boxed 5``); None when there is none.

    >>> last_boxed_content(r"so $\\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    """
    for m in reversed(list(re.finditer(r"\\(?:boxed|fbox)", text))):
        rest = m.end()
        if text[rest:rest + 1] == " ":
            word = re.match(r" +([^\s$]+)", text[rest:])
            if word:
                return word.group(1)
            continue
        group = _balanced(text, rest)
        if group is not None:
            return group[0]
    return None


_ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)\s*(?:is\s*:?|:|=)\s*", re.I)


def extract_answer(text: Any) -> str:
    """The answer part of a model output or reference solution (see the module doc).

    >>> extract_answer("The final answer is $\\\\boxed{42}$.")
    '42'
    >>> extract_answer("She makes 9 * 2 = $18.\\n#### 18")
    '18'
    >>> extract_answer("The answer is: 7 apples.")
    '7 apples'
    """
    if isinstance(text, (list, tuple)):
        text = text[0] if text else ""
    if text is None:
        return ""
    if isinstance(text, bool):
        return str(text)
    if isinstance(text, (int, float)):
        return repr(text) if isinstance(text, float) else str(text)
    text = str(text).strip()
    boxed = last_boxed_content(text)
    if boxed is not None:
        text = boxed
    elif "####" in text:
        text = text[text.rindex("####") + 4:]
    else:
        hits = list(_ANSWER_IS.finditer(text))
        if hits:
            text = text[hits[-1].end():]
        elif "conclusion:" in text:
            text = text[text.rindex("conclusion:") + len("conclusion:"):]
    text = text.replace("</s>", "").strip()
    text = _strip_math_delimiters(text)
    return re.sub(r"[\s.]*$", "", text) if not re.fullmatch(r"[\s.]*", text) else text.strip()


def _strip_math_delimiters(text: str) -> str:
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right) - 1:
            inner = text[len(left):len(text) - len(right)]
            if left != "$" or "$" not in inner:
                text = inner.strip()
    return text


# ------------------------------------------------------------------------------------------ normalisation
_WRAPPERS = ("text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "mbox", "operatorname",
             "textnormal", "mathsf", "texttt", "hbox")
_UNICODE = str.maketrans({"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/", "π": "\\pi ", "∞": "\\infty ",
                          "√": "\\sqrt", "\u00a0": " ", "≤": "\\le ", "≥": "\\ge ", "°": ""})


def _unwrap(text: str, commands: tuple[str, ...]) -> str:
    """Replace ``\\cmd{X}`` by ``X`` (braces balanced) for the given commands."""
    pattern = re.compile(r"\\(?:" + "|".join(commands) + r")\s*(?=\{)")
    while True:
        m = pattern.search(text)
        if not m:
            return text
        group = _balanced(text, m.end())
        if group is None:
            return text[:m.start()] + text[m.end():]
        text = text[:m.start()] + group[0] + text[group[1]:]


def _fix_fracs(text: str) -> str:
    """``\\frac12`` → ``\\frac{1}{2}``, ``\\frac1{x}`` → ``\\frac{1}{x}``; ``\\sqrt2`` → ``\\sqrt{2}``."""
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{", text)
    text = re.sub(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])", r"\\frac\1{\2}", text)
    return re.sub(r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}", text)


_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])(?=(\.\d+)?)")


def normalize_answer(text: Any) -> str:
    """A canonical string for an extracted answer (whitespace removed, LaTeX tidied).

    >>> normalize_answer("\\\\dfrac{1}{2}")
    '\\\\frac{1}{2}'
    >>> normalize_answer("\\\\$1,000.00")
    '1000.00'
    >>> normalize_answer("x = \\\\left( 3, 4 \\\\right)")
    '(3,4)'
    """
    s = extract_answer(text) if not isinstance(text, str) else text
    s = re.split(r"\\approx|≈", s)[0]  # "\frac{\sqrt3}{3} \approx 0.577": the exact part counts
    s = s.translate(_UNICODE)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "%").replace("{,}", "")
    s = re.sub(r"\\(?:displaystyle|textstyle|left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])", "", s)
    s = re.sub(r"\\[!,;:>]|\\quad|\\qquad", "", s)
    s = re.sub(r"(?<!\\)\\ ", " ", s).replace("~", " ")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    s = re.sub(r"\\circ|\\degree", "", s)
    s = _unwrap(s, _WRAPPERS)
    s = re.sub(r"\\(?:boxed|fbox)\s*(?=\{)", "", s)
    s = _fix_fracs(s)
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:\s*[a-zA-Z%][^,()\[\]{}]*)?", s.strip()):
        s = s.replace(",", "")  # a single number with thousands separators (not a tuple like (1,500))
    s = re.sub(r"^\s*[a-zA-Z]\s*\\in\s*", "", s)  # "x \in [1, 2]"
    s = re.sub(r"_\{(\w+)\}", r"_\1", s)  # 1011_{2} -> 1011_2
    s = s.strip()
    # a leading "x =" / "k=" / "f(x) =" naming the unknown (only when one "=" is present)
    m = re.fullmatch(r"\s*([a-zA-Z](?:_\{?\w+\}?)?|[a-zA-Z]\([a-zA-Z]\))\s*=\s*(.+)", s, re.S)
    if m and "=" not in m.group(2):
        s = m.group(2)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    s = re.sub(r"(?<![\d.])(\d{1,3}(?: \d{3})+)(?![\d.])", lambda m: m.group(1).replace(" ", ""), s)
    s = re.sub(r"(?<![0-9A-Za-z]) | (?![0-9A-Za-z])", "", s)  # keep a space only between two words/numbers
    return s


# ---------------------------------------------------------------------------------------------- numbers
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNIT_WORDS = re.compile(r"[a-zA-Z][a-zA-Z./ ]*(?:\^\{?[23]\}?)?[a-zA-Z./ ]*")


def _plain_number(s: str) -> Fraction | None:
    s = s.strip()
    m = re.fullmatch(r"([-+]?)(\d*)\.(\d*)\\overline\{(\d+)\}", s)  # 0.\overline{3} = 1/3
    if m:
        head = Fraction(f"{m.group(2) or '0'}.{m.group(3) or '0'}")
        rep = Fraction(int(m.group(4)), (10 ** len(m.group(4)) - 1) * 10 ** len(m.group(3)))
        return -(head + rep) if m.group(1) == "-" else head + rep
    m = re.fullmatch(r"([-+]?)(\d+)\s+(\d+)/(\d+)", s)  # mixed number 1 1/2
    if m and int(m.group(4)):
        value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return -value if m.group(1) == "-" else value
    if any(abs(int(e)) > 1000 for e in re.findall(r"[eE]([-+]?\d+)$", s)):
        return None  # 1e999999999 would take forever as an exact rational
    m = re.fullmatch(_NUM, s)
    if m:
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            return None
    m = re.fullmatch(rf"({_NUM})\s*/\s*({_NUM})", s)
    if m:
        num, den = Fraction(m.group(1)), Fraction(m.group(2))
        return num / den if den else None
    m = re.fullmatch(rf"([-+]?)\\frac\{{({_NUM})\}}\{{({_NUM})\}}", s)
    if m:
        num, den = Fraction(m.group(2)), Fraction(m.group(3))
        return (-1 if m.group(1) == "-" else 1) * num / den if den else None
    m = re.fullmatch(r"([-+]?\d+)\\frac\{(\d+)\}\{(\d+)\}", s)  # mixed number 2\frac{1}{2}
    if m and int(m.group(3)):
        whole = int(m.group(1))
        frac = Fraction(int(m.group(2)), int(m.group(3)))
        return whole - frac if m.group(1).startswith("-") else whole + frac
    m = re.fullmatch(rf"({_NUM})\s*(?:\*|\\times|\\cdot)\s*10\^\{{?([-+]?\d+)\}}?", s)  # 1.2\times10^{3}
    if m and abs(int(m.group(2))) < 400:
        return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
    return None


@dataclass
class _Num:
    value: Fraction
    percent: bool
    unit: bool  # words or units followed the number


def parse_number(s: str) -> _Num | None:
    """A normalised answer as a number: plain, fraction, ``%``, or followed by units/words; else None.

    >>> parse_number("50%").value
    Fraction(1, 2)
    """
    s = s.strip()
    if not s:
        return None
    percent = False
    if s.endswith("%"):
        s, percent = s[:-1].strip(), True
    else:
        m = re.fullmatch(r"(.*?)\s*(?:percent|per cent)", s)
        if m:
            s, percent = m.group(1), True
    value = _plain_number(s)
    unit = False
    if value is None:
        m = re.match(rf"({_NUM}|[-+]?\\frac\{{{_NUM}\}}\{{{_NUM}\}}|{_NUM}/{_NUM})\s*(.*)$", s)
        if not m or not m.group(2) or not _UNIT_WORDS.fullmatch(m.group(2)):
            return None
        rest = m.group(2)
        # "2x" or "3pi" is an expression, not a number with a unit; units need a space or a known name
        if not re.match(r"\s", s[m.end(1):]) and not _known_unit(rest):
            return None
        if rest.strip().endswith("%"):
            percent = True
        value, unit = _plain_number(m.group(1)), True
        if value is None:
            return None
    if percent:
        value = value / 100
    return _Num(value, percent, unit)


_UNITS = {"cm", "mm", "m", "km", "kg", "g", "mg", "s", "sec", "min", "h", "hr", "hrs", "ft", "in", "yd", "mi",
          "mph", "lb", "lbs", "oz", "l", "ml", "units", "unit", "sq", "cm^2", "m^2", "ft^2", "in^2", "cm^3", "m^3",
          "inches", "feet", "meters", "dollars", "cents", "degrees", "days", "hours", "minutes", "seconds",
          "years", "weeks", "months", "pounds", "miles", "km/h", "m/s"}


def _known_unit(rest: str) -> bool:
    word = rest.strip().split(" ")[0].lower()
    letters = re.match(r"[a-z]*", word).group(0)
    return word in _UNITS or (len(letters) >= 3 and letters not in _MATH_WORDS)


def _close(a: Fraction, b: Fraction, rel_tol: float) -> bool:
    """Exact rational comparison with a relative tolerance (no float overflow for huge values)."""
    if a == b:
        return True
    diff = abs(a - b)
    return diff <= Fraction(rel_tol) * max(abs(a), abs(b)) or diff <= Fraction(1, 10 ** 12)


def _numbers_equal(p: _Num, g: _Num, settings: GradeSettings) -> bool:
    if _close(p.value, g.value, settings.rel_tol):
        return True
    if not settings.percent or p.percent == g.percent:
        return False
    # one side wrote "%": the other may give the same number without it ("50" for "50%"); values are
    # already fractions of 1, so "0.5" for "50%" matched above
    if g.percent:
        return _close(p.value / 100, g.value, settings.rel_tol)
    return _close(p.value * 100, g.value, settings.rel_tol)


def last_number(text: str) -> str | None:
    """The last number written in a sentence (thousands separators kept out), or None.

    >>> last_number("She makes $18 every day.")
    '18'
    """
    text = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), text)
    found = re.findall(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:/\d+)?", text)
    return found[-1] if found else None


# ------------------------------------------------------------------------------------------- structures
_OPEN = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}


def _split_top(s: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, ""
    k = 0
    while k < len(s):
        ch = s[k]
        if s.startswith("\\{", k) or s.startswith("\\}", k):
            depth += 1 if ch == "\\" and s[k + 1] == "{" else -1
            cur += s[k:k + 2]
            k += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        k += 1
    parts.append(cur)
    return [p.strip() for p in parts]


def _bracketed(s: str) -> tuple[str, str, str] | None:
    """``(a,b]`` → ``("(", "a,b", "]")`` when the brackets enclose the whole string."""
    for left in ("\\{", "(", "["):
        if s.startswith(left):
            for right in ("\\}", ")", "]"):
                if s.endswith(right) and len(s) >= len(left) + len(right):
                    inner = s[len(left):len(s) - len(right)]
                    if _split_top(inner) and _depth_ok(inner):
                        return left, inner, right
    return None


def _depth_ok(s: str) -> bool:
    depth = 0
    for ch in s.replace("\\{", "(").replace("\\}", ")"):
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return False
    return depth == 0


def _matrix(s: str) -> list[list[str]] | None:
    m = re.fullmatch(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}", s, re.S)
    if not m:
        return None
    rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
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


# --------------------------------------------------------------------------------------------- sympy
_FUNCS = ("arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sin", "cos", "tan", "cot", "sec", "csc",
          "exp", "log", "ln")


def to_sympy_text(s: str) -> str:
    """A LaTeX-ish answer as text for ``sympy.parse_expr`` (fractions, roots, powers, constants).

    >>> to_sympy_text("\\\\frac{\\\\sqrt{3}}{2}")
    '((sqrt(3))/(2))'
    """
    s = s.replace("\\infty", "oo").replace("\\pi", "pi")
    s = re.sub(r"\\(?:cdot|times)", "*", s).replace("\\div", "/")
    s = re.sub(r"\\(" + "|".join(_FUNCS) + r")(?![a-zA-Z])", r"\1", s)
    s = re.sub(r"(?<![a-zA-Z])ln(?=\()", "log", s)
    changed = True
    while changed:
        changed = False
        m = re.search(r"\\frac\s*(?=\{)", s)
        if m:
            a = _balanced(s, m.end())
            b = _balanced(s, a[1]) if a else None
            if a and b:
                s = s[:m.start()] + f"(({a[0]})/({b[0]}))" + s[b[1]:]
                changed = True
                continue
        m = re.search(r"\\sqrt\s*\[([^\]]+)\]\s*(?=\{)", s)
        if m:
            a = _balanced(s, m.end())
            if a:
                s = s[:m.start()] + f"(({a[0]})**(1/({m.group(1)})))" + s[a[1]:]
                changed = True
                continue
        m = re.search(r"\\sqrt\s*(?=\{)", s)
        if m:
            a = _balanced(s, m.end())
            if a:
                s = s[:m.start()] + f"sqrt({a[0]})" + s[a[1]:]
                changed = True
    s = s.replace("\\", "").replace("{", "(").replace("}", ")").replace("^", "**")
    return s


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
        t = to_sympy_text(t)
        if "__" in t or len(t) > 400 or re.search(r"\*\*\s*\(?\s*[-+]?\d{5,}", t) or re.search(
                r"\*\*\s*\((?:[^()]|\([^()]*\))*\*\*", t) or re.search(r"\*\*\s*\d+\s*\*\*", t) or re.search(r"\d[eE][-+]?\d{4,}", t):
            # huge or nested powers (10^{10^{10}}) could exhaust memory before the time limit
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
            return abs(xv - yv) <= max(rel_tol * max(abs(xv), abs(yv)), 1e-12)
        except (TypeError, ValueError):
            return False
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
        if self.conn.poll(timeout_s + 2.0 if not getattr(self, "_warm", False) else timeout_s):
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


_WORKER = SympyWorker()


# ------------------------------------------------------------------------------------------- comparing
def _letters(s: str) -> str:
    s = s.lower()
    m = re.fullmatch(r"\(([a-z])\)", s)
    return m.group(1) if m else s


_MATH_WORDS = {"sqrt", "pi", "oo", "inf", "exp", "log", "ln", *_FUNCS}


def _is_text(s: str) -> bool:
    """A word of three or more letters that is no maths name: compare as text, never as a product of symbols."""
    words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", " ", s))
    return any(w.lower() not in _MATH_WORDS for w in words)


def _is_sentence(s: str) -> bool:
    """Two or more plain words (LaTeX commands and function names do not count)."""
    words = re.findall(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", " ", s))
    return len([w for w in words if w.lower() not in _MATH_WORDS]) >= 2


def _expand_pm(s: str) -> list[str]:
    """``1\\pm\\sqrt2`` → ``["1+\\sqrt2", "1-\\sqrt2"]``; other answers → their list elements."""
    if s.count("\\pm") == 1:
        return [s.replace("\\pm", "+"), s.replace("\\pm", "-")]
    return _split_top(s)


def _equal_norm(p: str, g: str, settings: GradeSettings, depth: int = 0) -> bool:
    if p == g or _letters(p) == _letters(g):
        return True
    if not p or not g or depth > 4:
        return False
    pn, gn = parse_number(p), parse_number(g)
    if pn is not None and gn is not None:
        return _numbers_equal(pn, gn, settings)
    if gn is not None and pn is None and _is_sentence(p):
        last = last_number(p)
        return last is not None and (ln := parse_number(last)) is not None and _numbers_equal(ln, gn, settings)
    if gn is not None and pn is None and "=" in p:  # a worked result "9*2=18": its final value counts
        rn = parse_number(p.rsplit("=", 1)[1])
        if rn is not None:
            return _numbers_equal(rn, gn, settings)

    def eq(a: str, b: str) -> bool:
        return _equal_norm(normalize_answer(a), normalize_answer(b), settings, depth + 1)

    if ("\\pm" in p) != ("\\pm" in g) and (p + g).count("\\pm") == 1:  # a \pm b = both solutions
        return _match_unordered(*[_expand_pm(x) for x in (p, g)], eq)

    pm, gm = _matrix(p), _matrix(g)
    if pm is not None or gm is not None:
        if pm is None or gm is None or len(pm) != len(gm) or any(len(r) != len(s) for r, s in zip(pm, gm)):
            return False
        return all(eq(a, b) for r, s in zip(pm, gm) for a, b in zip(r, s))
    pb, gb = _bracketed(p), _bracketed(g)
    if pb and gb and (len(_split_top(pb[1])) > 1 or len(_split_top(gb[1])) > 1 or pb[0] == "\\{"):
        if (pb[0], pb[2]) != (gb[0], gb[2]):
            return False
        ps, gs = _split_top(pb[1]), _split_top(gb[1])
        if pb[0] == "\\{":
            return _match_unordered(ps, gs, eq)
        return len(ps) == len(gs) and all(eq(a, b) for a, b in zip(ps, gs))
    if pb and pb[0] == "\\{" and not gb:  # a set against a plain list of solutions
        return _match_unordered(_split_top(pb[1]), _split_top(g), eq)
    if gb and gb[0] == "\\{" and not pb:
        return _match_unordered(_split_top(p), _split_top(gb[1]), eq)
    ps, gs = _split_top(p), _split_top(g)
    if len(ps) > 1 or len(gs) > 1:  # lists of solutions: any order
        if pb and len(ps) == 1:
            return False
        return _match_unordered(ps, gs, eq)
    if pb and not gb and pb[0] == "(" and pb[2] == ")" and len(_split_top(pb[1])) == 1:
        return eq(pb[1], g)  # redundant parentheses: "(x+1)" for "x+1"
    if gb and not pb and gb[0] == "(" and gb[2] == ")" and len(_split_top(gb[1])) == 1:
        return eq(p, gb[1])
    if p.count("=") == 1 and g.count("=") == 1:
        pl, pr = p.split("=")
        gl, gr = g.split("=")
        if eq(pl, gl) and eq(pr, gr):
            return True
    if "\\cup" in p and "\\cup" in g:  # unions of intervals, in any order
        return _match_unordered(p.split("\\cup"), g.split("\\cup"), eq)
    if not settings.symbolic or _is_text(p) or _is_text(g):
        return False
    return bool(_WORKER.equal(p, g, timeout_s=settings.timeout_s, rel_tol=settings.rel_tol))


def answers_equal(prediction: Any, reference: Any, settings: GradeSettings | None = None) -> bool:
    """Whether ``prediction`` answers ``reference`` (both raw outputs or answers; see the module doc).

    >>> answers_equal("The answer is $1,000.", "1000")
    True
    >>> answers_equal("\\\\dfrac{1}{2}", "0.5")
    True
    >>> answers_equal("(1,2]", "(1,2)")
    False
    """
    settings = settings or GradeSettings()
    if isinstance(prediction, (list, tuple)):
        prediction = prediction[0] if prediction else None
    if prediction is None:
        return False
    if isinstance(reference, (list, tuple)):
        return any(answers_equal(prediction, r, settings) for r in reference)
    p, g = normalize_answer(extract_answer(prediction)), normalize_answer(extract_answer(reference))
    if not g:
        return not p
    return _equal_norm(p, g, settings)


# -------------------------------------------------------------------------------------------- files
def grade_records(records: list[Any], pred_key: str, gold_key: str, *, file: str | None = None,
                  settings: GradeSettings | None = None) -> dict[str, Any]:
    """Grade ``record[pred_key]`` against ``record[gold_key]`` for every record.

    Returns ``{"accuracy", "n", "correct", "missing_pred", "timeouts", "results"}``. A record without the
    gold key is a DataError; a missing or null prediction counts as wrong (``missing_pred``).
    Example: ``grade_records([{"p": "0.5", "g": "\\\\frac12"}], "p", "g")["accuracy"]`` → 1.0.
    """
    settings = settings or GradeSettings()
    before = _WORKER.timeouts
    results, missing = [], 0
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", file=file, record=i)
        if gold_key not in rec or rec[gold_key] is None:
            raise DataError("missing reference answer", file=file, record=i, field=gold_key)
        pred = rec.get(pred_key)
        if isinstance(pred, (list, tuple)):
            pred = pred[0] if pred else None
        if pred is None:
            missing += 1
            results.append(False)
            continue
        results.append(answers_equal(pred, rec[gold_key], settings))
    n, correct = len(results), sum(results)
    return {"accuracy": correct / n if n else 0.0, "n": n, "correct": correct, "missing_pred": missing,
            "timeouts": _WORKER.timeouts - before, "results": results}


def grade_file(path: str | os.PathLike, pred_key: str, gold_key: str,
               settings: GradeSettings | None = None) -> dict[str, Any]:
    """Grade a JSONL (or JSON list) file. Example: ``grade_file("preds.jsonl", "pred", "answer")``."""
    return grade_records(read_records(path), pred_key, gold_key, file=str(path), settings=settings)


def _cmd_grade(args: argparse.Namespace) -> int:
    settings = GradeSettings(rel_tol=args.rel_tol, timeout_s=args.timeout)
    out = grade_file(args.file, args.pred_key, args.gold_key, settings)
    if not args.per_record:
        out.pop("results")
    print(json.dumps(out))
    return 0


def add_cli(sub: Any) -> None:
    """Register ``grade-answers FILE.jsonl --pred-key KEY --gold-key KEY``."""
    p = sub.add_parser("grade-answers", help="grade maths answers in a JSONL file; prints one JSON object")
    p.add_argument("file", help="JSONL (or JSON list) of records")
    p.add_argument("--pred-key", required=True, help="field holding the prediction (a list: its first element)")
    p.add_argument("--gold-key", required=True, help="field holding the reference answer")
    p.add_argument("--rel-tol", type=float, default=GradeSettings.rel_tol, help="relative tolerance for numbers")
    p.add_argument("--timeout", type=float, default=GradeSettings.timeout_s, help="seconds per sympy comparison")
    p.add_argument("--per-record", action="store_true", help="also print the list of per-record results")
    p.set_defaults(func=_cmd_grade)
