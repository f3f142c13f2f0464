"""Normalisation of extracted answers and exact number parsing (strict mode).

Numbers are exact rationals (``fractions.Fraction``). A relative tolerance applies only to finite values
below ``LARGE`` (10^300); larger values (``10^{400}``, ``2^{2000}``, ``1000!``) compare exactly. Literals
with more than ``MAX_DIGITS`` digits are not read as numbers at all (Python refuses to convert such strings
to int), so they compare as text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from umi_lab.grading.extract import MAX_ANSWER_CHARS, balanced, extract_answer

LARGE = Fraction(10) ** 300
MAX_DIGITS = 1000
MAX_FACTORIAL = 1000

_WRAPPERS = ("text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "mbox", "operatorname",
             "textnormal", "mathsf", "texttt", "hbox")
_UNICODE = str.maketrans({"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/", "π": "\\pi ", "∞": "\\infty ",
                          "√": "\\sqrt", "\u00a0": " ", "≤": "\\le ", "≥": "\\ge ", "°": ""})
_WRAP_RE = re.compile(r"\\(?:" + "|".join(_WRAPPERS) + r")\s*(?=\{)")


def _unwrap(text: str) -> str:
    """Replace ``\\text{X}`` (and the other wrappers) by ``X``, braces balanced."""
    while True:
        m = _WRAP_RE.search(text)
        if not m:
            return text
        group = balanced(text, m.end())
        if group is None:
            return text[:m.start()] + text[m.end():]
        text = text[:m.start()] + group[0] + text[group[1]:]


def _fix_fracs(text: str) -> str:
    """``\\frac12`` → ``\\frac{1}{2}``, ``\\frac1{x}`` → ``\\frac{1}{x}``; ``\\sqrt2`` → ``\\sqrt{2}``."""
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])", r"\\frac{\1}{\2}", text)
    text = re.sub(r"\\frac\s*([0-9a-zA-Z])\s*\{", r"\\frac{\1}{", text)
    text = re.sub(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])", r"\\frac\1{\2}", text)
    return re.sub(r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}", text)


_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")


def normalize_answer(text: Any) -> str:
    """A canonical string for an extracted answer (whitespace removed, LaTeX tidied).

    An answer longer than ``MAX_ANSWER_CHARS`` only has its whitespace collapsed (it compares as text).

    >>> normalize_answer("\\\\dfrac{1}{2}")
    '\\\\frac{1}{2}'
    >>> normalize_answer("\\\\$1,000.00")
    '1000.00'
    >>> normalize_answer("x = \\\\left( 3, 4 \\\\right)")
    '(3,4)'
    """
    s = extract_answer(text) if not isinstance(text, str) else text
    if len(s) > MAX_ANSWER_CHARS:
        return " ".join(s.split())
    s = re.split(r"\\approx|≈", s)[0]  # "\frac{\sqrt3}{3} \approx 0.577": the exact part counts
    s = s.translate(_UNICODE)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "%").replace("{,}", "")
    s = re.sub(r"\\(?:displaystyle|textstyle|left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])", "", s)
    s = re.sub(r"\\[!,;:>]|\\quad|\\qquad", "", s)
    s = re.sub(r"(?<!\\)\\ ", " ", s).replace("~", " ")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", s)
    s = re.sub(r"\\circ|\\degree", "", s)
    s = _unwrap(s)
    s = re.sub(r"\\(?:boxed|fbox)\s*(?=\{)", "", s)
    s = _fix_fracs(s)
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:\s*[a-zA-Z%][^,()\[\]{}]*)?", s.strip()):
        s = s.replace(",", "")  # a single number with thousands separators (not a tuple like (1,500))
    s = re.sub(r"^\s*[a-zA-Z]\s*\\in\s*", "", s)  # "x \in [1, 2]"
    s = re.sub(r"_\{(\w+)\}", r"_\1", s)  # 1011_{2} -> 1011_2
    s = " ".join(s.split())
    # a leading "x =" / "k=" / "f(x) =" naming the unknown (only when one "=" is present)
    m = re.match(r"([a-zA-Z](?:_\{?\w+\}?)?|[a-zA-Z]\([a-zA-Z]\)) ?= ?", s)
    if m and s.count("=") == 1 and m.end() < len(s):
        s = s[m.end():]
    s = s.rstrip(".").strip()
    s = re.sub(r"(?<![\d.])(\d{1,3}(?: \d{3})+)(?![\d.])", lambda m: m.group(1).replace(" ", ""), s)
    s = re.sub(r"(?<![0-9A-Za-z]) | (?![0-9A-Za-z])", "", s)  # keep a space only between two words/numbers
    return s


# ---------------------------------------------------------------------------------------------- numbers
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_UNIT_WORDS = re.compile(r"[a-zA-Z](?:[a-zA-Z./ ]|\^\{?[23]\}?)*")


def _fraction(text: str) -> Fraction | None:
    """``Fraction(text)`` for a plain decimal literal of sane size (huge exponents/digit counts → None)."""
    mantissa, _, exponent = text.lower().partition("e")
    if sum(ch.isdigit() for ch in mantissa) > MAX_DIGITS or len(exponent.lstrip("+-")) > 4:
        return None
    if exponent and abs(int(exponent)) > MAX_DIGITS:
        return None  # 1e999999999 would take forever as an exact rational
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _int_power(base: str, exp: str) -> Fraction | None:
    """``base^exp`` exactly when the result has at most ``MAX_DIGITS`` digits."""
    if len(base) > MAX_DIGITS or len(exp) > 6:
        return None
    b, e = int(base), int(exp)
    if abs(b) > 1 and e * math.log10(abs(b)) > MAX_DIGITS:
        return None
    return Fraction(b) ** e


def _plain_number(s: str) -> Fraction | None:
    s = s.strip()
    if len(s) > MAX_DIGITS + 40:
        return None
    m = re.fullmatch(r"([-+]?)(\d*)\.(\d*)\\overline\{(\d+)\}", s)  # 0.\overline{3} = 1/3
    if m and len(m.group(4)) + len(m.group(3)) <= MAX_DIGITS:
        head = Fraction(f"{m.group(2) or '0'}.{m.group(3) or '0'}")
        rep = Fraction(int(m.group(4)), (10 ** len(m.group(4)) - 1) * 10 ** len(m.group(3)))
        return -(head + rep) if m.group(1) == "-" else head + rep
    m = re.fullmatch(r"([-+]?)(\d+)\s+(\d+)/(\d+)", s)  # mixed number 1 1/2
    if m and int(m.group(4)):
        value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return -value if m.group(1) == "-" else value
    if re.fullmatch(_NUM, s):
        return _fraction(s)
    m = re.fullmatch(rf"({_NUM})\s*/\s*({_NUM})", s)
    if m:
        num, den = _fraction(m.group(1)), _fraction(m.group(2))
        return num / den if num is not None and den else None
    m = re.fullmatch(rf"([-+]?)\\frac\{{({_NUM})\}}\{{({_NUM})\}}", s)
    if m:
        num, den = _fraction(m.group(2)), _fraction(m.group(3))
        return (-1 if m.group(1) == "-" else 1) * num / den if num is not None and den else None
    m = re.fullmatch(r"([-+]?\d+)\\frac\{(\d+)\}\{(\d+)\}", s)  # mixed number 2\frac{1}{2}
    if m and int(m.group(3)):
        whole = int(m.group(1))
        frac = Fraction(int(m.group(2)), int(m.group(3)))
        return whole - frac if m.group(1).startswith("-") else whole + frac
    m = re.fullmatch(rf"({_NUM})\s*(?:\*|\\times|\\cdot)\s*10\^\{{?([-+]?\d+)\}}?", s)  # 1.2\times10^{3}
    if m and len(m.group(2)) < 5 and abs(int(m.group(2))) <= MAX_DIGITS:
        a = _fraction(m.group(1))
        return None if a is None else a * Fraction(10) ** int(m.group(2))
    m = re.fullmatch(r"([-+]?)(\d+)\^(?:\{(\d+)\}|(\d))", s)  # 2^{10}, 10^{400}
    if m:
        value = _int_power(m.group(2), m.group(3) or m.group(4))
        return None if value is None else (-value if m.group(1) == "-" else value)
    m = re.fullmatch(r"(\d+)!", s)  # 1000!
    if m and len(m.group(1)) < 6 and int(m.group(1)) <= MAX_FACTORIAL:
        return Fraction(math.factorial(int(m.group(1))))
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
    if not s or len(s) > MAX_ANSWER_CHARS:
        return None
    percent = False
    if s.endswith("%"):
        s, percent = s[:-1].strip(), True
    elif s.endswith("percent"):
        s, percent = s[:-len("per cent" if s.endswith("per cent") else "percent")].strip(), True
    value = _plain_number(s)
    unit = False
    if value is None:
        m = re.match(rf"({_NUM}|[-+]?\\frac\{{{_NUM}\}}\{{{_NUM}\}}|{_NUM}/{_NUM})\s*", s)
        rest = s[m.end():] if m else ""
        if not m or not rest or not _UNIT_WORDS.fullmatch(rest):
            return None
        # "2x" or "3pi" is an expression, not a number with a unit; units need a space or a known name
        if not s[m.end(1):m.end(1) + 1].isspace() and not _known_unit(rest):
            return None
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
FUNCS = ("arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sin", "cos", "tan", "cot", "sec", "csc",
         "exp", "log", "ln")
MATH_WORDS = {"sqrt", "pi", "oo", "inf", "exp", "log", "ln", *FUNCS}


def _known_unit(rest: str) -> bool:
    word = rest.strip().split(" ")[0].lower()
    letters = re.match(r"[a-z]*", word).group(0)
    return word in _UNITS or (len(letters) >= 3 and letters not in MATH_WORDS)


def close(a: Fraction, b: Fraction, rel_tol: float) -> bool:
    """Exact comparison, with a relative tolerance only when both values are below ``LARGE``.

    >>> close(Fraction(12), Fraction(120001, 10000), 1e-4), close(Fraction(10) ** 400, Fraction(5), 1e-4)
    (True, False)
    """
    if a == b:
        return True
    big = max(abs(a), abs(b))
    if big >= LARGE:
        return False
    diff = abs(a - b)
    return diff <= Fraction(rel_tol) * big or diff <= Fraction(1, 10 ** 12)


def numbers_equal(p: _Num, g: _Num, rel_tol: float, percent: bool) -> bool:
    """Two parsed numbers; with ``percent``, ``50`` answers ``50%`` (one side wrote ``%``, the other not)."""
    if close(p.value, g.value, rel_tol):
        return True
    if not percent or p.percent == g.percent:
        return False
    if g.percent:  # values are already fractions of 1, so "0.5" for "50%" matched above
        return close(p.value / 100, g.value, rel_tol)
    return close(p.value * 100, g.value, rel_tol)


_LAST_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:/\d+)?")


def last_number(text: str) -> str | None:
    """The last number written in a sentence (thousands separators kept out), or None.

    >>> last_number("She makes $18 every day.")
    '18'
    """
    text = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), text)
    last = None
    for m in _LAST_NUMBER.finditer(text):
        last = m
    return last.group(0) if last else None
