"""ToRA tool-integrated reasoning → dialogues with a ``python`` tool; MATH problems → evaluation tasks.

ToRA (``messages``: a user problem, then an assistant text interleaving rationale, ```` ```python ````
programs and ```` ```output ```` blocks) becomes, per program: planner (the text before the program, or
a fixed sentence when there is none) ending `` Next: caller.``; caller
``Action: python\\nAction Input: {"code": ...}``; observation ``{"error": "", "response": <output>\\n}``
(the sandbox registry's observation shape: the recorded output as stdout, ending with a newline). The
text after the last output is the conclusion; when it has several paragraphs, all but the last are the
planner's concluding thought. The tool document is the sandbox registry's own (``python_tool``).
Records that do not have this shape (a program without output, an output without program, no final
text, other message roles) are excluded and listed in the report, never dropped silently.

MATH (``problem``, ``solution``, ``level``, ``type``) becomes a task dialogue (only the user turn) whose
``extra["answer"]`` is the content of the solution's last ``\\boxed{...}`` (balanced braces).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_records
from umi_lab.protocol.dialogue import Dialogue, Tool, Turn, save_dialogues
from umi_lab.protocol.grammar import compose_call, compose_planner
from umi_lab.tools.registry import OK, Observation

# Used only when the sandbox module (umi_lab.tools.sandbox, another engineer's) cannot be imported.
_FALLBACK_PYTHON_TOOL = Tool("python", "Run a Python program in a sandbox and return what it prints.",
                             {"code": "string, required, the Python program; print the result"})
PROGRAM_THOUGHT = "Let me write a program to compute this."
CONCLUDE_THOUGHT = "I can now give the final answer."
_BLOCK = re.compile(r"```(python|output)[ \t]*\n(.*?)```", re.S)


@dataclass
class ConversionReport:
    """Counts of a conversion and every excluded record with the reason."""

    records: int = 0
    converted: int = 0
    tool_calls: int = 0
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "excluded_count": len(self.excluded)}


class _Excluded(Exception):
    """A record with an unusable shape; becomes a report entry."""


def python_tool() -> Tool:
    """The ``python`` tool document used in maths dialogues: the sandbox registry's own document, so that
    the data shows the agent exactly the tool it gets at run time.

    >>> python_tool().Name
    'python'
    """
    try:
        from umi_lab.tools.sandbox import PythonRegistry
    except ImportError:
        return Tool(_FALLBACK_PYTHON_TOOL.Name, _FALLBACK_PYTHON_TOOL.function, dict(_FALLBACK_PYTHON_TOOL.input))
    return PythonRegistry().tool_docs()[0]


def stdout_of(output_block: str) -> str:
    """A recorded ```` ```output ```` block as the sandbox reports stdout (a print ends with a newline).

    >>> stdout_of("2")
    '2\\n'
    """
    return output_block if output_block.endswith("\n") or not output_block else output_block + "\n"


def split_tora(content: str) -> list[tuple[str, str]]:
    """Split a ToRA assistant text into ``("text"|"python"|"output", content)`` pieces, in order.

    >>> split_tora("Hi\\n```python\\nprint(2)\\n```\\n```output\\n2\\n```\\nSo $\\\\boxed{2}$.")
    [('text', 'Hi'), ('python', 'print(2)'), ('output', '2'), ('text', 'So $\\\\boxed{2}$.')]
    """
    pieces, pos = [], 0
    for m in _BLOCK.finditer(content):
        text = content[pos:m.start()].strip()
        if text:
            pieces.append(("text", text))
        body = m.group(2)
        pieces.append((m.group(1), body[:-1] if body.endswith("\n") else body))
        pos = m.end()
    tail = content[pos:].strip()
    if tail:
        pieces.append(("text", tail))
    return pieces


def tora_turns(problem: str, content: str) -> list[Turn]:
    """The alpha-UMi turns of one ToRA solution; raises ``_Excluded`` for unusable shapes."""
    turns = [Turn("user", problem)]
    pending: list[str] = []
    open_program = False
    for kind, body in split_tora(content):
        if kind == "text":
            pending.append(body)
        elif kind == "python":
            if open_program:
                raise _Excluded("a program without an output block")
            if "```" in body:
                raise _Excluded("an unterminated code block")
            thought = "\n\n".join(pending) or PROGRAM_THOUGHT
            call = compose_call("python", json.dumps({"code": body}, ensure_ascii=False))
            turns += [Turn("assistant", compose_planner(thought, "caller")), Turn("caller", call)]
            pending, open_program = [], True
        else:
            if not open_program:
                raise _Excluded("an output block without a program")
            if pending:
                raise _Excluded("text between a program and its output")
            turns.append(Turn("observation", Observation.make(OK, response=stdout_of(body)).text))
            open_program = False
    if open_program:
        raise _Excluded("the last program has no output block")
    if not pending:
        raise _Excluded("no final answer text after the last output")
    paragraphs = "\n\n".join(pending).split("\n\n")
    thought = "\n\n".join(p.strip() for p in paragraphs[:-1]) or CONCLUDE_THOUGHT
    answer = paragraphs[-1].strip()
    return turns + [Turn("assistant", compose_planner(thought, "conclusion")), Turn("conclusion", answer)]


