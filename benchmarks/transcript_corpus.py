"""Pretraining text for the tiny backbone with the role tags kept (a learning-probe experiment).

    python -m benchmarks.transcript_corpus data/toolworld/train.json OUT.json

Each train dialogue becomes one string: its tool docs in compact form, then the conversation as the
official history string (``user: ...</s>assistant: ...</s>caller: ...</s>observation: ...``). Same
content as the default corpus's train strings; only the rendering differs. Train split only.

Runs against the ``smollm`` branch code (``PromptStyle(compact_docs=...)``, ``render_docs_compact``);
results: ``benchmarks/results/learning_probe.md``.
"""

from __future__ import annotations

import json
import sys

from umi_lab.prompts import history_string, render_docs_compact
from umi_lab.trajectory import load_dialogues


def main(src: str, dest: str) -> None:
    texts = []
    for d in load_dialogues(src):
        texts.append(render_docs_compact(d.tools) + history_string(d.conversations))
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    print(len(texts), sum(map(len, texts)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
