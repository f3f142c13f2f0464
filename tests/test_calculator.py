"""The safe calculator: golden values, every GSM8K annotation, property-based fuzzing; parse_arguments fuzz."""

import json
import os
import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from umi_lab.tools.calculator import (
    MAX_BITS,
    CalculatorError,
    CalculatorRegistry,
    CalculatorSyntaxError,
    evaluate_expression,
    format_number,
    matches_stated,
    parse_annotation,
)
from umi_lab.tools.registry import BAD_ARGUMENTS, OK, TOOL_ERROR, UNKNOWN_TOOL, ArgumentError, parse_arguments

GOLDEN = [
    ("48/2", 24),
    ("48+24", 72),
    ("2*3+4", 10),
    ("2*(3+4)", 14),
    ("10-4-3", 3),
    ("7//2", 3),
    ("-7//2", -4),
    ("7%3", 1),
    ("-7%3", 2),
    ("2**10", 1024),
    ("2^10", 1024),
    ("2**3**2", 512),
    ("-2**2", -4),
    ("(-2)**2", 4),
    ("2**-2", Fraction(1, 4)),
    ("--3", 3),
    ("+3", 3),
    ("1.20*4", Fraction(24, 5)),
    (".5+.25", Fraction(3, 4)),
    ("0.1+0.2", Fraction(3, 10)),
    ("10/3", Fraction(10, 3)),
    ("5.", 5),
    ("007+1", 8),
    ("1e3", 1000),
    ("2.5E-1", Fraction(1, 4)),
    ("4**0.5", 2),
    ("8**(1/3)", 2),
    ("(9/4)**(1/2)", Fraction(3, 2)),
    ("27**(-2/3)", Fraction(1, 9)),
    ("1**100000", 1),
    ("  ( 3 × 4 ) ÷ 2 − 1 ", 5),
    ("48/2=", 24),
    ("100*(1+0.05)**2", Fraction(441, 4)),
]


@pytest.mark.parametrize("expr, expected", GOLDEN)
def test_golden_values(expr, expected):
    value = evaluate_expression(expr)
    assert value == expected
    assert type(value) is type(expected)  # integral results come back as int, others as Fraction


def test_irrational_root_is_a_float():
    value = evaluate_expression("2**0.5")
    assert isinstance(value, float) and abs(value - 2 ** 0.5) < 1e-15
    assert format_number(value) == "1.414214"


