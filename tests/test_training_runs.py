"""Training runs as a user meets them: the same dialogues for every method, the tokenizer's own BOS
convention, failures and Ctrl-C recorded, one writer at a time, typed configs and the generated CLI,
experiment tracking."""

import json
from pathlib import Path

import pytest
from transformers import TrainerCallback

from umi_lab import cli
from umi_lab.backbone import build_tiny, encode_prompt
from umi_lab.errors import DataError
from umi_lab.methods import get_method, method_names
from umi_lab.protocol.prompts import PromptStyle
from umi_lab.rundir import RunDir, RunLocked
from umi_lab.training import GLPFTConfig, dialogue_id, encode_sample, train
from umi_lab.training.run import _load_data
from umi_lab.training_config import read_config_file


@pytest.fixture(scope="module")
def example_dir(shared_data):
    return shared_data / "alpha_umi_toolbench" / "train-example"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, shared_data):
    corpus = [shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"]
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", preset="test", corpus=corpus)


def _config(tiny, data, out, **kw):
    return GLPFTConfig(**{"method": "single_llm", "model": str(tiny), "data": str(data), "out": str(out),
                          "schedule": "tiny", "smoke": True, "save_steps": 2, **kw})


# --------------------------------------------------------------------- issue 15.1: same dialogues

def test_every_method_trains_on_the_same_dialogues(example_dir, tmp_path):
    ids, mixes = {}, {}
    for name in method_names():
        cfg = _config("tiny-test", example_dir, tmp_path, method=name, max_dialogues=5, smoke=False)
        data, _, drawn = _load_data(cfg, get_method(name).datasets)
        ids[name] = {dialogue_id(s) for rows in data.values() for s in rows}
        assert len(drawn) == 5 and ids[name] <= set(drawn)
        mixes[name] = data
    assert len({frozenset(v) for v in ids.values()}) == 1, ids        # identical dialogue sets
    multi, roles = mixes["single_llm_multitask"]["multitask"], mixes["multi_llm_one_stage"]
    assert sorted(map(json.dumps, multi)) == sorted(json.dumps(s) for r in ("planner", "caller", "summarizer")
                                                    for s in roles[r])   # multitask = the roles' union
    assert {json.dumps(s) for s in roles["caller"]} <= {json.dumps(s) for s in multi}  # not planner only


def test_the_draw_is_seeded(example_dir, tmp_path):
    a = _load_data(_config("tiny-test", example_dir, tmp_path, max_dialogues=5, smoke=False), ["backbone"])[2]
    b = _load_data(_config("tiny-test", example_dir, tmp_path, max_dialogues=5, smoke=False), ["backbone"])[2]
    c = _load_data(_config("tiny-test", example_dir, tmp_path, max_dialogues=5, smoke=False, sample_seed=1),
                   ["backbone"])[2]
    assert a == b and a != c


# --------------------------------------------------------------------- issue 15.5: BOS

@pytest.fixture(scope="module")
def llama_tok():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaTokenizerFast

    words = "system user assistant : hi there caller planner next . the a b c d e f g h".split()
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3, **{w: i + 4 for i, w in enumerate(words)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return LlamaTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              pad_token="<pad>", add_bos_token=True, add_eos_token=False)


def test_llama_style_tokenizer_gets_bos_in_training_and_serving(llama_tok):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from umi_lab.serving import GenerationSettings, RoleModels

    style = PromptStyle(system_prefix=False)
    sample = {"input": "user : hi there a b c d e f g h assistant :", "target": "the planner"}
    row, flags = encode_sample(sample, llama_tok, style=style, max_length=64)
    assert row["input_ids"][0] == llama_tok.bos_token_id and row["labels"][0] == -100 and not any(flags.values())
    short, flags = encode_sample(sample, llama_tok, style=style, max_length=8, min_prompt_tokens=4)
    assert short["input_ids"][0] == llama_tok.bos_token_id and flags["prompt_truncated"]   # left cut keeps <s>
    n_prompt = sum(1 for x in row["labels"] if x == -100)
    ids, cut = encode_prompt(llama_tok, style.model_prompt(sample["input"]))
    assert row["input_ids"][:n_prompt] == ids and not cut                 # serving encodes the same way
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(llama_tok), hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, intermediate_size=32,
                                         max_position_embeddings=64))
    models = RoleModels(None, llama_tok, {"planner": "planner"}, style=style, full_models={"planner": model})
    g = models.generate([style.model_prompt(sample["input"])], ["planner"], GenerationSettings(max_new_tokens=2))[0]
    assert g.prompt_tokens == len(ids)
    templated, _ = encode_prompt(llama_tok, "<s> user : hi")          # a chat template's own <s>: not doubled
    assert templated == [llama_tok.bos_token_id, *llama_tok("user : hi", add_special_tokens=False)["input_ids"]]


def test_tiny_tokenizer_convention_is_unchanged(tiny):
    from umi_lab.backbone import load_tokenizer

    tok = load_tokenizer(tiny)
    assert encode_prompt(tok, "user: hi")[0] == tok("user: hi", add_special_tokens=False)["input_ids"]


