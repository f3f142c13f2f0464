"""Per-item scores read from evaluation folders agree with the official aggregate metrics."""

import json
from pathlib import Path

import pandas as pd
import pytest

from umi_lab.agent import trajectory_stats
from umi_lab.errors import DataError
from umi_lab.item_scores import (
    eval_items,
    load_reference_rows,
    realtime_floors,
    run_items,
    static_floors,
)
from umi_lab.protocol.dialogue import (
    Dialogue,
    RecordedTrajectory,
    StepRecord,
    load_dialogues,
    save_trajectories,
)
from umi_lab.static_eval import F1_EPS, evaluate_predictions, static_samples
from umi_lab.summary import summarize

GOLD = Path(__file__).resolve().parent.parent / "data" / "toolworld" / "test_in_domain.json"


def _static_dir(tmp_path: Path, name: str = "toolworld-id-static") -> tuple[Path, list[dict]]:
    if not GOLD.is_file():
        pytest.skip("ToolWorld test set not generated")
    samples = static_samples(load_dialogues(GOLD)[:30], "toolbench", file=str(GOLD))
    for i, s in enumerate(samples):  # right, a made-up tool, a give-up and a half-right call in turn
        s.pop("model_input")
        s["predictions"] = [s["reference"], "x Next: caller.</s>caller: Action: no_such_tool\nAction Input: {}",
                            "x Next: give up.", s["reference"].replace('": "', '": "zz')][i % 4]
    folder = tmp_path / "run" / "eval" / name
    folder.mkdir(parents=True)
    (folder / "predictions.json").write_text(json.dumps(samples))
    (folder / "config.json").write_text(json.dumps({"run": {"method": "alpha_umi", "seed": 0, "max_samples": 8},
                                                    "benchmark": "toolworld-id", "limit": None}))
    return folder, samples


def test_static_items_average_to_the_official_metrics(tmp_path):
    folder, samples = _static_dir(tmp_path)
    items = eval_items(folder, run="a-s0", method="alpha_umi", seed=0)
    official = evaluate_predictions(samples)
    means = items.groupby("metric")["value"].mean()
    for metric in ("plan_em", "action_em", "hallu_rate", "rouge"):
        assert means[metric] == pytest.approx(official[metric], abs=1e-12), metric
    for metric in ("easy_f1", "hard_f1", "f1"):                       # the official +1e-30 is not added
        assert means[metric] == pytest.approx(official[metric] - F1_EPS, abs=1e-12), metric
    counts = items.groupby("metric").size()
    assert counts["plan_em"] == len(samples) == official["counts"]["samples"]
    assert counts["action_em"] == official["counts"]["ref_call"] and counts["f1"] == official["counts"]["f1_n"]
    assert items["item_id"].str.contains("#").all() and items["config"].nunique() == 1
    assert 0 < official["hallu_rate"] < 1


def test_static_floors_from_gold_items(tmp_path):
    folder, samples = _static_dir(tmp_path)
    floors = static_floors(folder / "predictions.json", "toolworld-id-static").set_index(["label", "metric"])
    callers = sum(s["decision"] == "caller" for s in samples) / len(samples)
    assert floors.loc[("always Next: caller.", "plan_em"), "value"] == pytest.approx(callers)
    assert floors.loc[("always Next: caller.", "hallu_rate"), "value"] == 0.0
    assert floors.loc[("always Next: caller.", "f1"), "value"] == 0.0          # the +1e-30 rounded away
    give_ups = sum(s["decision"] == "give up" for s in samples) / len(samples)
    assert floors.loc[("always Next: give up.", "plan_em"), "value"] == pytest.approx(give_ups)
    assert realtime_floors("b")["metric"].tolist() == ["hallucinated_tool_rate", "invalid_argument_rate",
                                                       "tool_error_rate"]



def test_realtime_give_up_floor_is_what_the_checker_passes_for_a_bare_give_up(tmp_path):
    from umi_lab.toolworld.success import check_success

    gold = load_dialogues(GOLD)[:60]
    trajs = [RecordedTrajectory(d.id, "alpha_umi", d, [], "give_up", {}) for d in gold]
    save_trajectories(tmp_path / "trajectories.jsonl", trajs)
    floor = realtime_floors("toolworld-id-realtime", tmp_path / "trajectories.jsonl").set_index(["label", "metric"])
    bare = [Dialogue.from_dict({**d.to_dict(), "conversations": [
        {"from": "user", "value": d.instruction}, {"from": "assistant", "value": "No way. Next: give up."}]})
        for d in gold]
    passed = [check_success(d.extra["task"], b).passed for d, b in zip(gold, bare)]
    assert 0 < sum(passed) < len(passed)
    assert floor.loc[("always gives up", "pass_rate"), "value"] == pytest.approx(sum(passed) / len(passed))