@pytest.mark.parametrize("expr, fragment", [
    ("1/0", "division by zero"),
    ("5//0", "division by zero"),
    ("5%0", "division by zero"),
    ("0**-1", "division by zero"),
    ("(-8)**(1/3)", "no real value"),
    ("2**(2**20)", "exponent"),
    ("10**5000", "too large"),
    ("9" * 500, "too long"),
    ("1e99999", "too large"),
    ("(10**1000)**10", "too large"),
    ("2**0.5**-2000", "too large"),
    ("1+" * 1500 + "1", "too long"),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_math_errors(expr, fragment):
    with pytest.raises(CalculatorError, match=re.escape(fragment)) as info:
        evaluate_expression(expr)
    assert not isinstance(info.value, CalculatorSyntaxError)


@pytest.mark.parametrize("expr, fragment", [
    ("x+1", "names and function calls are not allowed: 'x'"),
    ("sqrt(4)", "'sqrt'"),
    ("__import__('os')", "'__import__'"),
    ("(1).real", "attribute"),
    ("'a'*3", "strings are not allowed"),
    ("3,000+1", "commas"),
    ("[1]", "brackets"),
    ("1=1", "'='"),
    ("", "empty"),
    ("   ", "empty"),
    ("1+", "ends too early"),
    ("(1+2", "missing ')'"),
    ("1+2)", "unexpected ')'"),
    ("2 3", "unexpected number"),
    ("2(3)", "unexpected '('"),
    ("1 $ 2", "unexpected character '$'"),
    ("(" * 100 + "1" + ")" * 100, "nested too deeply"),
    ("-" * 100 + "1", "nested too deeply"),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_syntax_errors(expr, fragment):
    with pytest.raises(CalculatorSyntaxError, match=re.escape(fragment)):
        evaluate_expression(expr)


def test_non_string_input():
    with pytest.raises(CalculatorError, match="must be a string"):
        evaluate_expression(12)


@pytest.mark.parametrize("value, text", [
    (24, "24"), (-3, "-3"), (Fraction(3, 2), "1.5"), (Fraction(-1, 8), "-0.125"), (Fraction(1, 3), "0.333333"),
    (Fraction(2, 3), "0.666667"), (Fraction(-2, 3), "-0.666667"), (Fraction(1, 10 ** 9), "1e-9"), (Fraction(-1, 3 * 10 ** 400), "-3.33333e-401"),
    (Fraction(999999999, 1000000000), "1"), (2.0, "2"), (0.1, "0.1"), (True, "1"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_annotations_and_stated_results():
    assert parse_annotation("48/2=24") == ("48/2", "24")
    assert parse_annotation(" 1.5*2 = 3 ") == ("1.5*2", "3")
    with pytest.raises(CalculatorSyntaxError):
        parse_annotation("48/2")
    assert matches_stated(Fraction(10, 3), "3.33")
    assert not matches_stated(Fraction(10, 3), "3.4")
    assert matches_stated(24, "24.00")
    assert not matches_stated(24, "abc")


def test_every_gsm8k_annotation_parses_and_matches(shared_data):
    """All 27,998 ``<<expr=result>>`` annotations of GSM8K parse; every one gives its stated result."""
    counts = {"train": [0, 0], "test": [0, 0]}
    for split in counts:
        for line in (shared_data / "gsm8k" / f"{split}.jsonl").read_text().splitlines():
            for m in re.finditer(r"<<([^<>]*)>>", json.loads(line)["answer"]):
                expr, stated = parse_annotation(m.group(1))
                value = evaluate_expression(expr)  # raises on any expression that does not parse
                counts[split][0] += 1
                counts[split][1] += matches_stated(value, stated)
    assert counts == {"train": [23716, 23716], "test": [4282, 4282]}


def test_registry_observations():
    reg = CalculatorRegistry()
    assert reg.names() == ["calculator"]
    doc = reg.tool_docs()[0]
    assert doc.input == {"expression": "string, required, the arithmetic expression, e.g. (48+24)/2"}
    obs = reg.call("calculator", '{"expression": "48/2"}')
    assert obs.status == OK and json.loads(obs.text) == {"error": "", "response": "24"}
    obs = reg.call("calculator", {"expression": "10/4"})
    assert obs.status == OK and obs.data == "2.5"
    obs = reg.call("calculator", '{"expression": "1/0"}')
    assert obs.status == TOOL_ERROR and "division by zero" in json.loads(obs.text)["error"]
    obs = reg.call("calculator", '{"expression": "x*2"}')
    assert obs.status == BAD_ARGUMENTS and "'x'" in obs.text
    assert reg.call("calculator", '{"expr": "1"}').status == BAD_ARGUMENTS
    assert reg.call("calculator", '{"expression": 5}').status == BAD_ARGUMENTS
    assert reg.call("calculator", "not json").status == BAD_ARGUMENTS
    assert reg.call("calc", '{"expression": "1"}').status == UNKNOWN_TOOL


# ---------------------------------------------------------------- property-based fuzzing

# UMI_FUZZ_EXAMPLES=5000 runs a deeper fuzz; the default keeps the file fast.
FUZZ = settings(max_examples=int(os.environ.get("UMI_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_random_text_only_raises_calculator_error(text):
    try:
        value = evaluate_expression(text)
    except CalculatorError:
        return
    assert isinstance(value, int | Fraction | float)
    format_number(value)


@FUZZ
@given(st.text(alphabet="0123456789.+-*/%^()eE ", max_size=60))
def test_fuzz_arithmetic_alphabet_only_raises_calculator_error(text):
    try:
        value = evaluate_expression(text)
    except CalculatorError:
        return
    assert isinstance(value, int | Fraction | float)
    format_number(value)


_leaf = st.one_of(
    st.integers(min_value=0, max_value=10 ** 6).map(str),
    st.fractions(min_value=0, max_value=1000, max_denominator=1000).map(
        lambda f: f"{float(f):.3f}".rstrip("0")),
)


def _combine(children):
    ops = st.sampled_from(["+", "-", "*", "/", "//", "%", "**"])
    return st.one_of(
        st.tuples(children, ops, children).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
    )


@FUZZ
@given(st.recursive(_leaf, _combine, max_leaves=12))
def test_fuzz_expression_trees(expr):
    """Random well-formed trees either evaluate to a bounded number or raise CalculatorError."""
    try:
        value = evaluate_expression(expr)
    except CalculatorError:
        return
    if isinstance(value, float):
        assert value == value and abs(value) != float("inf")
    else:
        f = Fraction(value)
        assert f.numerator.bit_length() <= MAX_BITS and f.denominator.bit_length() <= MAX_BITS
    format_number(value)


@FUZZ
@given(st.integers(-10 ** 12, 10 ** 12), st.integers(-10 ** 12, 10 ** 12), st.sampled_from("+-*"))
def test_fuzz_integer_arithmetic_is_exact(a, b, op):
    expected = {"+": a + b, "-": a - b, "*": a * b}[op]
    assert evaluate_expression(f"({a}){op}({b})") == expected


@FUZZ
@given(st.one_of(st.text(max_size=60), st.none(), st.integers(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                                  max_size=3),
                              max_leaves=8).map(json.dumps)))
def test_fuzz_parse_arguments_returns_dict_or_argument_error(arguments):
    """parse_arguments: arbitrary input gives a dict or ArgumentError, never another exception."""
    try:
        value = parse_arguments(arguments)
    except ArgumentError:
        return
    assert isinstance(value, dict)
