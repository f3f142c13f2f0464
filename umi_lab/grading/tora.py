"""``--compat tora``: the grading rules of ToRA's evaluation (github.com/microsoft/ToRA, ``src/eval/grader.py``
and ``src/utils/parser.py``), re-implemented from their description so that ToRA's published accuracies can
be reproduced from its released output files. Every rule that differs from our strict default is listed in
``docs/grading.md``. Our safety bounds stay on in this mode (answer size cap, sympy refusal and time budget,
no float overflow counted as equality).

Pipeline: gold → (last ``boxed`` content, or the text after ``####``) → ``tora_strip``; prediction → (with
``raw_predictions``: ``tora_extract``) → ``tora_strip``; then ``tora_equal``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from umi_lab.grading.extract import MAX_ANSWER_CHARS
from umi_lab.grading.settings import GradeSettings

TORA_REL_TOL = 1e-4  # numbers
TORA_SYMBOLIC_REL_TOL = 1e-3  # numeric values of sympy expressions
_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")


def _drop_lazy_group(s: str, opener: str, anchored_end: bool) -> str:
    """Remove ``opener…}`` groups: up to the next ``}`` (``anchored_end`` False), or the first ``opener``
    through a final ``}`` (True). Linear scans replacing ToRA's lazy regexes."""
    if anchored_end:
        k = s.find(opener)
        return s[:k] if k >= 0 and s.endswith("}") and len(s) - 1 >= k + len(opener) else s
    out, k = [], 0
    while True:
        start = s.find(opener, k)
        end = s.find("}", start + len(opener)) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(s[k:])
            return "".join(out)
        out.append(s[k:start])
        k = end + 1


def _fix_fracs(s: str) -> str:
    pieces = s.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "\\frac"
        if piece.startswith("{"):
            out += piece
        elif len(piece) < 2:
            return s
        elif piece[1] != "{":
            out += "{" + piece[0] + "}{" + piece[1] + "}" + piece[2:]
        else:
            out += "{" + piece[0] + "}" + piece[1:]
    return out


def _fix_slash(s: str) -> str:
    parts = s.split("/")
    if len(parts) != 2:
        return s
    try:
        a = parts[0] if "sqrt" in parts[0] else str(int(parts[0]))
        b = parts[1] if "sqrt" in parts[1] else str(int(parts[1]))
    except ValueError:
        return s
    return "\\frac{" + a + "}{" + b + "}" if s == f"{a}/{b}" else s


def tora_strip(s: Any) -> str:
    """ToRA's answer normalisation (its ``strip_string`` rules, in order).

    >>> tora_strip("x = \\\\dfrac12 \\\\text{ cm}.")
    '\\\\frac{1}{2}'
    >>> tora_strip("50\\\\%")
    '50'
    """
    s = str(s).strip().replace("\n", "").rstrip(".")
    if len(s) > MAX_ANSWER_CHARS:
        return s
    s = s.replace("\\!", "").replace("\\ ", "")
    s = s.replace("\\\\", "\\").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\left", "").replace("\\right", "")
    unitless = _drop_lazy_group(s, "\\text{", anchored_end=True).strip()
    if unitless:
        s = unitless
    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\text", "").replace("x\\in", "")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    s = s.replace("\\cdot", "")
    s = s.replace("infinity", "\\infty")
    if "\\infty" not in s:
        s = s.replace("inf", "\\infty")
    s = s.replace("+\\inity", "\\infty")
    s = s.replace("and", "").replace("\\mathbf", "")
    s = _drop_lazy_group(s, "\\mbox{", anchored_end=False)
    if "j" in s and "i" not in s:
        s = s.replace("j", "i")
    s = re.sub(r"(\d+)\.0+([^\d])", r"\1\2", s)
    s = re.sub(r"(\d+)\.0+$", r"\1", s)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    return _fix_slash(_fix_fracs(s))


def _after_boxed(text: str) -> str:
    rest = text[text.rindex("boxed") + len("boxed"):]
    if not rest.startswith("{"):
        return rest.split("$")[0].strip()
    depth, end = 1, len(rest)
    for k in range(1, len(rest)):
        depth += (rest[k] == "{") - (rest[k] == "}")
        if depth == 0:
            end = k
            break
    return rest[1:end]


