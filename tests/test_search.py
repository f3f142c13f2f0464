"""DFSDT search beside the greedy chain: backtracking on give-up and failed branches, node budget, env replay,
seeded determinism, and the tree recorded in ``meta`` (readable by the replay page)."""

from __future__ import annotations

import json
import random
import re

import pytest

from umi_lab.agent import AgentConfig, MultiLLMAgent, SingleLLMAgent, trajectory_stats
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, Turn
from umi_lab.protocol.prompts import PromptStyle, role_input
from umi_lab.search import SearchConfig
from umi_lab.serving import Generation
from umi_lab.tools.calculator import CalculatorRegistry
from umi_lab.tools.registry import Observation

CALL = 'Action: calculator\nAction Input: {{"expression": "{}+1"}}'


class Policy:
    """A stand-in model server: ``answer(role, prompt, settings, k)`` writes each output (``k``: the role's
    call count); every request's role, prompt and settings are recorded."""

    def __init__(self, answer, method="alpha_umi"):
        self.answer, self.method = answer, method
        self.requests: list[tuple[str, str, object]] = []
        self.count: dict[str, int] = {}

    def prompt(self, role, tools, history, *, thought=""):
        return PromptStyle().model_prompt(role_input(role, tools, history, thought=thought))

    def generate(self, prompts, roles, config=None):
        out = []
        for p, r in zip(prompts, roles):
            self.requests.append((r, p, config))
            k = self.count[r] = self.count.get(r, 0) + 1
            text = self.answer(r, p, config, k)
            out.append(Generation(text, len(p.split()), len(text.split()) + 1, 0.01))
        return out


def _task(tid="t1"):
    q = "What is 2+3?"
    return Dialogue(CalculatorRegistry().tool_docs(), q, [Turn("user", q)], {"id": tid})


def _dfsdt(**kw):
    return SearchConfig("dfsdt", **kw)


def _greedy_gives_up(role, prompt, settings, k):
    """The greedy caller computes 2-3 and the planner then gives up; a sampled caller computes 2+3."""
    if role == "caller":
        return CALL.format("2-3" if settings.temperature == 0 else "2+3").replace("+1", "")
    if role == "summarizer":
        return "The answer is 5."
    if "observation:" not in prompt:
        return "Add them. Next: caller."
    return "It is 5. Next: conclusion." if '"response": "5"' in prompt else "No idea. Next: give up."


def test_dfsdt_backtracks_on_give_up_and_succeeds_where_the_chain_fails():
    chain = MultiLLMAgent(Policy(_greedy_gives_up)).run(_task(), CalculatorRegistry())
    assert chain.outcome == "give_up" and "search" not in chain.meta
    same = MultiLLMAgent(Policy(_greedy_gives_up), AgentConfig(search=SearchConfig("chain"))).run(
        _task(), CalculatorRegistry())
    assert same.to_dict() == chain.to_dict()

    models = Policy(_greedy_gives_up)
    envs = []

    def factory(task):
        envs.append(CalculatorRegistry())
        return envs[-1]

    traj = MultiLLMAgent(models, AgentConfig(search=_dfsdt())).run_batch([_task()], factory)[0]
    tree = traj.meta["search"]
    assert traj.outcome == "conclusion" and tree["stop"] == "conclusion"
    # node 1: call (greedy), node 2: give up (greedy) -> back two levels -> node 3: call (sampled sibling of
    # node 1) in a fresh env -> node 4: conclusion (its first child, greedy decoding: sees an observation)
    statuses = [(n["id"], n["parent"], n["status"], n["sampled"]) for n in tree["nodes"]]
    assert statuses[:2] == [(1, 0, "open", False), (2, 1, "give_up", False)]
    assert statuses[2] == (3, 0, "open", True)
    assert tree["path"] == [3, 4] and tree["backtracks"] == 1 and tree["env_rebuilds"] == 1 and len(envs) == 2
    # the recorded trajectory is the successful path only; off-path nodes keep their steps in the tree
    assert [t.role for t in traj.dialogue.conversations] == ["user", "assistant", "caller", "observation",
                                                             "assistant", "conclusion"]
    assert [s.role for s in traj.steps] == ["planner", "caller", "planner", "summarizer"]
    off = [n for n in tree["nodes"] if not n["on_path"]]
    assert [s["role"] for s in off[1]["steps"]] == ["planner"] and off[1]["decision"] == "give_up"
    assert tree["model_calls"] == len(models.requests) == 7 and traj.meta["model_calls"] == 4
    # the first child of every node decodes greedily, the sibling samples
    assert [c.temperature for *_, c in models.requests] == [0, 0, 0, 0.5, 0.5, 0, 0]


