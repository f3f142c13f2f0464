"""Tokens per prompt and the share of truncated prompts per role on data/toolworld, for the study presets.

Run: ``UMI_LAB_DATA=/path/to/shared/data python -m benchmarks.bench_context [OUT [ONLY]]`` (ONLY: one
tokenizer's cases, e.g. ``smollm2-135m``, merged into OUT) (the tiny tokenizers are
trained as ``build_tiny`` trains them; no model is pretrained). Writes benchmarks/results/context_fit.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from umi_lab.context_fit import tiny_tokenizer, truncation_report
from umi_lab.protocol.prompts import PromptStyle
from umi_lab.training import load_role_data

ROLES = ("backbone", "planner", "caller", "summarizer")
# (tiny preset, max_length, prompt style): today's presets first, then the candidates.
CASES = [("default", 768, False), ("default", 1024, False), ("default", 768, True), ("default", 1024, True),
         ("default", 1280, True), ("default", 1536, False), ("default", 1536, True),
         ("test", 512, False), ("test", 512, True),
         # a better tokenizer: smollm2-135m's 49,152-token vocabulary, through its chat template (context 8,192)
         ("smollm2-135m", 1280, True), ("smollm2-135m", 1280, False)]


def _tokenizer(name: str):
    if name in ("default", "test"):
        return tiny_tokenizer(name)
    from umi_lab.backbone import load_tokenizer

    return load_tokenizer(name)


def main(out: str = "benchmarks/results/context_fit.json", only: str | None = None) -> None:
    """Measure every case (or only those of the tokenizer ``only``, merged into the existing file)."""
    samples, _ = load_role_data("data/toolworld", ROLES)
    tokenizers, rows = {}, []
    if only and Path(out).is_file():
        rows = [c for c in json.loads(Path(out).read_text())["cases"] if c["tiny_preset"] != only]
    for preset, max_length, compact in CASES:
        if only and preset != only:
            continue
        tok = tokenizers.setdefault(preset, _tokenizer(preset))
        style = PromptStyle(compact_docs=compact, chat_template=bool(getattr(tok, "chat_template", None)))
        t0 = time.time()
        rep = truncation_report(samples, tok, max_length=max_length, style=style)
        rows.append({"tiny_preset": preset, "vocab": len(tok), "max_length": max_length,
                     "compact_docs": compact, "chat_template": style.chat_template, "roles": rep, "seconds": round(time.time() - t0, 1)})
        print(preset, max_length, "compact" if compact else "official",
              {r: v["prompt_truncated_share"] for r, v in rep.items()}, flush=True)
    Path(out).write_text(json.dumps({"command": "python -m benchmarks.bench_context", "data": "data/toolworld",
                                     "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
