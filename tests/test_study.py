"""The study command's stages on real data, with training/evaluation replaced by fast fakes that write the
run-directory contract (status, loss_history.jsonl, eval/<name>/metrics.json and trajectories.jsonl)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from umi_lab.io import write_json, write_jsonl
from umi_lab.protocol.dialogue import load_dialogues
from umi_lab.study import StudyConfig, prepare_data, run_study


@pytest.fixture
def world(shared_data, tmp_path) -> Path:
    """A ToolWorld-shaped folder made from the official α-UMi stage-2 example (20 real dialogues)."""
    folder = tmp_path / "world"
    folder.mkdir()
    src = shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"
    dialogues = json.loads(src.read_text())
    for i, d in enumerate(dialogues):
        d["id"] = f"tb{i}"
    write_json(folder / "train.json", dialogues[:15])
    write_json(folder / "test_in_domain.json", dialogues[15:])
    write_json(folder / "manifest.json", {"seed": 0})
    return folder


def test_prepare_data_splits_roles_and_counts(world, tmp_path):
    info = prepare_data(StudyConfig(toolworld=str(world)), tmp_path / "out", say=lambda s: None)
    assert info["sizes"] == {"test_in_domain.json": 5, "train.json": 15}           # the manifest is not counted
    assert set(info["role_sizes"]) == {"backbone", "planner", "caller", "summarizer", "multitask"}
    assert info["role_sizes"]["multitask"] == sum(info["role_sizes"][r] for r in ("planner", "caller", "summarizer"))
    assert json.loads((tmp_path / "out/data/summary.json").read_text())["role_sizes"] == info["role_sizes"]


def _fake_train(config):
    run = Path(config.out)
    run.mkdir(parents=True, exist_ok=True)
    rows = [{"stage": 1, "role": "backbone", "step": s, "loss": 2.0 / s} for s in (1, 2, 3)]
    write_jsonl(run / "loss_history.jsonl", rows)
    (run / "status").write_text("done\n")
    return run


def _fake_evaluate(world):
    gold = load_dialogues(world / "test_in_domain.json")

    def evaluate(run_dir, spec, **kwargs):
        good = run_dir.name.startswith("alpha_umi")
        folder = run_dir / "eval" / spec.name
        write_json(folder / "metrics.json", {"plan_em": 0.8 if good else 0.5, "success_rate": 0.6 if good else 0.2})
        if spec.mode == "realtime":
            trajs = [{"task_id": d.id, "method": run_dir.name.rsplit("-s", 1)[0], "dialogue": d.to_dict(),
                      "steps": [], "outcome": "conclusion"} for d in gold[: kwargs.get("limit", 5)]]
            write_jsonl(folder / "trajectories.jsonl", trajs)
    return evaluate


def test_run_study_writes_every_output_and_timings(world, tmp_path):
    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld = str(world)
    cfg.benchmarks = ("toolworld-id:static", "toolworld-id:realtime")
    lines = []
    res = run_study(cfg, say=lines.append, train_fn=_fake_train, evaluate_fn=_fake_evaluate(world),
                    resolve_fn=lambda m: f"/models/{m}")
    out = tmp_path / "study"
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == {"data", "backbone", "ablation", "report", "replay", "total"}
    assert res.failures == []
    tidy = pd.read_parquet(res.outputs["results_parquet"])
    assert sorted(tidy["method"].unique()) == ["alpha_umi", "single_llm"] and len(tidy) == 8
    table = (out / "tables/table.md").read_text()
    assert "| α-UMi | 1 seed | 80.0 |" in table and "**" not in table        # one seed, no item scores: no bold
    loss = next(k for k in res.outputs if k.startswith("loss_alpha_umi-s0-"))   # <method>-s<seed>-<hash8>
    for key in ("bars_toolworld-id-static", loss, "decisions"):
        assert Path(res.outputs[key]).is_file(), key
    page = Path(res.outputs["replay_html"]).read_text()
    assert '"label": "alpha_umi"' in page and '"label": "single_llm"' in page and '"label": "gold"' in page
    assert any("=== [5/5] replay ===" in line for line in lines)
    assert any(line.strip().startswith("replay_html") for line in lines)             # where each output is

    shutil.rmtree(out / "tables")                                                     # second run reuses everything
    again = run_study(cfg, say=lambda s: None, train_fn=None, evaluate_fn=None, resolve_fn=lambda m: m)
    assert again.failures == [] and (out / "tables/table.md").is_file()


def test_two_sizes_into_one_folder_each_get_their_own_runs(world, tmp_path):
    """Issue 11.1: a second study with other sizes in the same folder trains its own runs (never an error,
    never a silent reuse), and running either again reuses its runs."""
    trained = []

    def train(config):
        trained.append((config.method, config.max_dialogues, Path(config.out).name))
        return _fake_train(config)

    def study(max_dialogues):
        cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
        cfg.toolworld, cfg.benchmarks = str(world), ("toolworld-id:static",)
        cfg.extra_train = {"max_dialogues": max_dialogues}
        return run_study(cfg, say=lambda s: None, train_fn=train, evaluate_fn=_fake_evaluate(world),
                         resolve_fn=lambda m: m)

    small = study(4)
    big = study(8)
    assert small.failures == [] and big.failures == []
    assert [t[1] for t in trained] == [4, 4, 8, 8]
    small_runs = {t[2] for t in trained[:2]}
    big_runs = {t[2] for t in trained[2:]}
    assert not small_runs & big_runs                                                  # separate run folders
    tidy = pd.read_parquet(big.outputs["results_parquet"])
    assert set(tidy["run"]) == big_runs                                               # tabulates its own runs
    trained.clear()
    again = study(4)
    assert trained == [] and set(pd.read_parquet(again.outputs["results_parquet"])["run"]) == small_runs