# --------------------------------------------------------------------- issue 13.4 / 11.3: failures, Ctrl-C, lock

class _Boom(TrainerCallback):
    def __init__(self, exc):
        self.exc = exc

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            raise self.exc


def test_failed_run_records_the_reason_and_reruns_resume(tiny, example_dir, tmp_path):
    cfg = _config(tiny, example_dir, tmp_path / "run")
    with pytest.raises(RuntimeError):
        train(cfg, callbacks=[_Boom(RuntimeError("disk on fire"))], progress=False)
    run = RunDir(tmp_path / "run")
    assert run.status() == "failed" and "disk on fire" in run.status_reason()
    said = []
    assert train(cfg, progress=False, say=said.append) == run.path and run.status() == "done"
    assert any("resuming" in s for s in said)
    steps = [r["step"] for r in run.loss_history()[0]]
    assert steps == sorted(set(steps))                                     # never recorded twice


def test_ctrl_c_marks_interrupted_and_the_cli_prints_a_hint(tiny, example_dir, tmp_path, capsys, monkeypatch):
    import umi_lab.training.run as run_mod

    real = run_mod._run_plan

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "_run_plan", interrupted)
    argv = ["train", "--method", "single_llm", "--model", str(tiny), "--data", str(example_dir), "--out",
            str(tmp_path / "run"), "--smoke", "--no-progress", "--schedule", "tiny"]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err and "Traceback" not in err
    assert RunDir(tmp_path / "run").status() == "interrupted"
    monkeypatch.setattr(run_mod, "_run_plan", real)
    assert cli.main(argv) == 0 and RunDir(tmp_path / "run").status() == "done"


def test_second_writer_is_refused(tiny, example_dir, tmp_path):
    import fcntl

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    with open(run.path / ".lock", "w") as f:                # another process's lock (flock is per open file)
        f.write("pid 4242 on elsewhere\n")
        f.flush()
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(RunLocked, match="pid 4242 on elsewhere"):
            train(_config(tiny, example_dir, run.path), progress=False)


# --------------------------------------------------------------------- issue 10.6: typed configs, generated CLI

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "umi_lab" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_yaml_loads_and_validates(path):
    cfg = GLPFTConfig.from_file(path)
    assert cfg.to_dict()["method"] in method_names()
    assert set(read_config_file(path)) <= set(cfg.to_dict()) | {"schedule_preset"}


def test_cli_sets_any_config_field(tiny, example_dir, tmp_path):
    import argparse

    from umi_lab.training.cli import build_parser, config_from_args

    p = build_parser(argparse.ArgumentParser())
    args = p.parse_args(["--config", str(CONFIGS[0]), "--method", "multi_llm_one_stage", "--lora.r", "4",
                         "--all.learning-rate", "3e-4", "--planner.num-train-epochs", "2", "--max-dialogues", "7",
                         "--smoke", "--report-to", "none"])
    cfg = config_from_args(args)
    sched = cfg.resolved_schedule()
    assert cfg.lora.r == 4 and cfg.max_dialogues == 7 and cfg.smoke
    assert sched.caller.learning_rate == 3e-4 and sched.planner.epochs == 2
    with pytest.raises(DataError, match="lora"):
        config_from_args(p.parse_args(["--lora.r", "0"]))


def test_smoke_preset_is_a_file():
    cfg = GLPFTConfig.from_file(next(p for p in CONFIGS if p.name == "smoke.yaml"))
    assert cfg.smoke and cfg.model == "tiny-test"


# --------------------------------------------------------------------- issue 11.5: tracking, logs

def test_tracking_writes_tensorboard_files(tiny, example_dir, tmp_path):
    pytest.importorskip("tensorboard")
    run = train(_config(tiny, example_dir, tmp_path / "run", report_to="tensorboard"), progress=False)
    assert list((run / "tracking").rglob("events.out.tfevents.*"))
    assert (run / "train.log").is_file()


class _Stop(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 4:
            raise KeyboardInterrupt


def test_resume_skips_an_incomplete_last_checkpoint(tiny, example_dir, tmp_path):
    cfg = _config(tiny, example_dir, tmp_path / "run", save_steps=1,
                  schedule_overrides={"backbone": {"max_steps": 5}})
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[_Stop()], progress=False)
    run = RunDir(tmp_path / "run")
    work = run.work_dir("backbone")
    newest = max((p for p in work.iterdir() if p.name.startswith("checkpoint-")), key=lambda p: int(p.name[11:]))
    weights = newest / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])              # disk full while the last checkpoint was saved
    with open(run.history_path, "a") as f:
        f.write('{"stage": 1, "role": "backbone", "st')           # and a torn history line
    said = []
    train(cfg, progress=False, say=said.append)
    assert run.status() == "done"
    assert any(f"skipping incomplete checkpoint {newest.name}" in s for s in said)
    assert any("dropped 1 unreadable line" in s for s in said)
    assert [r["step"] for r in run.loss_history()[0]] == [1, 2, 3, 4, 5]
