"""RunDir: the writer lock, incomplete checkpoints, torn and duplicate loss history, status reasons,
identity-keyed folders, and loading a run without importing TRL."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from umi_lab.errors import DataError
from umi_lab.rundir import RunDir, RunLocked, canonical_hash, checkpoint_problem

ROOT = Path(__file__).resolve().parent.parent


def _checkpoint(folder: Path, step: int, *, state=True, weights=True) -> Path:
    import torch
    from safetensors.torch import save_file

    ck = folder / f"checkpoint-{step}"
    ck.mkdir(parents=True)
    if state:
        (ck / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if weights:
        save_file({"w": torch.zeros(16)}, str(ck / "adapter_model.safetensors"))
        torch.save({"state": {}}, ck / "optimizer.pt")
    return ck


def test_lock_refuses_a_second_writer_naming_the_holder(tmp_path):
    run = RunDir(tmp_path / "run")
    code = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); from umi_lab.rundir import RunDir\n"
            f"with RunDir({str(run.path)!r}).lock():\n    print('held', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=f"pid {holder.pid} on "):
            with run.lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    with run.lock():                                            # the lock died with its holder
        pass


def test_incomplete_checkpoints_are_skipped(tmp_path):
    run = RunDir(tmp_path)
    work = run.work_dir("planner")
    _checkpoint(work, 2)
    _checkpoint(work, 4, state=False)                            # trainer_state.json missing
    ck6 = _checkpoint(work, 6)
    data = (ck6 / "optimizer.pt").read_bytes()
    (ck6 / "optimizer.pt").write_bytes(data[: len(data) // 2])   # truncated optimizer (disk full mid-save)
    ck8 = _checkpoint(work, 8)
    w = (ck8 / "adapter_model.safetensors").read_bytes()
    (ck8 / "adapter_model.safetensors").write_bytes(w[:-10])     # truncated weights
    said = []
    assert run.last_complete_checkpoint("planner", say=said.append) == str(work / "checkpoint-2")
    assert [s.split(":")[1].strip() for s in said] == ["truncated adapter_model.safetensors", "truncated optimizer.pt",
                                                        "missing trainer_state.json"]
    assert sorted(p.name for p in work.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-2"]
    assert checkpoint_problem(work / "checkpoint-2") is None
    assert run.last_complete_checkpoint("caller") is None


def test_torn_history_is_dropped_and_counted_and_steps_are_unique(tmp_path):
    run = RunDir(tmp_path)
    rows = [{"stage": 1, "role": "backbone", "step": s, "loss": 1.0} for s in (1, 2, 3)]
    run.history_path.write_text("".join(json.dumps(r) + "\n" for r in rows) + json.dumps(rows[1]) + "\n"
                                + '{"stage": 1, "role": "backb')
    got, bad = run.loss_history()
    assert bad == 1 and len(got) == 4
    assert run.trim_history("backbone", after_step=2) == 1
    assert [r["step"] for r in run.loss_history()[0]] == [1, 2] and run.loss_history()[1] == 0
    assert run.append_loss(rows[0]) is False and run.append_loss(rows[2]) is True


def test_status_reason_and_require_trained(tmp_path):
    run = RunDir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"method": "single_llm", "model_name_or_path": "m"}))
    run.set_status("failed", "RuntimeError: out of memory")
    assert run.status() == "failed" and run.status_reason() == "RuntimeError: out of memory"
    with pytest.raises(DataError, match="out of memory.*run the same training command again"):
        run.require_trained()
    run.set_status("done")
    run.require_trained()


def test_for_config_reuses_same_identity_and_names_another(tmp_path):
    said = []
    first = RunDir.for_config(tmp_path / "r", {"seed": 1}, say=said.append)
    assert first.path == tmp_path / "r" and said == []
    first.write_meta(config={"seed": 1}, identity={"seed": 1}, fingerprints={}, versions={}, data_stats={})
    assert RunDir.for_config(tmp_path / "r", {"seed": 1}, say=said.append).path == first.path
    other = RunDir.for_config(tmp_path / "r", {"seed": 2}, say=said.append)
    assert other.path.name == f"r-{canonical_hash({'seed': 2})}" and "differs in seed" in said[0]


def test_loading_a_run_for_inference_does_not_import_trl(tmp_path):
    from umi_lab.serving import build_random_run

    run = build_random_run(tmp_path / "run", method="single_llm_multitask")
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\nfrom umi_lab.serving import RoleModels\n"
            f"m = RoleModels.from_run({str(run)!r})\nassert m.role_map['caller'] == 'multitask', m.role_map\n"
            "print('trl' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_every_rank_saves_a_role_and_rank0_publishes_it(tmp_path, monkeypatch):
    """Sharded weights (FSDP2 / ZeRO-3) are gathered only when every rank calls ``trainer.save_model``; rank 0
    alone writes, then renames the staging folder into place (no ``training_args.bin``, no checkpoints left)."""
    from umi_lab.training.run import _save_role

    run = RunDir(tmp_path / "run")
    calls = []

    class Trainer:
        def save_model(self, out):
            calls.append(os.environ["RANK"])
            if os.environ["RANK"] == "0":
                Path(out).mkdir(parents=True)
                (Path(out) / "adapter_model.safetensors").write_bytes(b"w")
                (Path(out) / "training_args.bin").write_bytes(b"x")

    run.role_staging("planner").mkdir(parents=True)        # left by a run killed while saving
    monkeypatch.setenv("RANK", "1")
    _save_role(run, Trainer(), "planner", True)
    assert calls == ["1"] and not run.role_output("planner").exists()
    monkeypatch.setenv("RANK", "0")
    run.work_dir("planner").mkdir(parents=True)
    _save_role(run, Trainer(), "planner", True)
    assert calls == ["1", "0"]
    assert sorted(p.name for p in run.role_output("planner").iterdir()) == ["adapter_model.safetensors"]
    assert not run.role_staging("planner").exists() and not run.work_dir("planner").exists()
