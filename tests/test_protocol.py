"""The α-UMi text protocol: one documented answer per edge case, the same through every component.

Each case goes through the ``parse`` CLI, the agent (scripted model), the static metrics, the plots'
decision breakdown, the replay page and the ToolWorld success checker; all must agree with the table.
A hypothesis property test checks that whatever a producer (``compose_*``) writes parses back unchanged.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umi_lab.agent import AgentConfig, MultiLLMAgent, SingleLLMAgent
from umi_lab.cli import main
from umi_lab.plots import decision_counts
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord, Turn
from umi_lab.protocol.grammar import (
    Decision,
    compose_backbone,
    compose_call,
    compose_planner,
    official_backbone_step,
    parse_backbone,
    parse_call,
    parse_decision,
)
from umi_lab.protocol.predictions import backbone_prediction, compose_prediction
from umi_lab.protocol.prompts import PromptStyle, backbone_history, role_input
from umi_lab.replay import replay_data
from umi_lab.serving import Generation, GenerationSettings
from umi_lab.static_eval import evaluate_predictions, parse_step
from umi_lab.tools.calculator import CalculatorRegistry
from umi_lab.toolworld.success import check_success, dialogue_calls
from umi_lab.widgets import load_tracks

CALL = 'Action: calculator\nAction Input: {"expression": "2+3"}'
DEEP = "[" * 5000 + "]" * 5000
PLAN = {"caller": "call", "conclusion": "finish", "give_up": "give up", "invalid": "call"}  # invalid acts as caller

# (planner output, recorded decision)
PLANNER_CASES = [
    ("Add. Next: caller.", "caller"),
    ("Done. Next: conclusion.", "conclusion"),
    ("Stop. Next: give up.", "give_up"),
    ("x Next: Conclusion.", "invalid"),                      # case: marks are case-sensitive
    ("x next: caller.", "invalid"),
    ("x NEXT: GIVE UP.", "invalid"),
    ("x Next:caller.", "invalid"),                            # spacing: exactly one space
    ("x Next:  caller.", "invalid"),
    ("x Next: caller", "caller"),                             # the dot is optional
    ("x Next: conclusion", "conclusion"),
    ("x Next: caller. Next: caller.", "caller"),              # repeated marks
    ("x Next: caller. Next: conclusion.", "conclusion"),      # priority give up > conclusion > caller
    ("x Next: conclusion. Next: give up.", "give_up"),
    ("", "invalid"),                                          # empty
    ("   \n ", "invalid"),
    ("x Next: caller. and then some trailing text", "caller"),  # trailing text after Next:
    ("x Next: conclusion.\nconclusion: 42", "conclusion"),
    ("x Next: give up. I could not find it", "give_up"),
    ("x</s>Next: give up.", "invalid"),                       # only the text before </s> counts
    ("Go. Next: caller.</s>Next: give up.", "caller"),
    ("I will call.\n Next: caller.", "caller"),
    ("x Next: conclusion!", "conclusion"),
    ("Action: calculator\nAction Input: {}", "invalid"),      # a caller-format text from the planner
]

# (caller output, tool, arguments); tool None = no call could be read
CALLER_CASES = [
    (CALL, "calculator", '{"expression": "2+3"}'),
    ('Action : calculator\nAction Input: {"expression": "2+3"}', "calculator", '{"expression": "2+3"}'),
    ('Action:calculator\nAction Input:{"expression": "1+1"}', "calculator", '{"expression": "1+1"}'),
    ("Action: `calculator`\nAction Input: {}", "calculator", "{}"),
    ('Action: f\nAction Input: {}\nAction: calculator\nAction Input: {"expression": "2*3"}', "calculator",
     '{"expression": "2*3"}'),                                # two actions: the last one counts
    ("Action: calculator\nAction: other", "other", "{}"),
    ("Action: calculator", "calculator", "{}"),
    ("Action: calculator\nAction Input: not json at all", "calculator", "not json at all"),  # non-JSON arguments
    ('Action: calculator\nAction Input: {"expression": ', "calculator", '{"expression":'),
    ("Action: calculator\nAction Input: " + DEEP, "calculator", DEEP),  # deeply nested JSON
    ("", None, "{}"),
    ("I think I should add", None, "{}"),
    ("action: calculator\nAction Input: {}", None, "{}"),     # case-sensitive
    ("Action:\nAction Input: {}", None, "{}"),
    ("Action: calculator\nAction Input: {}</s>Action: other", "calculator", "{}"),
    ('Action Input: {"expression": "2+3"}\nAction: calculator', "calculator", '{"expression": "2+3"}'),
]

# (backbone output, default decision, default tool or answer, official plan)
BACKBONE_CASES = [
    ('Look.\nAction: calculator\nAction Input: {"expression": "2+3"}', "caller", "calculator", "call"),
    ("It is 5.\nconclusion: 5", "conclusion", "5", "finish"),
    ("Hard.\nconclusion: give up.", "give_up", None, "give up"),
    ("x\nconclusion: give up. The API is down.", "give_up", None, "give up"),
    ("Conclusion: 42", "conclusion", "42", "call"),
    ("conclusion: none yet\nAction: search\nAction Input: {}", "caller", "search", "finish"),
    ("hmm", "invalid", None, "call"),
    ("", "invalid", None, "call"),
    ("x Next: give up.", "give_up", None, "call"),
    ("CONCLUSION: 7", "conclusion", "7", "call"),
    ("x\nconclusion:give up", "give_up", None, "call"),
    ("a\nAction: calculator\nAction Input: {}\nconclusion: 3", "conclusion", "3", "finish"),
]


def test_table_is_large_enough():
    assert len(PLANNER_CASES) + len(CALLER_CASES) + len(BACKBONE_CASES) >= 40


class Scripted:
    """A stand-in model server answering each role from its own script (cycling)."""

    def __init__(self, scripts, method="alpha_umi"):
        self.scripts, self.pos, self.method = scripts, dict.fromkeys(scripts, 0), method

    def prompt(self, role, tools, history, *, thought=""):
        return PromptStyle().model_prompt(role_input(role, tools, history, thought=thought))

    def generate(self, prompts, roles, config=None):
        out = []
        for _, r in zip(prompts, roles):
            text = self.scripts[r][self.pos[r] % len(self.scripts[r])]
            self.pos[r] += 1
            out.append(Generation(text, 1, 1, 0.0))
        return out


TASK = {"solvable": False, "facts": [], "required_calls": [], "tools": ["calculator"]}  # must give up


def _task():
    return Dialogue(CalculatorRegistry().tool_docs(), "What is 2+3?", [Turn("user", "What is 2+3?")], {"id": "t1"})


def _cli(capsys, *argv):
    assert main(["parse", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def _gold(decision: str) -> Dialogue:
    d = Decision(decision) if decision != "invalid" else Decision.CALLER
    return Dialogue(CalculatorRegistry().tool_docs(), "q", [Turn("user", "q"), Turn("assistant", compose_planner("g", d))],
                    {"id": "t1"})


def _static_plan(prediction: str) -> str:
    ref = "assistant: r Next: caller.</s>caller: " + CALL + "</s>"
    m = evaluate_predictions([{"reference": ref, "predictions": prediction, "tools": [{"Name": "calculator"}]}])
    return next(p for p in ("call", "finish", "give up") if m["counts"][f"pred_{p}"])


@pytest.mark.parametrize("text,decision", PLANNER_CASES)
def test_planner_case_agrees_everywhere(text, decision, capsys):
    # 1. the CLI
    assert _cli(capsys, "planner", text)["decision"] == decision
    # 2. the agent: the step records the decision; the invalid policy acts as caller
    agent = MultiLLMAgent(Scripted({"planner": [text], "caller": [CALL], "summarizer": ["5"]}), AgentConfig(max_steps=1))
    traj = agent.run(_task(), CalculatorRegistry())
    step = traj.steps[0]
    assert step.decision == decision and (step.parse_error is not None) == (decision == "invalid")
    next_role = {"caller": "caller", "invalid": "caller", "conclusion": "summarizer", "give_up": None}[decision]
    assert (traj.steps[1].role if len(traj.steps) > 1 else None) == next_role
    back = RecordedTrajectory.from_dict(json.loads(json.dumps(traj.to_dict())))
    assert back.steps[0].decision == decision
    # 3. the static metrics score what the agent did
    assert _static_plan(compose_prediction(text, CALL, "5")) == PLAN[decision]
    # 4. the plots' decision breakdown shows the recorded decision (invalid included)
    counts = decision_counts({"m": [back]}).set_index("decision")["count"]
    assert counts[Decision(decision).label] == 1 and counts.sum() == 1
    # 5. the replay: the badge, and "= gold" only for a valid decision equal to the gold one
    cols = replay_data(load_tracks([back]), [], load_tracks([_gold(decision)], label="gold"))["tasks"][0]["columns"]
    turn = cols[0]["turns"][1]
    assert ("invalid (acted as caller)" in turn) == (decision == "invalid")
    assert ("= gold" in turn) == (decision != "invalid")
    # 6. the success checker reads the recorded final decision (an unsolvable task: only give_up passes)
    result = check_success(TASK, back)
    assert result.passed == (decision == "give_up")
    if decision != "give_up":
        assert f"ended with {decision}" in result.reasons[-1]


@pytest.mark.parametrize("text,tool,arguments", CALLER_CASES)
def test_caller_case_agrees_everywhere(text, tool, arguments, capsys):
    got = _cli(capsys, "caller", text)
    assert (got["tool"], got["arguments"]) == (tool, arguments)
    agent = MultiLLMAgent(Scripted({"planner": ["Go. Next: caller."], "caller": [text], "summarizer": ["5"]}),
                          AgentConfig(max_steps=1))
    traj = RecordedTrajectory.from_dict(json.loads(json.dumps(agent.run(_task(), CalculatorRegistry()).to_dict())))
    step = traj.steps[1]
    assert (step.tool, step.arguments) == (tool, arguments) and (step.parse_error is None) == (tool is not None)
    caller_turn = traj.dialogue.conversations[2]
    if tool is not None:
        assert caller_turn.value == compose_call(tool, arguments)
    # the static metrics: the action scored is the one executed ("none" when none was read)
    pred = compose_prediction("Go. Next: caller.", text)
    assert parse_step(pred)[1] == (tool or "none")
    ref = f"assistant: Go. Next: caller.</s>caller: {compose_call(tool or 'none', arguments)}</s>"
    m = evaluate_predictions([{"reference": ref, "predictions": pred, "tools": [{"Name": "calculator"}]}])
    assert m["action_em"] == 1.0 and m["counts"]["hallucinated"] == int(tool not in (None, "calculator"))
    # the success checker and the replay read the recorded call
    assert dialogue_calls(traj.dialogue, traj.steps)[0].api == (tool or "")
    html = replay_data(load_tracks([traj]))["tasks"][0]["columns"][0]["turns"][2]
    assert (f'<code class="umi-tool">{tool}</code>' in html) if tool else ("unparsed call" in html)


@pytest.mark.parametrize("text,decision,value,official_plan", BACKBONE_CASES)
def test_backbone_case_agrees_everywhere(text, decision, value, official_plan, capsys):
    got = _cli(capsys, "backbone", text)
    assert got["decision"] == decision
    assert (got["tool"] if decision == "caller" else got["answer"]) == value
    assert _cli(capsys, "backbone", "--compat", "official", text)["decision"] == Decision.coerce(official_plan).value
    assert official_backbone_step(text)[0] == official_plan
    # the agent (Single-LLM) records the decision; the plots, success checker and replay read it
    agent = SingleLLMAgent(Scripted({"backbone": [text]}, method="single_llm"), AgentConfig(max_steps=1))
    traj = RecordedTrajectory.from_dict(json.loads(json.dumps(agent.run(_task(), CalculatorRegistry()).to_dict())))
    assert traj.steps[0].decision == decision
    counts = decision_counts({"m": [traj]}).set_index("decision")["count"]
    assert counts[Decision(decision).label] == 1
    assert check_success(TASK, traj).passed == (decision == "give_up")
    turn = replay_data(load_tracks([traj]))["tasks"][0]["columns"][0]["turns"][1]
    assert ("invalid (acted as caller)" in turn) == (decision == "invalid")
    # the static metrics, both modes: predictions scored as the parser reads them
    for compat, plan in (("default", PLAN[decision]), ("official", official_plan)):
        ref = "r\nconclusion: 5"
        m = evaluate_predictions([{"reference": ref, "predictions": text, "tools": [{"Name": "calculator"}]}],
                                 backbone=True, compat=compat)
        assert m["counts"][f"pred_{plan}"] == 1, compat
        assert parse_step(backbone_prediction(text, compat))[0] == plan, compat


def test_issue15_backbone_official_cases():
    """Defect 4: the three cases where ours differed from evaluate-backbone.py."""
    assert official_backbone_step("Sorry.\nconclusion: give up. The API is down.")[0] == "give up"
    assert parse_backbone("Sorry.\nconclusion: give up. The API is down.", "official").decision == "give_up"
    assert parse_backbone("Conclusion: 42", "official").decision == "caller"
    assert parse_backbone("Conclusion: 42", "official").tool == "none"
    p = parse_backbone("conclusion: none yet\nAction: search", "official")
    assert p.decision == "conclusion" and p.answer == "none yet\nAction: search"
    # the default reading is lenient and documented
    assert parse_backbone("Sorry.\nconclusion: give up. The API is down.").decision == "give_up"
    assert parse_backbone("Conclusion: 42").answer == "42"
    assert parse_backbone("conclusion: none yet\nAction: search").tool == "search"


def test_static_decoding_budget_is_official():
    """Defect 6: 512 new tokens by default (the official static and real-time budget), not 256."""
    from umi_lab.evaluation import EvalSettings

    assert GenerationSettings().max_new_tokens == 512
    assert EvalSettings().generation.max_new_tokens == 512


def test_old_trajectory_files_read_with_decisions():
    old = {"role": "planner", "output": "hmm", "error": "parse: no Next: decision", "decision": "caller"}
    step = StepRecord.from_dict(old)
    assert step.decision == "invalid" and step.parse_error == "no Next: decision"
    assert StepRecord.from_dict({"role": "planner", "output": "x", "decision": "give up"}).decision == "give_up"
    assert StepRecord.from_dict({"role": "backbone", "output": "x", "decision": "call"}).decision == "caller"


def test_one_definition_of_the_marks():
    import umi_lab.splitting as splitting
    import umi_lab.static_eval as static_eval
    from umi_lab.protocol import dialogue, grammar

    assert static_eval.DECISION_MARKS is grammar.DECISION_MARKS
    assert dialogue.DECISIONS == tuple(grammar.DECISION_MARKS)
    assert not hasattr(splitting, "NEXT_CALLER")


# ------------------------------------------------------------------------------------------ round trips
_words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_thought = _words.filter(lambda t: "</s>" not in t and "Next:" not in t and "Action" not in t
                         and "conclusion" not in t.lower() and "next: give up" not in t.lower())
_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=10).map(json.dumps)
_args = _json.filter(lambda a: "</s>" not in a and "Action" not in a and a.strip())


@given(_thought, st.sampled_from(["caller", "conclusion", "give_up"]))
@settings(max_examples=150, deadline=None)
def test_planner_text_round_trips(thought, decision):
    text = compose_planner(thought, decision)
    p = parse_decision(text)
    assert (p.decision, p.thought, p.text, p.error) == (decision, thought.strip(), text, None)


@given(_name, _args)
@settings(max_examples=150, deadline=None)
def test_call_text_round_trips(tool, arguments):
    text = compose_call(tool, arguments)
    p = parse_call(text)
    assert (p.tool, p.arguments, p.text, p.error) == (tool, arguments.strip(), compose_call(tool, arguments.strip()), None)


@given(_thought, st.sampled_from(["caller", "conclusion", "give_up"]), _name, _args,
       _thought.filter(lambda a: a.strip() and not a.strip().lower().startswith(("give up", "i give up"))
                       and a.strip() not in (".", ",") and not a.startswith(": ")))
@settings(max_examples=150, deadline=None)
def test_backbone_text_round_trips(thought, decision, tool, arguments, answer):
    text = compose_backbone(thought, decision, tool=tool, arguments=arguments, answer=answer)
    p = parse_backbone(text)
    assert (p.decision, p.thought) == (decision, thought.strip())
    if decision == "caller":
        assert (p.tool, p.arguments) == (tool, arguments.strip())
    if decision == "conclusion":
        assert p.answer == answer.strip()


def test_backbone_history_renders_agent_turns():
    turns = [Turn("user", "q"), Turn("assistant", compose_planner("t", "caller")), Turn("caller", compose_call("f", "{}")),
             Turn("observation", "1")]
    assert backbone_history(turns) == "user: q</s>assistant: " + compose_backbone("t", "caller", tool="f",
                                                                                 arguments="{}") + "</s>observation: 1"
