"""ToolAlpaca eval sets → cases, dialogues and static samples scored by the official-compatible evaluator."""

import argparse
import json

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import load_dialogues
from umi_lab.sources import toolalpaca
from umi_lab.sources.toolalpaca import (
    api_cases,
    case_dialogue,
    function_tool,
    load_toolalpaca,
    toolalpaca_samples,
)
from umi_lab.static_eval import evaluate_predictions, parse_step


@pytest.fixture(scope="module")
def real(shared_data):
    return load_toolalpaca(shared_data / "toolalpaca" / "eval_real.json")


@pytest.fixture(scope="module")
def simulated(shared_data):
    return load_toolalpaca(shared_data / "toolalpaca" / "eval_simulated.json")


def test_counts(real, simulated):
    assert real[1].summary() == {"apis": 11, "cases": 114, "golden_steps": 143, "multi_step_cases": 20,
                                 "unknown_action_count": 6, "unparseable_input_count": 4}
    assert simulated[1].summary() == {"apis": 10, "cases": 100, "golden_steps": 154, "multi_step_cases": 43,
                                      "unknown_action_count": 9, "unparseable_input_count": 32}
    assert {u["action"] for u in simulated[1].unknown_actions} == {"getDetails", "[Optional]updateUserProfile"}
    assert "${animeId from searchAnime}" in simulated[1].unparseable_inputs[0]["action_input"]


def test_first_real_case(real):
    case = real[0][0]
    assert (case["id"], case["api"], case["split"]) == ("toolalpaca-real-00-000", "Nager.Date", "real")
    assert case["instruction"] == "Can you check if today is a public holiday in China?"
    assert case["golden"] == [{"action": "PublicHolidayIsTodayPublicHoliday", "action_input": '{"countryCode": "CN"}',
                               "known_action": True, "input_parses": True}]
    names = [t["Name"] for t in case["tools"]]
    assert len(names) == 8 and "components" not in names  # 9 keys, one is the components text
    tool = case["tools"][0]
    assert tool["Name"] == "CountryCountryInfo"
    assert tool["function"].startswith("Get country info for the given country\nOutput: Success.")
    assert tool["input"] == {"countryCode": "Required. string. Two-character represented country code. "
                                            "For instance, CN or cn represents China."}


def test_dialogue_and_samples(real):
    case = real[0][0]
    d = case_dialogue(case)
    assert [(t.role, t.value) for t in d.conversations] == [
        ("user", case["instruction"]),
        ("assistant", "I will call PublicHolidayIsTodayPublicHoliday for this step. Next: caller."),
        ("caller", 'Action: PublicHolidayIsTodayPublicHoliday\nAction Input: {"countryCode": "CN"}'),
        ("assistant", "The required calls are done. Next: conclusion."), ("conclusion", "none")]
    assert len(case_dialogue(case, include_conclusion=False).conversations) == 3
    samples = toolalpaca_samples([case])
    assert [s["decision"] for s in samples] == ["caller", "conclusion"]
    assert samples[0]["model_input"].endswith("followed by Next: caller or conclusion. assistant: ")
    assert "give up" not in samples[0]["model_input"]
    assert parse_step(samples[0]["reference"])[1:3] == ("PublicHolidayIsTodayPublicHoliday", '{"countryCode": "CN"}')


def test_references_as_predictions(real, simulated):
    for (cases, report), n_samples in ((real, 143 + 114), (simulated, 154 + 100)):
        samples = toolalpaca_samples(cases)
        assert len(samples) == n_samples
        m = evaluate_predictions([{**s, "predictions": s["reference"]} for s in samples])
        assert m["plan_em"] == 1.0 and m["action_em"] == 1.0 and m["f1"] == pytest.approx(1.0)
        # golden steps naming functions the API lacks count as hallucinations of the reference itself
        assert m["counts"]["hallucinated"] == len(report.unknown_actions)
        assert m["counts"]["args_ref_unparseable"] == len(report.unparseable_inputs)


def test_bad_entries():
    good = 'Does f.\nParameters: {}\nOutput: ok.'
    with pytest.raises(DataError, match=r"field Function_Description.f: Parameters are not JSON"):
        function_tool("f", "Does f.\nParameters: {oops}")
    with pytest.raises(DataError, match=r"no 'Parameters: ' line"):
        function_tool("f", "Does f.")
    api = {"Name": "A", "Function_Description": {"f": good}, "Instructions": ["a", "b"],
           "Golden_Answers": [[{"Action": "f", "Action_Input": "{}"}]]}
    with pytest.raises(DataError, match=r"x.json: record 3: field Golden_Answers: 2 instructions but 1"):
        api_cases(api, 3, split="s", file="x.json")
    api["Instructions"] = ["a"]
    api["Golden_Answers"] = [[{"Action": "f"}]]
    with pytest.raises(DataError, match=r"field Golden_Answers\[0\]\[0\]"):
        api_cases(api, 0, split="s")
    assert function_tool("g", "Parameters: {}").function == ""


def test_cli_formats(tmp_path, shared_data, capsys):
    parser = argparse.ArgumentParser()
    toolalpaca.register_convert(parser.add_subparsers())
    src = str(shared_data / "toolalpaca" / "eval_real.json")
    for fmt, out, expect in (("dialogues", "d.jsonl", 114), ("samples", "s.json", 257), ("cases", "c.json", 114)):
        args = parser.parse_args(["toolalpaca", "--input", src, "--out", str(tmp_path / out), "--format", fmt])
        assert args.func(args) == 0
        assert json.loads(capsys.readouterr().out)["written"] == expect
    assert load_dialogues(tmp_path / "d.jsonl")[0].extra["id"] == "toolalpaca-real-00-000"
    args = parser.parse_args(["toolalpaca", "--input", src, "--out", str(tmp_path / "n.json"),
                              "--format", "samples", "--no-conclusion"])
    args.func(args)
    assert json.loads(capsys.readouterr().out)["written"] == 143
