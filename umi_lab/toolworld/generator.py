"""Gold trajectories for ToolWorld, built by executing the tools through the episode's environment.

A *task type* is a small function that writes the user's request (one of several paraphrases), makes
its calls through an ``Episode`` and states the answer. The Episode turns each call into α-UMi turns
(planner rationale ending in ``Next: caller.``, ``Action:/Action Input:`` caller turn, the env's
observation text), applies the task's fault plan, and recovers like a careful agent: it retries after a
transient error or rate limit, switches to the alternative API when one is down, and gives up when
nothing can answer. Every dialogue carries ``id``, ``split``, ``category``, ``level`` and the ``task``
that ``success.check_success`` judges.
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from umi_lab.protocol.grammar import compose_call, compose_planner
from umi_lab.tools.registry import BAD_ARGUMENTS, EMPTY, NOT_FOUND, TOOL_ERROR, UNKNOWN_TOOL
from umi_lab.toolworld.apis import ALTERNATIVES, API_BY_NAME
from umi_lab.toolworld.env import ToolWorldEnv
from umi_lab.toolworld.success import normalise_fact, response_digest
from umi_lab.toolworld.world import World

HELD_OUT_CATEGORY = "books"
HELD_OUT_TOOLS = ("dateutil", "nutritionix")
LEVEL_WEIGHTS = (("G1", 0.4), ("G2", 0.3), ("G3", 0.3))
RECOVERY_RATE = 0.10
GIVE_UP_RATE = 0.05


def is_held_out(api: str) -> bool:
    """Whether an API belongs to the out-of-domain test only. ``is_held_out("book_details_for_openlibrary")``."""
    a = API_BY_NAME[api]
    return a.category == HELD_OUT_CATEGORY or a.tool in HELD_OUT_TOOLS


def request_of(instruction: str) -> str:
    """The request inside an instruction, without the greeting and closing phrases.

    >>> request_of("Hi! Convert 5 km to mile. Thanks!")
    'Convert 5 km to mile.'
    """
    for p in sorted(PREFIXES, key=len, reverse=True):
        if p and instruction.startswith(p):
            instruction = instruction[len(p):]
            break
    for s in sorted(SUFFIXES, key=len, reverse=True):
        if s and instruction.endswith(s):
            instruction = instruction[:-len(s)]
            break
    return instruction


class GiveUp(Exception):
    """Raised inside a task when no API can answer; carries the planner's last rationale."""


