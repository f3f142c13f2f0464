"""The tool-registry interface shared by every environment.

Every environment (ToolWorld, the GSM8K calculator, the MATH python sandbox, the ToolBench cache replay)
answers ``call(name, arguments_string) -> Observation``. Unknown tools (hallucinations) and bad
arguments give the same observations everywhere, so agents and metrics treat them uniformly.
The observation text follows ToolBench: ``{"error": "...", "response": ...}`` as JSON.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from umi_lab.protocol.dialogue import Tool

# Observation statuses. "ok" is success; everything else is a failure the agent can react to.
OK = "ok"
UNKNOWN_TOOL = "unknown_tool"          # hallucinated tool name
BAD_ARGUMENTS = "bad_arguments"        # invalid JSON, missing / ill-typed / invalid arguments
TOOL_ERROR = "tool_error"              # the tool ran and failed (server error, crash, sandbox error)
NOT_FOUND = "not_found"                # the thing asked for does not exist
RATE_LIMITED = "rate_limited"
EMPTY = "empty"                        # success with no results
NOT_IN_CACHE = "not_in_cache"          # cache replay has no recording for this call
STATUSES = (OK, UNKNOWN_TOOL, BAD_ARGUMENTS, TOOL_ERROR, NOT_FOUND, RATE_LIMITED, EMPTY, NOT_IN_CACHE)


@dataclass
class Observation:
    """A tool's answer: ``text`` goes into the ``observation`` turn; ``status`` is one of STATUSES."""

    text: str
    status: str = OK
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.status in (OK, EMPTY)

    @classmethod
    def make(cls, status: str, *, error: str = "", response: Any = "") -> Observation:
        """Build the ToolBench-style JSON text. Example: ``Observation.make("ok", response={"t": 21})``."""
        return cls(json.dumps({"error": error, "response": response}, ensure_ascii=False, sort_keys=True),
                   status, response)


class ArgumentError(ValueError):
    """Arguments that cannot be used: bad JSON, not an object, missing/ill-typed/invalid values."""


def parse_arguments(arguments: str | dict | None) -> dict[str, Any]:
    """Parse an ``Action Input`` string into a dict; raise ArgumentError with a clear reason.

    >>> parse_arguments('{"city": "Oslo"}')
    {'city': 'Oslo'}
    """
    if arguments is None:
        return {}
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str):
        raise ArgumentError(f"arguments must be a JSON object string, got {type(arguments).__name__}")
    text = arguments.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArgumentError(f"invalid JSON in arguments: {e.msg} at position {e.pos}") from None
    if not isinstance(value, dict):
        raise ArgumentError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
          "object": dict}


@dataclass
class ToolSpec:
    """A callable tool with typed parameters; ``fn(**kwargs)`` returns an Observation or a JSON-able value.

    ``params`` maps name -> (type, description, required). Types: string/integer/number/boolean/array/object.
    """

    name: str
    description: str
    params: dict[str, tuple[str, str, bool]]
    fn: Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def doc(self) -> Tool:
        """The ToolBench-style document: ``input`` values read ``"<type>, <description>"`` (+ required/optional)."""
        inputs = {p: f"{t}, {'required' if req else 'optional'}, {desc}" for p, (t, desc, req) in self.params.items()}
        return Tool(self.name, self.description, inputs)

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Check required/unknown/ill-typed arguments; return them unchanged or raise ArgumentError."""
        missing = [p for p, (_, _, req) in self.params.items() if req and p not in args]
        if missing:
            raise ArgumentError(f"missing required argument(s): {', '.join(missing)}")
        unknown = [a for a in args if a not in self.params]
        if unknown:
            raise ArgumentError(f"unknown argument(s): {', '.join(unknown)}; expected {', '.join(self.params) or 'none'}")
        for a, v in args.items():
            typ = self.params[a][0]
            py = _TYPES.get(typ)
            if py is None:
                continue
            if isinstance(v, bool) and typ in ("integer", "number"):
                raise ArgumentError(f"argument {a!r} must be {typ}, got boolean")
            if not isinstance(v, py):
                raise ArgumentError(f"argument {a!r} must be {typ}, got {type(v).__name__}")
        return args


class ToolRegistry(ABC):
    """What every environment offers an agent."""

    @abstractmethod
    def tool_docs(self) -> list[Tool]:
        """Documents of the tools the agent may call."""

    @abstractmethod
    def call(self, name: str, arguments: str | dict | None) -> Observation:
        """Run a tool; never raises for agent mistakes, returns a failure Observation instead."""

    def names(self) -> list[str]:
        return [t.Name for t in self.tool_docs()]

    @staticmethod
    def unknown_tool(name: str, known: list[str]) -> Observation:
        """The uniform observation for a hallucinated tool name."""
        return Observation.make(UNKNOWN_TOOL, error=f"No such function name: {name}. Available: {', '.join(known)}")

    @staticmethod
    def bad_arguments(name: str, reason: str) -> Observation:
        """The uniform observation for arguments the tool cannot use."""
        return Observation.make(BAD_ARGUMENTS, error=f"Invalid arguments for {name}: {reason}")


class FunctionRegistry(ToolRegistry):
    """A registry of ToolSpecs: parses and validates arguments, then calls the function.

    >>> reg = FunctionRegistry([ToolSpec("echo", "Echo text.", {"text": ("string", "what to echo", True)},
    ...                                  lambda text: {"echo": text})])
    >>> reg.call("echo", '{"text": "hi"}').status
    'ok'
    >>> reg.call("nope", "{}").status
    'unknown_tool'
    """

    def __init__(self, specs: list[ToolSpec]):
        self.specs = {s.name: s for s in specs}

    def tool_docs(self) -> list[Tool]:
        return [s.doc() for s in self.specs.values()]

    def call(self, name: str, arguments: str | dict | None) -> Observation:
        spec = self.specs.get(name)
        if spec is None:
            return self.unknown_tool(name, list(self.specs))
        try:
            args = spec.validate(parse_arguments(arguments))
        except ArgumentError as e:
            return self.bad_arguments(name, str(e))
        try:
            result = spec.fn(**args)
        except ArgumentError as e:
            return self.bad_arguments(name, str(e))
        except Exception as e:  # a crashed tool is an observation, not a crash of the agent
            return Observation.make(TOOL_ERROR, error=f"{name} failed: {type(e).__name__}: {e}")
        return result if isinstance(result, Observation) else Observation.make(OK, response=result)
