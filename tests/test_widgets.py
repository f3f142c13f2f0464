import json

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord, Turn, load_dialogues
from umi_lab.widgets import (
    ReplayTrack,
    TrajectoryReplayer,
    load_tracks,
    render_step_html,
    render_turn_html,
    render_view_html,
    split_call,
)

HOSTILE = "<script>alert(1)</script>"


def _dialogue(task_id: str, turns: list[tuple[str, str]], tools=None) -> Dialogue:
    return Dialogue.from_dict({
        "id": task_id,
        "tools": tools if tools is not None else [
            {"Name": "get_weather", "function": f"weather {HOSTILE}", "input": {"city": "string <b>"}}],
        "instruction": turns[0][1],
        "conversations": [{"from": r, "value": v} for r, v in turns],
    })


def _traj(method: str, task_id: str, turns, *, outcome="conclusion", steps=None) -> RecordedTrajectory:
    return RecordedTrajectory(task_id, method, _dialogue(task_id, turns), steps or [], outcome)


ALPHA_TURNS = [
    ("user", f"weather in Paris? {HOSTILE}"),
    ("assistant", "I should look up the weather. Next: caller."),
    ("caller", 'Action: get_weather\nAction Input: {"city": "Paris", "note": "</pre><img src=x onerror=alert(2)>"}'),
    ("observation", json.dumps({"temp": 21, "text": "x" * 400})),
    ("assistant", "Got it. Next: conclusion."),
    ("conclusion", f"It is 21 degrees. {HOSTILE}"),
]
SINGLE_TURNS = [
    ("user", f"weather in Paris? {HOSTILE}"),
    ("assistant", "Call something. Next: caller."),
    ("caller", "Action: get_wether\nAction Input: not json"),
    ("observation", "unknown tool"),
    ("assistant", "I cannot. Next: give up."),
]


def test_turn_rendering_roles_call_observation_answer_and_escaping():
    call = render_turn_html(Turn("caller", ALPHA_TURNS[2][1]))
    assert '<code class="umi-tool">get_weather</code>' in call
    assert '&quot;city&quot;: &quot;Paris&quot;,\n' in call                    # pretty-printed JSON
    assert "<img" not in call and "&lt;img src=x onerror=alert(2)&gt;" in call
    plan = render_turn_html(Turn("assistant", ALPHA_TURNS[1][1]))
    assert "I should look up the weather." in plan and "Next: caller</span>" in plan
    assert "--c:#1d4ed8" in plan                                              # the planner's own colour
    obs = render_turn_html(Turn("observation", ALPHA_TURNS[3][1]))
    assert obs.count("<details>") == 1 and "characters)</summary>" in obs     # long: collapsed
    short = render_turn_html(Turn("observation", "ok"))
    assert "<details>" not in short
    answer = render_turn_html(Turn("conclusion", ALPHA_TURNS[5][1]))
    assert HOSTILE not in answer and "&lt;script&gt;alert(1)&lt;/script&gt;" in answer
    err = render_turn_html(Turn("caller", "Action: f\nAction Input: {}"), step=StepRecord("caller", "x", 10, 5, 0.25,
                                                                                           error=f"parse {HOSTILE}"))
    assert "10 prompt / 5 generated tokens, 0.25 s" in err and "error: parse &lt;script&gt;" in err
    assert split_call("Action: a\nAction Input: {\"x\": 1}") == ("a", '{"x": 1}')
    assert split_call("no call here") == (None, "no call here")


def test_step_html_is_cumulative_and_highlights_current():
    track = ReplayTrack.from_trajectory(_traj("alpha_umi", "t1", ALPHA_TURNS))
    html0 = render_step_html(track, 0)
    assert html0.count('class="umi-turn') == 1 and "turn 1/6" in html0
    html3 = render_step_html(track, 3)
    assert html3.count('class="umi-turn') == 4 and html3.count("umi-turn current") == 1
    assert 'class="umi-turn current" data-role="observation"' in html3
    assert "outcome:" not in html3
    last = render_step_html(track, 99)
    assert "turn 6/6" in last and "outcome: <b>conclusion</b>" in last


def test_view_escapes_everything_even_tool_docs():
    a = ReplayTrack.from_trajectory(_traj("alpha_umi", "t1", ALPHA_TURNS))
    view = render_view_html([a], 5)
    assert "<script>" not in view.replace("<style>", "")
    assert "weather &lt;script&gt;alert(1)&lt;/script&gt;" in view          # tool documentation, escaped
    assert "<code>city</code>: string &lt;b&gt;" in view
    with pytest.raises(DataError, match="nothing to replay"):
        render_view_html([], 0)


