"""Search strategies for the agents: the greedy ``chain`` and DFSDT (depth-first search-based decision tree).

``chain`` is the agent's own loop (one path, the first decision taken). ``dfsdt`` follows the official
real-time runs of ToolLLM and alpha-UMi (``DFS_woFilter_w2``): a node is one agent *step* (a planner decision
with its caller call and observation, or its summarizer answer; for the backbone, one backbone call). Each
node gets up to ``width`` children, generated one at a time and explored depth first as soon as they exist:

- a step that ends in a conclusion is a success and stops the search (the official ``answer=1``);
- a give-up abandons its parent as well (``give_up_backtrack=2``, the official ``prune_back_length``): the
  search goes on at the grandparent's next child;
- a failed branch (a tool status in ``prune_on``, by default a crashed or failing tool), a step limit
  (``AgentConfig.max_steps`` decisions on one path) or a repetition prunes the node: its parent tries its
  next child;
- a node whose ``width`` children are all done hands back to its parent; the search ends when the root is
  exhausted or ``max_nodes`` steps (the official ``max_query_count``, 200) were generated.

The first child of a node decodes with the agent's settings (greedy by default); siblings beyond the first
sample (``temperature``, official 0.5) with a seed derived from ``seed`` and the round, so a search is
reproducible. Official DFSDT also shows the model its earlier siblings in a "diversity" user message; our
models were not trained on that message, so it is not sent (diversity comes from sampling alone).

Backtracking needs the environment as it was at the node: a fresh one from the env factory, into which the
calls of the path are replayed (counted in ``meta["search"]``); a factory that hands out the same object
again (``agent.run(task, env)``) cannot be reset, so nothing is replayed and ``shared_env`` is recorded: fine
for stateless tools, use ``run_batch`` with a factory for stateful ones. The recorded trajectory is the successful
path, else the last path that ended (its outcome; ``failed_branch`` when it was pruned on a tool failure,
``node_budget`` when the budget cut a path that had not ended); ``meta["search"]`` holds the whole tree.

Example::

    agent = MultiLLMAgent(models, AgentConfig(search=SearchConfig("dfsdt", width=2, max_nodes=60)))
    trajs = agent.run_batch(tasks, world.env_for)
    trajs[0].meta["search"]["node_count"]
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from umi_lab.protocol.dialogue import RecordedTrajectory
from umi_lab.serving import GenerationSettings
from umi_lab.tools.registry import TOOL_ERROR

STRATEGIES = ("chain", "dfsdt")
SEARCH_OUTCOMES = ("failed_branch", "node_budget")  # outcomes only a search records (beside agent.OUTCOMES)


@dataclass(frozen=True)
class SearchConfig:
    """How an agent explores: ``strategy`` chain or dfsdt; ``width`` children per node; ``max_nodes`` steps
    generated per task; ``temperature`` / ``top_p`` for the siblings beyond the first; ``give_up_backtrack``
    levels a give-up goes back; ``prune_on`` tool statuses that fail a branch; ``seed`` for the samples.

    >>> SearchConfig("dfsdt").to_dict()["width"]
    2
    """

    strategy: str = "chain"
    width: int = 2
    max_nodes: int = 200
    temperature: float = 0.5
    top_p: float = 1.0
    give_up_backtrack: int = 2
    prune_on: tuple[str, ...] = (TOOL_ERROR,)
    seed: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown search strategy {self.strategy!r}; expected one of {', '.join(STRATEGIES)}")
        if self.width < 1 or self.max_nodes < 1 or self.give_up_backtrack < 1:
            raise ValueError("width, max_nodes and give_up_backtrack must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
        object.__setattr__(self, "prune_on", tuple(self.prune_on))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (for configs and ``meta``)."""
        return {**dataclasses.asdict(self), "prune_on": list(self.prune_on)}


class _RecordingEnv:
    """The environment of one path: forwards everything, remembers the calls it executed (for replay)."""

    def __init__(self, env, calls: list[tuple[str, Any]]):
        self.env, self.calls = env, calls

    def call(self, name, arguments):
        self.calls.append((name, arguments))
        return self.env.call(name, arguments)

    def __getattr__(self, name):
        return getattr(self.env, name)


