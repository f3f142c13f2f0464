"""A safe calculator for arithmetic tool calls (GSM8K-style ``<<48/2=24>>`` expressions).

The expression is tokenized and parsed by a small recursive-descent parser; nothing is ever passed to
``eval``/``exec``. Arithmetic is exact (``fractions.Fraction``) except for roots that are not rational,
which fall back to ``float``. Sizes are bounded so that no expression can exhaust memory or CPU.

Grammar (Python precedence; ``^`` is accepted as a synonym of ``**``)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/" | "//" | "%") unary)*
    unary  := ("+" | "-") unary | power
    power  := atom (("**" | "^") unary)?
    atom   := NUMBER | "(" expr ")"
    NUMBER := digits ["." digits] | "." digits, optionally followed by an exponent "e[+-]digits"
"""

from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from umi_lab.tools.exact_arith import (  # noqa: F401  (the limits and CalculatorError are public here too)
    MAX_BITS,
    MAX_EXPONENT,
    MAX_LITERAL_DIGITS,
    MAX_SCI_EXPONENT,
    CalculatorError,
    Number,
    binary,
    parse_number,
)
from umi_lab.tools.registry import (
    OK,
    TOOL_ERROR,
    FunctionRegistry,
    Observation,
    ToolRegistry,
    ToolSpec,
)

MAX_EXPRESSION_CHARS = 2000     # longer input is refused before parsing
MAX_DEPTH = 60                  # nesting of parentheses / unary signs / powers


class CalculatorSyntaxError(CalculatorError):
    """The text is not an arithmetic expression this calculator accepts (names, strings, bad tokens)."""


_UNICODE = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "\u00a0": " "})
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<op>\*\*|//|[-+*/%^()])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str   # "number" | "op" | "end"
    text: str
    pos: int