def convert_tora(records: list[Any], *, file: str | None = None) -> tuple[list[Dialogue], ConversionReport]:
    """ToRA records (``messages``, ``id``, ``gt``, ...) → dialogues with the ``python`` tool, and a report.

    Example: ``convert_tora(read_jsonl("tora/examples.jsonl"))``.
    """
    report, dialogues = ConversionReport(), []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", file=file, record=i)
        msgs = rec.get("messages")
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise DataError("missing or not a list of objects", file=file, record=i, field="messages")
        for j, m in enumerate(msgs):
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise DataError("needs string role and content", file=file, record=i, field=f"messages[{j}]")
        report.records += 1
        rid = rec.get("id", f"tora-{i:05d}")
        try:
            if [m["role"] for m in msgs] != ["user", "assistant"]:
                raise _Excluded(f"roles {[m['role'] for m in msgs]}, expected ['user', 'assistant']")
            turns = tora_turns(msgs[0]["content"], msgs[1]["content"])
        except _Excluded as e:
            report.excluded.append({"record": i, "id": rid, "reason": str(e)})
            continue
        report.converted += 1
        report.tool_calls += sum(t.role == "caller" for t in turns)
        extra = {"id": rid, "answer": rec.get("gt"), "source": "tora",
                 **{k: rec[k] for k in ("dataset", "level") if k in rec}}
        dialogues.append(Dialogue([python_tool()], msgs[0]["content"], turns, extra))
    return dialogues, report


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, ``\\boxed x``), braces balanced; None if absent.

    >>> last_boxed(r"so $\\boxed{\\frac{1}{2}}$ and not \\boxed{3}")
    '3'
    >>> last_boxed(r"$\\boxed{\\dfrac{a}{b^{2}}}$")
    '\\\\dfrac{a}{b^{2}}'
    """
    starts = [m for m in re.finditer(r"\\(?:boxed|fbox)", text)]
    for m in reversed(starts):
        rest = text[m.end():]
        if rest.startswith(" "):
            word = re.match(r" +([^\s$]+)", rest)
            if word:
                return word.group(1)
            continue
        if not rest.startswith("{"):
            continue
        depth = 0
        for k, ch in enumerate(rest):
            depth += (ch == "{") - (ch == "}")
            if depth == 0:
                return rest[1:k]
        return None  # unbalanced: the last \boxed has no closing brace
    return None


def math_tasks(records: list[Any], *, split: str = "test",
               file: str | None = None) -> tuple[list[Dialogue], ConversionReport]:
    """MATH records → task dialogues (user turn only) with ``extra`` id/answer/level/type; and a report.

    Example: ``math_tasks(read_jsonl("math/test.jsonl"))``.
    """
    report, tasks = ConversionReport(), []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", file=file, record=i)
        for key in ("problem", "solution"):
            if not isinstance(rec.get(key), str):
                raise DataError("missing or not a string", file=file, record=i, field=key)
        report.records += 1
        rid = f"math-{split}-{rec.get('idx', i)}"
        answer = last_boxed(rec["solution"])
        if answer is None:
            report.excluded.append({"record": i, "id": rid, "reason": "no balanced \\boxed{} in the solution"})
            continue
        report.converted += 1
        extra = {"id": rid, "answer": answer, "source": "math", "split": split,
                 **{k: rec[k] for k in ("level", "type") if k in rec}}
        tasks.append(Dialogue([python_tool()], rec["problem"], [Turn("user", rec["problem"])], extra))
    return tasks, report


def load_tora(path: str | os.PathLike) -> tuple[list[Dialogue], ConversionReport]:
    """Read and convert a ToRA JSONL file. Example: ``load_tora("$UMI_LAB_DATA/tora/examples.jsonl")``."""
    return convert_tora(read_records(path), file=str(path))


def load_math(path: str | os.PathLike, split: str | None = None) -> tuple[list[Dialogue], ConversionReport]:
    """Read MATH problems (JSONL) as tasks. Example: ``load_math("$UMI_LAB_DATA/math/test.jsonl")``."""
    return math_tasks(read_records(path), split=split or Path(path).stem, file=str(path))


def _cmd_tora(args: argparse.Namespace) -> int:
    dialogues, report = load_tora(args.input)
    save_dialogues(args.out, dialogues)
    print(json.dumps({**report.summary(), "out": args.out}))
    return 0


def _cmd_math(args: argparse.Namespace) -> int:
    tasks, report = load_math(args.input, split=args.split)
    save_dialogues(args.out, tasks)
    print(json.dumps({**report.summary(), "out": args.out}))
    return 0


def register_convert(sub: Any) -> None:
    """Add ``convert tora`` and ``convert math`` to the convert command's subparsers."""
    p = sub.add_parser("tora", help="ToRA JSONL → dialogues with a python tool")
    p.add_argument("--input", required=True, help="ToRA JSONL (messages)")
    p.add_argument("--out", required=True, help="dialogues (.json list or .jsonl)")
    p.set_defaults(func=_cmd_tora)
    m = sub.add_parser("math", help="MATH JSONL → evaluation tasks with \\boxed{} gold answers")
    m.add_argument("--input", required=True, help="MATH JSONL (problem, solution, level, type)")
    m.add_argument("--out", required=True, help="task dialogues (.json list or .jsonl)")
    m.add_argument("--split", default=None, help="split name used in ids (default: the file stem)")
    m.set_defaults(func=_cmd_math)
