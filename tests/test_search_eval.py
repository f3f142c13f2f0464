"""Search and trials per evaluation: ``--search dfsdt`` and ``--trials k`` are recorded in the evaluation's
config, metrics and folder name; every trial is a trajectory of its own with per-task verdicts for pass^k."""

from __future__ import annotations

import argparse
import json
import random

import pytest
from scripted_models import Scripted

from umi_lab.evaluation import Benchmark, EvalSettings, evaluate_run, register_benchmark, unregister_benchmark
from umi_lab.evaluation.cli import add_cli, settings_from_args
from umi_lab.evaluation.settings import TRIAL_SEED_STRIDE
from umi_lab.io import read_json, write_json
from umi_lab.protocol.dialogue import Dialogue
from umi_lab.stats import pass_hat_k_mean
from umi_lab.tools.calculator import CalculatorRegistry

QUESTIONS = {"q1": ("2+3", "5"), "q2": ("4+4", "8")}


def _tasks(ctx, limit):
    docs = [t.to_dict() for t in CalculatorRegistry().tool_docs()]
    return [Dialogue.from_dict({"tools": docs, "instruction": f"What is {e}?", "id": tid, "answer": a,
                                "conversations": [{"from": "user", "value": f"What is {e}?"}]})
            for tid, (e, a) in list(QUESTIONS.items())[:limit]]


def _score(trajs, tasks, ctx):
    for t, task in zip(trajs, tasks):
        t.meta["correct"] = t.outcome == "conclusion" and t.dialogue.conversations[-1].value == task.extra["answer"]
    return {"accuracy": sum(t.meta["correct"] for t in trajs) / len(trajs)}


@pytest.fixture
def calc():
    register_benchmark(Benchmark("toy-calc", "add two numbers", tasks=_tasks,
                                 environment=lambda ctx: lambda task: CalculatorRegistry(), score=_score))
    yield
    unregister_benchmark("toy-calc")


def _run(path):
    write_json(path / "config.json", {"method": "alpha_umi", "model_name_or_path": "none", "family": "toolbench"})
    return path


def _expression(prompt):
    return prompt.split("What is ")[-1].split("?")[0]


def _greedy_gives_up(role, prompt, settings):
    """Greedy: the caller computes a wrong sum and the planner then gives up; sampled: right, concluded."""
    if role == "caller":
        e = _expression(prompt)
        return f'Action: calculator\nAction Input: {{"expression": "{e if settings.temperature else e + "+1"}"}}'
    if role == "summarizer":
        return str(eval(_expression(prompt)))  # the test's own arithmetic on its own questions
    if "observation:" not in prompt:
        return "Compute it. Next: caller."
    right = f'"response": "{eval(_expression(prompt))}"' in prompt
    return "Done. Next: conclusion." if right else "Wrong tool. Next: give up."


def test_dfsdt_is_selectable_per_evaluation_and_recorded(tmp_path, calc):
    run = _run(tmp_path)
    chain = evaluate_run(run, "toy-calc", models=Scripted(_greedy_gives_up))
    dfsdt = evaluate_run(run, "toy-calc", models=Scripted(_greedy_gives_up),
                         settings=EvalSettings(search="dfsdt", max_nodes=20))
    assert chain["accuracy"] == 0.0 and chain["outcomes"]["give_up"] == 2 and chain["search"] == {"strategy": "chain"}
    assert dfsdt["accuracy"] == 1.0 and dfsdt["search"]["strategy"] == "dfsdt" and dfsdt["search"]["width"] == 2
    assert dfsdt["search"]["avg_node_count"] == 4 and dfsdt["search"]["stops"] == {"conclusion": 2}
    folder = run / "eval" / "toy-calc-realtime-dfsdt"
    cfg = read_json(folder / "config.json")
    assert cfg["search"] == "dfsdt" and cfg["settings"]["max_nodes"] == 20
    assert read_json(run / "eval" / "toy-calc-realtime" / "config.json")["search"] == "chain"
    trajs = [json.loads(x) for x in (folder / "trajectories.jsonl").read_text().splitlines()]
    assert [t["meta"]["search"]["path"] for t in trajs] == [[3, 4], [3, 4]]
    # another node budget: its own folder (readable name + settings hash); the same budget: reused, no call
    wider = evaluate_run(run, "toy-calc", models=Scripted(_greedy_gives_up),
                         settings=EvalSettings(search="dfsdt", max_nodes=30))
    assert wider["eval_dir"].startswith(str(folder) + "-") and not wider.get("reused")
    again = Scripted(_greedy_gives_up)
    same = evaluate_run(run, "toy-calc", models=again, settings=EvalSettings(search="dfsdt", max_nodes=20))
    assert same["reused"] and same["eval_dir"] == str(folder) and again.calls == []
    assert same["accuracy"] == dfsdt["accuracy"]


