"""One episode's tool environment: the APIs a task offers, its fault plan and a per-episode rate limit.

A *fault plan* is a list of ``{"api": name, "kind": kind, "calls": [n, ...]}``: the ``n``-th call (1-based,
counted per API within the episode) to ``api`` fails. Kinds: ``transient`` (503, a retry succeeds),
``rate_limit`` (429, a retry succeeds) and ``down`` (503 "API is down" for every call from the first
number in ``calls`` on, or for every call when ``calls`` is empty): use the alternative API. Faults are applied before the arguments are looked at, like a real gateway. Beyond the
quota of calls per API per episode every call is rate limited (429) and counted.

>>> from umi_lab.toolworld.world import build_world
>>> env = ToolWorldEnv(build_world(0), ["timezone_for_geodb"],
...                    [{"api": "timezone_for_geodb", "kind": "transient", "calls": [1]}])
>>> [env.call("timezone_for_geodb", '{"city": "x"}').status for _ in range(2)]
['tool_error', 'not_found']
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, Tool
from umi_lab.tools.registry import RATE_LIMITED, TOOL_ERROR, FunctionRegistry, Observation, ToolSpec
from umi_lab.toolworld.apis import API_BY_NAME, APIS, CATEGORIES
from umi_lab.toolworld.success import SuccessResult, check_success
from umi_lab.toolworld.world import World, build_world

FAULT_KINDS = ("transient", "rate_limit", "down")
DEFAULT_QUOTA = 6


def validate_fault_plan(plan, *, field: str = "task.fault_plan") -> list[dict]:
    """Check a fault plan's shape; raise DataError naming the bad entry. Example: ``validate_fault_plan([])``."""
    if not isinstance(plan, list):
        raise DataError(f"expected a list, got {type(plan).__name__}", field=field)
    for i, f in enumerate(plan):
        where = f"{field}[{i}]"
        if not isinstance(f, dict):
            raise DataError(f"expected an object, got {type(f).__name__}", field=where)
        if f.get("api") not in API_BY_NAME:
            raise DataError(f"unknown API {f.get('api')!r}", field=f"{where}.api")
        if f.get("kind") not in FAULT_KINDS:
            raise DataError(f"kind must be one of {', '.join(FAULT_KINDS)}, got {f.get('kind')!r}",
                            field=f"{where}.kind")
        calls = f.get("calls", [])
        if not isinstance(calls, list) or not all(isinstance(n, int) and n >= 1 for n in calls):
            raise DataError("calls must be a list of positive integers", field=f"{where}.calls")
        if f["kind"] != "down" and not calls:
            raise DataError(f"a {f['kind']} fault needs the call numbers it affects", field=f"{where}.calls")
    return plan


class ToolWorldEnv(FunctionRegistry):
    """A fresh registry for one episode; ``stats`` counts calls, statuses, faults and rate limits.

    The fault plan list is read at call time, so a generator may append faults while it runs.
    """

    def __init__(self, world: World, api_names: list[str], fault_plan: list[dict] | None = None,
                 quota: int = DEFAULT_QUOTA):
        unknown = [n for n in api_names if n not in API_BY_NAME]
        if unknown:
            raise DataError(f"unknown API(s): {', '.join(unknown)}", field="task.tools")
        specs = [ToolSpec(a.name, a.doc_function(), a.params, partial(a.handler, world),
                          meta={"tool": a.tool, "category": a.category})
                 for a in (API_BY_NAME[n] for n in api_names)]
        super().__init__(specs)
        self.fault_plan = fault_plan if fault_plan is not None else []
        self.quota = quota
        self.calls_per_api: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()

    def _fault(self, name: str, n: int) -> Observation | None:
        for f in self.fault_plan:
            if f["api"] != name:
                continue
            tool = API_BY_NAME[name].tool
            if f["kind"] == "down" and n >= min(f["calls"], default=1):
                self.stats["faults"] += 1
                return Observation.make(TOOL_ERROR, error=f"503 Service Unavailable: the {tool} API is down")
            if n in f["calls"]:
                self.stats["faults"] += 1
                if f["kind"] == "rate_limit":
                    return Observation.make(RATE_LIMITED, error=f"429 Too Many Requests: {tool} is busy, "
                                            "retry in a moment")
                return Observation.make(TOOL_ERROR, error=f"503 Service Temporarily Unavailable: {tool} timed "
                                        "out, please retry")
        return None

    def call(self, name: str, arguments) -> Observation:
        """Apply the fault plan and the quota, then call the API.

        Example: ``env.call("timezone_for_geodb", '{"city": "Namyst"}')``.
        """
        self.stats["calls"] += 1
        if name in self.specs:
            self.calls_per_api[name] += 1
            n = self.calls_per_api[name]
            obs = self._fault(name, n)
            if obs is None and n > self.quota:
                obs = Observation.make(RATE_LIMITED, error=f"429 Too Many Requests: quota of {self.quota} calls "
                                       f"per episode for {name} exceeded")
                self.stats["quota_exceeded"] += 1
            if obs is not None:
                self.stats[obs.status] += 1
                return obs
        obs = super().call(name, arguments)
        self.stats[obs.status] += 1
        return obs


class ToolWorld:
    """The seeded world and its APIs: documents, per-task environments and the success checker.

    >>> world = ToolWorld(seed=0)
    >>> len(world.tool_docs("weather"))
    5
    >>> env = world.env_for({"tools": ["timezone_for_geodb"], "fault_plan": []})
    >>> env.call("timezone_for_geodb", '{"city": "nowhere"}').status
    'not_found'
    """

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.world = build_world(seed)

    def tool_docs(self, category: str | None = None) -> list[Tool]:
        """ToolBench-style documents of every API, or of one category's."""
        if category is not None and category not in CATEGORIES:
            raise DataError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}",
                            field="category")
        return [ToolSpec(a.name, a.doc_function(), a.params, a.handler).doc()
                for a in APIS if category is None or a.category == category]

    def env_for(self, task: dict | Dialogue | None = None, *, quota: int = DEFAULT_QUOTA) -> ToolWorldEnv:
        """A fresh environment for one episode of ``task`` (a task dict or a Dialogue carrying one):
        only the task's APIs, its fault plan applied. ``None`` offers every API with no faults."""
        if isinstance(task, Dialogue):
            task = task.extra.get("task")
            if task is None:
                raise DataError("the dialogue has no task object", field="task")
        if task is None:
            return ToolWorldEnv(self.world, [a.name for a in APIS], [], quota)
        if not isinstance(task, dict):
            raise DataError(f"expected an object, got {type(task).__name__}", field="task")
        tools = task.get("tools")
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise DataError("expected a list of API names", field="task.tools")
        plan = validate_fault_plan(task.get("fault_plan", []))
        return ToolWorldEnv(self.world, tools, [dict(f) for f in plan], quota)

    def check_success(self, task: dict | Dialogue, dialogue: Dialogue) -> SuccessResult:
        """Judge an episode; see ``umi_lab.toolworld.success.check_success``."""
        return check_success(task, dialogue)
