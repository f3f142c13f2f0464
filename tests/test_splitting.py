"""Role splitting against the official train-example files, its rules and counts; dialogue splits."""

import json

import pytest

from umi_lab import splitting
from umi_lab.cli import main
from umi_lab.protocol.dialogue import Dialogue, Turn, load_dialogues
from umi_lab.protocol.prompts import FAMILIES, ROLES, history_string, role_input, role_renderer
from umi_lab.splitting import (
    ROLE_SETS,
    backbone_target,
    split_dialogues,
    split_roles,
    split_roles_naive,
)

EXAMPLE = "alpha_umi_toolbench/train-example"
OOD = "alpha_umi_toolbench/test/out_of_domain.json"


@pytest.fixture(scope="module")
def example(shared_data):
    return load_dialogues(shared_data / EXAMPLE / "raw_data" / "raw_data_stage_2.json")


@pytest.fixture(scope="module")
def ood(shared_data):
    return load_dialogues(shared_data / OOD)


def _official(shared_data, role):
    return json.loads((shared_data / EXAMPLE / f"train_{role}.json").read_text())


def _dialogue(*turns, tools=(), **extra):
    tools = [{"Name": n, "function": f"does {n}", "input": {}} for n in tools]
    return Dialogue.from_dict({"tools": tools, "instruction": turns[0][1], **extra,
                               "conversations": [{"from": r, "value": v} for r, v in turns]})


def test_official_mode_equals_official_files(shared_data, example):
    roles = split_roles(example, compat="official")
    for role in ("backbone", "planner", "caller", "summarizer"):
        assert roles[role] == _official(shared_data, role), role
    assert roles["multitask"] == roles["planner"] + roles["caller"] + roles["summarizer"]
    assert roles.report.summary() == {
        "dialogues": 20, "family": "toolbench", "compat": "official",
        "counts": {"backbone": 79, "planner": 79, "caller": 59, "summarizer": 14, "multitask": 152},
        "backbone_decisions": {"caller": 59, "conclusion": 14, "give_up": 6},
        "skipped": {}, "quirks": {"giveup_input_reused": 6}}


def _backbone_history(turns):
    """The backbone history string, written out independently of the module."""
    out = ""
    for i, t in enumerate(turns):
        if t["from"] == "user":
            out += "user: " + t["value"] + "</s>"
        elif t["from"] == "observation":
            out += "observation: " + t["value"]
        elif t["from"] == "assistant":
            nxt = turns[i + 1] if i + 1 < len(turns) else {"from": None, "value": ""}
            if "Next: give up." in t["value"]:
                span = t["value"].replace("Next: give up.", "").strip() + "\nconclusion: give up."
            elif nxt["from"] == "caller":
                span = t["value"].replace("Next: caller.", "").strip() + "\n" + nxt["value"]
            elif nxt["from"] == "conclusion":
                span = t["value"].replace("Next: conclusion.", "").strip() + "\nconclusion: " + nxt["value"]
            else:
                span = t["value"]
            out += "assistant: " + span + "</s>"
    return out


def test_default_mode_renders_give_up_inputs(shared_data, example):
    fixed = split_roles(example)["backbone"]
    official = _official(shared_data, "backbone")
    give_up = [i for i, r in enumerate(official) if r["target"].endswith("\nconclusion: give up.")]
    assert len(give_up) == 6
    for i, (ours, theirs) in enumerate(zip(fixed, official)):
        if i not in give_up:
            assert ours == theirs
            continue
        assert {k: ours[k] for k in ("tools", "history", "target")} == \
            {k: theirs[k] for k in ("tools", "history", "target")}
        assert ours["input"] != theirs["input"]
        assert theirs["input"] == official[i - 1]["input"]  # the quirk: the previous record's input
        assert ours["input"] == role_input("backbone", ours["tools"], _backbone_history(ours["history"])) + ""
    for role in ("planner", "caller", "summarizer"):
        assert split_roles(example)[role] == _official(shared_data, role)


def test_records_are_consistent_with_their_history(ood):
    roles = split_roles(ood[:60])
    for r in roles["planner"]:
        assert r["input"] == role_input("planner", r["tools"], history_string(r["history"]))
        assert r["input"].endswith(" assistant: ")
    for r in roles["summarizer"]:
        assert r["input"] == role_input("summarizer", r["tools"], history_string(r["history"]))
        assert r["history"][-1]["from"] == "assistant" and r["target"] != "none"
    for r in roles["caller"]:
        thought = r["history"][-1]["value"]
        assert r["input"] == role_input("caller", r["tools"], history_string(r["history"]), thought=thought)
        assert r["target"].startswith("Action: ")


def test_out_of_domain_counts(ood):
    roles = split_roles(ood)
    report = roles.report.summary()
    # one planner sample per decision, as in static evaluation: 1,146 caller, 294 conclusion, 107 give up
    assert report["backbone_decisions"] == {"caller": 1146, "conclusion": 294, "give_up": 107}
    assert report["counts"] == {"backbone": 1547, "planner": 1547, "caller": 1146, "summarizer": 293,
                                "multitask": 2986}
    # thought-only assistant turns followed by another assistant turn, and one "none" conclusion
    assert report["skipped"] == {"assistant_without_decision": 111, "conclusion_none": 1}