@dataclass
class _Node:
    id: int
    parent: int | None
    depth: int
    child: int                 # position among its parent's children
    state: Any                 # the agent's state after this step (root: after start)
    calls: list                # the env calls of the path up to here
    first_step: int            # index of this node's first step record in ``state.steps``
    sampled: bool = False
    status: str = "open"       # root | open | conclusion | give_up | step_limit | repetition | failed
    children: list[int] = dataclasses.field(default_factory=list)


def _fork(state, env):
    """A copy of an agent state that can advance without touching the original."""
    return dataclasses.replace(state, env=env, turns=list(state.turns), steps=list(state.steps),
                               calls=Counter(state.calls), counts=Counter(state.counts))


class _Tree:
    """One task's DFSDT: the node list, the DFS stack and the working copy of the step being generated."""

    def __init__(self, agent, index, task, env_factory, config: SearchConfig):
        self.agent, self.task, self.factory, self.config = agent, task, env_factory, config
        root = agent._start(index, task, env_factory)
        if root.env is not None:
            root.env = _RecordingEnv(root.env, [])
        self.nodes = [_Node(0, None, 0, 0, root, [], 0, status="root")]
        self.stack = [0]
        self.live = 0              # the node whose state the live environment is in
        self.backtracks = self.rebuilds = self.replayed = 0
        self.envs = [root.env.env] if root.env is not None else []
        self.shared_env = False
        self.stop: str | None = "error" if root.done else None
        self.error: str | None = None
        self.cur, self.sampled, self.start_decisions, self.start_steps = None, False, 0, 0
        if not self.done:
            self._next_child()

    @property
    def done(self) -> bool:
        return self.stop is not None

    # ------------------------------------------------------------------------------------- moves
    def _env_at(self, node: _Node):
        live = self.nodes[self.live].state.env
        if self.live == node.id:
            return live.env
        env = self.factory(self.task)  # back to an earlier node: a fresh env with the path's calls replayed
        if any(env is e for e in self.envs):  # a factory handing out one env (``agent.run``): nothing to replay
            self.shared_env = True
            return env
        self.envs.append(env)
        for name, args in node.calls:
            try:
                env.call(name, args)
            except Exception:  # it crashed the first time too; the recorded observation stands
                pass
        self.rebuilds += 1
        self.replayed += len(node.calls)
        return env

    def _next_child(self) -> None:
        """Start the next child of the node on top of the stack, backtracking while nodes are exhausted."""
        while self.stack and len(self.nodes[self.stack[-1]].children) >= self.config.width:
            self.stack.pop()
        if not self.stack:
            self.stop = "exhausted"
            return
        if len(self.nodes) - 1 >= self.config.max_nodes:
            self.stop = "node_budget"
            return
        parent = self.nodes[self.stack[-1]]
        try:
            env = self._env_at(parent)
        except Exception as e:  # the factory worked at the start; a failure now ends this task's search
            self.stop, self.error = "error", f"env: {type(e).__name__}: {e}"
            return
        self.live = parent.id
        self.cur = _fork(parent.state, _RecordingEnv(env, list(parent.calls)))
        self.sampled = len(parent.children) > 0
        self.start_decisions, self.start_steps = parent.state.decisions, len(parent.state.steps)

    def _backtrack(self, levels: int) -> None:
        """The child just made returns ``levels`` (official DFS): pop ``levels - 1`` ancestors, go on."""
        for _ in range(levels - 1):
            if self.stack:
                self.stack.pop()
        self._next_child()
        self.backtracks += not self.done  # counted when the search goes on elsewhere

    def feed(self, role: str, generation) -> None:
        """Advance the step being generated with one model answer; settle the node when the step ends."""
        s = self.cur
        self.agent._advance(s, role, generation)
        if not (s.done or (s.phase in ("plan", "backbone") and s.decisions > self.start_decisions)):
            return
        parent = self.nodes[self.stack[-1]]
        node = _Node(len(self.nodes), parent.id, parent.depth + 1, len(parent.children), s, list(s.env.calls),
                     self.start_steps, self.sampled)
        self.nodes.append(node)
        parent.children.append(node.id)
        self.live = node.id
        failed = any(st.extra.get("tool_status") in self.config.prune_on for st in s.steps[self.start_steps:])
        if s.outcome == "conclusion":
            node.status, self.stop = "conclusion", "conclusion"
        elif s.outcome == "give_up":
            node.status = "give_up"
            self._backtrack(self.config.give_up_backtrack)
        elif s.done:
            node.status = s.outcome  # step_limit | repetition
            self._backtrack(1)
        elif failed:
            node.status = "failed"
            self._backtrack(1)
        else:
            self.stack.append(node.id)
            self._next_child()

    # ------------------------------------------------------------------------------------- record
    def _chosen(self) -> _Node:
        for node in self.nodes:
            if node.status == "conclusion":
                return node
        ended = [n for n in self.nodes if n.status not in ("root", "open")]
        if ended:
            return ended[-1]
        return self.nodes[-1]

    def trajectory(self) -> RecordedTrajectory:
        """The chosen path as the agent records it, with the tree in ``meta["search"]``."""
        chosen = self._chosen()
        state = chosen.state
        outcome = state.outcome
        if chosen.status == "failed":
            outcome = "failed_branch"
        elif outcome is None:
            outcome = "node_budget" if self.stop == "node_budget" else "error"
        traj = self.agent._trajectory(dataclasses.replace(state, outcome=outcome))
        if self.error:
            traj.meta["error"] = self.error
        path, n = [], chosen
        while n is not None:
            path.append(n.id)
            n = self.nodes[n.parent] if n.parent is not None else None
        path.reverse()
        on_path = set(path)
        nodes = []
        for n in self.nodes[1:]:
            steps = n.state.steps[n.first_step:]
            entry = {"id": n.id, "parent": n.parent, "depth": n.depth, "child": n.child, "status": n.status,
                     "sampled": n.sampled, "on_path": n.id in on_path,
                     "decision": next((x.decision for x in steps if x.decision is not None), None),
                     "tool": next((x.tool for x in steps if x.tool is not None), None),
                     "tool_status": next((x.extra["tool_status"] for x in steps if "tool_status" in x.extra), None)}
            if n.id in on_path:
                entry["path_steps"] = [n.first_step, len(steps) + n.first_step]
            else:
                entry["steps"] = [x.to_dict() for x in steps]
            nodes.append(entry)
        all_steps = [x for n in self.nodes[1:] for x in n.state.steps[n.first_step:]]
        traj.meta["search"] = {
            **self.config.to_dict(), "stop": self.stop or "error", "node_count": len(self.nodes) - 1,
            "backtracks": self.backtracks, "env_rebuilds": self.rebuilds, "replayed_calls": self.replayed,
            "shared_env": self.shared_env,
            "path": path[1:], "model_calls": len(all_steps),
            "prompt_tokens": sum(x.prompt_tokens for x in all_steps),
            "generated_tokens": sum(x.generated_tokens for x in all_steps),
            "latency_s": round(sum(x.latency_s for x in all_steps), 6), "nodes": nodes}
        return traj


