"""Pretraining text for the tiny backbone with the role tags kept (the learning-probe experiment).

    python -m benchmarks.transcript_corpus data/toolworld/train.json OUT.json

Each train dialogue becomes one string: its tool docs in compact form, then the conversation as the
official history string (``user: ...</s>assistant: ...</s>caller: ...</s>observation: ...``). Train split
only. The library now owns this rendering (``umi_lab.pretrain_corpus.transcript``, the ``tiny`` preset's
corpus); this script writes it to a file. Results: ``benchmarks/results/learning_probe.md``.
"""

from __future__ import annotations

import json
import sys

from umi_lab.io import read_records
from umi_lab.pretrain_corpus import transcript


def main(src: str, dest: str) -> None:
    texts = [transcript(rec, src, i) for i, rec in enumerate(read_records(src))]
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    print(len(texts), sum(map(len, texts)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