@pytest.mark.parametrize("compat", ["default", "official"])
def test_naive_splitter_gives_the_same_output(example, ood, compat):
    data = example + ood[:40]
    fast, naive = split_roles(data, compat=compat), split_roles_naive(data, compat=compat)
    assert dict(fast) == dict(naive)
    assert fast.report.summary() == naive.report.summary()


def test_history_is_built_once_per_turn(monkeypatch, ood):
    """Linear: the fast splitter renders each turn's history pieces once; the naive one per prefix."""
    calls = []
    real = splitting._turn_pieces
    monkeypatch.setattr(splitting, "_turn_pieces", lambda turns, i: calls.append(i) or real(turns, i))
    d = ood[0]
    n = len(d.conversations)
    split_roles([d])
    assert calls == list(range(n))
    calls.clear()
    split_roles_naive([d])
    assert len(calls) == n + n * (n - 1) // 2


def test_hallucinated_calls_are_counted_and_left_out():
    d = _dialogue(("user", "q"),
                  ("assistant", "try x\n Next: caller."),
                  ("caller", "Action: x\nAction Input: {}"),
                  ("observation", '{"error": "invalid_hallucination_function_name", "response": ""}'),
                  ("assistant", "try bad\n Next: caller."),
                  ("caller", "Action: invalid_hallucination_function_name\nAction Input: {}"),
                  ("observation", "no such function"),
                  ("assistant", "try y\n Next: caller."),
                  ("caller", "Action: y\nAction Input: {\"a\": "),  # not valid JSON: kept as a string
                  ("observation", "ok"),
                  ("assistant", "done\n Next: conclusion."),
                  ("conclusion", "answer"),
                  tools=("x", "y"))
    roles = split_roles([d])
    assert [r["target"] for r in roles["planner"]] == ["try x\n Next: caller.", "try y\n Next: caller.",
                                                       "done\n Next: conclusion."]
    assert [r["target"] for r in roles["caller"]] == ["Action: x\nAction Input: {}", 'Action: y\nAction Input: {"a": ']
    last_caller = roles["caller"][1]
    assert "invalid_hallucination_function_name\nAction Input" not in last_caller["input"]
    assert "observation: no such function" in last_caller["input"]
    assert "caller: Action: invalid_hallucination_function_name" in roles["planner"][1]["input"]
    assert len(roles["backbone"]) == 4  # the backbone keeps every decision
    assert roles.report.skipped == {"planner_invalid_hallucination_function_name": 1,
                                    "caller_invalid_hallucination_function_name": 1}


def test_give_up_quirk_across_dialogues_and_first_record():
    give_up_first = _dialogue(("user", "q1"), ("assistant", "cannot\n Next: give up."))
    normal = _dialogue(("user", "q2"), ("assistant", "go\n Next: caller."), ("caller", "Action: a\nAction Input: {}"),
                       ("observation", "r"), ("assistant", "stop\n Next: give up."), tools=("a",))
    off = split_roles([give_up_first, normal, give_up_first], compat="official")
    fixed = split_roles([give_up_first, normal, give_up_first])
    bb_off, bb_fixed = off["backbone"], fixed["backbone"]
    assert bb_off[0] == bb_fixed[0]  # nothing to reuse yet: rendered, and counted
    assert bb_off[1] == bb_fixed[1]
    assert bb_off[2]["input"] == bb_off[1]["input"] != bb_fixed[2]["input"]
    assert bb_off[3]["input"] == bb_off[1]["input"]  # carried over into the next dialogue
    assert bb_fixed[3]["input"] == bb_fixed[0]["input"]
    assert off.report.quirks == {"giveup_without_previous_input": 1, "giveup_input_reused": 2}
    assert fixed.report.quirks == {}
    assert [r["target"] for r in bb_fixed] == ["cannot\nconclusion: give up.", "go\nAction: a\nAction Input: {}",
                                               "stop\nconclusion: give up.", "cannot\nconclusion: give up."]


def test_extra_keys_and_plain_dicts(example):
    tagged = [Dialogue(d.tools, d.instruction, d.conversations, {"id": f"x{i}", "split": "train", "task": {"k": 1}})
              for i, d in enumerate(example)]
    assert dict(split_roles(tagged)) == dict(split_roles(example))
    assert dict(split_roles([d.to_dict() for d in tagged])) == dict(split_roles(example))
    for role in ROLE_SETS:
        assert all(set(r) == {"tools", "history", "input", "target"} for r in split_roles(tagged)[role])


