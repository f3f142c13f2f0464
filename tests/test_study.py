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
    write_json(run / "config.json", {"method": config.method, "seed": config.seed})
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


def test_full_default_trains_the_tiny_model_with_its_study_preset_and_smoke_stays_lora():
    from umi_lab.study import _model_train
    from umi_lab.training_config import GLPFTConfig

    preset = GLPFTConfig.from_file("umi_lab/configs/tiny_study.yaml")
    full = GLPFTConfig.from_dict({"method": "alpha_umi", "schedule": "tiny", **StudyConfig().extra_train})
    assert not full.lora.enabled and full.max_length == 1280 and full.max_dialogues == 72
    assert full.resolved_schedule() == preset.resolved_schedule()
    assert full.resolved_schedule().planner.learning_rate == 3e-4
    assert full.prompt_style.space_to_target and full.prompt_style.compact_docs
    assert full.resolved_schedule().summarizer.num_train_epochs == 2
    smoke = StudyConfig.preset(smoke=True)
    assert smoke.model == "tiny-test" and "lora" not in smoke.extra_train
    assert "lora" not in _model_train("smollm2-135m")  # another model does not inherit the tiny settings
    assert StudyConfig().extra_train is not StudyConfig().extra_train


def test_run_study_writes_every_output_and_timings(world, tmp_path):
    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld = str(world)
    cfg.benchmarks = ("toolworld-id:static", "toolworld-id:realtime")
    cfg.probe = False
    lines = []
    res = run_study(cfg, say=lines.append, train_fn=_fake_train, evaluate_fn=_fake_evaluate(world),
                    resolve_fn=lambda m: f"/models/{m}")
    out = tmp_path / "study"
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == {"data", "backbone", "plan", "ablation", "report", "replay", "total"}
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
    assert any("=== [6/6] replay ===" in line for line in lines)
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
        cfg.extra_train, cfg.probe = {"max_dialogues": max_dialogues}, False
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


def _scored_evaluate(world):
    """A stand-in evaluator that writes what the real one writes for the statistics: scored static samples
    (α-UMi copies the gold decisions, the others always give up), trajectories with a pass/fail verdict and
    one config.json shared by every cell (the same settings)."""
    from umi_lab.static_eval import compose_prediction, static_samples

    gold = load_dialogues(world / "test_in_domain.json")
    samples = static_samples(gold)

    def evaluate(run_dir, spec, **kwargs):
        good = run_dir.name.startswith("alpha_umi")
        folder = run_dir / "eval" / spec.name
        write_json(folder / "config.json", {"benchmark": spec.benchmark, "mode": spec.mode, "limit": None,
                                            "smoke": False, "decoding": "greedy", "run": {"schedule": "tiny"}})
        if spec.mode == "static":
            preds = [{**s, "predictions": s["reference"] if good else compose_prediction("Next: give up.")}
                     for s in samples]
            write_json(folder / "predictions.json", preds)
            write_json(folder / "metrics.json", {"plan_em": 1.0 if good else 0.0})
        else:
            trajs = [{"task_id": f"t{i}", "method": "m", "steps": [],
                      "dialogue": {**gold[i % len(gold)].to_dict(), "task": {"solvable": i % 3 != 0}},
                      "outcome": "conclusion", "meta": {"success": {"passed": good or i % 4 == 0}}}
                     for i in range(12)]
            write_jsonl(folder / "trajectories.jsonl", trajs)
            write_json(folder / "metrics.json", {"pass_rate": 1.0 if good else 0.25})
    return evaluate


def test_study_table_has_cis_test_marks_and_floors(world, tmp_path):
    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld, cfg.probe = str(world), False
    res = run_study(cfg, say=lambda s: None, train_fn=_fake_train, evaluate_fn=_scored_evaluate(world),
                    resolve_fn=lambda m: m)
    assert res.failures == []
    table = (tmp_path / "study/tables/table.md").read_text()
    single = next(line for line in table.splitlines() if line.startswith("| Single-LLM |"))
    assert "[" in single and "†" in single                                     # CI and a significant difference
    assert "95% bootstrap CI" in table and "†: p < 0.05" in table                # the legend
    assert "*always Next: caller. (not ours)*" in table                           # floor rows
    assert "*never calls a tool (not ours)*" in table
    tidy = pd.read_parquet(res.outputs["results_parquet"])
    assert tidy["config"].notna().all() and tidy["config"].nunique() == 2         # one per benchmark, same cells


