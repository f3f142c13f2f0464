"""benchmarks/bench_speed.py in its smallest form: one JSON object, per-model entries, merged by model."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_speed_tiny_test(tmp_path):
    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_speed.py"), "--models", "tiny-test", "--train-steps", "1",
           "--batch-size", "2", "--seq-len", "128", "--gen-batch", "2", "--new-tokens", "2", "--out-dir", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    result = json.loads(line)
    (entry,) = result["models"]
    assert entry["model"] == "tiny-test" and entry["train_tokens_per_s"] > 0 and entry["gen_tokens_per_s"] > 0
    assert entry["gen_new_tokens"] == 2 and "bench_speed.py" in entry["command"]
    assert entry["lora_parameters"] > 0 and entry["parameters"] > entry["lora_parameters"]
    assert json.loads((tmp_path / "bench_speed.json").read_text()) == result
    assert "train_tokens_per_s" in (tmp_path / "bench_speed.md").read_text()