def test_families_and_bad_arguments():
    d = _dialogue(("user", "2+2?"), ("assistant", "add\n Next: caller."),
                  ("caller", 'Action: calculator\nAction Input: {"expression": "2+2"}'), ("observation", "4"),
                  ("assistant", "done\n Next: conclusion."), ("conclusion", "4"), tools=("calculator",))
    for family in FAMILIES:
        roles = split_roles([d], family=family)
        assert roles["planner"][0]["input"] == role_input("planner", d.tools, "user: 2+2?</s>", family=family)
    assert "or give up" not in split_roles([d], family="toolalpaca")["planner"][0]["input"]
    with pytest.raises(ValueError, match="unknown prompt family"):
        split_roles([d], family="nope")
    with pytest.raises(ValueError, match="unknown compat mode"):
        split_roles([d], compat="strict")


def test_role_renderer_matches_role_input(ood):
    tools = ood[3].tools
    for family in FAMILIES:
        for role in ROLES:
            render = role_renderer(role, tools, family=family)
            assert render("user: {x}</s>", "t") == role_input(role, tools, "user: {x}</s>", thought="t", family=family)
    # the official chained replace also fills placeholders found inside the data; ours never does
    sneaky = [{"Name": "a", "function": "see {history}", "input": {}}]
    assert "see {history}" in role_renderer("planner", sneaky)("H")
    assert "see H" in role_renderer("planner", sneaky, literal_replace=True)("H")
    assert role_renderer("caller", [], literal_replace=True)("h {thought}", "ZQZ").count("ZQZ") == 2
    assert role_renderer("caller", [])("h {thought}", "ZQZ").count("ZQZ") == 1


def test_backbone_target_rules():
    t = [Turn("assistant", "a\n Next: caller."), Turn("caller", "Action: f\nAction Input: {}"),
         Turn("assistant", "b Next: give up."), Turn("assistant", "c")]
    assert backbone_target(t, 0) == ("caller", "a\nAction: f\nAction Input: {}")
    assert backbone_target(t, 2) == ("give_up", "b\nconclusion: give up.")
    assert backbone_target(t, 3) == (None, "c")


# ------------------------------------------------------------------------------------------ CLI

def test_cli_split_official(shared_data, tmp_path, capsys):
    src = shared_data / EXAMPLE / "raw_data" / "raw_data_stage_2.json"
    assert main(["split", "--input", str(src), "--out", str(tmp_path), "--prompts", "toolbench",
                 "--compat", "official"]) == 0
    for role in ("backbone", "planner", "caller", "summarizer"):
        assert json.loads((tmp_path / f"train_{role}.json").read_text()) == _official(shared_data, role)
    assert len(json.loads((tmp_path / "train_multitask.json").read_text())) == 152
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"]["planner"] == 79 and printed["quirks"] == {"giveup_input_reused": 6}
    assert json.loads((tmp_path / "split_report.json").read_text()) == printed


def test_cli_split_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"tools": [], "instruction": "q", "conversations": [{"from": "bot", "value": ""}]}]))
    assert main(["split", "--input", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.json: record 0: field conversations[0].from: unknown role 'bot'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ dialogue splits

def test_split_dialogues_by_instruction(ood):
    parts = split_dialogues(ood, (0.8, 0.1, 0.1), seed=0)
    assert {k: len(v) for k, v in parts.items()} == {"train": 320, "val": 40, "test": 40}
    seen = {k: {d.instruction.strip() for d in v} for k, v in parts.items()}
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    assert sorted(id(d) for v in parts.values() for d in v) == sorted(id(d) for d in ood)
    again = split_dialogues(ood, (0.8, 0.1, 0.1), seed=0)
    assert {k: [d.instruction for d in v] for k, v in again.items()} == \
        {k: [d.instruction for d in v] for k, v in parts.items()}
    other = split_dialogues(ood, (0.8, 0.1, 0.1), seed=1)
    assert [d.instruction for d in other["test"]] != [d.instruction for d in parts["test"]]
    report = parts.report.summary()
    assert report["largest_group"] == 2 and sum(report["groups"].values()) == 399


def test_split_dialogues_by_tool(ood):
    parts = split_dialogues(ood, seed=3, group_by="tool")
    tools = {k: {n for d in v for n in d.tool_names} for k, v in parts.items()}
    assert not (tools["train"] & tools["val"] or tools["train"] & tools["test"] or tools["val"] & tools["test"])
    assert sum(len(v) for v in parts.values()) == 400
    assert all(len(v) > 0 for v in parts.values())
    assert parts.report.largest_group == 214


def test_split_dialogues_bad_arguments(ood):
    with pytest.raises(ValueError, match="sum to 1"):
        split_dialogues(ood, (0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="2 fractions for 3"):
        split_dialogues(ood, (0.5, 0.5))
    with pytest.raises(ValueError, match="unknown group_by"):
        split_dialogues(ood, group_by="user")


def test_cli_split_data(shared_data, tmp_path, capsys):
    assert main(["split-data", "--input", str(shared_data / OOD), "--out", str(tmp_path), "--seed", "2"]) == 0
    sizes = {k: len(load_dialogues(tmp_path / f"{k}.json")) for k in ("train", "val", "test")}
    assert sizes == {"train": 320, "val": 40, "test": 40}
    assert json.loads(capsys.readouterr().out)["dialogues"] == sizes
