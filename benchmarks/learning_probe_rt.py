"""Add a real-time ToolWorld in-domain evaluation to a finished learning-probe run (updates probe.json).

    python -m benchmarks.learning_probe_rt /tmp/learn/probes/NAME [--limit 20]

Runs against the ``smollm`` branch code (``PromptStyle(compact_docs=...)``, ``render_docs_compact``);
results: ``benchmarks/results/learning_probe.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("probe")
    p.add_argument("--limit", type=int, default=20)
    a = p.parse_args(argv)
    from umi_lab.evaluate import EvalSettings, evaluate_run
    from umi_lab.serving import GenerationSettings

    probe = Path(a.probe)
    rec = json.loads((probe / "probe.json").read_text())
    max_new = rec["args"]["max_new"]
    settings = EvalSettings(GenerationSettings(max_new_tokens=max_new, batch_size=8, max_prompt_tokens=1536 - max_new))
    t0 = time.perf_counter()
    rec["realtime"] = evaluate_run(probe / "run", "toolworld-id", "realtime", limit=a.limit, settings=settings)
    rec["realtime_s"] = round(time.perf_counter() - t0, 1)
    rec["load_realtime"] = os.getloadavg()[0]
    (probe / "probe.json").write_text(json.dumps(rec, indent=1, default=str))
    print(json.dumps({k: v for k, v in rec["realtime"].items() if not isinstance(v, dict)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
