import json
import re

import pytest

from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord
from umi_lab.replay import export_replay_html, render_page, replay_data
from umi_lab.widgets import load_tracks

HOSTILE = "</script><script>alert(1)</script>"


def _traj(method, task_id, decision_tool):
    d = Dialogue.from_dict({
        "id": task_id, "tools": [{"Name": "lookup", "function": "find <things>", "input": {}}],
        "instruction": f"task {task_id} {HOSTILE}",
        "conversations": [{"from": "user", "value": f"task {task_id} {HOSTILE}"},
                          {"from": "assistant", "value": "think & act. Next: caller."},
                          {"from": "caller", "value": f"Action: {decision_tool}\nAction Input: {{\"q\": \"{task_id}\"}}"},
                          {"from": "observation", "value": HOSTILE},
                          {"from": "assistant", "value": "done. Next: conclusion."},
                          {"from": "conclusion", "value": f"answer {HOSTILE}"}]})
    return RecordedTrajectory(task_id, method, d, [StepRecord("planner", "think & act. Next: caller.", 5, 3, 0.1)],
                              "conclusion")


def _write(path, trajs):
    path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in trajs))
    return path


def _embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="umi-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_escaped(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_traj("alpha_umi", "t1", "lookup"), _traj("alpha_umi", "t2", "lookup")])
    b = _write(tmp_path / "b.jsonl", [_traj("single_llm", "t1", "lokup")])
    out = export_replay_html([a, b], tmp_path / "page.html")
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "alert(1)" in page and "<script>alert(1)" not in page             # hostile text never live
    assert page.count("<script") == 2 and page.count("</script>") == 2        # only our two script elements
    assert "src=" not in page and "http" not in page                         # no external assets
    data = _embedded(page)
    t1, t2 = data["tasks"]
    assert (t1["task_id"], t1["steps"], [c["label"] for c in t1["columns"]]) == ("t1", 6, ["alpha_umi", "single_llm"])
    assert [c["label"] for c in t2["columns"]] == ["alpha_umi"]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in t1["columns"][0]["turns"][3]
    assert "find &lt;things&gt;" in t1["tools"]
    assert 'id="umi-next"' in page and 'id="umi-play"' in page and 'type="range"' in page


def test_gold_column_and_marks(tmp_path):
    main_tracks = load_tracks([_traj("single_llm", "t1", "lokup")])
    gold = load_tracks([_traj("gold", "t1", "lookup").dialogue], label="gold")
    data = replay_data(main_tracks, [], gold)
    cols = data["tasks"][0]["columns"]
    assert [c["label"] for c in cols] == ["single_llm", "gold"]
    assert "gold: lookup" in cols[0]["turns"][2] and "= gold" in cols[0]["turns"][1]
    # a planner output recorded as invalid is shown as such and never marked "= gold"
    bad = _traj("single_llm", "t1", "lookup")
    bad.steps = [StepRecord("planner", "think & act.", decision="invalid")]
    cols = replay_data(load_tracks([bad]), [], gold)["tasks"][0]["columns"]
    assert "= gold" not in cols[0]["turns"][1] and "gold: caller" in cols[0]["turns"][1]
    assert "invalid (acted as caller)" in cols[0]["turns"][1]
    assert cols[1]["footer"] == '<div class="umi-meta">end of dialogue</div>'
    with pytest.raises(DataError, match="nothing to replay"):
        render_page({"tasks": []})


def test_cli_on_real_dialogues(shared_data, tmp_path, capsys):
    src = shared_data / "alpha_umi_toolbench/test/out_of_domain.json"
    out = tmp_path / "ood.html"
    assert main(["replay-html", "--trajectories", str(src), "--limit", "7", "--out", str(out)]) == 0
    assert "replay page:" in capsys.readouterr().out
    data = _embedded(out.read_text())
    assert len(data["tasks"]) == 7 and data["tasks"][0]["task_id"] == "#0"
    first = json.loads(src.read_text())[0]
    assert data["tasks"][0]["steps"] == len(first["conversations"])


