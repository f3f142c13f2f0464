"""Evaluation: oracle models reproduce perfect static metrics and pass real-time tasks; files, CLI, errors."""

from __future__ import annotations

import json

import pytest

from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.evaluate import (
    EvalSettings,
    backbone_history,
    backbone_prediction,
    evaluate_run,
    realtime_tasks,
    static_benchmark_samples,
)
from umi_lab.io import write_json
from umi_lab.prompts import PromptStyle, history_string, role_input
from umi_lab.serving import Generation, build_random_run
from umi_lab.splitting import backbone_target
from umi_lab.static_eval import caller_input, summarizer_input
from umi_lab.trajectory import Turn, load_dialogues


class Oracle:
    """Answers every prompt it was taught with the gold text (unknown prompts: a give-up)."""

    def __init__(self, answers: dict[tuple[str, str], str], method="alpha_umi", roles=("planner", "caller", "summarizer")):
        self.answers, self.method, self.family = answers, method, "toolbench"
        self.style = PromptStyle()
        self.role_map = {r: r for r in roles}
        self.unknown = 0

    def prompt(self, role, tools, history, *, thought=""):
        return self.style.model_prompt(role_input(role, tools, history, thought=thought, family=self.family))

    def generate(self, prompts, roles, config=None):
        out = []
        for p, r in zip(prompts, roles):
            text = self.answers.get((r, p))
            if text is None:
                self.unknown += 1
                text = "lost Next: give up."
            out.append(Generation(text, len(p) // 4, len(text) // 4 + 1, 0.001))
        return out


def _run_dir(tmp_path, method="alpha_umi"):
    write_json(tmp_path / "config.json", {"method": method, "model_name_or_path": "none", "family": "toolbench"})
    return tmp_path


def _static_oracle(samples):
    style, answers = PromptStyle(), {}
    for s in samples:
        value = s["reference"].split("</s>")[0].removeprefix("assistant: ")
        answers[("planner", style.model_prompt(s["model_input"]))] = value
        if s["decision"] == "caller":
            answers[("caller", style.model_prompt(caller_input(s, value)))] = s["reference"].split("</s>")[1][8:]
        elif s["decision"] == "conclusion":
            answers[("summarizer", style.model_prompt(summarizer_input(s, value)))] = s["reference"].split("</s>")[1][12:]
    return answers


def test_static_oracle_scores_perfectly_on_toolbench_ood(tmp_path, shared_data):
    samples = static_benchmark_samples("toolbench-ood")
    assert len(samples) == 1547
    oracle = Oracle(_static_oracle(samples[:60]))
    run = _run_dir(tmp_path)
    m = evaluate_run(run, "toolbench-ood", "static", limit=60, models=oracle)
    assert oracle.unknown == 0
    assert m["plan_em"] == 1.0 and m["action_em"] == 1.0 and m["hallu_rate"] == 0.0
    assert m["f1"] > 0.999 and m["rouge"] > 0.99 and m["n_items"] == 60
    preds = json.loads((run / "eval" / "toolbench-ood-static" / "predictions.json").read_text())
    assert len(preds) == 60 and preds[0]["predictions"].startswith("asssitant: ")
    saved = json.loads((run / "eval" / "toolbench-ood-static" / "metrics.json").read_text())
    assert saved["plan_em"] == 1.0
    cfg = json.loads((run / "eval" / "toolbench-ood-static" / "config.json").read_text())
    assert cfg["run"]["method"] == "alpha_umi" and cfg["limit"] == 60


def test_static_wrong_planner_is_scored_as_such(tmp_path, shared_data):
    samples = static_benchmark_samples("toolalpaca-real")
    oracle = Oracle({})  # gives up on everything
    m = evaluate_run(_run_dir(tmp_path), "toolalpaca-real", "static", models=oracle)
    assert m["n_items"] == len(samples) and m["plan_em"] == 0.0 and m["counts"]["pred_give up"] == len(samples)


def test_backbone_static_oracle(tmp_path, shared_data):
    samples = static_benchmark_samples("toolbench-ood")[:40]
    style, answers = PromptStyle(), {}
    dialogues = load_dialogues(shared_data / "alpha_umi_toolbench" / "test" / "out_of_domain.json")
    for s in samples:
        turns = dialogues[s["dialogue_index"]].conversations
        prompt = style.model_prompt(role_input("backbone", s["tools"], backbone_history(s["history"])))
        answers[("backbone", prompt)] = backbone_target(turns, s["turn_index"])[1]
    # a single_llm run serves every role with the backbone adapter; static evaluation must use backbone prompts
    oracle = Oracle(answers, method="single_llm", roles=("backbone", "planner", "caller", "summarizer"))
    m = evaluate_run(_run_dir(tmp_path, "single_llm"), "toolbench-ood", "static", limit=40, models=oracle)
    assert oracle.unknown == 0 and m["plan_em"] == 1.0 and m["action_em"] == 1.0 and m["f1"] > 0.999


def test_backbone_prediction_shapes():
    assert backbone_prediction("Hard.\nconclusion: give up.") == "Hard. Next: give up."
    assert backbone_prediction("ok\nconclusion: 42") == "asssitant: ok Next: conclusion.</s>conclusion: 42"
    assert backbone_prediction("???") == "asssitant: ??? Next: caller.</s>caller: none"


def _gold_oracle(dialogues):
    style, answers = PromptStyle(), {}
    for d in dialogues:
        t = d.conversations
        for i, turn in enumerate(t):
            h = history_string(t[:i])
            if turn.role == "assistant":
                answers[("planner", style.model_prompt(role_input("planner", d.tools, h)))] = turn.value
            elif turn.role == "caller":
                key = style.model_prompt(role_input("caller", d.tools, h, thought=t[i - 1].value))
                answers[("caller", key)] = turn.value
            elif turn.role == "conclusion":
                answers[("summarizer", style.model_prompt(role_input("summarizer", d.tools, h)))] = turn.value
    return answers


def test_realtime_gold_replay_passes_toolworld(tmp_path):
    gold = load_dialogues("data/toolworld/test_in_domain.json")[:12]
    oracle = Oracle(_gold_oracle(gold))
    run = _run_dir(tmp_path)
    m = evaluate_run(run, "toolworld-id", "realtime", limit=12, models=oracle,
                     settings=EvalSettings(max_steps=20))
    assert oracle.unknown == 0
    assert m["pass_rate"] == 1.0 and m["n"] == 12 and m["hallucinated_tool_rate"] == 0.0
    expected_give_up = sum(d.conversations[-1].value.endswith("Next: give up.") for d in gold)
    assert m["outcomes"]["give_up"] == expected_give_up
    assert m["avg_steps"] == sum(sum(t.role == "assistant" for t in d.conversations) for d in gold) / 12
    lines = (run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["meta"]["success"]["passed"] is True


def test_realtime_gsm8k_accuracy_with_grader(tmp_path, shared_data):
    tasks = realtime_tasks("gsm8k", limit=4)
    answers = {}
    for k, t in enumerate(tasks):
        history = f"user: {t.instruction}</s>"
        planner = PromptStyle().model_prompt(role_input("planner", t.tools, history))
        answers[("planner", planner)] = "I know it. Next: conclusion."
        summ = PromptStyle().model_prompt(role_input("summarizer", t.tools, history + "assistant: I know it. Next: conclusion.</s>"))
        # two right (one with a thousands separator and a unit), two wrong
        answers[("summarizer", summ)] = [f"The answer is {int(t.extra['answer']):,} dollars.", t.extra["answer"],
                                         "7777777", "no idea"][k]
    m = evaluate_run(_run_dir(tmp_path), "gsm8k", "realtime", models=Oracle(answers), limit=4)
    assert (m["accuracy"], m["correct"], m["n"]) == (0.5, 2, 4)


def test_errors(tmp_path):
    with pytest.raises(DataError, match="unknown benchmark"):
        evaluate_run(tmp_path, "nope")
    with pytest.raises(DataError, match="no realtime protocol|has no realtime"):
        evaluate_run(tmp_path, "toolbench-ood", "realtime")
    with pytest.raises(DataError, match="not a run directory"):
        evaluate_run(tmp_path / "missing", "gsm8k")
    assert main(["evaluate", "--run", str(tmp_path), "--benchmark", "gsm8k", "--mode", "static"]) == 2
    _run_dir(tmp_path)
    (tmp_path / "status").write_text("running\n")
    with pytest.raises(DataError, match="training did not finish") as e:
        evaluate_run(tmp_path, "gsm8k")
    assert e.value.file == str(tmp_path / "status")


def test_cli_smoke_on_a_random_adapter_run(tmp_path, capsys):
    run = build_random_run(tmp_path / "run", method="alpha_umi")
    assert main(["evaluate", "--run", str(run), "--benchmark", "toolworld-ood", "--mode", "static", "--smoke"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["n_items"] == 4 and 0 <= printed["plan_em"] <= 1
    out = run / "eval" / "toolworld-ood-static"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json", "predictions.json"]


def test_backbone_history_golden():
    h = [{"from": "user", "value": "q"}, {"from": "assistant", "value": "t Next: caller."},
         {"from": "caller", "value": "Action: f\nAction Input: {}"}, {"from": "observation", "value": "1"}]
    assert backbone_history(h) == "user: q</s>assistant: t\nAction: f\nAction Input: {}</s>observation: 1"
    assert Turn.from_dict(h[0]).value == "q"


class ByRole:
    """A model stand-in answering ``fn(role, prompt)``."""

    def __init__(self, fn, method="alpha_umi"):
        self.fn, self.method, self.family, self.style = fn, method, "toolbench", PromptStyle()
        self.role_map = {r: r for r in ("planner", "caller", "summarizer")}

    def prompt(self, role, tools, history, *, thought=""):
        return self.style.model_prompt(role_input(role, tools, history, thought=thought, family=self.family))

    def generate(self, prompts, roles, config=None):
        return [Generation(self.fn(r, p), 1, 1, 0.0) for p, r in zip(prompts, roles)]


def test_realtime_math_runs_the_python_sandbox(tmp_path, shared_data):
    tasks = realtime_tasks("math", limit=2)

    def answer(role, prompt):
        if role == "planner":
            return "Done. Next: conclusion." if "observation: " in prompt else "Compute it. Next: caller."
        if role == "caller":
            return 'Action: python\nAction Input: {"code": "print(6*7)"}'
        task = next(t for t in tasks if t.instruction in prompt)
        return f"The answer is $\\boxed{{{task.extra['answer']}}}$."
    run = _run_dir(tmp_path)
    m = evaluate_run(run, "math", "realtime", limit=2, models=ByRole(answer))
    assert (m["accuracy"], m["n"], m["tool_calls"], m["outcomes"]["conclusion"]) == (1.0, 2, 2, 2)
    traj = json.loads((run / "eval" / "math-realtime" / "trajectories.jsonl").read_text().splitlines()[0])
    assert json.loads(traj["dialogue"]["conversations"][3]["value"])["response"].strip() == "42"
    assert traj["meta"]["correct"] is True and traj["steps"][1]["tool_status"] == "ok"