def _settings(base: GenerationSettings, config: SearchConfig, sampled: bool, round_: int) -> GenerationSettings:
    """Decoding for one group of a round: the agent's own for first children, sampling for the siblings;
    every sampling group gets its own seed (derived from both seeds and the round)."""
    settings = base
    if sampled and base.temperature == 0:
        settings = dataclasses.replace(base, temperature=config.temperature, top_p=config.top_p)
    if settings.temperature > 0:
        seed = (base.seed * 1_000_003 + config.seed * 10_007 + 2 * round_ + int(sampled)) % (2 ** 31)
        settings = dataclasses.replace(settings, seed=seed)
    return settings


def run_dfsdt(agent, tasks, env_factory, config: SearchConfig) -> list[RecordedTrajectory]:
    """DFSDT for many tasks together: each round, one model call per unfinished task, sent in at most two
    batches (first children with the agent's decoding, siblings sampled).

    Example: ``run_dfsdt(MultiLLMAgent(models), tasks, world.env_for, SearchConfig("dfsdt"))``.
    """
    trees = [_Tree(agent, i, t, env_factory, config) for i, t in enumerate(tasks)]
    round_ = 0
    while True:
        active = [t for t in trees if not t.done]
        if not active:
            break
        for sampled in (False, True):
            group = [t for t in active if t.sampled == sampled]
            if not group:
                continue
            requests = [agent._request(t.cur) for t in group]
            settings = _settings(agent.config.generation, config, sampled, round_)
            gens = agent.models.generate([p for _, p in requests], [r for r, _ in requests], settings)
            for t, (role, _), g in zip(group, requests, gens):
                t.feed(role, g)
        round_ += 1
    return [t.trajectory() for t in trees]