def _describe_bad_char(text: str, pos: int) -> str:
    ch = text[pos]
    if ch.isalpha() or ch == "_":
        word = re.match(r"[A-Za-z_]\w*", text[pos:])
        name = word.group(0) if word else ch
        return f"names and function calls are not allowed: {name!r} at position {pos}"
    if ch in "'\"":
        return f"strings are not allowed (quote at position {pos})"
    if ch == ",":
        return f"commas are not allowed (write numbers without thousands separators) at position {pos}"
    if ch == ".":
        return f"attribute access or a malformed number at position {pos}"
    if ch in "[]{}":
        return f"brackets {ch!r} are not allowed; use parentheses (position {pos})"
    if ch == "=":
        return f"'=' is not allowed inside an expression (position {pos})"
    return f"unexpected character {ch!r} at position {pos}"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CalculatorSyntaxError(_describe_bad_char(text, pos))
        kind = m.lastgroup
        if kind != "space":
            tokens.append(_Token(kind, m.group(0), pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalculatorSyntaxError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")

    def parse(self) -> Number:
        if self.peek().kind == "end":
            raise CalculatorSyntaxError("empty expression")
        value = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            what = "number" if tok.kind == "number" else f"{tok.text!r}"
            raise CalculatorSyntaxError(f"unexpected {what} at position {tok.pos}")
        return value

    def expr(self) -> Number:
        value = self.term()
        while self.peek().text in ("+", "-"):
            op = self.take().text
            value = binary(op, value, self.term())
        return value

    def term(self) -> Number:
        value = self.unary()
        while self.peek().text in ("*", "/", "//", "%"):
            op = self.take().text
            value = binary(op, value, self.unary())
        return value

    def unary(self) -> Number:
        if self.peek().text in ("+", "-"):
            op = self.take().text
            self.enter()
            value = self.unary()
            self.depth -= 1
            return -value if op == "-" else value
        return self.power()

    def power(self) -> Number:
        base = self.atom()
        if self.peek().text in ("**", "^"):
            self.take()
            self.enter()
            exp = self.unary()
            self.depth -= 1
            return binary("**", base, exp)
        return base

    def atom(self) -> Number:
        tok = self.take()
        if tok.kind == "number":
            return parse_number(tok.text)
        if tok.text == "(":
            self.enter()
            value = self.expr()
            self.depth -= 1
            close = self.take()
            if close.text != ")":
                raise CalculatorSyntaxError(f"missing ')' for '(' at position {tok.pos}")
            return value
        if tok.kind == "end":
            raise CalculatorSyntaxError("expression ends too early (an operand is missing)")
        raise CalculatorSyntaxError(f"unexpected {tok.text!r} at position {tok.pos}")


def evaluate_expression(expr: str) -> Number:
    """Evaluate an arithmetic expression exactly; raise CalculatorError on anything else.

    Returns an int when the value is integral, a Fraction for other rationals, a float only for
    irrational roots. A trailing ``=`` (as in ``48/2=``) is ignored.

    >>> evaluate_expression("48/2")
    24
    >>> evaluate_expression("(1 + 2) * .5")
    Fraction(3, 2)
    """
    if not isinstance(expr, str):
        raise CalculatorError(f"expression must be a string, got {type(expr).__name__}")
    if len(expr) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression too long ({len(expr)} characters, at most {MAX_EXPRESSION_CHARS})")
    text = expr.translate(_UNICODE).strip()
    if text.endswith("="):
        text = text[:-1]
    return _Parser(text).parse()


def format_number(value: Number, max_decimals: int = 6) -> str:
    """Render a result for the observation: exact decimals when short, else rounded to ``max_decimals``.

    >>> format_number(Fraction(3, 2)), format_number(Fraction(1, 3)), format_number(24)
    ('1.5', '0.333333', '24')
    """
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        value = Fraction(value)
    if not isinstance(value, Fraction):
        raise TypeError(f"cannot format {type(value).__name__}")
    if value.denominator == 1:
        return str(value.numerator)
    scaled = round(value * 10 ** max_decimals)
    if scaled == 0:  # tiny but non-zero: scientific notation with 6 significant digits
        with decimal.localcontext() as ctx:
            ctx.prec = 6
            tiny = decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)
        return f"{tiny:.6g}"
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10 ** max_decimals)
    frac_text = str(frac).rjust(max_decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def parse_annotation(annotation: str) -> tuple[str, str]:
    """Split a GSM8K calculator annotation body into (expression, stated result).

    >>> parse_annotation("48/2=24")
    ('48/2', '24')
    """
    expr, sep, stated = annotation.rpartition("=")
    if not sep:
        raise CalculatorSyntaxError(f"annotation has no '=': {annotation!r}")
    return expr.strip(), stated.strip()


def matches_stated(value: Number, stated: str) -> bool:
    """Whether ``value`` equals the stated number, exactly or when rounded to the stated decimals.

    >>> matches_stated(Fraction(10, 3), "3.33"), matches_stated(Fraction(10, 3), "3.4")
    (True, False)
    """
    try:
        target = evaluate_expression(stated)
    except CalculatorError:
        return False
    if value == target:
        return True
    decimals = len(stated.split(".", 1)[1]) if "." in stated else 0
    step = Fraction(1, 10 ** decimals)
    return abs(Fraction(value) - Fraction(target)) <= step / 2


def _calculate(expression: str) -> Observation:
    try:
        value = evaluate_expression(expression)
    except CalculatorSyntaxError as e:
        return ToolRegistry.bad_arguments("calculator", str(e))
    except CalculatorError as e:
        return Observation.make(TOOL_ERROR, error=f"calculator error: {e}")
    return Observation.make(OK, response=format_number(value))


class CalculatorRegistry(FunctionRegistry):
    """One tool, ``calculator``: ``{"expression": "48/2"}`` → response ``"24"``.

    >>> CalculatorRegistry().call("calculator", '{"expression": "48/2"}').text
    '{"error": "", "response": "24"}'
    """

    def __init__(self) -> None:
        super().__init__([ToolSpec(
            "calculator",
            "Evaluate an arithmetic expression with + - * / // % ** and parentheses; returns the number.",
            {"expression": ("string", "the arithmetic expression, e.g. (48+24)/2", True)},
            _calculate,
        )])