def test_replayer_slider_buttons_compare_and_gold():
    alpha = [_traj("alpha_umi", "t1", ALPHA_TURNS, steps=[StepRecord("planner", "…", 100, 12, 0.5)]),
             _traj("alpha_umi", "t2", ALPHA_TURNS[:2], outcome="step_limit")]
    single = [_traj("single_llm", "t1", SINGLE_TURNS, outcome="give_up")]
    gold = [_dialogue("t1", ALPHA_TURNS), _dialogue("t2", ALPHA_TURNS)]
    r = TrajectoryReplayer(alpha, gold=gold, compare=single)
    assert list(r.task.options) == ["t1", "t2"]
    assert r.slider.max == 5 and r.play.max == 5
    assert r.view.value.count('class="umi-col"') == 3                       # two methods side by side + gold
    assert 'data-label="alpha_umi"' in r.view.value and 'data-label="single_llm"' in r.view.value
    r.slider.value = 2
    v = r.view.value
    assert "100 prompt / 12 generated tokens" in v                           # step record of the planner turn
    assert v.count('data-role="caller"') == 3
    assert "= gold" in v                                                    # alpha's call matches gold
    assert "gold: get_weather" in v                                         # single_llm's misspelt tool does not
    r.next_button.click()
    assert r.slider.value == 3 and r.view.value.count('data-role="observation"') == 3
    r.prev_button.click()
    r.prev_button.click()
    assert r.slider.value == 1
    r.go(100)
    assert r.slider.value == 5 and "outcome: <b>give_up</b>" in r.view.value
    r.play.value = 4                                                        # play drives the slider (linked)
    assert r.slider.value == 4
    r.play.playing = True
    r.pause_button.click()
    assert r.play.playing is False
    r.task.value = "t2"                                                     # t2 has no comparison run
    assert r.slider.value == 0 and r.view.value.count('class="umi-col"') == 2
    assert HOSTILE not in r.view.value


def test_replayer_on_real_gold_dialogues(shared_data):
    dialogues = load_dialogues(shared_data / "alpha_umi_toolbench/test/out_of_domain.json")[:5]
    r = TrajectoryReplayer(dialogues)
    assert r.task.options[0] == "#0"
    assert r.slider.max == len(dialogues[0].conversations) - 1
    r.go(r.slider.max)
    assert r.view.value.count('class="umi-turn') == len(dialogues[0].conversations)
    assert "end of dialogue" in r.view.value


def test_load_tracks_from_files_and_errors(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(_traj("alpha_umi", "t1", ALPHA_TURNS).to_dict()) + "\n")
    tracks = load_tracks(path)
    assert tracks[0].label == "alpha_umi" and tracks[0].outcome == "conclusion"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "x", "method": "m", "dialogue": {"tools": []}, "steps": [],
                               "outcome": "error"}) + "\n")
    with pytest.raises(DataError, match="bad.jsonl: record 0: field instruction: missing"):
        load_tracks(bad)
    with pytest.raises(DataError, match="no trajectories"):
        TrajectoryReplayer([])


def test_training_panel_builds_validated_config(tmp_path):
    pytest.importorskip("trl")
    from umi_lab.training_config import GLPFTConfig
    from umi_lab.widgets import TrainingPanel

    panel = TrainingPanel(data=str(tmp_path / "data"), out=str(tmp_path / "run"))
    panel.method.value = "multi_llm_one_stage"
    panel.learning_rates["planner"].value = 3e-4
    panel.epochs["caller"].value = 2.0
    panel.lora_r.value = 4
    panel.lora_alpha.value = 8
    panel.smoke.value = True
    cfg = panel.build_config()
    assert isinstance(cfg, GLPFTConfig)
    assert (cfg.method, cfg.lora.r, cfg.lora.alpha, cfg.smoke) == ("multi_llm_one_stage", 4, 8, True)
    sched = cfg.resolved_schedule()
    assert sched.planner.learning_rate == 3e-4 and sched.caller.max_steps == 3
    assert panel.base_config.lora.r == 16                                   # base left unchanged
    assert panel.base_config.schedule == "tiny"
    panel._on_log({"stage": 1, "role": "backbone", "step": 1, "loss": 3.5})
    panel._on_log({"stage": 2, "role": "planner", "step": 1, "loss": 2.5})
    assert panel.plot.value[:8] == b"\x89PNG\r\n\x1a\n" and "planner step 1: loss 2.5000" in panel.status.value
    panel.data.value = ""
    with pytest.raises(DataError, match="no data folder given"):
        panel.start(background=False)
    assert "failed: field data: no data folder given" in panel.status.value
    panel.start().join(timeout=60)                                          # background thread: error kept
    assert isinstance(panel.error, DataError)
    panel.lora_r.value = 1
    panel.seed.value = 0
    panel.learning_rates["caller"].value = 1e-3
    assert panel.build_config().resolved_schedule().caller.learning_rate == 1e-3


def test_filter_choices_name_each_value_once():
    from umi_lab.replay_filter import ANY, filter_options

    facets = [{"outcomes": ["step_limit"], "errors": [["planner", "parse"], ["caller", "parse"], ["backbone", "parse"]]},
              {"outcomes": ["step_limit", "error"], "errors": [["caller", "unknown_tool"]]}]
    assert filter_options(facets) == {"outcome": [ANY, "error", "step_limit"], "error": [ANY, "parse", "unknown_tool"],
                                      "role": [ANY, "backbone", "caller", "planner"]}
