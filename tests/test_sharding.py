"""Full fine-tuning beyond one GPU: the shipped accelerate configs (FSDP, DeepSpeed ZeRO-3) mean what their
comments say, and FSDP sharding of the embedded model over 2 CPU processes (gloo) reproduces the one-process
losses (``tests/fsdp_train.py``)."""

import json
import os
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from distributed_launch import launch, run

pytest.importorskip("accelerate")

HERE = Path(__file__).resolve().parent
CONFIGS = files("umi_lab") / "configs" / "accelerate"


def _launch_env(name: str) -> dict[str, str]:
    """The environment ``accelerate launch --config_file <name>.yaml`` gives the training processes."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / f"{name}.yaml"), "train.py"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        return prepare_deepspeed_cmd_env(args)[1]
    return prepare_multi_gpu_env(args)


def _launch_flags() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {a.dest for a in launch_command_parser()._actions}


def test_fsdp_config_shards_fully_in_bf16_with_activation_checkpointing(monkeypatch):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import FullyShardedDataParallelPlugin
    from transformers.models.llama import modeling_llama

    raw = load_config_from_file(str(CONFIGS / "fsdp.yaml"))
    assert set(raw.fsdp_config) <= _launch_flags()   # every key is one accelerate launch reads (no typo)
    env = _launch_env("fsdp")
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True     # FSDP2 full sharding
    assert plugin.activation_checkpointing is True
    assert type(plugin.cpu_offload).__name__ == "OffloadPolicy"                 # no CPU offload
    assert plugin.transformer_cls_names_to_wrap == ["LlamaDecoderLayer"]
    assert hasattr(modeling_llama, "LlamaDecoderLayer")
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)                     # saved models load anywhere


def test_deepspeed_config_is_zero3_bf16_saving_16bit_weights(monkeypatch):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin

    raw = load_config_from_file(str(CONFIGS / "deepspeed_zero3.yaml"))
    assert set(raw.deepspeed_config) <= set(DeepSpeedPlugin.__dataclass_fields__) & _launch_flags()
    env = _launch_env("deepspeed_zero3")
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    zero = DeepSpeedPlugin().deepspeed_config["zero_optimization"]
    assert zero["stage"] == 3 and zero["stage3_gather_16bit_weights_on_model_save"] is True
    assert zero["offload_optimizer"]["device"] == zero["offload_param"]["device"] == "none"
    assert os.environ["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"


def test_fsdp_activation_checkpointing_replaces_the_trainers_own(monkeypatch):
    """transformers refuses FSDP's and the Trainer's activation checkpointing together: under the FSDP config
    the training code leaves the Trainer's off (on GPU it is otherwise on)."""
    from umi_lab.training import stages as training
    from umi_lab.training_config import GLPFTConfig

    monkeypatch.setattr(training, "on_gpu", lambda: True)
    assert training.stage_config(GLPFTConfig(), "planner", 2, "/tmp/w").activation_checkpointing is True
    for key, value in _launch_env("fsdp").items():
        monkeypatch.setenv(key, value)
    assert training.stage_config(GLPFTConfig(), "planner", 2, "/tmp/w").activation_checkpointing is False


@pytest.mark.slow
def test_fsdp_two_cpu_processes_match_one_process(tmp_path):
    from umi_lab.backbone import build_tiny

    dialogues = HERE.parent / "data" / "toolworld" / "train.json"
    model = build_tiny(tmp_path / "tiny", preset="test", corpus=[dialogues], steps=10)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    script = [str(HERE / "fsdp_train.py"), str(model), str(dialogues), str(tmp_path / "out")]
    err = run([sys.executable, *script], env)
    assert err is None, err[-3000:]
    launch(script, env, attempts=2)
    one, two = (json.loads((tmp_path / "out" / f"world{n}.json").read_text()) for n in (1, 2))
    assert two["world_size"] == 2 and two["sharded"] and not one["sharded"]
    assert two["local_params"] < 0.6 * two["full_params"]          # each process holds about half the weights
    assert two["layer_class"] == "LlamaDecoderLayer" and two["wrapped_class"] == "FSDPLlamaDecoderLayer"
    assert len(one["losses"]) == len(two["losses"]) == 4
    assert one["losses"][-1] < one["losses"][0]                      # it trains
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-4)