def test_give_up_at_the_first_step_ends_the_search_as_officially():
    def answer(role, prompt, settings, k):
        return "Nothing to do. Next: give up." if role == "planner" else "x"
    traj = MultiLLMAgent(Policy(answer), AgentConfig(search=_dfsdt())).run(_task(), CalculatorRegistry())
    assert traj.outcome == "give_up" and traj.meta["search"]["node_count"] == 1
    assert traj.meta["search"]["stop"] == "exhausted"


def _always_call(role, prompt, settings, k):
    return CALL.format(k) if role == "caller" else "More. Next: caller."


def test_full_tree_is_explored_depth_first_within_the_step_limit():
    agent = MultiLLMAgent(Policy(_always_call), AgentConfig(max_steps=3, search=_dfsdt(width=2)))
    traj = agent.run(_task(), CalculatorRegistry())
    tree = traj.meta["search"]
    # width 2, three steps per path: 2 + 4 + 8 nodes; the leaves hit the step limit
    assert tree["node_count"] == 14 and tree["stop"] == "exhausted"
    assert [n["depth"] for n in tree["nodes"]][:4] == [1, 2, 3, 3]  # depth first
    assert sum(n["status"] == "step_limit" for n in tree["nodes"]) == 8
    assert traj.outcome == "step_limit" and traj.meta["decisions"] == 3
    assert trajectory_stats([traj])["outcomes"]["step_limit"] == 1


@pytest.mark.parametrize("max_nodes", [1, 5, 9])
def test_node_budget_is_respected(max_nodes):
    models = Policy(_always_call)
    traj = MultiLLMAgent(models, AgentConfig(max_steps=6, search=_dfsdt(max_nodes=max_nodes))).run(
        _task(), CalculatorRegistry())
    tree = traj.meta["search"]
    assert tree["node_count"] == max_nodes and tree["stop"] == "node_budget"
    assert sum(r == "planner" for r, *_ in models.requests) == max_nodes
    # the recorded path: the last that ended (step limit after 6 steps), else the one the budget cut
    expected = "node_budget" if max_nodes < 6 else "step_limit"
    assert traj.outcome == expected and trajectory_stats([traj])["outcomes"][expected] == 1


class Counting(CalculatorRegistry):
    """A stateful tool: every call answers the number of calls this environment has seen."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def call(self, name, arguments):
        self.n += 1
        return Observation.make("ok", response=str(self.n))


def test_backtracking_replays_the_path_into_a_fresh_environment():
    models = Policy(_always_call)
    traj = MultiLLMAgent(models, AgentConfig(max_steps=3, search=_dfsdt())).run_batch([_task()], lambda t: Counting())[0]
    seen = [re.findall(r'"response": "(\d+)"', p) for r, p, _ in models.requests if r == "planner"]
    # every planner saw its own path's observations 1, 2, ... although siblings ran in between
    assert all(obs == [str(i + 1) for i in range(len(obs))] for obs in seen)
    assert traj.meta["search"]["env_rebuilds"] > 0 and traj.meta["search"]["replayed_calls"] > 0


class Crashing(CalculatorRegistry):
    def call(self, name, arguments):
        if "boom" in str(arguments):
            raise ValueError("boom")
        return super().call(name, arguments)


def test_a_crashing_tool_fails_the_branch():
    def answer(role, prompt, settings, k):
        if role == "caller":
            return 'Action: calculator\nAction Input: {"expression": "boom"}' if k == 1 else CALL.format(2)
        if role == "summarizer":
            return "3"
        return "It is 3. Next: conclusion." if "observation:" in prompt else "Add. Next: caller."
    traj = MultiLLMAgent(Policy(answer), AgentConfig(search=_dfsdt())).run(_task(), Crashing())
    tree = traj.meta["search"]
    assert [n["status"] for n in tree["nodes"]] == ["failed", "open", "conclusion"]
    assert tree["nodes"][0]["tool_status"] == "tool_error" and tree["path"] == [2, 3]
    assert traj.outcome == "conclusion" and traj.meta["tool_errors"] == 0  # the path avoided the crash

    def crash_always(role, prompt, settings, k):
        return 'Action: calculator\nAction Input: {"expression": "boom"}' if role == "caller" else "Go. Next: caller."
    traj = MultiLLMAgent(Policy(crash_always), AgentConfig(search=_dfsdt())).run(_task(), Crashing())
    assert traj.outcome == "failed_branch" and traj.meta["search"]["node_count"] == 2
    assert traj.meta["tool_errors"] == 1 and "boom" in traj.dialogue.conversations[-1].value
    # pruning on tool failures can be switched off: the branch then goes on
    traj = MultiLLMAgent(Policy(crash_always), AgentConfig(max_steps=2, search=_dfsdt(prune_on=()))).run(
        _task(), Crashing())
    assert traj.outcome == "step_limit"


def _sampler(role, prompt, settings, k):
    """Greedy gives up; a sampled planner draws from its settings' seed."""
    if role == "caller":
        return CALL.format(k)
    if role == "summarizer":
        return "done"
    if settings.temperature == 0:
        return "Go. Next: caller." if "observation:" not in prompt else "Hm. Next: give up."
    return random.Random(settings.seed).choice(["Go. Next: caller.", "Hm. Next: give up.", "Ok. Next: conclusion."])