def fmt(value) -> str:
    """A value as the observation shows it (numbers as JSON), for answers and facts."""
    return json.dumps(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


PREFIXES = ["", "", "", "Hi! ", "Hello! ", "Quick question: ", "Please help: ", "Hey there. ", "Could you help me? ",
           "I need some information. "]
SUFFIXES = ["", "", "", " Thanks!", " Thank you.", " Please be precise.", " A short answer is fine.",
           " I'd appreciate it.", " Thanks in advance."]
_RETRY = ["The call to {api} failed ({err}). This looks temporary, so I will retry the same request.",
          "{api} returned an error: {err}. I'll try the same call once more.",
          "That request failed with a temporary error ({err}); retrying it."]
_SWITCH = ["{api} is unavailable ({err}). I will use the alternative {alt} instead.",
           "The {api} service reports: {err}. Switching to {alt}, which offers the same data.",
           "{api} cannot be reached ({err}), so I'll ask {alt} instead."]
_NOT_FOUND_ALT = ["{api} found nothing ({err}). Let me check {alt} before giving up.",
                  "No result from {api} ({err}); I'll try {alt}."]
_CONCLUDE = ["I have everything I need: {note}.", "The observations answer the question: {note}.",
             "Now I can answer: {note}.", "All the information is in: {note}."]


class Episode:
    """Runs one task type through a fresh environment and records the α-UMi turns."""

    def __init__(self, world: World, rng: random.Random, api_names: list[str], mode: str, n_calls: int):
        self.w, self.rng, self.mode = world, rng, mode
        self.api_names = api_names
        self.fault_plan: list[dict] = []
        self.env = ToolWorldEnv(world, api_names, self.fault_plan)
        self.turns: list[tuple[str, str]] = []
        self.required: list[list[dict]] = []
        self.facts: list[str] = []
        self.instruction = ""
        self.request = ""
        self.fault_at = rng.randrange(n_calls) if mode in ("recover", "down") else -1
        self.n_made = 0
        self.recovered = False
        self.solvable = True

    # ------------------------------------------------------------ writing
    def ask(self, templates: list[str], **slots) -> None:
        """Pick a paraphrase of the request and fill it in."""
        text = self.rng.choice(templates).format(**slots)
        self.request = text
        self.instruction = self.rng.choice(PREFIXES) + text + self.rng.choice(SUFFIXES)
        self.turns.append(("user", self.instruction))

    def fact(self, value) -> str:
        """Record a fact the answer must state; return it as written in the answer."""
        self.facts.append(normalise_fact(value))
        return fmt(value)

    def conclude(self, note: str, answer: str) -> None:
        """End with a planner turn citing ``note`` and the conclusion ``answer``."""
        self.turns.append(("assistant", compose_planner(self.rng.choice(_CONCLUDE).format(note=note), "conclusion")))
        self.turns.append(("conclusion", answer))

    def give_up(self, thought: str) -> None:
        """End with a planner turn that gives up."""
        self.turns.append(("assistant", compose_planner(thought, "give_up")))

    # ------------------------------------------------------------ calling
    def _alternative(self, api: str, args: dict) -> tuple[str, dict] | None:
        if api not in ALTERNATIVES:
            return None
        alt, mapping = ALTERNATIVES[api]
        return (alt, mapping(args)) if alt in self.api_names else None

    def _inject(self, api: str, args: dict) -> None:
        alt = self._alternative(api, args)
        # the fault starts at this API's next call (a "down" API stays down from then on)
        if self.mode == "down":
            for name in [api] + ([alt[0]] if alt else []):
                self.fault_plan.append({"api": name, "kind": "down", "calls": [self.env.calls_per_api[name] + 1]})
            return
        kind = self.rng.choice(["transient", "rate_limit"] + (["down", "down"] if alt else []))
        self.fault_plan.append({"api": api, "kind": kind, "calls": [self.env.calls_per_api[api] + 1]})

    def _clean_digest(self, api: str, args: dict) -> str:
        """The digest of what ``api`` answers without faults (outside this episode's environment)."""
        obs = ToolWorldEnv(self.w, [api]).call(api, json.dumps(args, ensure_ascii=False))
        return response_digest(obs.data) if obs.ok else ""

    def call(self, api: str, args: dict, thought: str):
        """Plan, call and observe; recover from faults; return the response data (or raise GiveUp)."""
        if self.n_made == self.fault_at:
            self._inject(api, args)
        self.n_made += 1
        return self._attempt(api, args, thought, tried=[], primary=None)

    def _attempt(self, api: str, args: dict, thought: str, tried: list[str], primary: dict | None):
        arg_text = json.dumps(args, ensure_ascii=False)
        self.turns.append(("assistant", compose_planner(thought, "caller")))
        self.turns.append(("caller", compose_call(api, arg_text)))
        obs = self.env.call(api, arg_text)
        self.turns.append(("observation", obs.text))
        if obs.ok:
            # this step is done by the API used, or by its alternative / the primary it replaced
            group = [{"api": api, "args": args, "response": response_digest(obs.data)}]
            for other in (self._alternative(api, args), (primary["api"], primary["args"]) if primary else None):
                if other is not None:
                    group.append({"api": other[0], "args": other[1], "response": self._clean_digest(*other)})
            self.required.append(group)
            return obs.data if obs.status != EMPTY else None
        err = json.loads(obs.text)["error"]
        if obs.status in (BAD_ARGUMENTS, UNKNOWN_TOOL):  # a bug in a task type, never a gold trajectory
            raise RuntimeError(f"gold call {api}({arg_text}) was refused: {err}")
        retried = api in tried  # one retry per API: a second failure is not transient
        tried = tried + [api]
        down = any(f["api"] == api and f["kind"] == "down" for f in self.fault_plan)
        alt = self._alternative(api, args)
        if obs.status != NOT_FOUND and not down and not retried:
            self.recovered = True
            return self._attempt(api, args, self.rng.choice(_RETRY).format(api=api, err=err), tried, primary)
        if alt is not None and alt[0] not in tried and obs.status in (TOOL_ERROR, NOT_FOUND):
            if obs.status == TOOL_ERROR:
                self.recovered = True
                text = self.rng.choice(_SWITCH).format(api=api, err=err, alt=alt[0])
            else:
                text = self.rng.choice(_NOT_FOUND_ALT).format(api=api, err=err, alt=alt[0])
            return self._attempt(alt[0], alt[1], text, tried, {"api": api, "args": args})
        self.solvable = False
        if obs.status == NOT_FOUND:
            raise GiveUp(f"{' and '.join(tried)} found nothing ({err}). What was asked for does not exist, so "
                         "I cannot answer.")
        raise GiveUp(f"{' and '.join(tried)} {'are' if len(tried) > 1 else 'is'} unavailable ({err}), and no "
                     "other API offers this data, so I cannot complete the request.")


@dataclass(frozen=True)
class TaskType:
    """A registered task type: its level, the APIs it calls (in order), how many calls it makes, its function."""

    name: str
    level: str
    apis: tuple[str, ...]
    n_calls: int
    fn: Callable[[World, random.Random, Episode], None]
    give_up: bool = False

    @property
    def categories(self) -> list[str]:
        """Categories of its APIs, first use first."""
        out: list[str] = []
        for a in self.apis:
            c = API_BY_NAME[a].category
            if c not in out:
                out.append(c)
        return out

    @property
    def held_out(self) -> bool:
        """Whether it needs an out-of-domain API."""
        return any(is_held_out(a) for a in self.apis)


TASK_TYPES: list[TaskType] = []
TASK_MODULES = tuple(f"umi_lab.toolworld.{m}" for m in (  # registration order = generation order: keep it
    "tasks_single", "tasks_single_facts", "tasks_give_up", "tasks_multi", "tasks_cross", "tasks_ood"))


def task(level: str, *apis: str, n_calls: int | None = None, give_up: bool = False):
    """Register a task type using ``apis`` (in call order)."""
    def wrap(fn):
        TASK_TYPES.append(TaskType(fn.__name__, level, apis, n_calls or len(apis), fn, give_up))
        return fn
    return wrap


def pick(rng, seq):
    """``seq[rng.randrange(len(seq))]``: one draw, whatever the sequence type."""
    return seq[rng.randrange(len(seq))]


def join_list(items) -> str:
    """``join_list(["a", "b", "c"]) == "a, b and c"``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def article(word: str) -> str:
    """``article("animation") == "an"``; ``article("drama") == "a"``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def random_route(w, rng):
    """The (origin, destination) cities of a random existing flight."""
    f = pick(rng, w.flights)
    return w.get("airport", f.origin), w.get("airport", f.destination)


FAKE_WORDS = ["Glass", "Amber", "Quiet", "Northern", "Painted", "Lonely", "Copper", "Wandering"]


def fake_name(w, rng, kind: str, make) -> str:
    """A name made by ``make()`` that is not in the world (for give-up tasks)."""
    while True:
        name = make()
        if w.get(kind, name) is None:
            return name


def all_task_types() -> list[TaskType]:
    """Every registered task type; importing the task modules (in a fixed order) registers them.

    >>> len(all_task_types()) > 40
    True
    """
    for name in TASK_MODULES:
        importlib.import_module(name)
    return list(TASK_TYPES)
