"""Agents: scripted golden runs (multi-LLM and backbone), counters, guards, parse fuzzing, tiny-model end to end."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umi_lab.agent import (
    OUTCOMES,
    AgentConfig,
    MultiLLMAgent,
    SingleLLMAgent,
    make_agent,
    trajectory_stats,
)
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, Turn
from umi_lab.protocol.grammar import parse_backbone, parse_call, parse_decision
from umi_lab.protocol.prompts import PromptStyle, role_input
from umi_lab.serving import Generation, GenerationSettings, RoleModels, build_random_run
from umi_lab.tools.cache_replay import CacheReplay
from umi_lab.tools.calculator import CalculatorRegistry


class Scripted:
    """A stand-in model server answering each role from its own script (cycling), recording the prompts."""

    def __init__(self, scripts: dict[str, list[str]], method: str = "alpha_umi"):
        self.scripts = {r: list(v) for r, v in scripts.items()}
        self.pos = dict.fromkeys(scripts, 0)
        self.method = method
        self.prompts: list[tuple[str, str]] = []
        self.calls = 0

    def prompt(self, role, tools, history, *, thought=""):
        return PromptStyle().model_prompt(role_input(role, tools, history, thought=thought))

    def generate(self, prompts, roles, config=None):
        self.calls += 1
        out = []
        for p, r in zip(prompts, roles):
            self.prompts.append((r, p))
            text = self.scripts[r][self.pos[r] % len(self.scripts[r])]
            self.pos[r] += 1
            out.append(Generation(text, len(p.split()), len(text.split()) + 1, 0.01))
        return out


def _task(q="What is 2+3?", tid="t1"):
    return Dialogue(CalculatorRegistry().tool_docs(), q, [Turn("user", q)], {"id": tid})


CALL = 'Action: calculator\nAction Input: {"expression": "2+3"}'


def test_multi_llm_golden_run():
    models = Scripted({"planner": ["Add them. Next: caller. extra", "It is 5. Next: conclusion."],
                       "caller": [CALL], "summarizer": ["The answer is 5.</s>junk"]})
    traj = MultiLLMAgent(models).run(_task(), CalculatorRegistry())
    assert traj.outcome == "conclusion" and traj.task_id == "t1" and traj.method == "alpha_umi"
    assert [(t.role, t.value) for t in traj.dialogue.conversations] == [
        ("user", "What is 2+3?"), ("assistant", "Add them. Next: caller."), ("caller", CALL),
        ("observation", '{"error": "", "response": "5"}'), ("assistant", "It is 5. Next: conclusion."),
        ("conclusion", "The answer is 5.")]
    assert [s.role for s in traj.steps] == ["planner", "caller", "planner", "summarizer"]
    assert all(s.error is None for s in traj.steps) and traj.steps[1].extra["tool_status"] == "ok"
    assert traj.meta["decisions"] == 2 and traj.meta["tool_calls"] == 1 and traj.meta["hallucinated_tool"] == 0
    # the caller saw the planner's thought and the history with the new assistant turn
    caller_prompt = models.prompts[1][1]
    assert "The thought of this step is:\nAdd them. Next: caller." in caller_prompt
    expected = PromptStyle().model_prompt(role_input(
        "caller", CalculatorRegistry().tool_docs(), "user: What is 2+3?</s>assistant: Add them. Next: caller.</s>",
        thought="Add them. Next: caller."))
    assert caller_prompt == expected
    again = RecordedTrajectory.from_dict(json.loads(json.dumps(traj.to_dict())))
    assert again.to_dict() == traj.to_dict()


def test_counts_hallucinations_bad_arguments_and_parse_errors():
    models = Scripted({"planner": ["go Next: caller.", "go Next: caller.", "no decision here", "stop. Next: give up."],
                       "caller": ["Action: magic\nAction Input: {}", 'Action: calculator\nAction Input: {"x": 1}',
                                  "nothing useful"], "summarizer": ["x"]})
    traj = MultiLLMAgent(models).run(_task(), CalculatorRegistry())
    assert traj.outcome == "give_up"
    assert [s.error for s in traj.steps] == [None, "tool: unknown_tool", None, "tool: bad_arguments",
                                             "parse: no Next: decision", "parse: no Action", None]
    assert (traj.meta["hallucinated_tool"], traj.meta["invalid_arguments"], traj.meta["parse_errors"]) == (1, 1, 2)
    assert traj.meta["tool_calls"] == 2
    stats = trajectory_stats([traj])
    assert stats["hallucinated_tool_rate"] == 0.5 and stats["invalid_argument_rate"] == 0.5
    assert stats["give_up_rate"] == 1.0 and stats["outcomes"]["give_up"] == 1


def test_repetition_guard_and_step_limit():
    models = Scripted({"planner": ["again Next: caller."], "caller": [CALL], "summarizer": ["x"]})
    traj = MultiLLMAgent(models, AgentConfig(max_steps=10, repeat_limit=3)).run(_task(), CalculatorRegistry())
    assert traj.outcome == "repetition" and traj.meta["tool_calls"] == 2 and traj.steps[-1].extra["repeated"] == 3
    models = Scripted({"planner": ["again Next: caller."],
                       "caller": [f'Action: calculator\nAction Input: {{"expression": "{k}+1"}}' for k in range(9)],
                       "summarizer": ["x"]})
    traj = MultiLLMAgent(models, AgentConfig(max_steps=4)).run(_task(), CalculatorRegistry())
    assert traj.outcome == "step_limit" and traj.meta["decisions"] == 4


def test_env_failure_and_crashing_tool_are_counted():
    def broken(task):
        raise RuntimeError("no world")
    models = Scripted({"planner": ["x Next: give up."], "caller": [CALL], "summarizer": ["x"]})
    trajs = MultiLLMAgent(models).run_batch([_task(), _task(tid="t2")], broken)
    assert [t.outcome for t in trajs] == ["error", "error"] and "no world" in trajs[0].meta["error"]

    class Crashing(CalculatorRegistry):
        def call(self, name, arguments):
            raise ValueError("boom")
    models = Scripted({"planner": ["x Next: caller.", "y Next: give up."], "caller": [CALL], "summarizer": ["x"]})
    traj = MultiLLMAgent(models).run(_task(), Crashing())
    assert traj.meta["tool_errors"] == 1 and "boom" in traj.dialogue.conversations[3].value


def test_backbone_agent_golden_run():
    models = Scripted({"backbone": ['I add.\nAction: calculator\nAction Input: {"expression": "2+3"}',
                                    "Got it.\nconclusion: 5"]}, method="single_llm")
    agent = make_agent(models)
    assert isinstance(agent, SingleLLMAgent) and agent.mode == "backbone"
    traj = agent.run(_task(), CalculatorRegistry())
    assert traj.outcome == "conclusion" and traj.method == "single_llm"
    assert [(t.role, t.value) for t in traj.dialogue.conversations] == [
        ("user", "What is 2+3?"), ("assistant", "I add. Next: caller."), ("caller", CALL),
        ("observation", '{"error": "", "response": "5"}'), ("assistant", "Got it. Next: conclusion."),
        ("conclusion", "5")]
    second = models.prompts[1][1]
    assert second.endswith('user: What is 2+3?</s>assistant: I add.\n' + CALL + '</s>observation: '
                           '{"error": "", "response": "5"}\n' + second.split('"response": "5"}\n', 1)[1])
    assert "give up" in second and second.endswith(" assistant: ")
    gave_up = SingleLLMAgent(Scripted({"backbone": ["Hard.\nconclusion: give up."]})).run(_task(), CalculatorRegistry())
    assert gave_up.outcome == "give_up" and gave_up.dialogue.conversations[-1].value == "Hard. Next: give up."


def test_multitask_mode_uses_the_role_loop():
    models = Scripted({"planner": ["Done. Next: conclusion."], "caller": [CALL], "summarizer": ["5"]},
                      method="single_llm_multitask")
    agent = make_agent(models)
    assert isinstance(agent, SingleLLMAgent) and agent.mode == "multitask"
    traj = agent.run(_task(), CalculatorRegistry())
    assert traj.outcome == "conclusion" and [s.role for s in traj.steps] == ["planner", "summarizer"]


def _call(text):
    p = parse_call(text)
    return p.tool, p.arguments, p.error


def test_parsers_golden():
    assert _call("Action: f\nAction Input: {\"a\": 1}") == ("f", '{"a": 1}', None)
    assert _call("Action: `f`") == ("f", "{}", None)
    assert _call("Action Input: {}\nAction: g") == ("g", "{}", None)
    assert _call("Action:\nAction Input: {}") == (None, "{}", "empty Action")
    p = parse_decision("x Next: give up. y")
    assert (p.decision, p.text, p.error) == ("give_up", "x Next: give up.", None)
    assert parse_backbone("hmm").decision == "invalid"
    assert parse_backbone("a\nAction: f\nAction Input: {}\nconclusion: 3").answer == "3"


PIECES = list("ab :{}\"\n.") + ["Action:", "Action Input:", "Next: caller.", "Next: conclusion.", "Next: give up.",
                                 "conclusion:", "calculator", "</s>", '{"expression": "1+1"}', "give up."]
texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parsers_never_crash_on_arbitrary_text(text):
    name, args, err = _call(text)
    assert (name is None) == (err is not None) and isinstance(args, str)
    assert parse_backbone(text).decision in ("caller", "conclusion", "give_up", "invalid")
    assert parse_decision(text).decision in ("caller", "conclusion", "give_up", "invalid")


@given(st.lists(texts, min_size=1, max_size=4), st.lists(texts, min_size=1, max_size=4),
       st.lists(texts, min_size=1, max_size=3))
@settings(max_examples=60, deadline=None)
def test_agents_never_crash_on_malformed_generations(plans, calls, backbone):
    scripts = {"planner": plans, "caller": calls, "summarizer": ["ok"], "backbone": backbone}
    for agent in (MultiLLMAgent(Scripted(scripts), AgentConfig(max_steps=3)),
                  SingleLLMAgent(Scripted(scripts), AgentConfig(max_steps=3))):
        traj = agent.run(_task(), CalculatorRegistry())
        assert traj.outcome in OUTCOMES
        Dialogue.from_dict(traj.dialogue.to_dict())  # well-formed
        assert traj.meta["parse_errors"] == sum(1 for s in traj.steps if (s.error or "").startswith("parse"))


def test_cache_replay_task_end_to_end(shared_data):
    replay = CacheReplay(shared_data / "toolbench_example")
    task = replay.tasks()[0]
    call = 'Action: transitaire_for_transitaires\nAction Input: {"is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"}'
    models = Scripted({"planner": ["Look it up. Next: caller.", "Found. Next: conclusion."], "caller": [call],
                       "summarizer": ["Phone +687 27.55.48"]})
    traj = MultiLLMAgent(models).run_batch([task], replay.env_for)[0]
    assert traj.outcome == "conclusion" and "98800" in traj.dialogue.conversations[3].value
    assert traj.steps[1].extra["tool_status"] == "ok"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    run = build_random_run(tmp_path_factory.mktemp("run") / "alpha", method="alpha_umi", seed=2)
    return RoleModels.from_run(run, device="cpu")


def test_tiny_model_end_to_end_batched_equals_single(tiny_models, shared_data):
    rows = [json.loads(x) for x in (shared_data / "gsm8k" / "test.jsonl").read_text().splitlines()[:3]]
    tasks = [_task(r["question"], f"gsm8k-{i}") for i, r in enumerate(rows)]
    config = AgentConfig(max_steps=2, generation=GenerationSettings(max_new_tokens=12, batch_size=8))
    agent = MultiLLMAgent(tiny_models, config)
    batch = agent.run_batch(tasks, lambda t: CalculatorRegistry())
    single = [agent.run(t, CalculatorRegistry()) for t in tasks]
    assert [t.to_dict()["dialogue"] for t in batch] == [t.to_dict()["dialogue"] for t in single]
    for traj in batch:
        assert traj.outcome in OUTCOMES and traj.steps and traj.steps[0].role == "planner"
        assert all(s.prompt_tokens > 0 and 0 < s.generated_tokens <= 12 for s in traj.steps)
        Dialogue.from_dict(traj.dialogue.to_dict())
    stats = trajectory_stats(batch)
    assert stats["n"] == 3 and sum(stats["outcomes"].values()) == 3 and stats["avg_steps"] >= 1
