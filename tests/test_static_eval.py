"""Static evaluation: samples, parsing, composition and metrics equal to the official evaluator.

Golden values in ``test_branches_golden`` were produced by the official ``evaluate-multi_agent.py`` on
``fixtures/static_eval/branches.json``, and checked by hand (see the comments).
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from umi_lab import cli
from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import load_dialogues
from umi_lab.protocol.prompts import role_input
from umi_lab.static_eval import (
    caller_input,
    clean_candidate,
    compose_prediction,
    evaluate_file,
    evaluate_predictions,
    parse_step,
    planner_decision,
    rouge_l,
    static_samples,
    summarizer_input,
)

FIX = Path(__file__).parent / "fixtures" / "static_eval"
METRICS = ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge")


@pytest.fixture(scope="module")
def ood(shared_data):
    path = shared_data / "alpha_umi_toolbench" / "test" / "out_of_domain.json"
    return static_samples(load_dialogues(path), file=str(path))


def test_parse_step_all_plans():
    assert parse_step("x Next: give up.") == ("give up", None, None, None)
    assert parse_step("assistant: a Next: conclusion.</s>conclusion: The answer</s>") == \
        ("finish", None, None, "The answer")
    # no "conclusion: " → whole text, </s> removed
    assert parse_step("ok Next: conclusion.</s>") == ("finish", None, None, "ok Next: conclusion.")
    assert parse_step("assistant: t Next: caller.</s>caller: Action: f\nAction Input: {\"a\": 1}</s>") == \
        ("call", "f", '{"a": 1}', None)
    # last Action / Action Input win; missing ones default
    assert parse_step("a</s>Action: g\nAction: h Action Input: 1\nAction Input: 2") == ("call", "h", "2", None)
    assert parse_step("a</s>no action here") == ("call", "none", "{}", None)
    # no second segment (the official script raises IndexError): empty segment
    assert parse_step("plan only Next: caller.") == ("call", "none", "{}", None)


def test_planner_decision_and_composition():
    assert planner_decision("A. Next: give up. tail") == ("give up", "A. Next: give up.")
    assert planner_decision("B. Next: conclusion. Next: caller.") == ("conclusion", "B. Next: conclusion.")
    assert planner_decision("no mark", "official") == ("caller", "no markNext: caller.")  # official inference
    assert planner_decision("no mark") == ("caller", "no mark Next: caller.")  # invalid, acted on as caller
    assert clean_candidate(": x") == "x" and clean_candidate(" . ") == "none" and clean_candidate("") == "none"
    assert compose_prediction("Stop. Next: give up. more") == "Stop. Next: give up."
    assert compose_prediction("Done. Next: conclusion.", summarizer_out="42") == \
        "asssitant: Done. Next: conclusion.</s>conclusion: 42"
    assert compose_prediction("Go. Next: caller.") == "asssitant: Go. Next: caller.</s>caller: none"
    pred = compose_prediction("Go. Next: caller.", ": Action: f\nAction Input: {}")
    assert parse_step(pred) == ("call", "f", "{}", None)


def test_branches_golden():
    m = evaluate_file(FIX / "branches.json")
    golden = {  # official evaluator output on the same file
        "rouge": 0.22222222000000003,      # (F(“Sunny in Paris.”, ref) = 4/9 + F("none") = 0) / 2
        "plan_em": 0.8,                    # 12 of 15 plans right
        "action_em": 0.7272727272727273,   # 8 of 11 reference calls
        "easy_f1": 0.2,                    # [1, 0, 0, 0, 0]: {} exact, {} vs args, 3 wrong actions
        "hard_f1": 0.23958333333333331,    # [.75, 2/3, .5, 0, 0, 0, 0, 0] / 8
        "f1": 0.29166666666666663,         # (1 + .75 + 2/3 + .5) / 10; unparseable ref left out
        "hallu_rate": 0.06666666666666667,  # fake_tool: 1 of 15
    }
    for key, value in golden.items():
        assert m[key] == pytest.approx(value, abs=1e-12), key
    c = m["counts"]
    assert (c["samples"], c["ref_call"], c["ref_finish"], c["ref_give up"]) == (15, 11, 2, 2)
    assert (c["easy_f1_n"], c["hard_f1_n"], c["f1_n"], c["args_ref_unparseable"]) == (5, 8, 10, 1)
    assert c["hallucinated"] == 1 and c["rouge_empty"] == 0 and c["pred_unparseable"] == 0
    assert m["confusion"] == {"call": {"call": 10, "finish": 1, "give up": 0},
                              "finish": {"call": 1, "finish": 1, "give up": 0},
                              "give up": {"call": 1, "finish": 0, "give up": 1}}


def test_mixed_random_file_golden():
    """400 random samples (non-object JSON, NaN, lists, missing Action / Action Input, unknown tools)."""
    m = evaluate_file(FIX / "mixed_400.json")
    golden = {"rouge": 0.03584905627216982, "plan_em": 0.5725, "action_em": 0.14521452145214522,
              "easy_f1": 0.003787878787878788, "hard_f1": 0.016439909297052153, "f1": 0.01950947603121516,
              "hallu_rate": 0.2625}  # the official evaluator's output on the same file
    for key, value in golden.items():
        assert m[key] == pytest.approx(value, abs=1e-12), key


def test_cases_the_official_script_crashes_on():
    m = evaluate_file(FIX / "official_crashes.json")
    # empty and dots-only hypotheses score 0, the exact one ~1 (the rouge package's 1e-8 term)
    assert m["rouge"] == pytest.approx((0 + 0 + 0.99999999499999) / 3, abs=1e-9)
    assert m["counts"]["rouge_empty"] == 2
    # the planner-only prediction: action none, a wrong action in all three F1 lists
    assert m["counts"]["pred_unparseable"] == 1
    assert m["action_em"] == 0 and m["f1"] == 1e-30 and m["plan_em"] == 1.0


def test_empty_lists_and_no_samples():
    tools = [{"Name": "f", "function": "", "input": {}}]
    give_up = [{"tools": tools, "reference": "x Next: give up.", "predictions": "y Next: give up."}]
    m = evaluate_predictions(give_up)
    assert (m["plan_em"], m["action_em"], m["rouge"], m["easy_f1"], m["f1"]) == (1.0, 0, 0, 1e-30, 1e-30)
    assert evaluate_predictions([])["plan_em"] == 0
    assert rouge_l(["", "a b"], ["a b", "a b"])[1] == 1


def test_bad_prediction_files_name_record_and_field(tmp_path):
    tools = [{"Name": "f", "function": "", "input": {}}]
    with pytest.raises(DataError, match=r"record 1: field predictions: missing"):
        evaluate_predictions([{"tools": tools, "reference": "a Next: give up.", "predictions": "b"},
                              {"tools": tools, "reference": "a Next: give up."}])
    with pytest.raises(DataError, match=r"field tools\[0\].Name"):
        evaluate_predictions([{"tools": [{}], "reference": "r", "predictions": "p"}])
    with pytest.raises(DataError, match=r"field reference"):
        evaluate_predictions([{"tools": tools, "reference": "no caller turn", "predictions": "p"}])
    bad = tmp_path / "p.json"
    bad.write_text("{\"not\": \"a list\"}")
    with pytest.raises(DataError, match="expected a JSON list"):
        evaluate_file(bad)
    last = {"tools": [], "instruction": "q", "conversations": [
        {"from": "user", "value": "q"}, {"from": "assistant", "value": "x Next: caller."}]}
    with pytest.raises(DataError, match=r"record 0: field conversations\[1\].value"):
        static_samples([last], file="t.json")


def test_out_of_domain_samples(ood):
    assert len(ood) == 1547
    assert Counter(s["decision"] for s in ood) == {"caller": 1146, "conclusion": 294, "give up": 107}
    first = ood[0]
    assert first["turn_index"] == 1 and first["dialogue_index"] == 0
    assert first["dispath"].startswith("user: ") and first["dispath"].endswith("</s>")
    assert first["model_input"] == role_input("planner", first["tools"], first["dispath"])
    assert first["model_input"].endswith("or conclusion or give up. assistant: ")
    nxt = ood[1]
    assert nxt["history"][-1]["from"] == "observation" and "observation: " in nxt["dispath"]
    assert ood[0]["reference"].startswith("assistant: ") and "</s>caller: Action: " in ood[0]["reference"]
    thought = "Search. Next: caller."
    history = first["dispath"] + f"assistant: {thought}</s>"
    assert caller_input(first, thought) == role_input("caller", first["tools"], history, thought=thought)
    assert f"planner: {thought}</s>" in caller_input(first, thought, speaker="planner")
    assert summarizer_input(first, "x Next: conclusion.").endswith("x Next: conclusion.</s> conclusion: ")


def test_references_as_predictions_score_perfectly(ood):
    samples = [{**s, "predictions": s["reference"]} for s in ood]
    m = evaluate_predictions(samples)
    assert m["plan_em"] == 1.0 and m["action_em"] == 1.0 and m["hallu_rate"] == 0.0
    assert m["f1"] == pytest.approx(1.0) and m["easy_f1"] == pytest.approx(1.0)
    assert m["hard_f1"] == pytest.approx(1.0) and m["rouge"] == pytest.approx(1.0, abs=1e-7)
    assert (m["counts"]["easy_f1_n"], m["counts"]["hard_f1_n"]) == (471, 675)


def test_cli_round_trip(tmp_path, shared_data, capsys):
    src = shared_data / "alpha_umi_toolbench" / "test" / "out_of_domain.json"
    dialogues = json.loads(src.read_text())[:5]
    small = tmp_path / "five.json"
    small.write_text(json.dumps(dialogues))
    out = tmp_path / "samples.json"
    assert cli.main(["static-samples", "--input", str(small), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    samples = json.loads(out.read_text())
    assert printed["samples"] == len(samples) > 0
    for s in samples:
        s["predictions"] = s["reference"]
    preds = tmp_path / "predictions.json"
    preds.write_text(json.dumps(samples))
    assert cli.main(["evaluate-static", str(preds), "--out", str(tmp_path / "metrics.json")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(METRICS) <= set(metrics) and metrics["plan_em"] == 1.0
    assert json.loads((tmp_path / "metrics.json").read_text())["counts"]["samples"] == len(samples)
    assert cli.main(["evaluate-static", str(tmp_path / "missing.json")]) == 2
