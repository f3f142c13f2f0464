"""The evaluation package: a toy benchmark is one registry entry; the decoding profiles; ToolWorld data and world
seed taken from the run's manifest; import-run of full-weight checkpoints evaluated, tabulated and replayed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scripted_models import Scripted

from umi_lab.cli import main
from umi_lab.errors import DataError
from umi_lab.evaluation import (
    BENCHMARKS,
    Benchmark,
    EvalSettings,
    evaluate_run,
    register_benchmark,
    unregister_benchmark,
)
from umi_lab.evaluation.driver import evaluation_identity
from umi_lab.io import read_json, write_json
from umi_lab.protocol.dialogue import Dialogue, Tool
from umi_lab.rundir import RunDir
from umi_lab.serving import GenerationSettings


def _run_dir(path, **cfg):
    write_json(path / "config.json", {"method": "alpha_umi", "model_name_or_path": "none", "family": "toolbench",
                                      **cfg})
    return path


# ------------------------------------------------------------------------------------------------ registry
TOY_DOC = {"Name": "echo_for_toy", "function": "echo the text", "input": {"text": "string, required, text"}}


class EchoEnv:
    """A two-line environment: ``echo_for_toy`` answers with its argument."""

    def tool_docs(self):
        return [Tool.from_dict(TOY_DOC)]

    def call(self, name, args):
        from umi_lab.tools.registry import Observation

        if name != "echo_for_toy":
            return Observation.make("unknown_tool", error=f"no tool {name}")
        return Observation.make("ok", response=json.loads(args).get("text", ""))


def _toy_tasks(ctx, limit):
    words = ["apple", "pear", "plum"][:limit]
    return [Dialogue.from_dict({"tools": [TOY_DOC], "instruction": f"echo {w}",
                                "conversations": [{"from": "user", "value": f"echo {w}"}], "id": f"toy-{w}",
                                "answer": w}) for w in words]


def _toy_score(trajs, tasks, ctx):
    hits = sum(t.outcome == "conclusion" and t.dialogue.conversations[-1].value == task.extra["answer"]
               for t, task in zip(trajs, tasks))
    return {"echo_accuracy": hits / len(trajs)}


@pytest.fixture
def toy():
    b = register_benchmark(Benchmark("toy-echo", "echo a word", tasks=_toy_tasks,
                                     environment=lambda ctx: lambda task: EchoEnv(), score=_toy_score))
    yield b
    unregister_benchmark("toy-echo")


def _echo_agent(role, prompt, config):
    word = prompt.split("user: echo ")[-1].split("</s>")[0]
    if role == "planner":
        return "Done. Next: conclusion." if "observation: " in prompt else "Echo it. Next: caller."
    if role == "caller":
        return f'Action: echo_for_toy\nAction Input: {{"text": "{word}"}}'
    return word


def test_a_toy_benchmark_is_one_registry_entry(tmp_path, toy, capsys):
    assert BENCHMARKS["toy-echo"] == ("realtime",) and "toy-echo" in list(BENCHMARKS)
    run = _run_dir(tmp_path)
    m = evaluate_run(run, "toy-echo", models=Scripted(_echo_agent))
    assert (m["echo_accuracy"], m["n"], m["mode"], m["decoding"]) == (1.0, 3, "realtime", "greedy")
    lines = (run / "eval" / "toy-echo-realtime" / "trajectories.jsonl").read_text().splitlines()
    assert [json.loads(x)["task_id"] for x in lines] == ["toy-apple", "toy-pear", "toy-plum"]
    with pytest.raises(DataError, match="has no static protocol"):
        evaluate_run(run, "toy-echo", "static", models=Scripted(_echo_agent))
    with pytest.raises(ValueError, match="already registered"):
        register_benchmark(toy)
    with pytest.raises(ValueError, match="neither"):
        register_benchmark(Benchmark("empty", "nothing"))


def test_an_evaluation_is_keyed_by_its_full_settings(tmp_path, toy, capsys):
    run = _run_dir(tmp_path / "run")
    plain = evaluate_run(run, "toy-echo", models=Scripted(_echo_agent))
    assert plain["eval_dir"] == str(run / "eval" / "toy-echo-realtime")
    variants = {"limit": {"limit": 2},
                "max_new_tokens": {"settings": EvalSettings(GenerationSettings(max_new_tokens=99))},
                "batch_size": {"settings": EvalSettings(GenerationSettings(batch_size=2))},
                "grouped": {"settings": EvalSettings(GenerationSettings(mixed_roles=False))},
                "decoding": {"decoding": "official"}}
    folders = {}
    for name, kw in variants.items():
        m = evaluate_run(run, "toy-echo", models=Scripted(_echo_agent), **kw)
        assert not m.get("reused"), name
        folders[name] = m["eval_dir"]
    assert len(set(folders.values()) | {plain["eval_dir"]}) == 6
    assert all(f.startswith(plain["eval_dir"] + "-") for f in folders.values())
    listed = dict(RunDir(run).evaluations("toy-echo"))
    assert len(listed) == 6 and listed[Path(folders["limit"])]["n_items"] == 2
    assert listed[Path(folders["decoding"])]["settings"]["decoding"] == "official"
    # the checkpoint cadence changes nothing: reused; a reader finds each folder from its settings
    again = Scripted(_echo_agent)
    m = evaluate_run(run, "toy-echo", models=again, settings=EvalSettings(checkpoint_every=1), limit=2)
    assert m["reused"] and m["eval_dir"] == folders["limit"] and again.calls == []
    ident = evaluation_identity(run, "toy-echo", limit=2, models=again)
    assert RunDir(run).eval_dir("toy-echo", "realtime", ident) == Path(folders["limit"])
    assert RunDir(run).eval_metrics("toy-echo", "realtime", ident)["n"] == 2
    # another run configuration in the same folder: its evaluations are not the old ones
    original = read_json(run / "config.json")
    write_json(run / "config.json", {**original, "seed": 5})
    m = evaluate_run(run, "toy-echo", models=Scripted(_echo_agent))
    assert not m.get("reused") and m["eval_dir"] not in folders.values() and m["eval_dir"] != plain["eval_dir"]
    # the readable folder removed: an evaluation in a hashed folder is still found, not redone
    write_json(run / "config.json", original)
    shutil.rmtree(plain["eval_dir"])
    m = evaluate_run(run, "toy-echo", models=again, limit=2)
    assert m["reused"] and m["eval_dir"] == folders["limit"] and again.calls == []


def test_an_older_evaluation_folder_is_never_reused(tmp_path, toy, capsys):
    run = _run_dir(tmp_path / "run")
    old = run / "eval" / "toy-echo-realtime"
    write_json(old / "metrics.json", {"echo_accuracy": 0.0, "n": 3})  # written before folders had identities
    m = evaluate_run(run, "toy-echo", models=Scripted(_echo_agent), say=print)
    assert m["echo_accuracy"] == 1.0 and m["eval_dir"].startswith(str(old) + "-")
    assert "older folder without identity.json" in capsys.readouterr().out
    assert read_json(old / "metrics.json") == {"echo_accuracy": 0.0, "n": 3}
    assert [(f.name, i is None) for f, i in RunDir(run).evaluations()] == [
        ("toy-echo-realtime", True), (Path(m["eval_dir"]).name, False)]


# ------------------------------------------------------------------------------------------------ decoding
def test_official_profile_values_and_greedy_default():
    g = EvalSettings.for_profile("greedy", "realtime")
    assert (g.decoding, g.generation.temperature, g.planner_attempts, g.max_observation_chars) == ("greedy", 0.0, 1, None)
    r = EvalSettings.for_profile("official", "realtime")
    assert (r.generation.temperature, r.generation.max_new_tokens, r.generation.max_prompt_tokens) == (0.5, 512, 3576)
    assert (r.planner_attempts, r.max_observation_chars, r.second_stage_speaker) == (5, 1024, "assistant")
    s = EvalSettings.for_profile("official", "static")
    assert (s.generation.temperature, s.generation.max_new_tokens, s.generation.max_prompt_tokens) == (0.0, 512, 3750)
    assert s.second_stage_speaker == "planner"
    assert EvalSettings.for_profile("official", "static", smoke=True).generation.max_new_tokens == 16
    with pytest.raises(ValueError, match="unknown decoding profile"):
        EvalSettings(decoding="beam")


def test_official_static_writes_planner_into_second_stage_history(tmp_path):
    def fn(role, prompt, config):
        return "Look it up. Next: caller." if role == "planner" else 'Action: f\nAction Input: {}'

    for decoding, speaker in (("greedy", "assistant"), ("official", "planner")):
        model = Scripted(fn)
        run = _run_dir(tmp_path / decoding)
        m = evaluate_run(run, "toolworld-id", "static", limit=3, models=model, decoding=decoding)
        callers = [p for r, p, _ in model.calls if r == "caller"]
        assert len(callers) == 3 and all(f"{speaker}: Look it up. Next: caller.</s>" in p for p in callers)
        cfg = read_json(run / "eval" / "toolworld-id-static" / "config.json")
        assert m["decoding"] == cfg["decoding"] == cfg["settings"]["decoding"] == decoding
        assert {(c.max_new_tokens, c.max_prompt_tokens) for _, _, c in model.calls} == {
            (512, None) if decoding == "greedy" else (512, 3750)}
        assert cfg["settings"]["compat"] == ("official" if decoding == "official" else "default")


def test_official_realtime_retries_empty_planner_and_cuts_observations(tmp_path, toy):
    long_word = "x" * 1500
    asked: dict[str, int] = {}

    def fn(role, prompt, config):
        if role == "planner" and "observation: " not in prompt:
            asked[prompt] = asked.get(prompt, 0) + 1
            if asked[prompt] <= 2:
                return [" ", ": ."][asked[prompt] - 1]  # empty twice, then a real decision
        if role == "caller":
            return f'Action: echo_for_toy\nAction Input: {{"text": "{long_word}"}}'
        return _echo_agent(role, prompt, config)

    model = Scripted(fn)
    m = evaluate_run(_run_dir(tmp_path), "toy-echo", limit=1, models=model, decoding="official")
    traj = json.loads((tmp_path / "eval" / "toy-echo-realtime" / "trajectories.jsonl").read_text())
    steps = traj["steps"]
    assert [s["error"] for s in steps[:2]] == ["empty: retried"] * 2 and steps[2]["decision"] == "caller"
    assert traj["meta"]["decisions"] == 2  # the retries are not decisions
    obs = next(t["value"] for t in traj["dialogue"]["conversations"] if t["from"] == "observation")
    assert len(obs) == 1024 + 3 and obs.endswith("...") and steps[3]["observation_truncated"] > 1024
    assert {(c.temperature, c.max_new_tokens) for _, _, c in model.calls} == {(0.5, 512)}
    planner_seeds = [c.seed for r, p, c in model.calls if r == "planner" and "observation: " not in p]
    assert len(set(planner_seeds)) == 3  # each retry samples with a fresh seed
    assert m["decoding"] == "official"

    # greedy: an empty planner output is a decision (caller, parse error), observations are kept whole
    asked.clear()
    evaluate_run(_run_dir(tmp_path / "g"), "toy-echo", limit=1, models=Scripted(fn))
    traj = json.loads((tmp_path / "g" / "eval" / "toy-echo-realtime" / "trajectories.jsonl").read_text())
    assert "empty: retried" not in [s["error"] for s in traj["steps"]]
    assert any(len(t["value"]) > 1500 for t in traj["dialogue"]["conversations"] if t["from"] == "observation")


# ------------------------------------------------------------------------------------------------ data
def test_evaluation_uses_the_runs_toolworld_folder_and_world_seed(tmp_path):
    from umi_lab.toolworld.dataset import GenerateConfig, generate_folder

    world = tmp_path / "tw7"
    generate_folder(GenerateConfig(seed=7, n_train=6, n_test_id=3, n_test_ood=2), world)
    roles = tmp_path / "roles"
    assert main(["split", "--input", str(world / "train.json"), "--out", str(roles)]) == 0
    run = _run_dir(tmp_path / "run", data=str(roles))  # trained on role data split from the seed-7 world

    def fn(role, prompt, config):
        return "Stop. Next: give up."
    m = evaluate_run(run, "toolworld-id", "realtime", models=Scripted(fn))
    assert m["n"] == 3
    cfg = read_json(run / "eval" / "toolworld-id-realtime" / "config.json")
    tw = cfg["data"]["toolworld"]
    assert (tw["world_seed"], tw["source"], tw["path"]) == (7, "run", str(world))
    assert tw["files"]["test_in_domain.json"]["dialogues"] == 3
    ident = read_json(run / "eval" / "toolworld-id-realtime" / "identity.json")
    assert ident["data"]["toolworld"]["world_seed"] == 7

    # other ToolWorld data (another world seed): another evaluation, in its own folder
    other = tmp_path / "tw8"
    generate_folder(GenerateConfig(seed=8, n_train=6, n_test_id=3, n_test_ood=2), other)
    m8 = evaluate_run(run, "toolworld-id", "realtime", models=Scripted(fn), settings=EvalSettings(toolworld=str(other)))
    assert m8["eval_dir"] != m["eval_dir"] and not m8.get("reused")
    assert read_json(Path(m8["eval_dir"]) / "identity.json")["data"]["toolworld"]["world_seed"] == 8
    assert evaluate_run(run, "toolworld-id", "realtime", models=Scripted(fn))["reused"]

    # an edited file no longer matches its manifest
    (world / "test_in_domain.json").write_text("[]\n")
    with pytest.raises(DataError, match="fingerprint") as e:
        evaluate_run(run, "toolworld-id", "static", models=Scripted(fn))
    assert e.value.file == str(world / "test_in_domain.json")


def test_explicit_world_seed_must_agree_with_the_manifest(tmp_path):
    with pytest.raises(DataError, match="generated with seed 0"):
        evaluate_run(_run_dir(tmp_path), "toolworld-id", "realtime", limit=1, models=Scripted(lambda *a: ""),
                     settings=EvalSettings(world_seed=3))


def test_manifest_cli_writes_only_for_reproduced_data(tmp_path, capsys):
    folder = tmp_path / "w"
    assert main(["toolworld", "generate", "--seed", "2", "--out", str(folder), "--n-train", "4", "--n-test-id", "2",
                 "--n-test-ood", "2"]) == 0
    written = (folder / "manifest.json").read_bytes()
    (folder / "manifest.json").unlink()
    args = ["toolworld", "manifest", str(folder), "--n-train", "4", "--n-test-id", "2", "--n-test-ood", "2"]
    assert main(args + ["--seed", "3"]) == 2 and "not what `toolworld generate` writes" in capsys.readouterr().err
    assert main(args + ["--seed", "2"]) == 0 and (folder / "manifest.json").read_bytes() == written


def test_committed_manifest_matches_a_fresh_generation(tmp_path):
    from umi_lab.toolworld.manifest import read_manifest

    data = read_manifest("data/toolworld")  # verifies every fingerprint of the committed files
    assert (data.world_seed, data.generator_version) == (0, 1)
    main(["toolworld", "generate", "--seed", "0", "--out", str(tmp_path)])
    assert (tmp_path / "manifest.json").read_bytes() == open("data/toolworld/manifest.json", "rb").read()


# ------------------------------------------------------------------------------------------------ import-run
def _stand_in(folder, seed):
    """A full-weight Llama-style checkpoint: the tiny test backbone with its weights nudged per role."""
    import torch

    from umi_lab.backbone import load_backbone, resolve_model

    model, tok = load_backbone(resolve_model("tiny-test"), device="cpu", dtype="float32")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 1e-3)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_import_run_end_to_end(tmp_path, capsys):
    from umi_lab.ablation import metric_rows
    from umi_lab.replay import export_replay_html
    from umi_lab.tables import to_markdown

    ck = {r: str(_stand_in(tmp_path / "ckpt" / r, k)) for k, r in enumerate(("planner", "caller", "summarizer"))}
    run = tmp_path / "alpha-7b"
    assert main(["import-run", "--planner", ck["planner"], "--caller", ck["caller"], "--summarizer",
                 ck["summarizer"], "--out", str(run)]) == 0
    cfg = read_json(run / "config.json")
    assert cfg["method"] == "alpha_umi" and cfg["lora"]["enabled"] is False
    assert (run / "models" / "caller").resolve() == (tmp_path / "ckpt" / "caller").resolve()
    assert main(["import-run", "--planner", ck["planner"], "--out", str(tmp_path / "x")]) == 2
    assert "missing --caller --summarizer" in capsys.readouterr().err

    for mode in ("static", "realtime"):
        assert main(["evaluate", "--run", str(run), "--benchmark", "toolworld-id", "--mode", mode, "--smoke",
                     "--decoding", "official"]) == 0
        printed = json.loads(capsys.readouterr().out.splitlines()[0])
        assert printed["n_items"] == 4 and printed["decoding"] == "official" and printed["errors"] == 0
    metrics = read_json(run / "eval" / "toolworld-id-static" / "metrics.json")
    rows = metric_rows(metrics, run=run.name, method=cfg["method"], seed=0, benchmark="toolworld-id-static")
    import pandas as pd

    table = to_markdown(pd.DataFrame(rows))
    assert "| α-UMi |" in table and f"| {100 * metrics['plan_em']:.1f} |" in table
    page = export_replay_html([run / "eval" / "toolworld-id-realtime" / "trajectories.jsonl"], tmp_path / "r.html")
    assert page.stat().st_size > 1000

    # a Single-LLM checkpoint; a LoRA adapter folder is refused
    single = tmp_path / "single"
    assert main(["import-run", "--backbone", ck["planner"], "--out", str(single)]) == 0
    assert "backbone" in capsys.readouterr().out
    assert main(["evaluate", "--run", str(single), "--benchmark", "toolworld-ood", "--smoke"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["n_items"] == 4
    adapter = tmp_path / "adapter"
    shutil.copytree(ck["caller"], adapter)
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(DataError, match="LoRA adapter"):
        from umi_lab.import_run import import_run

        import_run(tmp_path / "y", backbone=str(adapter))



def test_the_ablation_reads_the_folder_of_its_own_settings(tmp_path):
    """A grid whose readable eval folder holds another limit: the evaluation goes to its own folder (as
    ``evaluate_run`` does) and the table shows that folder's numbers, never the stale ones."""
    from umi_lab.ablation import AblationConfig, run_ablation

    def train(config):
        run = Path(config.out)
        run.mkdir(parents=True, exist_ok=True)
        (run / "status").write_text("done\n")
        return run

    def stale_then_evaluate(run_dir, spec, **kwargs):
        plain = run_dir / "eval" / spec.name
        own = plain.with_name(plain.name + "-0123abcd")
        write_json(own / "metrics.json", {"plan_em": 0.9, "limit": kwargs.get("limit")})
        return {"plan_em": 0.9, "eval_dir": str(own)}

    cfg = AblationConfig(data="roles", out=str(tmp_path / "abl"), methods=("single_llm",), seeds=(0,),
                         evals=("toolworld-id:static",), eval_overrides={"limit": 7})
    run_dir = cfg.run_dir("single_llm", 0)
    write_json(run_dir / "eval" / "toolworld-id-static" / "metrics.json", {"plan_em": 0.1})
    write_json(run_dir / "eval" / "toolworld-id-static" / "config.json", {"limit": 3, "smoke": False})
    res = run_ablation(cfg, train_fn=train, evaluate_fn=stale_then_evaluate, say=lambda s: None)
    assert res.tidy.loc[res.tidy.metric == "plan_em", "value"].tolist() == [0.9]
    got = [p for (r, name), p in res.eval_dirs.items() if name == "toolworld-id-static"]
    assert [p.name for p in got] == ["toolworld-id-static-0123abcd"]


