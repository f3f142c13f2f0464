"""ToolBench answer trees → stage 1 → stage 2, against the official files and the stated rules."""

import json
import shutil

import pytest

from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.sources.toolbench import (
    answer_to_stage1,
    load_test_ids,
    observation_value,
    parse_finish,
    stage1_from_answers,
    stage1_to_conversations,
    stage2_from_stage1,
    toolbench_to_dialogues,
)

EXAMPLE_RAW = "alpha_umi_toolbench/train-example/raw_data"


# ----------------------------------------------------------------------------- official stage 1 → 2

def test_official_stage1_gives_official_stage2(shared_data):
    stage1 = json.loads((shared_data / EXAMPLE_RAW / "raw_data_stage_1.json").read_text())
    official = json.loads((shared_data / EXAMPLE_RAW / "raw_data_stage_2.json").read_text())
    dialogues = stage2_from_stage1(stage1, file="raw_data_stage_1.json")
    assert len(dialogues) == 20
    assert [d.to_dict() for d in dialogues] == official


def test_cli_alpha_umi_stage1(shared_data, tmp_path, capsys):
    src = shared_data / EXAMPLE_RAW / "raw_data_stage_1.json"
    assert main(["convert", "alpha-umi-stage1", "--input", str(src), "--out", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "raw_data_stage_2.json").read_text())
    assert out == json.loads((shared_data / EXAMPLE_RAW / "raw_data_stage_2.json").read_text())
    summary = json.loads(capsys.readouterr().out)
    assert (summary["read"], summary["written"], summary["skipped"]) == (20, 20, 0)


# ------------------------------------------------------------------------------- answer trees → 1, 2

def _trees(shared_data):
    root = shared_data / "toolbench_example" / "answer"
    return {f"{p.parent.name}/{p.name}": json.loads(p.read_text()) for p in sorted(root.glob("G*_answer/*.json"))}


def test_toolbench_example_counts_and_order(shared_data):
    stage1, dialogues, report = toolbench_to_dialogues(shared_data / "toolbench_example", with_source=True)
    assert (report.read, report.written, report.n_skipped) == (15, 13, 2)
    assert report.skipped == {"no train_messages": ["G1_answer/69_ChatGPT_DFS_woFilter_w2.json",
                                                    "G3_answer/8_ChatGPT_DFS_woFilter_w2.json"]}
    assert [r["source"].split("_ChatGPT")[0] for r in stage1] == [
        "G1_answer/10", "G1_answer/11", "G1_answer/57", "G1_answer/59", "G2_answer/10", "G2_answer/52",
        "G2_answer/102", "G2_answer/119", "G2_answer/127", "G3_answer/3", "G3_answer/13", "G3_answer/15",
        "G3_answer/21"]
    assert [d.extra["source"] for d in dialogues] == [r["source"] for r in stage1]
    decisions = [sum("Next: give up." in t.value for t in d.conversations) for d in dialogues]
    assert sum(decisions) == 4  # G2/10, G2/119, G2/127, G3/13 end by giving up


def test_toolbench_example_stage1_follows_the_rules(shared_data):
    trees = _trees(shared_data)
    stage1, _ = stage1_from_answers(shared_data / "toolbench_example", with_source=True)
    for rec in stage1:
        gen = trees[rec["source"]]["answer_generation"]
        assert rec["instruction"] == gen["query"]
        assert rec["chains"] == gen["train_messages"][-1]
        functions = [f for f in gen["function"] if f["name"] != "Finish"]
        assert len(functions) == len(gen["function"]) - 1
        assert [t["Name"] for t in rec["tools"]] == [f["name"][-64:] for f in functions]
        for tool, fn in zip(rec["tools"], functions):
            assert tool["function"] == fn["description"][:256]
            for arg, spec in fn["parameters"]["properties"].items():
                want = spec["type"] + ", " + spec["description"][-256:] if "description" in spec else spec["type"]
                assert tool["input"][arg] == want
    # a description longer than 256 characters really is cut
    assert any(len(t["function"]) == 256 for r in stage1 for t in r["tools"])


