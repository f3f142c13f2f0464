"""Bounded exact arithmetic for the calculator: number literals, + - * / // % and powers on ``int`` /
``Fraction`` (``float`` only for irrational roots), every intermediate value size-checked so that no
expression can exhaust memory or CPU.

>>> binary("/", 48, 2), power(Fraction(1, 4), Fraction(1, 2))
(24, Fraction(1, 2))
"""

from __future__ import annotations

import math
from fractions import Fraction

Number = int | Fraction | float

MAX_LITERAL_DIGITS = 400        # digits in one number literal
MAX_SCI_EXPONENT = 400          # |e| in 1e400
MAX_BITS = 4096                 # numerator and denominator of every intermediate value (~1233 digits)
MAX_EXPONENT = 10_000           # |b| in a ** b


class CalculatorError(ValueError):
    """The expression cannot be evaluated; the message says why (shown to the agent)."""


def check_size(value: Number) -> Number:
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


def parse_number(text: str) -> Number:
    """A number literal (``"1.5e3"``) as an exact value; too many digits or too large an exponent is refused."""
    mantissa, _, exp_text = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    if digits > MAX_LITERAL_DIGITS:
        raise CalculatorError(f"number literal too long ({digits} digits, at most {MAX_LITERAL_DIGITS})")
    exponent = int(exp_text) if exp_text else 0
    if abs(exponent) > MAX_SCI_EXPONENT:
        raise CalculatorError(f"exponent in {text!r} too large (at most {MAX_SCI_EXPONENT})")
    value = Fraction(mantissa) * Fraction(10) ** exponent
    return check_size(value)


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


def power(base: Number, exp: Number) -> Number:
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
        return check_size(b ** e)
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
            return power(Fraction(num, den), p)
    return _float_power(float(b), float(exp_f))


def _float_power(base: float, exp: float) -> float:
    if base < 0 and not exp.is_integer():
        raise CalculatorError("a negative number to a fractional power has no real value")
    if base == 0 and exp < 0:
        raise CalculatorError("division by zero (zero to a negative power)")
    try:
        return check_size(math.pow(base, exp))
    except OverflowError:
        raise CalculatorError("result too large (overflow)") from None


def binary(op: str, a: Number, b: Number) -> Number:
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
            result = power(a, b)
    except OverflowError:
        raise CalculatorError("result too large (overflow)") from None
    return check_size(result)
