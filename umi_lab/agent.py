"""Agents that solve tasks with tools: the alpha-UMi multi-LLM agent and single-LLM baselines.

``MultiLLMAgent``: the planner writes a thought ending in ``Next: caller.`` / ``Next: conclusion.`` /
``Next: give up.``; the caller turns a thought into ``Action: <tool>\\nAction Input: <json>``, which the
environment's ``ToolRegistry`` executes (its observation is appended); the summarizer writes the final
answer. The loop ends with an outcome: ``conclusion``, ``give_up``, ``step_limit`` (too many planner
steps), ``repetition`` (the same call ``repeat_limit`` times) or ``error`` (the environment could not be
built). ``SingleLLMAgent`` runs the backbone format (one model writes thought + ``Action``/``Action Input``
or ``conclusion: <answer>`` / ``conclusion: give up.``), or the multitask model (one adapter prompted as
each role, i.e. the multi-LLM loop on a single adapter).

Every model call becomes a ``StepRecord`` (role, raw output, prompt/generated tokens, latency, error) with
what the protocol read from it (``decision``, ``tool``, ``arguments``, ``parse_error``; the grammar is
``umi_lab.protocol.grammar``, the agent parses nothing itself). Malformed generations never crash the loop:
they are recorded as ``error="parse: ..."`` and counted. An unparseable planner output is recorded as
``decision="invalid"`` and acted on as a caller decision (``grammar.INVALID_ACTS_AS``, as the official
inference does); an unparseable backbone output is recorded as ``invalid`` and answered with a
bad-arguments observation;
unknown tools and bad arguments go to the registry, whose uniform observations are counted too.

``run_batch(tasks, env_factory)`` advances all unfinished tasks one model call per round, sending the
round's prompts to the model server in one call (batched by role or mixed, as its settings say);
with ``AgentConfig(search=SearchConfig("dfsdt"))`` it runs the DFSDT tree search instead (``umi_lab.search``).

Example::

    agent = make_agent(RoleModels.from_run("runs/alpha"))
    trajs = agent.run_batch(tasks, ToolWorld(0).env_for)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from umi_lab.methods import default_method, get_method
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord, Tool, Turn
from umi_lab.protocol.grammar import (
    EOS,
    Decision,
    Parsed,
    acted_decision,
    clean_candidate,
    compose_call,
    compose_planner,
    parse_backbone,
    parse_call,
    parse_conclusion,
    parse_decision,
)
from umi_lab.protocol.prompts import backbone_history, history_string
from umi_lab.search import SearchConfig, run_dfsdt
from umi_lab.serving import Generation, GenerationSettings
from umi_lab.tools.registry import BAD_ARGUMENTS, TOOL_ERROR, UNKNOWN_TOOL, Observation, ToolRegistry

OUTCOMES = ("conclusion", "give_up", "step_limit", "repetition", "error")


class Generator(Protocol):
    """What an agent needs from a model server (``RoleModels`` or a scripted stand-in)."""

    def prompt(self, role: str, tools, history: str, *, thought: str = "") -> str: ...

    def generate(self, prompts: list[str], roles: list[str], config: GenerationSettings | None = None
                 ) -> list[Generation]: ...


@dataclass
class AgentConfig:
    """``max_steps``: planner (or backbone) decisions per task; ``repeat_limit``: identical calls before the
    task stops with ``repetition``; ``generation``: decoding settings for every model call;
    ``planner_attempts``: how often the planner is asked while its output is empty (blank, ``.`` or ``,``;
    1 = no retry; the official profile asks up to 5 times, each retry recorded as a step with error
    ``empty: retried``, not counted as a decision); ``max_observation_chars``: observations longer than this
    are cut and end with ``...`` (None: kept whole; official: 1,024); ``search``: the search strategy
    (``umi_lab.search``; None or ``chain``: the greedy chain, ``dfsdt``: the official tree search)."""

    max_steps: int = 8
    repeat_limit: int = 3
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    planner_attempts: int = 1
    max_observation_chars: int | None = None
    search: SearchConfig | None = None

    def __post_init__(self):
        if self.max_steps < 1 or self.repeat_limit < 2:
            raise ValueError("max_steps must be >= 1 and repeat_limit >= 2")
        if self.planner_attempts < 1 or (self.max_observation_chars is not None and self.max_observation_chars < 1):
            raise ValueError("planner_attempts and max_observation_chars must be >= 1")


def _is_empty(text: str) -> bool:
    """An output the official clean-up turns into ``none`` (blank, ``.`` or ``,`` after a leading ``": "``)."""
    text = str(text).split(EOS)[0].strip()
    return clean_candidate(text) == "none" and text != "none"


# ------------------------------------------------------------------------------------------------ state
@dataclass
class _State:
    index: int
    task: Dialogue
    env: ToolRegistry | None
    tools: list[Tool]
    turns: list[Turn]
    phase: str = "plan"              # plan | call | summarize | backbone | done
    thought: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str | None = None
    decisions: int = 0
    calls: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    error: str | None = None
    empty_planner: int = 0

    @property
    def done(self) -> bool:
        return self.outcome is not None


def _opening_turns(task: Dialogue) -> list[Turn]:
    turns = []
    for t in task.conversations:
        if t.role != "user":
            break
        turns.append(Turn("user", t.value))
    return turns or [Turn("user", task.instruction)]


class MultiLLMAgent:
    """The alpha-UMi planner / caller / summarizer loop (see the module doc).

    ``models`` serves the roles ``planner``, ``caller``, ``summarizer`` (a ``RoleModels``).
    """

    roles = ("planner", "caller", "summarizer")

    def __init__(self, models: Generator, config: AgentConfig | None = None, *, method: str | None = None):
        self.models = models
        self.config = config or AgentConfig()
        self.method = method or getattr(models, "method", None) or default_method()

    # ------------------------------------------------------------------------------------- public
    def run(self, task: Dialogue, env: ToolRegistry) -> RecordedTrajectory:
        """Solve one task in ``env``. Example: ``agent.run(task, CalculatorRegistry())``."""
        return self.run_batch([task], lambda _t: env)[0]

    def run_batch(self, tasks: Sequence[Dialogue], env_factory: Callable[[Dialogue], ToolRegistry]
                  ) -> list[RecordedTrajectory]:
        """Run many tasks together, one model call per unfinished task per round (batched generation).

        When sampling (``temperature > 0``) each round draws with seed ``generation.seed + round``, so a
        retried planner call (``planner_attempts``) samples afresh. Example: ``agent.run_batch(tasks, world.env_for)``.
        """
        if self.config.search is not None and self.config.search.strategy == "dfsdt":
            return run_dfsdt(self, tasks, env_factory, self.config.search)
        states = [self._start(i, t, env_factory) for i, t in enumerate(tasks)]
        rounds = 0
        while True:
            active = [s for s in states if not s.done]
            if not active:
                break
            requests = [self._request(s) for s in active]
            settings = self.config.generation
            if settings.temperature > 0 and rounds:
                settings = replace(settings, seed=settings.seed + rounds)
            rounds += 1
            gens = self.models.generate([p for _, p in requests], [r for r, _ in requests], settings)
            for s, (role, _), g in zip(active, requests, gens):
                self._advance(s, role, g)
        return [self._trajectory(s) for s in states]

    # ------------------------------------------------------------------------------------- internals
    def _start(self, i: int, task: Dialogue, env_factory) -> _State:
        try:
            env = env_factory(task)
            tools = list(task.tools) or list(env.tool_docs())
        except Exception as e:  # the environment could not be built: a counted, reported outcome
            s = _State(i, task, None, list(task.tools), _opening_turns(task))
            s.outcome, s.error = "error", f"env: {type(e).__name__}: {e}"
            return s
        s = _State(i, task, env, tools, _opening_turns(task))
        s.phase = self._first_phase()
        return s

    def _first_phase(self) -> str:
        return "plan"

    def _request(self, s: _State) -> tuple[str, str]:
        history = history_string(s.turns)
        if s.phase == "plan":
            return "planner", self.models.prompt("planner", s.tools, history)
        if s.phase == "call":
            return "caller", self.models.prompt("caller", s.tools, history, thought=s.thought)
        return "summarizer", self.models.prompt("summarizer", s.tools, history)

    def _record(self, s: _State, role: str, g: Generation, parsed: Parsed | None = None) -> StepRecord:
        step = StepRecord(role, g.text, g.prompt_tokens, g.generated_tokens, g.latency_s)
        if parsed is not None:
            step.record_parse(parsed)
            if parsed.error:
                step.error = f"parse: {parsed.error}"
                s.counts["parse_errors"] += 1
        if g.truncated:
            step.extra["prompt_truncated"] = True
            s.counts["truncated_prompts"] += 1
        s.steps.append(step)
        return step

    def _advance(self, s: _State, role: str, g: Generation) -> None:
        if s.phase == "plan":
            if s.empty_planner + 1 < self.config.planner_attempts and _is_empty(g.text):
                s.empty_planner += 1  # official profile: ask the planner again
                self._record(s, role, g).error = "empty: retried"
                return
            s.empty_planner = 0
            p = parse_decision(g.text)
            self._record(s, role, g, p)
            s.turns.append(Turn("assistant", p.text))  # an invalid output acts as caller (grammar policy)
            s.decisions += 1
            decision = acted_decision(p.decision)
            if decision is Decision.GIVE_UP:
                s.outcome = "give_up"
            elif decision is Decision.CONCLUSION:
                s.phase = "summarize"
            else:
                s.phase, s.thought = "call", p.text
        elif s.phase == "call":
            p = parse_call(g.text)
            step = self._record(s, role, g, p)
            s.turns.append(Turn("caller", p.text))
            if p.tool is None:
                self._observe(s, step, ToolRegistry.bad_arguments("caller", f"could not parse the call ({step.error})"),
                              counted=False)
            elif self._execute(s, step, p.tool, p.arguments):
                return
            s.phase = "plan"
            self._check_limit(s)
        elif s.phase == "summarize":
            p = parse_conclusion(g.text)
            self._record(s, role, g, p)
            s.turns.append(Turn("conclusion", p.answer))
            s.outcome = "conclusion"

    def _execute(self, s: _State, step: StepRecord, name: str, args: str) -> bool:
        """Run the call (repetition guard first); True when the task stopped."""
        from umi_lab.tools.cache_replay import normalise_arguments

        try:
            key = (name, normalise_arguments(args))
        except RecursionError:  # JSON nested deeper than the decoder allows: compare the raw text
            key = (name, args)
        s.calls[key] += 1
        if s.calls[key] >= self.config.repeat_limit:
            step.extra["repeated"] = s.calls[key]
            s.outcome = "repetition"
            return True
        try:
            obs = s.env.call(name, args)
        except Exception as e:  # a crashed registry is an observation, never a crash of the agent
            obs = Observation.make(TOOL_ERROR, error=f"{name} crashed: {type(e).__name__}: {e}")
        self._observe(s, step, obs)
        return False

    def _observe(self, s: _State, step: StepRecord, obs: Observation, *, counted: bool = True) -> None:
        text, cut = obs.text, self.config.max_observation_chars
        if cut is not None and len(text) > cut:
            text = text[:cut] + "..."
            step.extra["observation_truncated"] = len(obs.text)
        s.turns.append(Turn("observation", text))
        step.extra["tool_status"] = obs.status
        if not counted:
            return
        s.counts["tool_calls"] += 1
        if obs.status == UNKNOWN_TOOL:
            s.counts["hallucinated_tool"] += 1
        elif obs.status == BAD_ARGUMENTS:
            s.counts["invalid_arguments"] += 1
        elif obs.status == TOOL_ERROR:
            s.counts["tool_errors"] += 1
        if not obs.ok:
            step.error = step.error or f"tool: {obs.status}"

    def _check_limit(self, s: _State) -> None:
        if not s.done and s.decisions >= self.config.max_steps:
            s.outcome = "step_limit"

    def _trajectory(self, s: _State) -> RecordedTrajectory:
        dialogue = Dialogue(s.tools, s.task.instruction, s.turns, dict(s.task.extra))
        meta = {"decisions": s.decisions, "model_calls": len(s.steps),
                "prompt_tokens": sum(x.prompt_tokens for x in s.steps),
                "generated_tokens": sum(x.generated_tokens for x in s.steps),
                "latency_s": round(sum(x.latency_s for x in s.steps), 6),
                **{k: s.counts.get(k, 0) for k in ("tool_calls", "hallucinated_tool", "invalid_arguments",
                                                    "tool_errors", "parse_errors", "truncated_prompts")}}
        if s.error:
            meta["error"] = s.error
        task_id = s.task.id if s.task.id is not None else f"task-{s.index}"
        return RecordedTrajectory(str(task_id), self.method, dialogue, s.steps, s.outcome or "error", meta)


class SingleLLMAgent(MultiLLMAgent):
    """One model: ``mode="backbone"`` (thought + Action / conclusion in one output) or ``mode="multitask"``
    (one adapter prompted as planner, caller and summarizer in turn)."""

    def __init__(self, models: Generator, config: AgentConfig | None = None, *, mode: str = "backbone",
                 method: str | None = None):
        if mode not in ("backbone", "multitask"):
            raise ValueError(f"unknown single-LLM mode {mode!r}; expected backbone or multitask")
        super().__init__(models, config, method=method or getattr(models, "method", None) or default_method(mode))
        self.mode = mode
        self.roles = ("backbone",) if mode == "backbone" else MultiLLMAgent.roles

    def _first_phase(self) -> str:
        return "backbone" if self.mode == "backbone" else "plan"

    def _request(self, s: _State) -> tuple[str, str]:
        if s.phase != "backbone":
            return super()._request(s)
        return "backbone", self.models.prompt("backbone", s.tools, backbone_history(s.turns))

    def _advance(self, s: _State, role: str, g: Generation) -> None:
        if s.phase != "backbone":
            return super()._advance(s, role, g)
        p = parse_backbone(g.text)
        step = self._record(s, role, g, p)
        s.decisions += 1
        decision = acted_decision(p.decision)
        s.turns.append(Turn("assistant", compose_planner(p.thought, decision)))
        if decision is Decision.GIVE_UP:
            s.outcome = "give_up"
            return
        if decision is Decision.CONCLUSION:
            s.turns.append(Turn("conclusion", p.answer))
            s.outcome = "conclusion"
            return
        if p.tool is not None:
            s.turns.append(Turn("caller", compose_call(p.tool, p.arguments)))
            if self._execute(s, step, p.tool, p.arguments):
                return
        else:
            self._observe(s, step, ToolRegistry.bad_arguments("backbone", f"could not parse the step ({p.error})"),
                          counted=False)
        self._check_limit(s)


def make_agent(models: Generator, config: AgentConfig | None = None) -> MultiLLMAgent:
    """The agent the run's registered method names (``methods.Method.agent``): ``multi`` → ``MultiLLMAgent``,
    ``backbone`` / ``multitask`` → ``SingleLLMAgent`` in that mode. Example: ``make_agent(RoleModels.from_run(run))``."""
    kind = get_method(getattr(models, "method", None) or default_method()).agent
    return MultiLLMAgent(models, config) if kind == "multi" else SingleLLMAgent(models, config, mode=kind)


def trajectory_stats(trajs: Sequence[RecordedTrajectory]) -> dict[str, Any]:
    """Aggregate real-time metrics of recorded trajectories: outcome rates, average steps, error rates.

    Rates of hallucinated tools / invalid arguments are over all tool calls; outcomes only a search records
    (``search.SEARCH_OUTCOMES``) appear in ``outcomes`` when present. Example:
    ``trajectory_stats(agent.run_batch(tasks, env))["give_up_rate"]``.
    """
    n = len(trajs)
    outcomes = Counter(t.outcome for t in trajs)
    calls = sum(t.meta.get("tool_calls", 0) for t in trajs)

    def total(key: str) -> int:
        return sum(t.meta.get(key, 0) for t in trajs)

    return {
        "n": n, "outcomes": {**{o: outcomes.get(o, 0) for o in OUTCOMES},
                             **{o: c for o, c in outcomes.items() if o not in OUTCOMES}},  # search outcomes
        "give_up_rate": outcomes.get("give_up", 0) / n if n else 0.0,
        "conclusion_rate": outcomes.get("conclusion", 0) / n if n else 0.0,
        "avg_steps": sum(t.meta.get("decisions", 0) for t in trajs) / n if n else 0.0,
        "avg_model_calls": sum(len(t.steps) for t in trajs) / n if n else 0.0,
        "tool_calls": calls,
        "hallucinated_tool_rate": total("hallucinated_tool") / calls if calls else 0.0,
        "tasks_with_hallucination": sum(1 for t in trajs if t.meta.get("hallucinated_tool", 0)),
        "invalid_argument_rate": total("invalid_arguments") / calls if calls else 0.0,
        "tool_error_rate": total("tool_errors") / calls if calls else 0.0,
        "parse_errors": total("parse_errors"), "truncated_prompts": total("truncated_prompts"),
        "prompt_tokens": total("prompt_tokens"), "generated_tokens": total("generated_tokens"),
    }