def test_toolbench_example_stage2_follows_the_rules(shared_data):
    stage1, dialogues, _ = toolbench_to_dialogues(shared_data / "toolbench_example", with_source=True)
    for rec, d in zip(stage1, dialogues):
        conv = d.conversations
        assert (conv[0].role, conv[0].value) == ("user", rec["instruction"])
        chains = rec["chains"][2:]
        calls = [m for m in chains if m["role"] == "assistant" and m.get("function_call")]
        assert sum(t.role == "assistant" for t in conv) == len(calls)
        assert sum(t.role == "observation" for t in conv) == sum(m["role"] == "function" for m in chains)
        for turn, msg in zip([t for t in conv if t.role == "assistant"], calls):
            head = msg["content"] + "\n" if msg["content"] is not None else ""
            assert turn.value.startswith(head)
        finish = json.loads(calls[-1]["function_call"]["arguments"])
        assert calls[-1]["function_call"]["name"] == "Finish"
        if finish["return_type"] == "give_up_and_restart":
            assert conv[-1].role == "assistant" and conv[-1].value.endswith(" Next: give up.")
        else:
            assert conv[-2].value.endswith(" Next: conclusion.")
            assert (conv[-1].role, conv[-1].value) == ("conclusion", finish["final_answer"])
        for call, caller in zip(calls, [t for t in conv if t.role == "caller"]):
            fc = call["function_call"]
            assert caller.value == f"Action: {fc['name']}\nAction Input: {fc['arguments']}"
        fn_msgs = [m for m in chains if m["role"] == "function"]
        for msg, obs in zip(fn_msgs, [t for t in conv if t.role == "observation"]):
            assert obs.value == observation_value(msg["content"])
    g1_10 = dialogues[0]
    assert g1_10.conversations[2].value == "Action: transitaires_for_transitaires\nAction Input: {}"
    # the first response was cut by ToolBench (invalid JSON): text after "response": is kept as is
    assert g1_10.conversations[3].value.startswith(' "[{\\"id\\":\\"EKVF\\",\\"name\\":\\"EKVF\\"')
    assert g1_10.conversations[6].value.startswith("{'id': 'ACT_AGENCE_CALEDONIENNE_DE_TRANSIT', 'codePostal'")


def test_cli_toolbench_raw_with_test_ids(shared_data, tmp_path, capsys):
    ids = tmp_path / "test_query_ids"
    ids.mkdir()
    (ids / "G1_instruction.json").write_text(json.dumps({"10": {"x": 1}, "999": {}}))
    (ids / "G3_instruction.json").write_text(json.dumps([21, "3"]))
    assert load_test_ids(ids) == {"10", "999", "21", "3"}
    rc = main(["convert", "toolbench-raw", "--input", str(shared_data / "toolbench_example"), "--out",
               str(tmp_path / "out"), "--test-ids", str(ids)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["read"], summary["written"], summary["skipped"], summary["test_ids"]) == (15, 9, 6, 4)
    assert sorted(summary["skipped_by_reason"]["test query id"]) == [
        "G1_answer/10_ChatGPT_DFS_woFilter_w2.json", "G2_answer/10_ChatGPT_DFS_woFilter_w2.json",
        "G3_answer/21_ChatGPT_DFS_woFilter_w2.json", "G3_answer/3_ChatGPT_DFS_woFilter_w2.json"]
    s1 = json.loads((tmp_path / "out" / "raw_data_stage_1.json").read_text())
    s2 = json.loads((tmp_path / "out" / "raw_data_stage_2.json").read_text())
    assert len(s1) == len(s2) == 9
    assert [set(r) for r in s1] == [{"tools", "instruction", "chains"}] * 9
    assert s2 == [d.to_dict() for d in stage2_from_stage1(s1)]


def test_bad_test_ids_and_missing_folders(tmp_path):
    (tmp_path / "ids").mkdir()
    (tmp_path / "ids" / "a.json").write_text('"just a string"')
    with pytest.raises(DataError, match="a.json: expected an object keyed by query id"):
        load_test_ids(tmp_path / "ids")
    with pytest.raises(DataError, match="no .json test-id files"):
        load_test_ids(tmp_path)
    with pytest.raises(DataError, match="no answer folders"):
        stage1_from_answers(tmp_path)


def test_malformed_answer_file_names_the_file(shared_data, tmp_path):
    dest = tmp_path / "answer" / "G1_answer"
    shutil.copytree(shared_data / "toolbench_example" / "answer" / "G1_answer", dest)
    (dest / "5_broken.json").write_text('{"answer_generation": {"query": ')
    with pytest.raises(DataError, match=r"5_broken.json: invalid JSON at line 1"):
        stage1_from_answers(tmp_path)
    (dest / "5_broken.json").write_text(json.dumps({"answer_generation": {
        "query": "q", "train_messages": [[]], "function": [{"name": "a", "description": "d"}]}}))
    with pytest.raises(DataError) as err:
        stage1_from_answers(tmp_path)
    assert err.value.file.endswith("5_broken.json")
    assert err.value.field == "answer_generation.function[0].parameters.properties"
    (dest / "5_broken.json").unlink()
    (dest / "notes.txt").write_text("not data")
    _, report = stage1_from_answers(tmp_path)
    assert report.skipped["not a .json file"] == ["G1_answer/notes.txt"]


def test_truncation_rules():
    fn = {"name": "x" * 10 + "n" * 64, "description": "d" * 300,
          "parameters": {"properties": {"p": {"type": "string", "description": "a" * 10 + "b" * 256},
                                        "q": {"type": "number"}}}}
    finish = {"name": "Finish", "description": "end", "parameters": {"properties": {}}}
    rec = answer_to_stage1({"answer_generation": {"query": "q", "function": [fn, finish],
                                                  "train_messages": [[{"a": 1}], [{"b": 2}]]}})
    assert rec == {"tools": [{"Name": "n" * 64, "function": "d" * 256, "input": {"p": "string, " + "b" * 256,
                                                                                 "q": "number"}}],
                   "instruction": "q", "chains": [{"b": 2}]}
    assert answer_to_stage1({"answer_generation": {"query": "q", "function": [], "train_messages": []}}) is None


# ----------------------------------------------------------------------------------- Finish, responses

@pytest.mark.parametrize("arguments, content, expected", [
    ({"return_type": "give_answer", "final_answer": "A"}, None, (False, "A")),
    ('{"return_type": "give_answer", "final_answer": "A"}', "c", (False, "A")),
    ('{"return_type": "give_answer"}', "c", (False, "none")),
    ({"return_type": "give_up_and_restart"}, "c", (True, None)),
    ('{"return_type": "give_up_and_restart"}', None, (True, None)),
    ('{"return_type": "give_up_and_restart", ', None, (True, None)),            # invalid JSON, give-up text
    ('{\n  "return_type": "give_answer",\n  "final_answer": "The answer is 4"\n', "c", (False, "The answer is 4")),
    ('{"return_type": "give_answer", "final_answer": "cut', "c", (False, "cut")),
    ('{"return_type": "give_answer", "answer": "x"', "my thought", (False, "my thought")),
    ('{"return_type": "give_answer", "answer": "x"', None, (False, "none")),
    ('{"final_answer": "no type"}', None, (False, "no type")),              # valid JSON without return_type
    ({"return_type": "give_answer", "final_answer": {"k": 1}}, None, (False, '{"k": 1}')),
])
def test_parse_finish(arguments, content, expected):
    assert parse_finish(arguments, content) == expected


@pytest.mark.parametrize("content, expected", [
    ('{"error": "", "response": "ok"}', "ok"),
    ('{"error": "", "response": "{\'a\': 1}"}', "{'a': 1}"),
    ('{"error": "", "response": "cut off', ' "cut off'),
    ('{"error": "", "response": ["a", 1]}', '["a", 1]'),
    ("plain text", ""),
    ('{"error": "timeout"}', ""),
    ('"{\\"response\\": \\"x\\"}"', ' "x"}'),
])
def test_observation_value(content, expected):
    assert observation_value(content) == expected


def _chain(*msgs):
    return {"tools": [], "instruction": "q", "chains": [{"role": "system", "content": "s"},
                                                         {"role": "user", "content": "q"}, *msgs]}


def test_stage2_turn_rules():
    rec = _chain({"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": {"a": 1}}},
                 {"role": "function", "name": "f", "content": '{"error": "", "response": "r"}'},
                 {"role": "assistant", "content": "thinking only"},
                 {"role": "user", "content": "more please"},
                 {"role": "assistant", "content": "done",
                  "function_call": {"name": "Finish", "arguments": '{"return_type": "give_answer"}'}})
    conv = stage1_to_conversations(rec)["conversations"]
    assert conv == [{"from": "user", "value": "q"},
                    {"from": "assistant", "value": " Next: caller."},
                    {"from": "caller", "value": 'Action: f\nAction Input: {"a": 1}'},
                    {"from": "observation", "value": "r"},
                    {"from": "user", "value": "more please"},
                    {"from": "assistant", "value": "done\n Next: conclusion."},
                    {"from": "conclusion", "value": "none"}]


