"""The Dialogue data model: lossless round trips on the shared files, located validation errors."""

import json

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import (
    Dialogue,
    RecordedTrajectory,
    StepRecord,
    Turn,
    load_dialogues,
    load_trajectories,
    save_dialogues,
    save_trajectories,
)
from umi_lab.sources.toolbench import stage1_from_answers
from umi_lab.splitting import split_roles

GOOD = {"tools": [{"Name": "add_for_calc", "function": "adds", "input": {"a": "number, "}}],
        "instruction": "add 1 and 2", "id": "t-1", "split": "train",
        "conversations": [{"from": "user", "value": "add 1 and 2"},
                          {"from": "assistant", "value": "I add.\n Next: caller."},
                          {"from": "caller", "value": "Action: add_for_calc\nAction Input: {\"a\": 1"},
                          {"from": "observation", "value": "3"},
                          {"from": "assistant", "value": "Done.\n Next: conclusion."},
                          {"from": "conclusion", "value": "3"}]}


@pytest.mark.parametrize("rel", ["alpha_umi_toolbench/test/out_of_domain.json",
                                 "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"])
def test_round_trip_shared_files(shared_data, tmp_path, rel):
    path = shared_data / rel
    original = json.loads(path.read_text())
    dialogues = load_dialogues(path)
    assert len(dialogues) == len(original)
    assert [d.to_dict() for d in dialogues] == original
    for name in ("copy.json", "copy.jsonl"):
        save_dialogues(tmp_path / name, dialogues)
        assert [d.to_dict() for d in load_dialogues(tmp_path / name)] == original


def test_out_of_domain_shape(shared_data):
    dialogues = load_dialogues(shared_data / "alpha_umi_toolbench/test/out_of_domain.json")
    assert len(dialogues) == 400
    roles = {t.role for d in dialogues for t in d.conversations}
    assert roles == {"user", "assistant", "caller", "observation", "conclusion"}
    assert all(d.conversations[0].role == "user" for d in dialogues)


def test_extra_keys_are_kept():
    d = Dialogue.from_dict(GOOD)
    assert d.id == "t-1" and d.extra == {"id": "t-1", "split": "train"}
    assert d.to_dict() == GOOD
    assert d.tool_names == ["add_for_calc"]


def _write(tmp_path, records):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    return path


@pytest.mark.parametrize("mutate, field, message", [
    (lambda d: d.pop("tools"), "tools", "missing"),
    (lambda d: d.update(instruction=7), "instruction", "expected str, got int"),
    (lambda d: d["conversations"][3].update({"from": "tool"}), "conversations[3].from", "unknown role 'tool'"),
    (lambda d: d["conversations"][2].pop("value"), "conversations[2].value", "missing"),
    (lambda d: d["conversations"][4].update(value=["x"]), "conversations[4].value", "expected str, got list"),
    (lambda d: d["tools"][0].pop("Name"), "tools[0].Name", "missing"),
    (lambda d: d["tools"][0].update(input="a"), "tools[0].input", "expected dict, got str"),
])
def test_validation_errors_name_file_record_field(tmp_path, mutate, field, message):
    bad = json.loads(json.dumps(GOOD))
    mutate(bad)
    path = _write(tmp_path, [GOOD, GOOD, bad])
    with pytest.raises(DataError) as err:
        load_dialogues(path)
    e = err.value
    assert (e.file, e.record, e.field) == (str(path), 2, field)
    assert message in e.message
    assert str(e) == f"{path}: record 2: field {field}: {e.message}"


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"tools": [],\n "instruction": "x" "conversations": []}]')
    with pytest.raises(DataError, match=r"broken.json: invalid JSON at line 2"):
        load_dialogues(path)
    jsonl = tmp_path / "broken.jsonl"
    jsonl.write_text(json.dumps(GOOD) + "\n{not json}\n")
    with pytest.raises(DataError) as err:
        load_dialogues(jsonl)
    assert (err.value.file, err.value.record) == (str(jsonl), 1)


def test_not_a_list_and_not_an_object(tmp_path):
    path = tmp_path / "obj.json"
    path.write_text(json.dumps(GOOD))
    with pytest.raises(DataError, match="expected a JSON list"):
        load_dialogues(path)
    with pytest.raises(DataError) as err:
        load_dialogues(_write(tmp_path, [GOOD, "text"]))
    assert err.value.record == 1 and "expected an object" in err.value.message


def test_splitter_keeps_non_json_arguments_as_strings():
    """Decided behaviour: caller values are strings; invalid JSON arguments are trained on as written."""
    roles = split_roles([Dialogue.from_dict(GOOD)])
    assert [r["target"] for r in roles["caller"]] == ['Action: add_for_calc\nAction Input: {"a": 1']
    assert len(roles["planner"]) == 2 and len(roles["summarizer"]) == 1


def test_splitter_rejects_unknown_role_built_in_code():
    """Decided behaviour: a turn with an unknown role (only possible when built in code) is a DataError."""
    d = Dialogue.from_dict(GOOD)
    d.conversations.insert(1, Turn("tool", "x"))
    with pytest.raises(DataError) as err:
        split_roles([Dialogue.from_dict(GOOD), d])
    assert (err.value.record, err.value.field) == (1, "conversations[1]")
    with pytest.raises(DataError) as err:
        split_roles([GOOD, {**GOOD, "conversations": [{"from": "robot", "value": "x"}]}])
    assert (err.value.record, err.value.field) == (1, "conversations[0].from")


def test_answer_tree_without_train_messages_is_counted(shared_data):
    records, report = stage1_from_answers(shared_data / "toolbench_example")
    assert report.summary()["skipped_by_reason"] == {
        "no train_messages": ["G1_answer/69_ChatGPT_DFS_woFilter_w2.json", "G3_answer/8_ChatGPT_DFS_woFilter_w2.json"]}
    assert report.read == 15 and report.written == len(records) == 13


def test_recorded_trajectory_round_trip(tmp_path):
    traj = RecordedTrajectory("t-1", "multi", Dialogue.from_dict(GOOD),
                              [StepRecord("planner", "I add.\n Next: caller.", 10, 5, 0.1),
                               StepRecord("caller", "Action: x", error="tool: unknown_tool", extra={"k": 1})],
                              "conclusion", {"seed": 0})
    save_trajectories(tmp_path / "t.jsonl", [traj])
    back = load_trajectories(tmp_path / "t.jsonl")
    assert [t.to_dict() for t in back] == [traj.to_dict()]
    (tmp_path / "bad.jsonl").write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(DataError) as err:
        load_trajectories(tmp_path / "bad.jsonl")
    assert (err.value.record, err.value.field) == (0, "method")
