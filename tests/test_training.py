"""GLPFT training: labels, truncation, LoRA invariants, stage-2 initialisation, resume, methods, config."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from umi_lab import cli
from umi_lab.backbone import build_tiny, load_backbone
from umi_lab.errors import DataError
from umi_lab.protocol.prompts import DEFAULT_STYLE, PromptStyle
from umi_lab.training import (
    GLPFTConfig,
    LossRecorder,
    build_dataset,
    build_role_model,
    encode_sample,
    load_role_data,
    method_plan,
    run_info,
    stage_config,
    train,
)

# Losses of the first three logged steps of `single_llm` on the test-preset model (seed 42, smoke mode, sample_seed 0),
# measured on this project's CPU machines (torch 2.13.0 CPU, 2026-11-23).
GOLDEN_LOSSES = [5.2192, 5.3377, 5.2248]  # re-pinned 2026-11-30: smoke now draws 4 dialogues (seeded), was the first 8 samples; old 5.2522, 5.3135, 5.3188


@pytest.fixture(scope="session")
def example_dir(shared_data):
    return shared_data / "alpha_umi_toolbench" / "train-example"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, shared_data):
    corpus = [shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json",
              shared_data / "gsm8k/train.jsonl"]
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", preset="test", corpus=corpus)


@pytest.fixture(scope="session")
def tokenizer(tiny):
    return load_backbone(tiny, device="cpu")[1]


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def _config(tiny, data, out, **kw):
    return GLPFTConfig(**{"method": "single_llm", "model": str(tiny), "data": str(data), "out": str(out),
                          "schedule": "tiny", "smoke": True, "save_steps": 2, **kw})


@pytest.fixture(scope="session")
def alpha_run(tiny, example_dir, runs):
    return train(_config(tiny, example_dir, runs / "alpha", method="alpha_umi"), progress=False)


def _adapter(path):
    return load_file(str(Path(path) / "adapter_model.safetensors"))


# ------------------------------------------------------------------------------------- data shape

def test_completion_only_labels(tokenizer, example_dir):
    sample = json.loads((example_dir / "train_caller.json").read_text())[0]
    row, flags = encode_sample(sample, tokenizer, style=DEFAULT_STYLE, max_length=100_000)
    prompt = tokenizer(DEFAULT_STYLE.model_prompt(sample["input"]), add_special_tokens=False)["input_ids"]
    target = tokenizer(sample["target"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert row["input_ids"] == prompt + target
    assert row["labels"] == [-100] * len(prompt) + target
    assert not any(flags.values())
    assert tokenizer.decode(target) == sample["target"] + "</s>"


def test_trl_keeps_our_labels(tiny, tokenizer, example_dir, tmp_path):
    from trl import SFTTrainer

    samples = json.loads((example_dir / "train_planner.json").read_text())[:4]
    ds, stats = build_dataset(samples, tokenizer, style=DEFAULT_STYLE, max_length=256)
    cfg = _config(tiny, example_dir, tmp_path)
    model = build_role_model(cfg, tiny, None)
    trainer = SFTTrainer(model=model, args=stage_config(cfg, "planner", 2, tmp_path, progress=False),
                         train_dataset=ds, processing_class=tokenizer)
    for i in range(4):
        assert trainer.train_dataset[i]["labels"] == ds[i]["labels"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert (batch["labels"] != -100).sum().item() == sum(sum(x != -100 for x in ds[i]["labels"]) for i in range(2))
    assert stats.samples == 4 and stats.prompt_truncated == 4


def test_left_truncation_keeps_target(tokenizer, example_dir):
    sample = json.loads((example_dir / "train_planner.json").read_text())[0]
    full, _ = encode_sample(sample, tokenizer, style=DEFAULT_STYLE, max_length=100_000)
    row, flags = encode_sample(sample, tokenizer, style=DEFAULT_STYLE, max_length=512, min_prompt_tokens=32)
    n_target = sum(x != -100 for x in full["labels"])
    assert n_target < 480 and len(full["input_ids"]) > 512
    assert len(row["input_ids"]) == 512 and flags == {"prompt_truncated": True, "target_truncated": False}
    assert row["input_ids"] == full["input_ids"][-512:]  # the prompt lost its beginning, nothing else
    assert row["labels"][-n_target:] == full["labels"][-n_target:]


def test_overlong_target_is_cut_and_flagged(tokenizer):
    sample = {"input": "tool docs " * 100 + "assistant: ", "target": "word " * 400}
    row, flags = encode_sample(sample, tokenizer, style=PromptStyle(system_prefix=False), max_length=64,
                               min_prompt_tokens=16)
    assert flags["target_truncated"] and len(row["input_ids"]) == 64
    assert row["labels"][-1] == tokenizer.eos_token_id and row["labels"].count(-100) == 16


def test_bad_samples_name_record_and_field(tokenizer):
    with pytest.raises(DataError, match=r"f.json: record 1: field target: missing"):
        build_dataset([{"input": "a", "target": "b"}, {"input": "a"}], tokenizer, style=DEFAULT_STYLE,
                      max_length=64, file="f.json")
    with pytest.raises(DataError, match="record 0: field input: expected a string"):
        build_dataset([{"input": 3, "target": "b"}], tokenizer, style=DEFAULT_STYLE, max_length=64)


def test_load_role_data_ready_folder(example_dir):
    data, sha = load_role_data(example_dir, ["backbone", "multitask"])
    assert len(data["backbone"]) == 79
    assert len(data["multitask"]) == 79 + 59 + 14  # planner + caller + summarizer
    assert len(sha) == 4 and all(len(v) == 64 for v in sha.values())
    with pytest.raises(DataError, match="data folder not found"):
        load_role_data(example_dir / "nope", ["planner"])


def test_split_conversations_on_the_fly(shared_data, tmp_path):
    pytest.importorskip("umi_lab.splitting")
    raw = shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"
    (tmp_path / "train.json").write_text(raw.read_text())
    data, sha = load_role_data(tmp_path, ["planner", "caller", "summarizer"])
    assert set(sha) == {str(tmp_path / "train.json")}
    assert len(data["planner"]) == 79 and len(data["caller"]) == 59 and len(data["summarizer"]) == 14


# ------------------------------------------------------------------------------- training behaviour

class _Capture(TrainerCallback):
    def __init__(self):
        self.models = []

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.models.append(model)


def test_lora_invariant_base_frozen_adapter_trained(tiny, example_dir, runs):
    cap = _Capture()
    run = train(_config(tiny, example_dir, runs / "lora"), callbacks=[cap], progress=False)
    base, _ = load_backbone(tiny, device="cpu")
    trained = cap.models[0]
    base_sd = base.state_dict()
    lora_b = 0
    for name, value in trained.state_dict().items():
        if "lora_B" in name:
            lora_b += 1
            assert value.abs().sum() > 0  # B starts at zero: any non-zero value was learned
        elif "lora_" not in name:
            key = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(value, base_sd[key]), key
    assert lora_b == 2 * 7  # 2 layers x 7 target modules
    assert (run / "adapters" / "backbone" / "adapter_config.json").is_file()


def test_stage2_adapters_start_from_stage1(alpha_run, tiny):
    cfg = GLPFTConfig.from_dict({k: v for k, v in json.loads((alpha_run / "config.json").read_text()).items()
                                 if k != "model_name_or_path"})
    stage1 = _adapter(alpha_run / "adapters" / "backbone")
    model = build_role_model(cfg, tiny, alpha_run / "adapters" / "backbone")
    start = {k.replace(".default", ""): v for k, v in model.state_dict().items() if "lora_" in k}
    assert set(start) == set(stage1)
    for k, v in stage1.items():
        assert torch.equal(start[k], v), k
    assert any(p.requires_grad for p in model.parameters())
    planner = _adapter(alpha_run / "adapters" / "planner")
    assert any(not torch.equal(planner[k], stage1[k]) for k in stage1)  # and it kept training


def test_alpha_umi_run_dir_layout(alpha_run):
    assert (alpha_run / "status").read_text().strip() == "done"
    for role in ("backbone", "planner", "caller", "summarizer"):
        assert (alpha_run / "adapters" / role / "adapter_model.safetensors").is_file()
    assert not (alpha_run / "work").exists() and not (alpha_run / "base").exists()
    cfg = json.loads((alpha_run / "config.json").read_text())
    assert cfg["method"] == "alpha_umi"
    assert cfg["prompt_style"] == {"system_prefix": True, "compact_docs": False, "chat_template": False,
                                   "space_to_target": False}
    assert cfg["schedule"]["backbone"]["learning_rate"] == 2e-3
    versions = json.loads((alpha_run / "versions.json").read_text())
    assert versions["trl"] == "1.16.0" and versions["world_size"] == 1
    rows = [json.loads(x) for x in (alpha_run / "loss_history.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["role"]) for r in rows] == [(1, "backbone")] * 3 + [
        (2, "planner")] * 3 + [(2, "caller")] * 3 + [(2, "summarizer")] * 3
    assert all(set(r) == {"stage", "role", "step", "epoch", "loss", "learning_rate"} for r in rows)
    info = run_info(alpha_run)
    assert info["base"] == cfg["model_name_or_path"] and info["status"] == "done"
    assert set(info["adapters"]) == {"backbone", "planner", "caller", "summarizer"}
    assert info["roles"] == {"planner": "planner", "caller": "caller", "summarizer": "summarizer"}


def test_same_config_reuses_and_another_gets_its_own_folder(alpha_run, tiny, example_dir):
    said = []
    before = _adapter(alpha_run / "adapters" / "planner")
    assert train(_config(tiny, example_dir, alpha_run, method="alpha_umi"), progress=False, say=said.append) == alpha_run
    assert any("reused" in s for s in said)
    after = _adapter(alpha_run / "adapters" / "planner")
    assert all(torch.equal(before[k], after[k]) for k in before)
    cfg7 = _config(tiny, example_dir, alpha_run, method="single_llm", seed=7)
    other = train(cfg7, progress=False, say=said.append)
    assert other != alpha_run and other.name.startswith(alpha_run.name + "-") and (other / "status").read_text() == "done\n"
    assert any("holds another configuration" in s and "seed" in s for s in said)
    assert train(cfg7, progress=False, say=said.append) == other  # and that one is reused in turn


def test_merge_init(tiny, example_dir, runs):
    run = train(_config(tiny, example_dir, runs / "merge", method="alpha_umi", init="merge"), progress=False)
    assert (run / "base" / "model.safetensors").is_file() and (run / "base" / "tokenizer.json").is_file()
    info = run_info(run)
    assert info["base"] == str(run / "base")
    stage1 = _adapter(run / "adapters" / "backbone")
    planner = _adapter(run / "adapters" / "planner")
    # fresh adapters: B started at zero, so after 3 small steps they are far from the stage-1 B
    assert all(not torch.equal(planner[k], stage1[k]) for k in stage1)
    base, _ = load_backbone(tiny, device="cpu")
    merged, _ = load_backbone(run / "base", device="cpu")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(base.state_dict()[name], merged.state_dict()[name])


class _Interrupt(TrainerCallback):
    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt("simulated interruption")


def test_resume_matches_uninterrupted(tiny, example_dir, runs):
    kw_s = {"schedule_overrides": {"backbone": {"max_steps": 5, "batch_size": 2}}, "smoke": False,
            "max_dialogues": 6, "max_length": 256}
    ref = train(_config(tiny, example_dir, runs / "ref", **kw_s), progress=False)
    cfg = _config(tiny, example_dir, runs / "resumed", **kw_s)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[_Interrupt(3)], progress=False)
    assert (runs / "resumed" / "status").read_text().strip() == "interrupted"
    assert (runs / "resumed" / "work" / "backbone" / "checkpoint-2").is_dir()
    train(cfg, progress=False)
    a, b = _adapter(ref / "adapters" / "backbone"), _adapter(runs / "resumed" / "adapters" / "backbone")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    steps = [json.loads(x)["step"] for x in (runs / "resumed" / "loss_history.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]  # the step logged before the interruption was replaced, not duplicated


def test_golden_loss(tiny, example_dir, runs):
    rec = LossRecorder()
    train(_config(tiny, example_dir, runs / "golden"), callbacks=[rec], progress=False)
    losses = [round(r["loss"], 4) for r in rec.records]
    assert [r["role"] for r in rec.records] == ["backbone"] * 3
    print("golden losses", losses)
    assert losses == pytest.approx(GOLDEN_LOSSES, abs=1e-4)


@pytest.mark.parametrize("method,adapters,roles", [
    ("single_llm", {"backbone"}, {"planner": "backbone", "caller": "backbone", "summarizer": "backbone"}),
    ("multi_llm_one_stage", {"planner", "caller", "summarizer"},
     {"planner": "planner", "caller": "caller", "summarizer": "summarizer"}),
    ("single_llm_multitask", {"multitask"},
     {"planner": "multitask", "caller": "multitask", "summarizer": "multitask"}),
])
def test_baselines_end_to_end(tiny, example_dir, runs, method, adapters, roles):
    run = train(_config(tiny, example_dir, runs / method, method=method), progress=False)
    info = run_info(run)
    assert info["status"] == "done" and set(info["adapters"]) == adapters and info["roles"] == roles
    rows = [json.loads(x) for x in (run / "loss_history.jsonl").read_text().splitlines()]
    assert {r["role"] for r in rows} == adapters and len(rows) == 3 * len(adapters)
    assert [j.role for j in method_plan(method)] == sorted(adapters, key=["backbone", "planner", "caller",
                                                                                 "summarizer", "multitask"].index)


def test_full_finetune(tiny, example_dir, runs):
    run = train(_config(tiny, example_dir, runs / "full", lora={"enabled": False}), progress=False)
    info = run_info(run)
    assert info["adapters"] == {} and set(info["models"]) == {"backbone"}
    trained, _ = load_backbone(info["models"]["backbone"], device="cpu")
    base, _ = load_backbone(tiny, device="cpu")
    name = "model.layers.0.mlp.down_proj.weight"
    assert not torch.equal(trained.state_dict()[name], base.state_dict()[name])


def test_cli_train(tiny, example_dir, runs, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("schedule: tiny\nsave_steps: 2\nschedule_overrides:\n  backbone: {learning_rate: 5e-3}\n")
    code = cli.main(["train", "--method", "single_llm", "--model", str(tiny), "--data", str(example_dir),
                     "--out", str(runs / "cli"), "--config", str(cfg), "--smoke", "--no-progress", "--seed", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "run:" in out and "loss backbone" in out
    saved = json.loads((runs / "cli" / "config.json").read_text())
    assert saved["seed"] == 3 and saved["schedule"]["backbone"]["learning_rate"] == 5e-3
    assert cli.main(["train", "--method", "single_llm", "--model", str(tiny), "--data", str(example_dir),
                     "--out", str(runs / "cli"), "--config", str(cfg), "--smoke", "--no-progress", "--seed", "3"]) == 0
    assert "reused" in capsys.readouterr().out                                  # the same command twice: reused


# -------------------------------------------------------------------------------------- config

def test_config_validation(tmp_path):
    with pytest.raises(DataError, match="field lora.rank: unknown field"):
        GLPFTConfig.from_dict({"lora": {"rank": 4}})
    with pytest.raises(DataError, match="field method: unknown method 'glpft'"):
        GLPFTConfig.from_dict({"method": "glpft"})
    with pytest.raises(DataError, match="field seed: expected an integer"):
        GLPFTConfig.from_dict({"seed": "x"})
    with pytest.raises(DataError, match="field schedule_overrides.planner.lr: unknown field"):
        GLPFTConfig.from_dict({"schedule_overrides": {"planner": {"lr": 1}}})
    with pytest.raises(DataError, match="field sft_overrides.foo: not an SFTConfig field"):
        GLPFTConfig.from_dict({"sft_overrides": {"foo": 1}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: alpha_umi\ninit: mix\n")
    with pytest.raises(DataError, match=r"bad.yaml: field init: unknown init 'mix'"):
        GLPFTConfig.from_file(bad)


def test_presets_and_paper_schedule():
    root = Path(__file__).resolve().parent.parent / "umi_lab" / "configs"
    for f in sorted(root.glob("*.yaml")):
        GLPFTConfig.from_file(f)
    paper = GLPFTConfig.from_file(root / "paper.yaml").resolved_schedule()
    assert (paper.backbone.epochs, paper.backbone.learning_rate, paper.backbone.warmup_ratio) == (2, 5e-5, 0.4)
    assert (paper.planner.epochs, paper.planner.learning_rate, paper.planner.weight_decay,
            paper.planner.warmup_ratio) == (1, 1e-5, 0.01, 0.2)
    assert (paper.summarizer.epochs, paper.summarizer.warmup_ratio) == (2, 0.4)
    sft = stage_config(GLPFTConfig(schedule="paper"), "caller", 2, "/tmp/unused", progress=False)
    assert (sft.role, sft.stage, sft.learning_rate, sft.lr_scheduler_type.value) == ("caller", 2, 1e-5, "cosine")
    assert sft.warmup_steps == 0.2 and sft.num_train_epochs == 1


@pytest.mark.gpu
def test_gpu_training_uses_bf16(tiny, example_dir, tmp_path):
    sft = stage_config(_config(tiny, example_dir, tmp_path), "backbone", 1, tmp_path)
    assert sft.bf16 and not sft.use_cpu
    run = train(_config(tiny, example_dir, tmp_path / "gpu"), progress=False)
    assert run_info(run)["status"] == "done"