@pytest.mark.parametrize("msg, field", [
    ({"role": "robot", "content": "x"}, "chains[2].role"),
    ({"role": "function", "content": None}, "chains[2].content"),
    ({"role": "assistant", "content": 5}, "chains[2].content"),
    ({"role": "assistant", "content": None, "function_call": {"name": "f"}}, "chains[2].function_call"),
    ({"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": 3}},
     "chains[2].function_call.arguments"),
    ("text", "chains[2]"),
])
def test_stage2_errors_are_located(msg, field):
    with pytest.raises(DataError) as err:
        stage2_from_stage1([_chain(), _chain(msg)], file="s1.json")
    assert (err.value.file, err.value.record, err.value.field) == ("s1.json", 1, field)
    with pytest.raises(DataError) as err:
        stage2_from_stage1([{"tools": [], "instruction": "q"}], file="s1.json")
    assert (err.value.record, err.value.field) == (0, "chains")


def test_convert_dispatcher_registers_sources(monkeypatch):
    import argparse

    from umi_lab.sources import convert

    def names():
        parser = argparse.ArgumentParser()
        convert.add_cli(parser.add_subparsers())
        sub = parser._subparsers._group_actions[0].choices["convert"]
        return set(sub._subparsers._group_actions[0].choices)

    assert names() == {"toolbench-raw", "alpha-umi-stage1", "gsm8k", "tora", "math", "toolalpaca"}
    real = convert.importlib.import_module

    def missing(name):
        if name == "umi_lab.sources.maths":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        if name == "umi_lab.sources.gsm8k":
            raise ModuleNotFoundError("No module named 'sympy_extra'", name="sympy_extra")
        return real(name)

    monkeypatch.setattr(convert.importlib, "import_module", missing)
    with pytest.raises(ModuleNotFoundError, match="sympy_extra"):  # a broken module is not hidden
        names()
    monkeypatch.setattr(convert, "SOURCE_MODULES", ("umi_lab.sources.maths", "umi_lab.sources.toolalpaca"))
    assert names() == {"toolbench-raw", "alpha-umi-stage1", "toolalpaca"}