def test_the_ablation_report_takes_item_scores_from_the_folders_it_read(tmp_path):
    from umi_lab.ablation import AblationConfig, run_ablation
    from umi_lab.ablation_report import grid_items
    from umi_lab.io import write_jsonl

    def train(config):
        run = Path(config.out)
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", {"method": "single_llm", "seed": 0})
        (run / "status").write_text("done\n")
        return run

    def trajectories(folder, n, outcome):
        task = {"tools": [TOY_DOC], "instruction": "echo x", "conversations": [{"from": "user", "value": "echo x"}]}
        write_jsonl(folder / "trajectories.jsonl", [{"task_id": f"t{i}", "method": "single_llm", "dialogue": task,
                                                     "steps": [], "outcome": outcome} for i in range(n)])

    def evaluate(run_dir, spec, **kwargs):
        own = run_dir / "eval" / (spec.name + "-0123abcd")
        write_json(own / "metrics.json", {"give_up_rate": 0.0, "limit": kwargs.get("limit")})
        trajectories(own, 3, "conclusion")
        return {"eval_dir": str(own)}

    cfg = AblationConfig(data="roles", out=str(tmp_path / "abl"), methods=("single_llm",), seeds=(0,),
                         evals=("toolworld-id:realtime",), eval_overrides={"limit": 3})
    plain = cfg.run_dir("single_llm", 0) / "eval" / "toolworld-id-realtime"
    write_json(plain / "metrics.json", {"give_up_rate": 1.0})
    write_json(plain / "config.json", {"limit": 2, "smoke": False})
    trajectories(plain, 2, "give_up")  # another limit's stale results
    res = run_ablation(cfg, train_fn=train, evaluate_fn=evaluate, say=lambda s: None, report=False)
    items, floors = grid_items(res.tidy, [d for *_, d in res.grid], res.eval_dirs)
    assert set(items["benchmark"]) == {"toolworld-id-realtime"} and sorted(set(items["item_id"])) == ["t0", "t1", "t2"]
    assert set(floors["benchmark"]) == {"toolworld-id-realtime"}