def tora_extract(text: Any) -> str:
    """ToRA's answer extraction from a full model output, followed by ``tora_strip``.

    Order: the last ``boxed`` group; after the last "he answer is"; the last ```output block; else the
    last number (commas removed). Then the first line, one leading ``:``, one trailing ``.`` or ``/`` dropped.

    >>> tora_extract("so it is 5.\\n```output\\n18\\n```\\nThus 18 dollars.")
    '18'
    """
    text = "" if text is None else str(text)
    if "boxed" in text:
        pred = _after_boxed(text)
    elif "he answer is" in text:
        pred = text[text.rindex("he answer is") + len("he answer is"):].strip()
    elif "```output" in text and text[text.rindex("```output") + 9:].split("```")[0].strip():
        pred = text[text.rindex("```output") + 9:].split("```")[0].strip()
    else:
        last = None
        for m in _LAST_NUMBER.finditer(text.replace(",", "")):
            last = m
        pred = last.group(0) if last else ""
    pred = pred.split("\n")[0]
    if pred.startswith(":"):
        pred = pred[1:]
    if pred.endswith("."):
        pred = pred[:-1]
    if pred.endswith("/"):
        pred = pred[:-1]
    return tora_strip(pred)


def tora_gold(reference: Any) -> str:
    """A reference as ToRA reads it: a MATH solution's boxed answer or GSM8K's ``#### x``, normalised."""
    text = str(reference)
    if "boxed" in text:
        return tora_extract(text)
    if "####" in text:
        return tora_strip(text[text.rindex("####") + 4:])
    return tora_strip(text)


def _float(s: str) -> float | None:
    try:
        value = float(s.replace(",", ""))
    except ValueError:
        return None
    if math.isinf(value) and "inf" not in s.lower():
        return math.nan  # an overflowing literal (1e999, 400 digits) is not infinity: never equal
    return value


def _strip_brackets(s: str) -> str:
    for ch in "{}()":
        s = s.replace(ch, "")
    return s


def tora_equal(pred: Any, ref: Any, settings: GradeSettings, budget: Any, depth: int = 0) -> bool:
    """ToRA's ``math_equal`` rules on two normalised answers (see ``docs/grading.md``)."""
    if not budget.step() or depth > 4:
        return False
    p, r = str(pred).strip(), str(ref).strip()
    if p and p == r:
        return True
    pf, rf = _float(p), _float(r)
    if pf is not None and rf is not None:  # 1. numbers: equal within 1e-4, or equal to gold/100 or gold*100
        candidates = (rf / 100, rf, rf * 100) if settings.percent else (rf,)
        return any(math.isclose(c, pf, rel_tol=TORA_REL_TOL) for c in candidates if not math.isnan(c))
    if not p or len(p) > MAX_ANSWER_CHARS or len(r) > MAX_ANSWER_CHARS:
        return bool(p) and p == r
    ps, rs = p, r  # 2. ignore (), {} and, when the prediction is bracketed, the outer brackets
    if (p[0] == "[" and p[-1] == "]" and not r.startswith("(")) or (p[0] == "(" and p[-1] == ")"
                                                                    and not r.startswith("[")):
        ps, rs = p.strip("[]()"), r.strip("[]()")
    if _strip_brackets(ps) == _strip_brackets(rs):
        return True
    same_kind = (p[0], p[-1]) == (r[:1], r[-1:]) and (p[0], p[-1]) in (("[", "]"), ("(", ")"))
    if same_kind and len(p) > 1 and len(r) > 1:  # 3. tuples split at every comma, element by element
        pp, rp = p[1:-1].split(","), r[1:-1].split(",")
        if len(pp) == len(rp) and all(tora_equal(a, b, settings, budget, depth + 1) for a, b in zip(pp, rp)):
            return True
    if not settings.symbolic or not budget.step():  # 4. sympy: difference simplifies to 0 or values within 1e-3
        return False
    from umi_lab.grading.symbolic import WORKER

    seconds = budget.sympy_seconds()
    if budget.exhausted:
        return False
    return bool(WORKER.equal(p, r, timeout_s=min(seconds, settings.timeout_s), rel_tol=TORA_SYMBOLIC_REL_TOL))
