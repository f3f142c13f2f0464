"""Data-parallel training: the same ``train()`` under ``torchrun --nproc_per_node 2`` on CPU (gloo)."""

import json
import os
from pathlib import Path

import pytest
from distributed_launch import launch

from umi_lab.backbone import build_tiny
from umi_lab.training import run_info

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_torchrun_two_processes(shared_data, tmp_path):
    corpus = [shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"]
    model = build_tiny(tmp_path / "tiny", preset="test", corpus=corpus, steps=10)
    data = shared_data / "alpha_umi_toolbench" / "train-example"
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    launch([str(HERE / "ddp_train.py"), str(model), str(data), str(out)], env)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert json.loads((out / "versions.json").read_text())["world_size"] == 2
    info = run_info(out)
    assert info["status"] == "done" and set(info["adapters"]) == {"backbone"}
    rows = [json.loads(x) for x in (out / "loss_history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # written once, by rank 0