def test_study_writes_its_record_with_checks_against_the_targets(world, tmp_path):
    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld, cfg.probe, cfg.record = str(world), False, str(tmp_path / "results" / "study_cpu.json")
    res = run_study(cfg, say=lambda s: None, train_fn=_fake_train, evaluate_fn=_scored_evaluate(world),
                    resolve_fn=lambda m: m)
    rec = json.loads(Path(res.outputs["record"]).read_text())
    assert rec["machine"]["usable_cores"] >= 1 and rec["wall_s"] == pytest.approx(res.timings["total"], abs=0.1)
    assert rec["config"]["methods"] == list(cfg.methods) and rec["runs"] == 2 and rec["failures"] == 0
    cell = {(m["method"], m["benchmark"], m["metric"]): m for m in rec["metrics"]}
    ref = cell[("alpha_umi", "toolworld-id-realtime", "pass_rate")]
    assert ref["mean"] == 1.0 and ref["ci_lo"] is not None
    single = cell[("single_llm", "toolworld-id-realtime", "pass_rate")]
    assert single["mean"] == pytest.approx(0.25) and single["p_ref"] < 0.05
    floors = {(f["label"], f["benchmark"], f["metric"]): f["value"] for f in rec["floors"]}
    assert floors[("always gives up", "toolworld-id-realtime", "pass_rate")] == pytest.approx(4 / 12)
    assert ("always Next: caller.", "toolworld-id-static", "plan_em") in floors
    checks = rec["checks"]
    assert checks["alpha_umi_pass_rate"]["met"] and checks["wall_time"]["met"]
    below = {(c["method"], c["metric"]) for c in checks["above_floors"]["cells"] if not c["above_floor"]}
    assert ("single_llm", "pass_rate") in below and ("alpha_umi", "pass_rate") not in below   # 25 % < 33 %
    assert not checks["above_floors"]["met"]
    page = Path(res.outputs["record_markdown"]).read_text()
    assert page.startswith("# The default study on this machine") and "NOT met" in page and "| always gives up |" in page


def test_study_sweeps_the_training_set_size(world, tmp_path):
    """Issue 15: every method at each fraction of the training dialogues, a scaling plot, a table of the
    largest fraction."""
    drawn = []

    def train(config):
        drawn.append((config.method, config.max_dialogues))
        return _fake_train(config)

    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld, cfg.probe, cfg.fractions = str(world), False, (0.5, 1.0)
    cfg.benchmarks = ("toolworld-id:static",)
    res = run_study(cfg, say=lambda s: None, train_fn=train, evaluate_fn=_fake_evaluate(world),
                    resolve_fn=lambda m: m)
    assert res.failures == []
    assert sorted(drawn) == [("alpha_umi", 2), ("alpha_umi", 4), ("single_llm", 2), ("single_llm", 4)]  # smoke: 4
    tidy = pd.read_parquet(res.outputs["results_parquet"])
    assert sorted(tidy["fraction"].unique()) == [0.5, 1.0] and tidy["run"].nunique() == 4
    assert Path(res.outputs["scaling_toolworld-id-static_plan_em"]).is_file()
    scaling = pd.read_csv(res.outputs["scaling_csv"])
    assert set(scaling["fraction"]) == {0.5, 1.0}
    summary = pd.read_csv(tmp_path / "study/tables/table_summary.csv")
    assert set(summary["n_seeds"]) == {1}                                          # only the largest fraction


