"""GSM8K, ToRA and MATH sources on the real shared files and on hand-built bad records."""

import argparse
import json

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, load_dialogues
from umi_lab.sources import gsm8k, maths
from umi_lab.sources.gsm8k import Gsm8kConfig, convert_gsm8k, load_gsm8k, solution_steps
from umi_lab.sources.maths import convert_tora, last_boxed, load_math, load_tora, math_tasks, split_tora
from umi_lab.static_eval import evaluate_predictions, static_samples


def _run(register, argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


# ------------------------------------------------------------------------------------------------ GSM8K
@pytest.fixture(scope="module")
def gsm8k_test(shared_data):
    return load_gsm8k(shared_data / "gsm8k" / "test.jsonl")


def test_gsm8k_all_problems_convert(shared_data, gsm8k_test):
    train, train_report = load_gsm8k(shared_data / "gsm8k" / "train.jsonl")
    test, test_report = gsm8k_test
    assert (len(train), len(test)) == (7473, 1319)
    assert train_report.annotations + test_report.annotations == 27998
    assert train_report.without_annotations + test_report.without_annotations == 113
    assert train_report.mismatches == test_report.mismatches == []
    assert train_report.excluded == test_report.excluded == []
    for d in (train[0], test[-1]):
        Dialogue.from_dict(d.to_dict())  # valid and lossless
        callers = [t for t in d.conversations if t.role == "caller"]
        assert all(t.value.startswith("Action: calculator\nAction Input: {\"expression\": ") for t in callers)
        assert d.conversations[-1].role == "conclusion" and d.conversations[-1].value == d.extra["answer"]
    assert train[0].extra == {"id": "gsm8k-train-00000", "answer": "72", "source": "gsm8k", "split": "train"}


def test_gsm8k_golden_dialogue(gsm8k_test):
    d = gsm8k_test[0][0]
    assert d.tool_names == ["calculator"]
    assert d.tools[0].input["expression"].startswith("string, required")
    assert [(t.role, t.value) for t in d.conversations[1:]] == [
        ("assistant", "Janet sells 16 - 3 - 4; next I compute 16-3-4. Next: caller."),
        ("caller", 'Action: calculator\nAction Input: {"expression": "16-3-4"}'),
        ("observation", '{"error": "", "response": "9"}'),
        ("assistant", "That gives 9 duck eggs a day. She makes 9 * 2; next I compute 9*2. Next: caller."),
        ("caller", 'Action: calculator\nAction Input: {"expression": "9*2"}'),
        ("observation", '{"error": "", "response": "18"}'),
        ("assistant", "That gives $18 every day at the farmer\u2019s market. Next: conclusion."),
        ("conclusion", "18"),
    ]


def test_gsm8k_static_samples_score_perfectly(gsm8k_test):
    dialogues, report = gsm8k_test
    samples = static_samples(dialogues, family="maths")
    assert len(samples) == report.annotations + len(dialogues) == 4282 + 1319
    m = evaluate_predictions([{**s, "predictions": s["reference"]} for s in samples])
    assert m["plan_em"] == 1.0 and m["action_em"] == 1.0 and m["f1"] == pytest.approx(1.0)


def test_gsm8k_sentence_split_and_tail():
    steps, tail, answer = solution_steps(
        "She had 2+3=<<2+3=5>>5 apples and 5*2=<<5*2=10>>10 pears.\nThat is all.\n#### 10")
    assert [(s.rationale, s.expression, s.stated) for s in steps] == [
        ("She had 2+3; next I compute 2+3.", "2+3", "5"),
        ("That gives 5 apples and 5*2; next I compute 5*2.", "5*2", "10")]
    assert (tail, answer) == ("That gives 10 pears. That is all.", "10")
    steps, tail, _ = solution_steps("Start here.\nThen 1+1=<<1+1=2>>2.\n#### 2")
    assert steps[0].rationale == "Start here. Then 1+1; next I compute 1+1." and tail == "That gives 2."


def test_gsm8k_thoughts_leave_the_result_to_the_calculator(shared_data):
    """Issue 15 defect 8: before the rewrite 97.3 % of train steps' thoughts wrote the calculator's result
    (87.1 % not known before; the issue counted 97.8 %); now 5.2 %, and 0.2 % not known before (the rest is
    an operand, a number of the question or an earlier observation: ``20-10`` gives 10)."""
    dialogues, report = load_gsm8k(shared_data / "gsm8k" / "train.jsonl")
    stats = gsm8k.thought_result_share(dialogues)
    assert stats["steps"] == report.annotations == 23716
    assert stats["share"] < 0.06 and stats["share_new"] < 0.005  # the rest: the number was already known
    janet = gsm8k.convert_problem({"question": "q", "answer": "She makes 9 * 2 = $<<9*2=18>>18.\n#### 18"}, 0)
    assert gsm8k.thought_result_share([janet]) == {"steps": 1, "stated_in_thought": 0, "share": 0.0,
                                                   "coincidental": 0, "share_new": 0.0}
    steps, _, _ = solution_steps("He needs 9 scoops because 3 / (1/3) = <<3/(1/3)=9>>9.\nIt is 20-10=<<20-10=10>>10.\n#### 9")
    assert [s.rationale for s in steps] == ["He needs ? scoops because 3 / (1/3); next I compute 3/(1/3).",
                                            "That gives 9. It is 20-10; next I compute 20-10."]
    assert gsm8k.result_in_thought("costs 1,000 dollars", "1000") and not gsm8k.result_in_thought("10.5", "10")


MISMATCH = [{"question": "q0", "answer": "Two and two is 2+2=<<2+2=5>>5.\n#### 5"},
            {"question": "q1", "answer": "Twice x is <<x*2=4>>4.\n#### 4"},
            {"question": "q2", "answer": "Fine 3*3=<<3*3=9>>9.\n#### 9"}]


def test_gsm8k_mismatch_policies():
    dialogues, report = convert_gsm8k(MISMATCH, split="t")
    assert [m["problem"] for m in report.mismatches] == [0, 1]
    assert report.mismatches[0] == {"problem": 0, "id": "gsm8k-t-00000", "step": 0, "expression": "2+2",
                                    "stated": "5", "computed": "4"}
    assert [e["problem"] for e in report.excluded] == [1]  # the calculator refuses "x*2"
    assert [d.extra["id"] for d in dialogues] == ["gsm8k-t-00000", "gsm8k-t-00002"]
    assert json.loads(dialogues[0].conversations[3].value)["response"] == "4"
    stated, rep = convert_gsm8k(MISMATCH, config=Gsm8kConfig("stated"))
    assert len(stated) == 3 and rep.excluded == []
    assert json.loads(stated[0].conversations[3].value)["response"] == "5"
    skipped, rep = convert_gsm8k(MISMATCH, config=Gsm8kConfig("skip"))
    assert len(skipped) == 1 and len(rep.excluded) == 2
    with pytest.raises(ValueError):
        Gsm8kConfig("ignore")


def test_gsm8k_bad_records():
    with pytest.raises(DataError, match=r"f.jsonl: record 1: field answer: expected exactly one '####'"):
        convert_gsm8k([MISMATCH[2], {"question": "q", "answer": "no marker"}], file="f.jsonl")
    with pytest.raises(DataError, match=r"record 0: field question"):
        convert_gsm8k([{"answer": "#### 1"}])
    with pytest.raises(DataError, match=r"field answer: bad calculator annotation"):
        convert_gsm8k([{"question": "q", "answer": "<<12>>\n#### 1"}])


def test_gsm8k_cli(tmp_path, capsys):
    src = tmp_path / "mini.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in MISMATCH))
    out = tmp_path / "mini.json"
    assert _run(gsm8k.register_convert, ["gsm8k", "--input", str(src), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["problems"], printed["converted"], printed["mismatch_count"]) == (3, 2, 2)
    assert [d.extra["id"] for d in load_dialogues(out)] == ["gsm8k-mini-00000", "gsm8k-mini-00002"]


# ------------------------------------------------------------------------------------------------ ToRA
def test_tora_examples(shared_data):
    dialogues, report = load_tora(shared_data / "tora" / "examples.jsonl")
    assert (report.records, report.converted, report.tool_calls, report.excluded) == (30, 30, 25, [])
    first = dialogues[0]
    assert first.extra["id"] == "math-train-1149-0" and first.extra["answer"] == "2"
    assert [t.role for t in first.conversations] == ["user", "assistant", "caller", "observation",
                                                     "assistant", "conclusion"]
    code = json.loads(first.conversations[2].value.split("Action Input: ", 1)[1])["code"]
    assert code.startswith("from sympy import ceiling") and code.endswith("print(result)")
    assert first.conversations[3].value == '{"error": "", "response": "2\\n"}'  # stdout, as the sandbox says
    assert first.conversations[5].value == "The answer is $\\boxed{2}$."
    # answers the conclusion states agree with ToRA's gold on the plain-number cases
    agree = sum(last_boxed(d.conversations[-1].value) == d.extra["answer"] for d in dialogues)
    assert agree == 23
    samples = static_samples(dialogues, family="maths")
    assert len(samples) == 25 + 30


def test_tora_bad_shapes():
    def rec(text, roles=("user", "assistant")):
        return {"id": "x", "messages": [{"role": r, "content": c} for r, c in zip(roles, ["p", text])]}
    bad = [rec("```python\nprint(1)\n```\nno output"),
           rec("```output\n1\n```\nDone."),
           rec("```python\nprint(1)\n```\n```output\n1\n```"),
           rec("Fine.", roles=("assistant", "user"))]
    dialogues, report = convert_tora(bad + [rec("Reason.\n\nSo $\\boxed{1}$.")])
    assert [e["reason"] for e in report.excluded] == [
        "the last program has no output block", "an output block without a program",
        "no final answer text after the last output", "roles ['assistant', 'user'], expected ['user', 'assistant']"]
    assert [(t.role, t.value) for t in dialogues[0].conversations[1:]] == [
        ("assistant", "Reason. Next: conclusion."), ("conclusion", "So $\\boxed{1}$.")]
    with pytest.raises(DataError, match=r"record 0: field messages"):
        convert_tora([{"messages": "nope"}])
    assert split_tora("a\n```python\nx=1\nprint(x)\n```") == [("text", "a"), ("python", "x=1\nprint(x)")]


# ------------------------------------------------------------------------------------------------ MATH
def test_last_boxed():
    assert last_boxed(r"$\boxed{\frac{1}{2}}$") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{1} then \boxed{\{a, b\}}") == r"\{a, b\}"
    assert last_boxed(r"\boxed 5$") == "5" and last_boxed(r"\fbox{7}") == "7"
    assert last_boxed("no box") is None and last_boxed(r"\boxed{1}+\boxed{2") is None


def test_math_tasks(shared_data, tmp_path, capsys):
    tasks, report = load_math(shared_data / "math" / "test.jsonl")
    assert (report.records, report.converted, len(tasks)) == (5000, 5000, 5000)
    t = tasks[0]
    assert t.extra == {"id": "math-test-0", "answer": "2", "source": "math", "split": "test",
                       "level": "Level 3", "type": "Algebra"}
    assert [x.role for x in t.conversations] == ["user"] and t.tool_names == ["python"]
    assert t.tools[0].input["code"].startswith("string, required")
    _, rep = math_tasks([{"problem": "p", "solution": "no answer"}])
    assert rep.excluded == [{"record": 0, "id": "math-test-0", "reason": "no balanced \\boxed{} in the solution"}]
    with pytest.raises(DataError, match=r"record 0: field solution"):
        math_tasks([{"problem": "p"}])
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps({"problem": "1+1?", "solution": "$\\boxed{2}$", "idx": 7}) + "\n")
    assert _run(maths.register_convert, ["math", "--input", str(src), "--out", str(tmp_path / "o.json")]) == 0
    assert json.loads(capsys.readouterr().out)["converted"] == 1
    assert load_dialogues(tmp_path / "o.json")[0].extra["id"] == "math-m-7"
    assert _run(maths.register_convert, ["tora", "--input", str(shared_data / "tora" / "examples.jsonl"),
                                         "--out", str(tmp_path / "t.jsonl")]) == 0
    assert len(load_dialogues(tmp_path / "t.jsonl")) == 30
