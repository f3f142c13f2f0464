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

from umi_lab.tools.registry import (
    OK,
    TOOL_ERROR,
    FunctionRegistry,
    Observation,
    ToolRegistry,
    ToolSpec,
)

Number = int | Fraction | float

MAX_EXPRESSION_CHARS = 2000     # longer input is refused before parsing
MAX_DEPTH = 60                  # nesting of parentheses / unary signs / powers
MAX_LITERAL_DIGITS = 400        # digits in one number literal
MAX_SCI_EXPONENT = 400          # |e| in 1e400
MAX_BITS = 4096                 # numerator and denominator of every intermediate value (~1233 digits)
MAX_EXPONENT = 10_000           # |b| in a ** b


class CalculatorError(ValueError):
    """The expression cannot be evaluated; the message says why (shown to the agent)."""


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


def _check_size(value: Number) -> Number:
    """Raise when a value is too large to keep computing with; normalize integral Fractions to int."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculatorError("result is not a finite number (overflow)")
        return value
    if isinstance(value, Fraction):
        if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
            raise CalculatorError(f"number too large (more than {MAX_BITS} bits)")
        return value.numerator if value.denominator == 1 else value
    if value.bit_length() > MAX_BITS:
        raise CalculatorError(f"number too large (more than {MAX_BITS} bits)")
    return value


def _parse_number(text: str) -> Number:
    mantissa, _, exp_text = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    if digits > MAX_LITERAL_DIGITS:
        raise CalculatorError(f"number literal too long ({digits} digits, at most {MAX_LITERAL_DIGITS})")
    exponent = int(exp_text) if exp_text else 0
    if abs(exponent) > MAX_SCI_EXPONENT:
        raise CalculatorError(f"exponent in {text!r} too large (at most {MAX_SCI_EXPONENT})")
    value = Fraction(mantissa) * Fraction(10) ** exponent
    return _check_size(value)


def _integer_root(n: int, k: int) -> int | None:
    """The exact k-th root of n >= 0 when it is an integer, else None."""
    if n < 2:
        return n
    guess = round(n ** (1.0 / k)) if n.bit_length() < 100 else _newton_root(n, k)
    for r in (guess - 1, guess, guess + 1):
        if r >= 0 and r ** k == n:
            return r
    return None


def _newton_root(n: int, k: int) -> int:
    x = 1 << ((n.bit_length() + k - 1) // k)
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _power(base: Number, exp: Number) -> Number:
    if isinstance(exp, float) or isinstance(base, float):
        return _float_power(float(base), float(exp))
    exp_f = Fraction(exp)
    if exp_f.denominator == 1:
        e = exp_f.numerator
        if abs(e) > MAX_EXPONENT and base not in (0, 1, -1):
            raise CalculatorError(f"exponent {e} too large (at most {MAX_EXPONENT} in absolute value)")
        if base == 0 and e < 0:
            raise CalculatorError("division by zero (zero to a negative power)")
        b = Fraction(base)
        size = max(b.numerator.bit_length(), b.denominator.bit_length())
        if size > 1 and (size - 1) * abs(e) > MAX_BITS:
            raise CalculatorError(f"result too large (more than {MAX_BITS} bits)")
        return _check_size(b ** e)
    # Rational exponent p/q: exact when the base is a perfect q-th power, otherwise a float.
    if base < 0:
        raise CalculatorError("a negative number to a fractional power has no real value")
    if base == 0:
        if exp_f < 0:
            raise CalculatorError("division by zero (zero to a negative power)")
        return 0
    b = Fraction(base)
    q, p = exp_f.denominator, exp_f.numerator
    if q <= 64:
        num, den = _integer_root(b.numerator, q), _integer_root(b.denominator, q)
        if num is not None and den is not None:
            return _power(Fraction(num, den), p)
    return _float_power(float(b), float(exp_f))


def _float_power(base: float, exp: float) -> float:
    if base < 0 and not exp.is_integer():
        raise CalculatorError("a negative number to a fractional power has no real value")
    if base == 0 and exp < 0:
        raise CalculatorError("division by zero (zero to a negative power)")
    try:
        return _check_size(math.pow(base, exp))
    except OverflowError:
        raise CalculatorError("result too large (overflow)") from None


def _binary(op: str, a: Number, b: Number) -> Number:
    try:
        if op == "+":
            result = a + b
        elif op == "-":
            result = a - b
        elif op == "*":
            result = a * b
        elif op == "/":
            if b == 0:
                raise CalculatorError("division by zero")
            result = a / b if isinstance(a, float) or isinstance(b, float) else Fraction(a) / Fraction(b)
        elif op == "//":
            if b == 0:
                raise CalculatorError("division by zero (floor division)")
            result = a // b
        elif op == "%":
            if b == 0:
                raise CalculatorError("division by zero (modulo)")
            result = a % b
        else:  # "**" / "^"
            result = _power(a, b)
    except OverflowError:
        raise CalculatorError("result too large (overflow)") from None
    return _check_size(result)


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
            value = _binary(op, value, self.term())
        return value

    def term(self) -> Number:
        value = self.unary()
        while self.peek().text in ("*", "/", "//", "%"):
            op = self.take().text
            value = _binary(op, value, self.unary())
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
            return _binary("**", base, exp)
        return base

    def atom(self) -> Number:
        tok = self.take()
        if tok.kind == "number":
            return _parse_number(tok.text)
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
