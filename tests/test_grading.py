"""Maths answer grading: golden equal / not-equal cases, extraction, files, CLI, sympy time limit."""

from __future__ import annotations

import json
import time

import pytest

from umi_lab import grading
from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.grading import (
    GradeSettings,
    SympyWorker,
    answers_equal,
    extract_answer,
    grade_file,
    grade_records,
    last_boxed_content,
    normalize_answer,
    parse_number,
)

EQUAL = [
    # thousands separators, currency, trailing zeros
    ("1,000", "1000"), ("$1,000.00", "1000"), ("\\$18", "18"), ("18.00", "18"), ("3.0", "3"), ("1{,}000", "1000"),
    ("1\\,000", "1000"), ("1 000 000", "1000000"), ("-$5", "-5"), ("0.50", "0.5"), (".5", "0.5"),
    ("12,345,678", "12345678"),
    # fractions vs decimals, mixed numbers, scientific notation
    ("\\frac{1}{2}", "0.5"), ("\\dfrac{3}{4}", "0.75"), ("\\tfrac12", "1/2"), ("3/4", "\\frac34"),
    ("-\\frac{1}{2}", "-0.5"), ("\\frac{-1}{2}", "-1/2"), ("2\\frac{1}{2}", "5/2"), ("1e3", "1000"),
    ("1.5\\times10^{3}", "1500"), ("0.3333333", "1/3"),
    # percentages
    ("50\\%", "0.5"), ("50%", "50"), ("50", "50\\%"), ("12.5 percent", "12.5"), ("0.05", "5%"), ("5", "5\\%"),
    # units, degrees, words after a number
    ("18 dollars", "18"), ("5\\text{ cm}", "5"), ("5\\mbox{ inches}", "5"), ("10^\\circ", "10"), ("30^{\\circ}", "30"),
    ("45°", "45"), ("30 degrees", "30"), ("7 apples", "7"), ("10 m^2", "10"), ("12cm", "12"),
    # text wrappers and extraction
    ("The answer is 42.", "42"), ("The final answer is $\\boxed{42}$.", "42"), ("answer: 7", "7"),
    ("She makes $18 every day.", "#### 18"), ("#### 72", "72"), ("\\boxed{\\text{(A)}}", "A"), ("(B)", "b"),
    ("\\text{Monday}", "monday"), ("Yes", "yes"), ("$\\frac{1}{2}$", "1/2"), ("\\(x+1\\)", "x+1"),
    ("x = 5", "5"), ("k=-3", "-3"), ("f(x) = 2x+1", "2x+1"), ("conclusion: 12</s>", "12"),
    # LaTeX tidying
    ("\\left( 3, 4 \\right)", "(3,4)"), ("\\displaystyle\\frac{1}{3}", "1/3"), ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}"),
    ("\\sqrt2", "\\sqrt{2}"), ("\\boxed{\\dfrac{\\pi}{4}}", "\\frac{\\pi}{4}"),
    # intervals, tuples, sets, lists, matrices
    ("(-\\infty, 3]", "(-\\infty,3]"), ("\\left[ -2, 5 \\right)", "[-2,5)"), ("(0.5, 2)", "(\\frac12, 2)"),
    ("\\{1,2\\}", "\\{2,1\\}"), ("2, 1", "1,2"), ("-3, 3", "3, -3"), ("(3)", "3"), ("3", "(3)"), ("x+1", "(x+1)"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("\\begin{pmatrix}0.5&1\\\\2&3\\end{pmatrix}", "\\begin{pmatrix}\\frac12&1\\\\2&3\\end{pmatrix}"),
    # symbolic equality
    ("x^2-1", "(x-1)(x+1)"), ("\\sqrt{8}", "2\\sqrt{2}"), ("\\pi/2", "\\frac{\\pi}{2}"), ("y=2x+1", "y=1+2x"),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), ("2\\sqrt{3}", "\\sqrt{12}"), ("3\\pi", "\\pi\\cdot3"),
    ("\\frac{x}{2}+\\frac{x}{3}", "\\frac{5x}{6}"), ("a^{2}b", "ba^2"),
    ("(1,500)", "(1, 500)"), ("3.1416", "\\pi"), ("(-\\infty, 0) \\cup (0, \\infty)", "(0,\\infty)\\cup(-\\infty,0)"),
    ("x \\in [1, 2]", "[1,2]"), ("1011_{2}", "1011_2"), ("2xy", "2yx"), ("\\frac{1}{2}\\pi", "\\frac{\\pi}{2}"),
    ("575\\text{students}", "575"), ("\\frac{\\sqrt{2}}{2} \\approx 0.707", "\\frac{1}{\\sqrt2}"), ("007", "7"),
    ("(t+1)(t+1)", "(t+1)^2"), ("\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}", "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}"), ("1,000 dollars", "1000"),
    ("1e400", "10^{400}"), ("2^{10}", "1024"), ("9*2=18", "18"), ("16-3-4 = 9", "#### 9"), ("The answer is: 7 apples.", "7"), ("x=1, x=2", "1,2"), ("1\\pm\\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}"), ("\\pm 3", "3, -3"), ("1 1/2", "1.5"),
    ("0.\\overline{3}", "1/3"), ("0.1\\overline{6}", "\\frac16"), ("\\{1, 2\\}", "2, 1"),
    # list-valued predictions are graded by their first element
    (["5", "6"], "5"),
]

