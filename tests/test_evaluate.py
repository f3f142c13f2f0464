"""Evaluation: oracle models reproduce perfect static metrics and pass real-time tasks; files, CLI, errors."""

from __future__ import annotations

import json

import pytest

from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.evaluation import (
    EvalSettings,
    backbone_history,
    backbone_prediction,
    evaluate_run,
    realtime_tasks,
    static_benchmark_samples,
)
from umi_lab.io import write_json
from umi_lab.protocol.dialogue import Turn, load_dialogues
from umi_lab.protocol.prompts import PromptStyle, history_string, role_input
from umi_lab.rundir import RunDir
from umi_lab.serving import Generation, build_random_run
from umi_lab.splitting import backbone_target
from umi_lab.static_eval import caller_input, summarizer_input


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


def _files(folder):
    """The files of an evaluation folder a user sees (its lock file is hidden)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


FINAL_STATIC = ["config.json", "identity.json", "metrics.json", "predictions.json"]


def test_cli_smoke_on_a_random_adapter_run(tmp_path, capsys):
    run = build_random_run(tmp_path / "run", method="alpha_umi")
    base = ["evaluate", "--run", str(run), "--benchmark", "toolworld-ood", "--mode", "static", "--smoke"]
    assert main(base) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["n_items"] == 4 and 0 <= printed["plan_em"] <= 1
    out = run / "eval" / "toolworld-ood-static"
    assert _files(out) == FINAL_STATIC
    assert (printed["resumed"], printed["computed"], printed["corrupt_lines"], printed["errors"]) == (0, 4, 0, 0)
    ident = json.loads((out / "identity.json").read_text())
    assert (ident["n_items"], ident["settings"]["generation"]["max_new_tokens"], ident["method"]) == (4, 16, "alpha_umi")

    # the same command again: the finished evaluation is reused, and says so
    assert main(base) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"evaluation: reusing {out} (same settings, finished") and lines[-1] == f"reused: {out}"
    assert RunDir(run).eval_metrics("toolworld-ood", "static", ident)["n_items"] == 4

    # other settings: their own folder, named with the settings' hash, never an error, never a reuse
    assert main(base + ["--max-new-tokens", "17"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "differs in settings.generation.max_new_tokens" in lines[0]
    other = [f for f, i in RunDir(run).evaluations("toolworld-ood", "static")
             if i["settings"]["generation"]["max_new_tokens"] == 17]
    assert len(other) == 1 and other[0].name.startswith("toolworld-ood-static-") and lines[-1] == f"written: {other[0]}"
    assert len(RunDir(run).evaluations()) == 2 and json.loads((out / "identity.json").read_text()) == ident

    # an evaluation killed after its first chunk of 2 (an oracle stands in for the model), resumed by the CLI
    class Cut(Oracle):
        def generate(self, prompts, roles, config=None):
            if self.unknown >= 2:
                raise KeyboardInterrupt
            return super().generate(prompts, roles, config)

    settings = EvalSettings.smoke()
    settings.checkpoint_every, settings.generation.max_new_tokens = 2, 18
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run, "toolworld-ood", "static", smoke=True, models=Cut({}), settings=settings)
    said = capsys.readouterr().out
    cut = [f for f, i in RunDir(run).evaluations(unfinished=True) if not (f / "metrics.json").is_file()]
    assert len(cut) == 1 and f"evaluation interrupted: 2 of 4 items saved in {cut[0]}" in said
    assert "run the same command again to resume" in said
    assert _files(cut[0]) == ["identity.json", "partial.json", "predictions.partial.jsonl"]
    assert main(base + ["--max-new-tokens", "18"]) == 0  # another cadence: the same evaluation, resumed
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (printed["resumed"], printed["computed"], printed["n_items"]) == (2, 2, 4)
    preds = json.loads((cut[0] / "predictions.json").read_text())
    assert [p["planner_output"] for p in preds[:2]] == ["lost Next: give up."] * 2  # kept from the partial file
    assert _files(cut[0]) == FINAL_STATIC
    settings.generation.max_new_tokens = 19
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run, "toolworld-ood", "static", smoke=True, models=Cut({}), settings=settings)
    capsys.readouterr()
    assert main(base + ["--max-new-tokens", "19", "--restart"]) == 0  # --restart: discard the partial results
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (printed["resumed"], printed["computed"]) == (0, 4)


def test_ctrl_c_in_the_cli_keeps_results_and_exits_130(tmp_path, capsys, monkeypatch):
    from umi_lab.serving import RoleModels

    run = build_random_run(tmp_path / "run", method="alpha_umi")

    class Cut(Oracle):
        def generate(self, prompts, roles, config=None):
            if self.unknown >= 2:
                raise KeyboardInterrupt
            return super().generate(prompts, roles, config)

    monkeypatch.setattr(RoleModels, "from_run", classmethod(lambda cls, *a, **k: Cut({})))
    base = ["evaluate", "--run", str(run), "--benchmark", "toolworld-ood", "--mode", "static", "--smoke",
            "--checkpoint-every", "2"]
    assert main(base) == 130
    captured = capsys.readouterr()
    out = run / "eval" / "toolworld-ood-static"
    assert captured.out == (f"evaluation interrupted: 2 of 4 items saved in {out}; "
                            "run the same command again to resume\n")
    assert "Traceback" not in captured.err and "KeyboardInterrupt" not in captured.err
    assert "toolworld-ood static" in captured.err and "| 2/4 [" in captured.err  # one progress bar, with ETA
    monkeypatch.setattr(RoleModels, "from_run", classmethod(lambda cls, *a, **k: Oracle({})))
    assert main(base) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out.splitlines()[0])
    assert (printed["resumed"], printed["computed"], printed["n_items"]) == (2, 2, 4)
    assert "| 4/4 [" in captured.err and captured.err.count("toolworld-ood static") >= 1


def test_an_unfinished_training_is_refused_and_a_second_writer_too(tmp_path):
    run = build_random_run(tmp_path / "run", method="alpha_umi")
    for status in ("running", "interrupted", "failed"):
        (run / "status").write_text(status + "\n")
        with pytest.raises(DataError, match=f"training did not finish \\(status: {status}") as e:
            evaluate_run(run, "toolworld-ood", "static", smoke=True, models=Oracle({}))
        assert e.value.file == str(run / "status") and "--resume" not in str(e.value)
    (run / "status").write_text("done\n")
    from umi_lab.evaluation.driver import evaluation_identity

    rd = RunDir(run)
    ident = evaluation_identity(run, "toolworld-ood", "static", smoke=True, models=Oracle({}))
    folder = rd.claim_eval_dir("toolworld-ood", "static", ident)
    with rd.eval_lock(folder):  # another process evaluating the same settings
        with pytest.raises(DataError, match=r"same settings\) is being written by pid \d+") as e:
            evaluate_run(run, "toolworld-ood", "static", smoke=True, models=Oracle({}))
        assert e.value.file == str(folder)
    # the lock dies with its holder: a rerun goes on without --restart
    m = evaluate_run(run, "toolworld-ood", "static", smoke=True, models=Oracle({}))
    assert m["n_items"] == 4 and m["eval_dir"] == str(folder)


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


# ------------------------------------------------------------------------------------------------ resuming
class Interrupting(Oracle):
    """The gold oracle, recording which tasks it was asked about; raises ``exc`` on the ``at``-th call that
    mentions one of ``watch`` (a kill in the middle of a chunk)."""

    def __init__(self, answers, instructions, *, watch=(), at=None, exc=KeyboardInterrupt):
        super().__init__(answers)
        self.instructions, self.watch, self.at, self.exc = instructions, set(watch), at, exc
        self.seen: set[int] = set()
        self.hits = 0

    def generate(self, prompts, roles, config=None):
        asked = {i for p in prompts for i, ins in enumerate(self.instructions) if ins in p}
        self.seen |= asked
        if asked & self.watch:
            self.hits += 1
            if self.hits == self.at:
                raise self.exc(f"boom on task {sorted(asked & self.watch)}")
        return super().generate(prompts, roles, config)


def _toolworld_gold(n):
    gold = load_dialogues("data/toolworld/test_in_domain.json")[:n]
    instructions = [d.instruction for d in gold]
    assert len(set(instructions)) == n and not any(a in b for a in instructions for b in instructions if a != b)
    return gold, instructions


def _realtime(tmp_path, name, oracle, n, **kw):
    run = _run_dir(tmp_path / name)
    settings = kw.pop("settings", None) or EvalSettings(max_steps=20, checkpoint_every=4)
    return run, evaluate_run(run, "toolworld-id", "realtime", limit=n, models=oracle, settings=settings, **kw)


def test_interrupted_realtime_evaluation_resumes_without_recomputing(tmp_path):
    gold, ins = _toolworld_gold(12)
    answers = _gold_oracle(gold)
    ref_run, ref = _realtime(tmp_path, "ref", Oracle(answers), 12)
    assert ref["resume"] == {"resumed": 0, "computed": 12, "corrupt_lines": 0, "chunk_size": 4}
    reference = (ref_run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl").read_text()

    # killed on the 2nd model call of the second chunk: only the first chunk is saved, no final files
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "cut", Interrupting(answers, ins, watch=range(4, 8), at=2), 12)
    out = tmp_path / "cut" / "eval" / "toolworld-id-realtime"
    assert _files(out) == ["identity.json", "partial.json", "trajectories.partial.jsonl"]
    rows = [json.loads(line) for line in (out / "trajectories.partial.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3] and rows[0]["id"] == gold[0].id

    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "cut", again, 12)[1]
    assert again.seen == set(range(4, 12))  # the first chunk was not asked for again
    assert m["resume"] == {"resumed": 4, "computed": 8, "corrupt_lines": 0, "chunk_size": 4}
    assert (m["pass_rate"], m["n"], m["outcomes"]) == (ref["pass_rate"], 12, ref["outcomes"])
    assert (out / "trajectories.jsonl").read_text() == reference
    assert _files(out) == ["config.json", "identity.json", "metrics.json", "trajectories.jsonl"]


def test_other_settings_never_meet_an_interrupted_evaluation(tmp_path):
    gold, ins = _toolworld_gold(8)
    answers = _gold_oracle(gold)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "r", Interrupting(answers, ins, watch=range(4, 8), at=1), 8)
    plain = tmp_path / "r" / "eval" / "toolworld-id-realtime"
    partial = (plain / "trajectories.partial.jsonl").read_text()
    # other settings (max_steps, limit) go to their own folders and leave the partial results alone
    m = _realtime(tmp_path, "r", Oracle(answers), 8, settings=EvalSettings(max_steps=19, checkpoint_every=4))[1]
    m6 = _realtime(tmp_path, "r", Oracle(answers), 6)[1]
    assert (m["n"], m6["n"], m["resume"]["resumed"], m6["resume"]["resumed"]) == (8, 6, 0, 0)
    assert len({m["eval_dir"], m6["eval_dir"], str(plain)}) == 3
    assert (plain / "trajectories.partial.jsonl").read_text() == partial
    # the interrupted one resumes with its own settings (the checkpoint cadence is free to change) ...
    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "r", again, 8, settings=EvalSettings(max_steps=20, checkpoint_every=3))[1]
    assert m["resume"]["resumed"] == 4 and again.seen == set(range(4, 8)) and m["eval_dir"] == str(plain)
    # ... and is then reused as it is; readers find each folder by its settings
    again = Interrupting(answers, ins)
    reused = _realtime(tmp_path, "r", again, 8)[1]
    assert reused["reused"] and again.seen == set() and reused["pass_rate"] == m["pass_rate"] == 1.0
    found = {i["settings"]["max_steps"]: f.name for f, i in RunDir(tmp_path / "r").evaluations("toolworld-id")
             if i["n_items"] == 8}
    assert sorted(found) == [19, 20] and found[20] == "toolworld-id-realtime"
    assert found[19].startswith("toolworld-id-realtime-") and len(found[19]) == len("toolworld-id-realtime-") + 8


def test_a_partial_file_from_another_fingerprint_is_refused_unless_restarted(tmp_path):
    gold, ins = _toolworld_gold(8)
    answers = _gold_oracle(gold)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "r", Interrupting(answers, ins, watch=range(4, 8), at=1), 8)
    fp = tmp_path / "r" / "eval" / "toolworld-id-realtime" / "partial.json"
    saved = json.loads(fp.read_text())
    saved["settings"]["max_steps"] = 19  # written by an older version, or by hand
    fp.write_text(json.dumps(saved))
    with pytest.raises(DataError, match="differs: settings.max_steps") as e:
        _realtime(tmp_path, "r", Oracle(answers), 8)
    assert e.value.file == str(fp) and e.value.field == "settings.max_steps"
    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "r", again, 8, restart=True)[1]
    assert m["resume"]["resumed"] == 0 and m["resume"]["computed"] == 8 and again.seen == set(range(8))


def test_torn_last_line_is_recovered_and_recomputed(tmp_path):
    gold, ins = _toolworld_gold(12)
    answers = _gold_oracle(gold)
    ref_run, _ = _realtime(tmp_path, "ref", Oracle(answers), 12)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "cut", Interrupting(answers, ins, watch=range(8, 12), at=1), 12)
    partial = tmp_path / "cut" / "eval" / "toolworld-id-realtime" / "trajectories.partial.jsonl"
    text = partial.read_text()
    assert text.count("\n") == 8
    partial.write_text(text[:len(text) - len(text.splitlines()[-1]) // 2])  # a kill in the middle of the last line
    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "cut", again, 12)[1]
    assert m["resume"] == {"resumed": 7, "computed": 5, "corrupt_lines": 1, "chunk_size": 4}
    assert again.seen == {7, 8, 9, 10, 11}
    final = tmp_path / "cut" / "eval" / "toolworld-id-realtime" / "trajectories.jsonl"
    assert final.read_text() == (ref_run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl").read_text()


def test_corrupt_middle_line_is_a_data_error(tmp_path):
    gold, ins = _toolworld_gold(12)
    answers = _gold_oracle(gold)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "r", Interrupting(answers, ins, watch=range(8, 12), at=1), 12)
    partial = tmp_path / "r" / "eval" / "toolworld-id-realtime" / "trajectories.partial.jsonl"
    lines = partial.read_text().splitlines(keepends=True)
    lines[2] = lines[2][:40] + "\n"
    partial.write_text("".join(lines))
    with pytest.raises(DataError, match="invalid JSON") as e:
        _realtime(tmp_path, "r", Oracle(answers), 12)
    assert e.value.file == str(partial) and e.value.record == 2


def test_a_last_line_without_its_newline_is_kept(tmp_path):
    gold, ins = _toolworld_gold(8)
    answers = _gold_oracle(gold)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "r", Interrupting(answers, ins, watch=range(4, 8), at=1), 8)
    partial = tmp_path / "r" / "eval" / "toolworld-id-realtime" / "trajectories.partial.jsonl"
    partial.write_text(partial.read_text().rstrip("\n"))
    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "r", again, 8)[1]
    assert m["resume"] == {"resumed": 4, "computed": 4, "corrupt_lines": 0, "chunk_size": 4}
    assert again.seen == set(range(4, 8)) and m["pass_rate"] == 1.0


def test_a_full_disk_while_saving_names_the_partial_file(tmp_path, monkeypatch):
    import errno
    import os

    gold, ins = _toolworld_gold(4)
    oracle = Oracle(_gold_oracle(gold))
    real = oracle.generate

    def full(*a):
        raise OSError(errno.ENOSPC, "No space left on device")

    def generate(prompts, roles, config=None):  # the disk fills up while the model works
        monkeypatch.setattr(os, "fsync", full)
        return real(prompts, roles, config)

    oracle.generate = generate
    with pytest.raises(DataError, match="No space left on device") as e:
        _realtime(tmp_path, "r", oracle, 4)
    assert e.value.file == str(tmp_path / "r" / "eval" / "toolworld-id-realtime" / "trajectories.partial.jsonl")


def test_an_item_written_twice_is_kept_once_and_counted(tmp_path):
    gold, ins = _toolworld_gold(8)
    answers = _gold_oracle(gold)
    with pytest.raises(KeyboardInterrupt):
        _realtime(tmp_path, "r", Interrupting(answers, ins, watch=range(4, 8), at=1), 8)
    partial = tmp_path / "r" / "eval" / "toolworld-id-realtime" / "trajectories.partial.jsonl"
    lines = partial.read_text().splitlines(keepends=True)
    partial.write_text("".join(lines + lines[:1]))  # two writers of an older version appended item 0 twice
    again = Interrupting(answers, ins)
    m = _realtime(tmp_path, "r", again, 8)[1]
    assert m["resume"] == {"resumed": 4, "computed": 4, "corrupt_lines": 1, "chunk_size": 4}
    assert again.seen == set(range(4, 8)) and m["pass_rate"] == 1.0


def test_a_crashing_task_is_an_error_trajectory_not_a_drop(tmp_path):
    gold, ins = _toolworld_gold(6)
    oracle = Oracle(_gold_oracle(gold))
    real = oracle.generate

    def generate(prompts, roles, config=None):  # the model fails whenever task 4 is in the batch
        if any(ins[4] in p for p in prompts):
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(prompts, roles, config)

    oracle.generate = generate
    run, m = _realtime(tmp_path, "r", oracle, 6, settings=EvalSettings(max_steps=20, checkpoint_every=3))
    assert m["n"] == 6 and m["outcomes"]["error"] == 1 and m["passed"] == 5 and m["pass_rate"] == 5 / 6
    trajs = [json.loads(x) for x in (run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl").read_text().splitlines()]
    assert [t["task_id"] for t in trajs] == [d.id for d in gold]
    bad = trajs[4]
    assert bad["outcome"] == "error" and bad["meta"]["error"] == "agent: RuntimeError: CUDA out of memory (simulated)"
    assert bad["meta"]["success"]["passed"] is False and bad["steps"] == []


def test_interrupted_static_evaluation_resumes(tmp_path):
    samples = static_benchmark_samples("toolworld-id")[:20]
    answers = _static_oracle(samples)
    ref_run = _run_dir(tmp_path / "ref")
    settings = EvalSettings(checkpoint_every=8)
    ref = evaluate_run(ref_run, "toolworld-id", "static", limit=20, models=Oracle(answers), settings=settings)
    assert ref["plan_em"] == 1.0

    class Cut(Oracle):
        calls = 0

        def generate(self, prompts, roles, config=None):
            Cut.calls += 1
            if Cut.calls == 3:  # chunk 1 = planner + second-stage call; die in chunk 2
                raise KeyboardInterrupt
            return super().generate(prompts, roles, config)

    run = _run_dir(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        evaluate_run(run, "toolworld-id", "static", limit=20, models=Cut(answers), settings=settings)
    counting = Oracle(answers)
    asked = []
    real = counting.generate
    counting.generate = lambda p, r, c=None: asked.extend(p) or real(p, r, c)
    m = evaluate_run(run, "toolworld-id", "static", limit=20, models=counting, settings=settings)
    assert m["resume"] == {"resumed": 8, "computed": 12, "corrupt_lines": 0, "chunk_size": 8}
    planner = [PromptStyle().model_prompt(s["model_input"]) for s in samples]
    assert [p in asked for p in planner] == [False] * 8 + [True] * 12  # the first chunk was not recomputed
    assert m["plan_em"] == 1.0 and m["n_items"] == 20 and m["counts"]["errors"] == 0
    name = "toolworld-id-static/predictions.json"
    assert (run / "eval" / name).read_text() == (ref_run / "eval" / name).read_text()


SLOW_EVAL = '''
import sys, time
from umi_lab.evaluation import Benchmark, EvalSettings, evaluate_run, register_benchmark
from umi_lab.protocol.dialogue import Dialogue
from umi_lab.protocol.prompts import PromptStyle, role_input
from umi_lab.serving import Generation
from umi_lab.tools.calculator import CalculatorRegistry


def tasks(ctx, limit):
    docs = [t.to_dict() for t in CalculatorRegistry().tool_docs()]
    return [Dialogue.from_dict({"tools": docs, "instruction": f"What is {i}+1?", "id": f"q{i}", "answer": str(i + 1),
                                "conversations": [{"from": "user", "value": f"What is {i}+1?"}]}) for i in range(6)]


class Slow:
    method, family, style = "alpha_umi", "toolbench", PromptStyle()
    role_map = {r: r for r in ("planner", "caller", "summarizer")}

    def prompt(self, role, tools, history, *, thought=""):
        return self.style.model_prompt(role_input(role, tools, history, thought=thought, family=self.family))

    def generate(self, prompts, roles, config=None):
        time.sleep(float(sys.argv[2]))
        return [Generation("Stop. Next: give up.", 3, 2, 0.0) for _ in prompts]


register_benchmark(Benchmark("slow-calc", "", tasks=tasks, environment=lambda ctx: lambda task: CalculatorRegistry()))
m = evaluate_run(sys.argv[1], "slow-calc", settings=EvalSettings(checkpoint_every=1), models=Slow(), progress=False)
print("resume", m["resume"]["resumed"], m["resume"]["computed"])
'''


def test_two_concurrent_evaluations_then_killed_resume_without_restart(tmp_path):
    import os
    import subprocess
    import sys
    import time

    script = tmp_path / "slow_eval.py"
    script.write_text(SLOW_EVAL)
    run = _run_dir(tmp_path / "run")
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, str(script), str(run), "0.4"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    partial = run / "eval" / "slow-calc-realtime" / "trajectories.partial.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (partial.is_file() and partial.read_text().count("\n") >= 1) and first.poll() is None:
            assert time.monotonic() < deadline, "the first evaluation never saved an item"
            time.sleep(0.1)
        assert first.poll() is None
        second = subprocess.run([sys.executable, str(script), str(run), "0"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode != 0
        assert f"this evaluation (same settings) is being written by pid {first.pid}" in second.stderr
    finally:
        first.kill()  # both killed: no clean-up ran
        first.wait()
    saved = partial.read_text().count("\n")
    assert 1 <= saved < 6
    again = subprocess.run([sys.executable, str(script), str(run), "0"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    resumed, computed = map(int, again.stdout.split()[-2:])
    assert resumed >= saved and resumed + computed == 6