def _traj(task_id, outcome, passed, calls, hallucinated, decisions):
    d = Dialogue.from_dict({"tools": [], "instruction": "q", "conversations": [{"from": "user", "value": "q"}]})
    meta = {"decisions": decisions, "tool_calls": calls, "hallucinated_tool": hallucinated, "invalid_arguments": 0,
            "tool_errors": 1 if calls else 0, "success": {"passed": passed}}
    return RecordedTrajectory(task_id, "alpha_umi", d, [StepRecord("planner", "x")] * decisions, outcome, meta)


def test_realtime_items_pool_tool_call_rates_like_trajectory_stats(tmp_path):
    trajs = [_traj("t0", "conclusion", True, 4, 1, 3), _traj("t1", "give_up", False, 1, 1, 2),
             _traj("t2", "step_limit", False, 0, 0, 8)]
    folder = tmp_path / "run" / "eval" / "toolworld-id-realtime"
    save_trajectories(folder / "trajectories.jsonl", trajs)
    items = eval_items(folder, run="a-s0", method="alpha_umi", seed=0, config={"limit": 3})
    s = summarize(items, resamples=100).set_index("metric")
    stats = trajectory_stats(trajs)
    for metric in ("hallucinated_tool_rate", "tool_error_rate", "give_up_rate", "avg_steps"):
        assert s.loc[metric, "mean"] == pytest.approx(stats[metric]), metric
    assert s.loc["pass_rate", "mean"] == pytest.approx(1 / 3) and s.loc["pass_rate", "n_items"] == 3
    assert s.loc["hallucinated_tool_rate", "mean"] == pytest.approx(2 / 5)     # pooled, not mean of ratios


def test_run_items_reads_every_evaluation_and_bad_input_is_located(tmp_path):
    folder, _ = _static_dir(tmp_path)
    run = folder.parent.parent
    (run / "config.json").write_text(json.dumps({"method": "single_llm", "seed": 2}))
    (run / "eval" / "empty").mkdir()
    items = run_items(run)
    assert set(items["method"]) == {"single_llm"} and set(items["seed"]) == {2}
    assert set(items["benchmark"]) == {"toolworld-id-static"}
    with pytest.raises(DataError, match="no predictions.json or trajectories.jsonl"):
        eval_items(run / "eval" / "empty", run="r", method="m", seed=0)
    bad = tmp_path / "bad" / "eval" / "x"
    bad.mkdir(parents=True)
    (bad / "predictions.json").write_text(json.dumps([{"reference": "a Next: give up.", "predictions": 3,
                                                       "tools": []}]))
    with pytest.raises(DataError, match="predictions.json: record 0: field predictions"):
        eval_items(bad, run="r", method="m", seed=0)


def test_reference_rows_need_a_citation(tmp_path):
    good = tmp_path / "paper.json"
    good.write_text(json.dumps({"source": "Shen et al. 2024, Table 1", "rows": [
        {"label": "α-UMi 7B (paper)", "benchmark": "toolbench-ood-static", "metric": "plan_em", "value": 0.5}]}))
    rows = load_reference_rows(good)
    assert rows.iloc[0]["source"] == "Shen et al. 2024, Table 1" and isinstance(rows, pd.DataFrame)
    good.write_text(json.dumps({"rows": []}))
    with pytest.raises(DataError, match="field source"):
        load_reference_rows(good)
    good.write_text(json.dumps({"source": "x", "rows": [{"label": "a", "benchmark": "b", "metric": "c",
                                                         "value": "50%"}]}))
    with pytest.raises(DataError, match="record 0: field value"):
        load_reference_rows(good)


def test_grid_items_and_floors(tmp_path):
    folder, _ = _static_dir(tmp_path)
    run = folder.parent.parent
    (run / "config.json").write_text(json.dumps({"method": "alpha_umi", "seed": 0}))
    save_trajectories(run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl",
                      [_traj("t0", "conclusion", True, 2, 0, 2)])
    from umi_lab.item_scores import collect_items, grid_floors

    items = collect_items([run, tmp_path / "missing"], methods={"run": "alpha_umi_merge"})
    assert set(items["method"]) == {"alpha_umi_merge"}
    assert set(items["benchmark"]) == {"toolworld-id-static", "toolworld-id-realtime"}
    floors = grid_floors([run, run])
    assert set(floors["benchmark"]) == {"toolworld-id-static", "toolworld-id-realtime"}
    assert len(floors[floors["benchmark"] == "toolworld-id-static"]) == 14       # 2 predictors x 7 metrics