def test_zero_shot_row_serves_the_untrained_model(world, tmp_path):
    """Issue 14.3: ``zero_shot`` trains nothing; its run folder serves the base model (tiny-test: no chat
    template, so the plain prompt) and the evaluation reads it as any run."""
    from umi_lab.ablation import AblationConfig, run_ablation
    from umi_lab.serving import RoleModels

    seen = []

    def evaluate(run_dir, spec, **kwargs):
        models = RoleModels.from_run(run_dir)
        seen.append((run_dir.name, models.method))
        write_json(run_dir / "eval" / spec.name / "metrics.json", {"plan_em": 0.1})

    cfg = AblationConfig(data=str(world), out=str(tmp_path / "abl"), model="tiny-test",
                         methods=("zero_shot",), seeds=(0, 1), evals=("toolworld-id:static",))
    res = run_ablation(cfg, train_fn=lambda c: pytest.fail("zero-shot trains nothing"), evaluate_fn=evaluate,
                       say=lambda s: None)
    assert res.failures == [] and len(seen) == 1                                   # one row, first seed
    run = Path(res.grid[0][3])
    config = json.loads((run / "config.json").read_text())
    assert config["zero_shot"] and config["prompt_style"]["chat_template"] is False
    assert config["data"] == str(world)                                             # evaluated in the grid's world
    assert (run / "models" / "backbone").is_symlink()
    assert set(res.tidy["method"]) == {"zero_shot"}
    again = run_ablation(cfg, train_fn=None, evaluate_fn=evaluate, say=lambda s: None)
    assert again.counts["reused_runs"] == 1 and again.counts["reused_evals"] == 1


def test_plan_estimates_only_the_work_left(world, tmp_path, monkeypatch):
    """Issues 11.3 / 14.5: the plan (methods × seeds × benchmarks, tasks) and an estimate from the measured
    speed are printed before the grid runs; a second study with everything reused estimates nothing to do."""
    from umi_lab import study_plan

    probes = []

    def probe(model):
        probes.append(model)
        return study_plan.Speed(model, train_tokens_per_s=1000.0, gen_tokens_per_s=100.0, probe_s=0.1)

    monkeypatch.setattr(study_plan, "measure_speed", probe)
    monkeypatch.setattr(study_plan, "mean_sample_tokens", lambda roles, model: 300.0)
    cfg = StudyConfig.preset(smoke=True, out=str(tmp_path / "study"))
    cfg.toolworld, cfg.benchmarks = str(world), ("toolworld-id:static", "toolworld-id:realtime")
    lines = []
    run_study(cfg, say=lines.append, train_fn=_fake_train, evaluate_fn=_fake_evaluate(world), resolve_fn=lambda m: m)
    plan = json.loads((tmp_path / "study/plan.json").read_text())
    assert plan["cells"] == 2 and plan["to_train"] == 2 and plan["to_evaluate"] == 4 and plan["tasks_per_benchmark"] == 4
    # 2 static × 4 calls + 2 real-time × 4 tasks × 5 calls, 40 tokens each at 100 tokens/s, + 3 s per evaluation
    assert plan["model_calls"] == 48 and plan["estimate_s"]["evaluate"] == round(48 * 40 / 100 + 4 * 3)
    assert plan["speed"]["source"] == "probe" and probes == ["tiny-test"]
    text = "\n".join(lines)
    assert text.index("2 methods × 1 seeds = 2 runs") < text.index("[1/2] ")   # the plan comes first
    assert "estimated duration: ~" in text
    assert json.loads((tmp_path / "study/timings.json").read_text())["estimated_s"] == plan["estimate_s"]["total"]
    lines.clear()
    run_study(cfg, say=lines.append, train_fn=_fake_train, evaluate_fn=_fake_evaluate(world), resolve_fn=lambda m: m)
    assert probes == ["tiny-test"]                                                  # nothing left: no probe
    assert any("everything is reused" in line for line in lines)


def test_a_rebuilt_backbone_is_a_new_run(monkeypatch, tmp_path):
    """A run folder's hash covers what ``tiny`` stands for (its preset and pretraining corpus), not the name:
    after a change to the embedded backbone, a study into the same folder trains again."""
    import re
    from dataclasses import replace

    from umi_lab import backbone
    from umi_lab.ablation import AblationConfig

    world = Path(__file__).resolve().parent.parent / "data" / "toolworld"
    monkeypatch.setenv("UMI_LAB_TOOLWORLD", str(world))
    cfg = AblationConfig(data=str(world), out=str(tmp_path), model="tiny", methods=("alpha_umi",), seeds=(0,))
    key, before = backbone.model_key("tiny"), cfg.run_dir("alpha_umi", 0)
    assert re.fullmatch(r"tiny-default-[0-9a-f]{12}", key) and cfg.run_dir("alpha_umi", 0) == before
    monkeypatch.setitem(backbone.TINY_PRESETS, "default", replace(backbone.TINY_PRESETS["default"], steps=7))
    assert backbone.model_key("tiny") != key and cfg.run_dir("alpha_umi", 0) != before
    assert backbone.model_key("some-org/some-model") == "some-org/some-model"