def test_dfsdt_is_deterministic_with_a_seed():
    def run(seed):
        agent = MultiLLMAgent(Policy(_sampler), AgentConfig(max_steps=4, search=_dfsdt(seed=seed, max_nodes=12)))
        return [t.to_dict() for t in agent.run_batch([_task("a"), _task("b")], lambda t: CalculatorRegistry())]
    first = run(0)
    assert run(0) == first
    runs = [run(s) for s in range(1, 8)]
    assert any(r != first for r in runs)
    assert first[0]["meta"]["search"]["seed"] == 0 and first[0]["meta"]["search"]["width"] == 2


def test_backbone_agent_and_batches_with_an_env_error():
    def answer(role, prompt, settings, k):
        if "observation" not in prompt.split("What is 2+3?")[-1].lower():
            expression = "2-3" if settings.temperature == 0 else "2+3"
            return f'Add.\nAction: calculator\nAction Input: {{"expression": "{expression}"}}'
        return "conclusion: 5" if '"response": "5"' in prompt else "conclusion: give up."

    def factory(task):
        if task.id == "bad":
            raise RuntimeError("no world")
        return CalculatorRegistry()
    agent = SingleLLMAgent(Policy(answer, "single_llm"), AgentConfig(search=_dfsdt()))
    trajs = agent.run_batch([_task(), _task("bad")], factory)
    assert trajs[1].outcome == "error" and trajs[1].meta["search"]["node_count"] == 0
    assert trajs[0].outcome == "conclusion" and trajs[0].meta["search"]["backtracks"] == 1


def test_tree_in_meta_round_trips_and_replays(tmp_path):
    from umi_lab.replay import export_replay_html
    from umi_lab.widgets import load_tracks

    agent = MultiLLMAgent(Policy(_greedy_gives_up), AgentConfig(search=_dfsdt()))
    trajs = agent.run_batch([_task("a"), _task("b")], lambda t: CalculatorRegistry())
    path = tmp_path / "trajectories.jsonl"
    path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in trajs))
    again = [RecordedTrajectory.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    assert [t.to_dict() for t in again] == [t.to_dict() for t in trajs]
    assert len(load_tracks(path)) == 2
    page = export_replay_html([path], tmp_path / "replay.html")
    assert "What is 2+3?" in page.read_text()


def test_search_config_validation():
    with pytest.raises(ValueError, match="strategy"):
        SearchConfig("bfs")
    with pytest.raises(ValueError):
        SearchConfig("dfsdt", width=0)
    assert SearchConfig("dfsdt", prune_on=["tool_error"]).to_dict()["prune_on"] == ["tool_error"]


def test_a_factory_handing_out_one_env_is_not_replayed_into():
    env = Counting()
    traj = MultiLLMAgent(Policy(_always_call), AgentConfig(max_steps=2, search=_dfsdt())).run(_task(), env)
    tree = traj.meta["search"]
    assert tree["shared_env"] and tree["replayed_calls"] == 0 and env.n == tree["node_count"]