def _coin(role, prompt, settings):
    """Sampled: the planner concludes right or wrong by a draw from the request's seed."""
    if role == "caller":
        return f'Action: calculator\nAction Input: {{"expression": "{_expression(prompt)}"}}'
    if role == "summarizer":
        return random.Random(settings.seed).choice([str(eval(_expression(prompt))), "no idea"])
    return "Done. Next: conclusion." if "observation:" in prompt else "Compute it. Next: caller."


def test_trials_are_recorded_per_trial_for_pass_k(tmp_path, calc):
    run = _run(tmp_path)
    models = Scripted(_coin)
    settings = EvalSettings.for_profile("official", "realtime")
    settings.trials = 4
    m = evaluate_run(run, "toy-calc", models=models, settings=settings)
    lines = [json.loads(x) for x in (run / "eval" / "toy-calc-realtime-k4" / "trajectories.jsonl").read_text()
             .splitlines()]
    assert [(t["task_id"], t["meta"]["trial"]) for t in lines] == [(q, j) for j in range(4) for q in QUESTIONS]
    per_task = m["trials"]["per_task"]
    assert m["trials"]["k"] == 4 and sorted(per_task) == ["q1", "q2"] and all(len(v) == 4 for v in per_task.values())
    assert per_task["q1"] == [t["meta"]["correct"] for t in lines if t["task_id"] == "q1"]
    assert m["n"] == 8 and m["accuracy"] == sum(sum(v) for v in per_task.values()) / 8
    assert sorted({c.seed // TRIAL_SEED_STRIDE for *_, c in models.calls}) == [0, 1, 2, 3]  # seeds per trial
    verdicts = [[int(per_task[q][j]) for q in sorted(per_task)] for j in range(4)]  # (trials, tasks)
    assert m["trials"]["pass_hat_k_tasks"] == 2 and sorted(m["trials"]["pass_hat_k"]) == ["1", "2", "3", "4"]
    for j in range(1, 5):
        assert m["trials"]["pass_hat_k"][str(j)] == pytest.approx(pass_hat_k_mean(verdicts, j))
    assert m["trials"]["pass_hat_k"]["1"] == pytest.approx(m["accuracy"])  # pass^1 is the mean success
    assert read_json(run / "eval" / "toy-calc-realtime-k4" / "metrics.json")["trials"] == m["trials"]
    again = evaluate_run(_run(tmp_path / "again"), "toy-calc", models=Scripted(_coin), settings=settings)
    assert again["trials"] == m["trials"]


def test_trials_need_sampling_and_flags_reach_the_settings(tmp_path, calc):
    with pytest.raises(ValueError, match="sampling"):
        evaluate_run(_run(tmp_path), "toy-calc", models=Scripted(_coin), settings=EvalSettings(trials=2))
    with pytest.raises(ValueError, match="strategy"):
        EvalSettings(search="bfs")
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    args = parser.parse_args(["evaluate", "--run", "r", "--benchmark", "toolworld-id", "--decoding", "official",
                              "--search", "dfsdt", "--search-width", "3", "--max-nodes", "30", "--trials", "2"])
    s = settings_from_args(args, "realtime")
    assert (s.search, s.search_width, s.max_nodes, s.trials, s.suffix) == ("dfsdt", 3, 30, 2, "-dfsdt-k2")
    assert s.search_config(1).seed == s.generation.seed + TRIAL_SEED_STRIDE
    default = settings_from_args(parser.parse_args(["evaluate", "--run", "r", "--benchmark", "toolworld-id"]),
                                 "realtime")
    assert (default.search, default.trials, default.suffix, default.search_config()) == ("chain", 1, "", None)


class Interrupting(Scripted):
    """Raises KeyboardInterrupt (a killed run) on its ``at``-th request."""

    def __init__(self, fn, at):
        super().__init__(fn)
        self.at = at

    def generate(self, prompts, roles, config=None):
        if len(self.calls) + len(prompts) >= self.at:
            raise KeyboardInterrupt
        return super().generate(prompts, roles, config)


def test_an_interrupted_evaluation_with_trials_resumes_by_trial(tmp_path, calc):
    settings = EvalSettings.for_profile("official", "realtime")
    settings.trials, settings.checkpoint_every = 3, 2
    ref = evaluate_run(_run(tmp_path / "ref"), "toy-calc", models=Scripted(_coin), settings=settings)
    with pytest.raises(KeyboardInterrupt):  # a trial: 4 rounds of 2 requests; die in trial 2
        evaluate_run(_run(tmp_path / "cut"), "toy-calc", models=Interrupting(_coin, at=10), settings=settings)
    again = Scripted(_coin)
    m = evaluate_run(tmp_path / "cut", "toy-calc", models=again, settings=settings)
    assert m["resume"]["resumed"] == 2 and m["resume"]["computed"] == 4
    assert sorted({c.seed // TRIAL_SEED_STRIDE for *_, c in again.calls}) == [1, 2]  # not trial 0 again
    assert m["trials"] == ref["trials"]