NOT_EQUAL = [
    ("(1,2]", "(1,2)"), ("[1,2]", "(1,2)"), ("2x", "2"), ("10.5", "10"), ("1/3", "0.33"), ("3", "-3"),
    ("\\sqrt{2}", "2"), ("5\\sqrt{2}", "5"), ("(1,2)", "(2,1)"), ("1,2", "1,2,3"), ("x+1", "x-1"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}"), ("A", "B"), ("", "3"),
    ("The answer is 17.", "18"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("0", "1"), ("1000", "100"), ("12.5", "12.6"),
    ("y=2x+1", "y=2x-1"), (None, "3"), ("Monday", "Dynamo"), ("(1,500)", "(1500)"), ("3.14", "\\pi"),
    ("8 apples and 2 oranges", "8"), ("3pi", "3"), ("\\sqrt{5},-\\sqrt{7}", "\\sqrt{5}"), ("7", "7.001"), ("even", "\\text{evens}"),
    ("1\\pm\\sqrt{2}", "1+\\sqrt{2}"), ("\\{1,2\\}", "1"), ("(1,2)", "1,2"), ("9*2=18", "9"), ("x^2+1", "1"), ("0.0005", "5%"), ("500", "5%"), ("5%", "0.0005"), ("10^{10^{10}}", "10"), ("1.00001e400", "1e400"), ("1e999999999", "1"), ("0.\\overline{3}", "0.3"), ([], "3"), (["6", "5"], "5"), ("no", "yes"), ("x", "y"), ("\\pi", "3"),
]


@pytest.mark.parametrize("pred,gold", EQUAL)
def test_equal_cases(pred, gold):
    assert answers_equal(pred, gold), (pred, gold, normalize_answer(extract_answer(pred)),
                                       normalize_answer(extract_answer(gold)))


@pytest.mark.parametrize("pred,gold", NOT_EQUAL)
def test_not_equal_cases(pred, gold):
    assert not answers_equal(pred, gold)


def test_grading_is_symmetric_on_plain_answers():
    for pred, gold in EQUAL[:40]:
        if isinstance(pred, str) and not pred.startswith(("The", "She", "answer", "conclusion", "####")):
            assert answers_equal(gold, pred), (gold, pred)


def test_extraction_and_normalisation_golden():
    assert extract_answer("Thus $\\boxed{\\frac{1}{2}}$ is it, not \\boxed{3}") == "3"
    assert last_boxed_content("\\boxed{\\frac{a}{b^{2}}}") == "\\frac{a}{b^{2}}"
    assert last_boxed_content("\\boxed 5") == "5"
    assert last_boxed_content("no box") is None
    assert extract_answer("He pays 2*3=6.\n#### 6") == "6"
    assert extract_answer(["7", "8"]) == "7"
    assert extract_answer(12) == "12"
    assert normalize_answer("\\$1,000.00") == "1000.00"
    assert normalize_answer("x = \\left( 3, 4 \\right)") == "(3,4)"
    assert normalize_answer("\\dfrac12") == "\\frac{1}{2}"
    assert normalize_answer("5\\text{ cm}") == "5 cm"
    assert parse_number("50%").value == grading.Fraction(1, 2)
    assert parse_number("2x") is None
    assert parse_number("7 apples").unit


def test_tolerance_is_configurable():
    assert answers_equal("12.0001", "12")
    assert not answers_equal("12.0001", "12", GradeSettings(rel_tol=1e-9))
    assert not answers_equal("50", "0.5", GradeSettings(percent=False))


def test_gsm8k_references_grade_their_own_answers(shared_data):
    rows = [json.loads(x) for x in (shared_data / "gsm8k" / "test.jsonl").read_text().splitlines()[:60]]
    records = [{"pred": f"The answer is {r['answer'].split('####')[-1].strip()}.", "gold": r["answer"]} for r in rows]
    out = grade_records(records, "pred", "gold")
    assert out == {**out, "accuracy": 1.0, "n": 60, "correct": 60}
    wrong = [{"pred": "The answer is 123456789.", "gold": r["answer"]} for r in rows[:20]]
    assert grade_records(wrong, "pred", "gold")["correct"] == 0


def test_math_solutions_grade_their_boxed_answers(shared_data):
    rows = [json.loads(x) for x in (shared_data / "math" / "test.jsonl").read_text().splitlines()[:40]]
    recs = [{"pred": [r["solution"]], "gold": r["solution"]} for r in rows]
    assert grade_records(recs, "pred", "gold")["accuracy"] == 1.0


def test_grade_file_and_cli(tmp_path, capsys):
    path = tmp_path / "preds.jsonl"
    rows = [{"p": "\\frac{1}{2}", "g": "0.5"}, {"p": ["1,000", "x"], "g": "1000"}, {"p": "3", "g": "4"},
            {"p": None, "g": "1"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = grade_file(path, "p", "g")
    assert (out["n"], out["correct"], out["missing_pred"], out["results"]) == (4, 2, 1, [True, True, False, False])
    assert main(["grade-answers", str(path), "--pred-key", "p", "--gold-key", "g"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["accuracy"] == 0.5 and printed["n"] == 4 and printed["correct"] == 2


def test_missing_gold_is_a_located_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"p": "1", "g": "1"}\n{"p": "2"}\n')
    with pytest.raises(DataError) as e:
        grade_file(path, "p", "g")
    assert (e.value.record, e.value.field) == (1, "g") and str(path) in str(e.value)


def _slow(a, b, rel_tol=1e-4):
    time.sleep(30)
    return True


def test_sympy_worker_time_limit(monkeypatch):
    monkeypatch.setattr(grading.symbolic, "_sympy_equal", _slow)
    worker = SympyWorker()
    try:
        assert worker.equal("x", "x", timeout_s=0.2) is None
        assert worker.timeouts == 1 and worker.proc is None
    finally:
        worker.close()
    monkeypatch.undo()
    fresh = SympyWorker()
    try:
        assert fresh.equal("x^2-1", "(x-1)(x+1)", timeout_s=10) is True
    finally:
        fresh.close()
