"""The benchmark scripts: each runs in its tiny mode, prints one JSON object with the expected keys and
writes its .json/.md; plus the helpers' own behaviour. No timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_e2e  # noqa: E402
import bench_splitting  # noqa: E402
import common  # noqa: E402

from umi_lab.errors import DataError  # noqa: E402
from umi_lab.protocol.dialogue import Dialogue  # noqa: E402

HEADER_KEYS = {"benchmark", "date_utc", "command", "device", "versions", "cpu_under_load"}


def run_script(name: str, *args: str, out_dir: Path) -> dict:
    """Run a benchmark script; stdout must be exactly one JSON object; the result files must exist."""
    proc = subprocess.run([sys.executable, str(BENCH / name), *args, "--out-dir", str(out_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stdout[-2000:]
    result = json.loads(lines[0])
    assert HEADER_KEYS <= set(result)
    stem = result["benchmark"]
    files = sorted(p.name for p in out_dir.iterdir())
    assert any(f.startswith(stem) and f.endswith(".json") for f in files)
    md = next(out_dir.glob(f"{stem}*.md")).read_text()
    assert "command: `" in md and "versions:" in md
    assert json.loads(next(out_dir.glob(f"{stem}*.json")).read_text()) == result
    return result


# ------------------------------------------------------------------------------------ the four scripts

def test_bench_training_tiny(tmp_path):
    r = run_script("bench_training.py", "--tiny", "--glpft", "--device", "cpu", out_dir=tmp_path)
    assert set(r["arms"]) == {"trl_defaults", "library", "ours"}
    for arm in r["arms"].values():
        assert {"tokens_per_s", "mfu", "peak_memory_bytes", "padding_share", "settings"} <= set(arm)
        assert arm["real_tokens"] > 0 and arm["real_tokens"] <= arm["batch_tokens"]
        assert arm["peak_memory_bytes"] > 0
    assert r["arms"]["ours"]["settings"]["train_sampling_strategy"] == "group_by_length"  # SDPA on CPU
    assert r["arms"]["ours"]["settings"]["gradient_checkpointing"] is False
    assert "packing" not in r["arms"]["trl_defaults"]["settings"]
    # the library arm is the SFTConfig `train` builds (stage_config): its schedule, no packing
    lib = r["arms"]["library"]["settings"]
    assert lib["packing"] is False and lib["lr_scheduler_type"] == "cosine" and lib["max_steps"] == 3
    assert r["library_speedup_tokens_per_s"] > 0
    assert [s["role"] for s in r["glpft"]["stages"]] == ["backbone", "planner", "caller", "summarizer"]
    # stage 2 trains one role adapter at a time: the same number of trainable parameters as stage 1
    assert len({s["trainable_parameters"] for s in r["glpft"]["stages"]}) == 1
    assert r["targets"]["applies"] is False
    assert "peak_flops_note" in r and "estimated" in r["peak_flops_note"]


def test_bench_inference_tiny(tmp_path, shared_data):
    r = run_script("bench_inference.py", "--tiny", "--source", "ood", "--device", "cpu", out_dir=tmp_path)
    assert r["samples"] == 6
    batched, seq = r["arms"]["batched_one_base_three_adapters"], r["arms"]["sequential_three_models"]
    # greedy decoding of the same requests: at least one and at most max_new_tokens tokens per request
    for arm in (batched, seq):
        assert r["requests"] <= arm["generated_tokens"] <= r["requests"] * r["config"]["max_new_tokens"]
    assert seq["generate_calls"] == r["requests"]
    assert batched["generate_calls"] < seq["generate_calls"]
    assert batched["mixed_role_calls"] >= 1
    m = r["memory"]
    assert m["ratio_three_merged_to_one_model"] == pytest.approx(3.0)
    assert 1.0 < m["ratio_base_plus_adapters_to_one_model"] < 3.0
    assert {"speedup_samples_per_s", "targets"} <= set(r)
    ps = r["project_serving"]  # the project's RoleModels on the same adapters
    assert {"batched", "sequential", "speedup_samples_per_s"} <= set(ps)
    assert 0 < ps["batched"]["generated_tokens"] <= r["requests"] * r["config"]["max_new_tokens"]


def test_bench_splitting_tiny(tmp_path):
    r = run_script("bench_splitting.py", "--tiny", out_dir=tmp_path)
    assert r["outputs_identical"] is True
    assert r["throughput"]["ours"]["dialogues"] == 300
    assert r["throughput"]["naive"]["dialogues"] == 100
    assert [row["turns"] for row in r["scaling"]["rows"]] == [4, 8, 16, 32]
    assert {"slope_ours", "slope_naive", "speedup"} <= set(r["targets"])


def test_bench_e2e_reports_timings(tmp_path):
    timings = tmp_path / "timings.json"
    timings.write_text(json.dumps({"data": 2.0, "backbone": 30.0, "train": {"seconds": 60.0}, "total": 95.0}))
    out = tmp_path / "out"
    out.mkdir()
    r = run_script("bench_e2e.py", "--timings", str(timings), out_dir=out)
    assert [s["stage"] for s in r["stages"]] == ["data", "backbone", "train"]
    assert r["stages_total_s"] == pytest.approx(92.0)
    assert r["targets"]["met"] is True
    import report  # the README table is filled from the result files

    table = report.rows(out)
    assert [row["measure"] for row in table] == ["study --smoke: wall-clock (exit –)", "study --smoke: per stage"]
    assert table[1]["value"] == "data 2 s, backbone 30 s, train 60 s"


def test_bench_e2e_bad_timings_names_the_file(tmp_path):
    bad = tmp_path / "timings.json"
    bad.write_text(json.dumps({"train": "slow"}))
    proc = subprocess.run([sys.executable, str(BENCH / "bench_e2e.py"), "--timings", str(bad), "--out-dir",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "timings.json" in proc.stderr and "field train" in proc.stderr


# ----------------------------------------------------------------------------------------- helpers

def test_stage_seconds_shapes():
    assert bench_e2e.stage_seconds([{"stage": "a", "seconds": 1}, {"name": "b", "wall_s": 2}], "f") == [
        {"stage": "a", "seconds": 1.0}, {"stage": "b", "seconds": 2.0}]
    assert bench_e2e.stage_seconds({"stages": {"x": 3}}, "f") == [{"stage": "x", "seconds": 3.0}]
    with pytest.raises(DataError, match="record 0: field stage"):
        bench_e2e.stage_seconds([{"seconds": 1}], "f")
    with pytest.raises(DataError):
        bench_e2e.stage_seconds("oops", "f")


def test_loglog_slope_golden():
    assert bench_splitting.loglog_slope([4, 8, 16, 32], [1, 2, 4, 8]) == pytest.approx(1.0)
    assert bench_splitting.loglog_slope([4, 8, 16, 32], [1, 4, 16, 64]) == pytest.approx(2.0)


def test_long_dialogue_is_valid_and_exact(shared_data):
    from umi_lab.protocol.dialogue import load_dialogues

    template = load_dialogues(shared_data / "alpha_umi_toolbench" / "test" / "out_of_domain.json")[0]
    for n in (3, 4, 5, 6, 64, 257):
        d = bench_splitting.long_dialogue(template, n)
        assert len(d.conversations) == n
        roundtrip = Dialogue.from_dict(d.to_dict())  # validates roles and shapes
        assert roundtrip.conversations[-1].role == "conclusion"
        assert roundtrip.conversations[-2].value.endswith("Next: conclusion.")
        callers = sum(t.role == "caller" for t in d.conversations)
        assert callers == (n - 3) // 3
    with pytest.raises(ValueError):
        bench_splitting.long_dialogue(template, 2)


def test_common_helpers():
    assert common.gpu_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert common.gpu_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert common.gpu_peak_flops("Some GPU") is None
    assert common.markdown_table([{"a": 1, "b": 12345.6}]).splitlines()[2] == "| 1 | 12,346 |"
    with common.PeakMemory("cpu") as m:
        block = bytearray(50_000_000)
        block[::4096] = b"x" * len(block[::4096])  # touch the pages so they are resident
    assert m.peak_bytes - m.start_bytes >= 40_000_000
    assert common.resolve_device("cpu") == "cpu"
    assert common.under_load({"load_average_1m": 3.0, "cpu_count": 2}) is True
    assert common.under_load({"load_average_1m": 0.1, "cpu_count": 2}) is False


def test_pretrain_curve_probe_scores_a_first_thought_by_the_question_values_it_copies(tmp_path):
    import torch

    from benchmarks.pretrain_curve import probe
    from umi_lab.backbone import build_tiny, load_tokenizer
    from umi_lab.protocol.dialogue import load_dialogues
    from umi_lab.toolworld.manifest import resolve_toolworld

    tok = load_tokenizer(build_tiny(tmp_path / "m", preset="test", steps=1))
    gold = load_dialogues(resolve_toolworld().file("test_in_domain"))[:1]
    assert gold[0].extra["task"]["required_calls"][0][0]["args"] == {"title": "The Crimson Lantern"}

    class Says:  # a "model" that always writes the same turn
        def __init__(self, text):
            self.ids = tok(text + "</s>", return_tensors="pt").input_ids

        def eval(self):
            return self

        def generate(self, ids, **_):
            return torch.cat([ids, self.ids], dim=1)

    copied = probe(Says('I need the cast of "The Crimson Lantern". Next: caller.'), tok, gold)
    memorised = probe(Says('I need the cast of "Silent Frontier". Next: caller.'), tok, gold)
    assert copied["first_thoughts"] == memorised["first_thoughts"] == 1
    assert copied["thought_copies_args"] == 1.0 and memorised["thought_copies_args"] == 0.0
    assert copied["call_exact"] == 0.0 and copied["caller_turns"] == 1
