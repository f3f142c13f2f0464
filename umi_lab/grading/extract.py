"""Answer extraction: the answer part of a model output or reference solution, in linear time.

Every scan here is one pass over the text (no regex that can backtrack over a long run of spaces, dots or
braces), so a hostile 100 KB output costs milliseconds. An extracted answer longer than
``MAX_ANSWER_CHARS`` is not normalised further: it compares by exact text only (see ``compare``).
"""

from __future__ import annotations

import re
from typing import Any

MAX_ANSWER_CHARS = 1000  # MATH's longest reference answer has 81 characters
_BOX = re.compile(r"\\(?:boxed|fbox)")
_ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)[ \t]*(?:is[ \t]*:?|:|=)\s*", re.I)


def brace_matches(text: str) -> dict[int, int]:
    """Index of each ``{`` → index of its matching ``}`` (unmatched braces are left out), one pass.

    >>> brace_matches("a{b{c}}{")
    {3: 5, 1: 6}
    """
    stack: list[int] = []
    out: dict[int, int] = {}
    for k, ch in enumerate(text):
        if ch == "{":
            stack.append(k)
        elif ch == "}" and stack:
            out[stack.pop()] = k
    return out


def balanced(text: str, start: int, matches: dict[int, int] | None = None) -> tuple[str, int] | None:
    """Content of the ``{...}`` group opening at ``text[start]`` and the index after it, or None.

    >>> balanced("{a{b}}c", 0)
    ('a{b}', 6)
    """
    if start >= len(text) or text[start] != "{":
        return None
    if matches is None:
        depth = 0
        for k in range(start, len(text)):
            depth += (text[k] == "{") - (text[k] == "}")
            if depth == 0:
                return text[start + 1:k], k + 1
        return None
    end = matches.get(start)
    return None if end is None else (text[start + 1:end], end + 1)


def last_boxed_content(text: str) -> str | None:
    """Content of the last ``\\boxed{}``/``\\fbox{}`` (or ``\\boxed 5``); None when there is none.

    >>> last_boxed_content(r"so $\\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    """
    hits = [m.end() for m in _BOX.finditer(text)]
    if not hits:
        return None
    matches = brace_matches(text)
    for rest in reversed(hits):
        if text[rest:rest + 1] == " ":
            k = rest
            while k < len(text) and text[k] == " ":
                k += 1
            end = k
            while end < len(text) and not text[end].isspace() and text[end] != "$":
                end += 1
            if end > k:
                return text[k:end]
            continue
        group = balanced(text, rest, matches)
        if group is not None:
            return group[0]
    return None


def rstrip_dots(text: str) -> str:
    """Drop trailing spaces and full stops (linear; ``"7 . ."`` → ``"7"``)."""
    end = len(text)
    while end and (text[end - 1] == "." or text[end - 1].isspace()):
        end -= 1
    return text[:end]


def extract_answer(text: Any) -> str:
    """The answer part of a model output or reference solution.

    Order: the last ``\\boxed{}``; the text after ``####`` (GSM8K); after "the (final) answer is"; after a
    ``conclusion:`` tag. Surrounding ``$``, ``\\(\\)`` and a final full stop are dropped.

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
        last = None
        for m in _ANSWER_IS.finditer(text):
            last = m
        if last is not None:
            text = text[last.end():]
        elif "conclusion:" in text:
            text = text[text.rindex("conclusion:") + len("conclusion:"):]
    text = strip_math_delimiters(text.replace("</s>", "").strip())
    stripped = rstrip_dots(text)
    return stripped if stripped else text.strip()


def strip_math_delimiters(text: str) -> str:
    """``$x$``, ``$$x$$``, ``\\(x\\)``, ``\\[x\\]`` → ``x``.

    >>> strip_math_delimiters("$\\\\frac12$")
    '\\\\frac12'
    """
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right) - 1:
            inner = text[len(left):len(text) - len(right)]
            if left != "$" or "$" not in inner:
                text = inner.strip()
    return text
