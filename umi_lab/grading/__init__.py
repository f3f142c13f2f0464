"""Maths answer grading: is a predicted answer what the reference answer says?

The strict default treats as equal what a careful human grader would, in this order:

1. **extraction** (``extract``): the last ``\\boxed{}``, the text after ``####`` (GSM8K), after "the (final)
   answer is", or after a ``conclusion:`` tag; surrounding ``$``, ``\\(\\)`` and a final full stop dropped;
2. **normalisation** (``normalise``): ``\\dfrac``/``\\tfrac`` → ``\\frac``, ``\\left``/``\\right``, spacing
   commands, ``\\text{}``-like wrappers, degrees, currency signs, thousands separators, a leading ``x =``;
3. **numbers**: exact rationals (``0.5`` = ``1/2`` = ``\\frac{1}{2}`` = ``50%`` of 1); a relative tolerance
   of 1e-4 only for finite values below 10^300 (``10^{400}``, ``2^{2000}``, ``1000!`` compare exactly);
   ``\\infty`` equals only an infinity of the same sign; units and words after a number are ignored;
4. **structures**: tuples and intervals element by element (bracket kinds must agree), sets and lists of
   solutions in any order, matrices cell by cell, equations side by side, unions of intervals;
5. **symbols**: sympy equivalence in a worker process, refusing huge powers/factorials, within a time budget.

Bounds: extraction is linear; an answer over 1,000 characters compares as text; one comparison does at
most 2,000 element steps and ``timeout_s`` seconds of sympy. ``compat="tora"`` applies ToRA's rules instead
(``tora``; every difference is listed in ``docs/grading.md``).

CLI: ``python -m umi_lab grade-answers FILE.jsonl [--pred-key KEY --gold-key KEY] [--compat tora]``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from umi_lab.grading.compare import Budget, equal_normalised
from umi_lab.grading.extract import MAX_ANSWER_CHARS, extract_answer, last_boxed_content
from umi_lab.grading.files import add_cli, detect_keys, grade_file, grade_records, iter_jsonl
from umi_lab.grading.normalise import last_number, normalize_answer, parse_number
from umi_lab.grading.settings import GradeSettings
from umi_lab.grading.symbolic import SympyWorker, to_sympy_text
from umi_lab.grading.tora import tora_equal, tora_extract, tora_gold, tora_strip

__all__ = ["Fraction", "GradeSettings", "MAX_ANSWER_CHARS", "SympyWorker", "add_cli", "answers_equal",
           "detect_keys", "extract_answer", "grade_file", "grade_records", "iter_jsonl", "last_boxed_content",
           "last_number", "normalize_answer", "parse_number", "to_sympy_text", "tora_extract", "tora_strip"]


def answers_equal(prediction: Any, reference: Any, settings: GradeSettings | None = None) -> bool:
    """Whether ``prediction`` answers ``reference`` (both raw outputs or answers; see the module doc).

    >>> answers_equal("The answer is $1,000.", "1000")
    True
    >>> answers_equal("\\\\dfrac{1}{2}", "0.5")
    True
    >>> answers_equal("5", "\\\\infty")
    False
    >>> answers_equal("5", "500", GradeSettings(compat="tora"))
    True
    """
    settings = settings or GradeSettings()
    if isinstance(prediction, (list, tuple)):
        prediction = prediction[0] if prediction else None
    if prediction is None:
        return False
    if isinstance(reference, (list, tuple)):
        return any(answers_equal(prediction, r, settings) for r in reference)
    budget = Budget(settings)
    if settings.compat == "tora":
        pred = tora_extract(prediction) if settings.raw_predictions else tora_strip(prediction)
        return tora_equal(pred, tora_gold(reference), settings, budget)
    p, g = normalize_answer(extract_answer(prediction)), normalize_answer(extract_answer(reference))
    if not g:
        return not p
    return equal_normalised(p, g, settings, budget)