def test_cli_bad_input_is_a_located_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x", "method": "m", "dialogue": {"tools": [], "instruction": "q", '
                   '"conversations": [{"from": "robot", "value": "hi"}]}, "steps": [], "outcome": "error"}\n')
    assert main(["replay-html", "--trajectories", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    assert "bad.jsonl: record 0: field conversations[0].from: unknown role 'robot'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_gold_overlay_with_the_embedded_toolworld_test(tmp_path):
    """A recorded run that calls the wrong tool first, against the repository's own ToolWorld gold file."""
    from umi_lab.replay import DEFAULT_GOLD, replay_inputs

    assert DEFAULT_GOLD.is_file()
    gold = json.loads(DEFAULT_GOLD.read_text())[0]
    wrong = [dict(t) for t in gold["conversations"]]
    first_call = next(i for i, t in enumerate(wrong) if t["from"] == "caller")
    wrong[first_call] = {"from": "caller", "value": "Action: no_such_tool\nAction Input: {}"}
    traj = RecordedTrajectory.from_dict({"task_id": gold["id"], "method": "alpha_umi",
                                         "dialogue": {**gold, "conversations": wrong}, "steps": [],
                                         "outcome": "conclusion"})
    path = _write(tmp_path / "run.jsonl", [traj])
    files, gold_path = replay_inputs(str(path))
    assert files == [path] and gold_path == DEFAULT_GOLD
    data = replay_data(load_tracks(path), [], load_tracks(gold_path, label="gold"))
    assert len(data["tasks"]) == 1 and data["tasks"][0]["task_id"] == gold["id"]
    alpha, gold_col = data["tasks"][0]["columns"]
    right = gold["conversations"][first_call]["value"].split("Action:")[1].split("\n")[0].strip()
    assert f"gold: {right}" in alpha["turns"][first_call] and len(gold_col["turns"]) == len(gold["conversations"])
    with pytest.raises(DataError, match="trajectory file not found"):
        replay_inputs(str(tmp_path / "missing.jsonl"))


def _erring(method, task_id, outcome, error=None, role="caller"):
    t = _traj(method, task_id, "lookup")
    t.outcome = outcome
    if error:
        t.steps.append(StepRecord(role, "Action: lokup", error=error))
    return t


def test_filters_outcome_error_type_and_role(tmp_path):
    from umi_lab.replay_filter import ANY, matches

    tracks = load_tracks([_erring("alpha_umi", "ok", "conclusion"),
                          _erring("alpha_umi", "bad-tool", "give_up", "tool: unknown_tool"),
                          _erring("alpha_umi", "bad-parse", "step_limit", "parse: no Action", role="planner"),
                          RecordedTrajectory("crash", "alpha_umi", _traj("x", "crash", "f").dialogue, [], "error",
                                             {"error": "agent: RuntimeError: boom"})])
    data = replay_data(tracks)
    assert data["filters"] == {"outcome": [ANY, "conclusion", "error", "give_up", "step_limit"],
                               "error": [ANY, "agent", "parse", "tool: unknown_tool"],
                               "role": [ANY, "caller", "planner", "run"], "any": ANY}
    facets = {t["task_id"]: t["facets"] for t in data["tasks"]}
    assert facets["bad-tool"] == {"outcomes": ["give_up"], "errors": [["caller", "tool: unknown_tool"]]}
    assert [k for k, f in facets.items() if matches(f, role="planner")] == ["bad-parse"]
    assert [k for k, f in facets.items() if matches(f, kind="agent")] == ["crash"]
    assert [k for k, f in facets.items() if matches(f, outcome="conclusion")] == ["ok"]
    page = render_page(data)
    assert 'id="umi-f-outcome"' in page and 'id="umi-f-error"' in page and 'id="umi-f-role"' in page


def test_widget_filters_the_task_list():
    from umi_lab.widgets import TrajectoryReplayer

    r = TrajectoryReplayer([_erring("alpha_umi", "ok", "conclusion"),
                            _erring("alpha_umi", "bad-tool", "give_up", "tool: unknown_tool")])
    assert list(r.task.options) == ["ok", "bad-tool"] and "2 of 2" in r.shown.value
    r.filters["role"].value = "caller"
    assert list(r.task.options) == ["bad-tool"] and r.task.value == "bad-tool" and "1 of 2" in r.shown.value
    assert "lokup" in r.view.value or "bad-tool" in r.view.value
    r.filters["outcome"].value = "conclusion"
    assert list(r.task.options) == [] and "no task matches" in r.view.value
    r.filters["role"].value = "(any)"
    assert list(r.task.options) == ["ok"]


def test_replay_app_command_serves_the_packaged_notebook(tmp_path):
    from umi_lab.replay import voila_command

    a = _write(tmp_path / "a.jsonl", [_traj("alpha_umi", "t1", "lookup")])
    cmd, env = voila_command([str(a)], port=8899, limit=3)
    assert cmd[1:4] == ["-m", "voila", cmd[3]] and cmd[3].endswith("replay_app.ipynb")
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8899" in cmd
    assert env["UMI_LAB_REPLAY"] == str(a.resolve()) and env["UMI_LAB_REPLAY_LIMIT"] == "3"
    with pytest.raises(DataError, match="trajectory file not found"):
        voila_command([str(tmp_path / "nope.jsonl")])
