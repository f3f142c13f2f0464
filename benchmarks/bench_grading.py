"""Maths grader: self-agreement on MATH gold answers, false positives on mismatched pairs, hostile-input times.

* self-agreement: every MATH test gold answer, written five ways (as is; boxed in a sentence; ``\\dfrac`` and
  spaces; in ``$...$`` with a full stop; ``\\left``/``\\right`` brackets), must grade equal to the gold;
* false positives: 1,500 seeded random pairs of different problems whose normalised gold answers differ
  must grade not equal;
* hostile inputs (issue 13): wall time of each, one comparison against ``5``.

``--grader FILE.py`` grades with another copy of the grader (e.g. the single-module grader from before the
split) to measure before/after. Needs the MATH test file (``$UMI_LAB_DATA/math/test.jsonl``).
Command: ``OMP_NUM_THREADS=1 python benchmarks/bench_grading.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import sys
import time
from typing import Any

from common import header, markdown_table, run_main, write_results

from umi_lab.io import data_root

HOSTILE = {
    "5,000-digit numerator": "1" * 5000 + "/3",
    "60k spaces": "1" + " " * 60000 + "x",
    "60k dots": "1" + "." * 60000 + "x",
    "\\boxed{ x 5,000": "\\boxed{" * 5000,
    "word of 100k letters": "a" * 100000,
    "100000!": "100000!",
}


def rewrites(gold: str) -> list[str]:
    """Five ways of writing the same answer."""
    spaced = re.sub(r"(?<!\{),(?!\\!|\d{3}(?!\d))", ", ", re.sub(r"\\frac", r"\\dfrac", gold))  # not 1,000
    lr = gold.replace("(", "\\left(").replace(")", "\\right)") if gold.count("(") == gold.count(")") else gold
    return [gold, f"The final answer is $\\boxed{{{gold}}}$.", spaced, f"${gold}$.", lr]


def load_grader(path: str | None) -> Any:
    if path is None:
        import umi_lab.grading as grading

        return grading
    spec = importlib.util.spec_from_file_location("grader_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["grader_under_test"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grader", default=None, help="path of another grading module to measure instead")
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--tiny", action="store_true", help="200 gold answers, 100 pairs")
    ap.add_argument("--out-dir", default=None)
    args = ap.parse_args()
    g = load_grader(args.grader)
    root = data_root()
    rows = [json.loads(x) for x in (root / "math" / "test.jsonl").read_text().splitlines()]
    golds = [g.extract_answer(r["solution"]) for r in rows]
    if args.tiny:
        golds, args.pairs = golds[:200], 100
    t0 = time.perf_counter()
    failures = [(k, gold, w) for k, gold in enumerate(golds) for w in rewrites(gold) if not g.answers_equal(w, gold)]
    agree_s = time.perf_counter() - t0
    rng = random.Random(0)
    fps, pairs = [], 0
    t0 = time.perf_counter()
    while pairs < args.pairs:
        i, j = rng.randrange(len(golds)), rng.randrange(len(golds))
        if g.normalize_answer(golds[i]) == g.normalize_answer(golds[j]):
            continue
        pairs += 1
        if g.answers_equal(golds[i], golds[j]):
            fps.append((golds[i], golds[j]))
    pairs_s = time.perf_counter() - t0
    hostile = []
    for name, text in HOSTILE.items():
        t0 = time.perf_counter()
        try:
            outcome = str(g.answers_equal(text, "5"))
        except Exception as e:  # the old grader raised here
            outcome = type(e).__name__
        hostile.append({"input": name, "result": outcome, "seconds": round(time.perf_counter() - t0, 3)})
    infinity = [gold for gold in golds if "infty" in gold]
    result = {**header("bench_grading", "cpu"), "grader": args.grader or "umi_lab.grading",
              "gold_answers": len(golds), "rewrites": 5 * len(golds), "self_agreement_failures": len(failures),
              "failures": [{"problem": k, "gold": gold, "written": w} for k, gold, w in failures[:20]],
              "mismatched_pairs": pairs, "false_positives": len(fps), "false_positive_examples": fps[:20],
              "infinity_golds": len(infinity), "infinity_golds_self_equal": sum(g.answers_equal(x, x) for x in infinity),
              "infinity_golds_equal_5": sum(g.answers_equal("5", x) for x in infinity),
              "agreement_seconds": round(agree_s, 1), "pairs_seconds": round(pairs_s, 1), "hostile": hostile}
    body = (f"Self-agreement failures: {len(failures)} of {5 * len(golds)}; false positives: {len(fps)} of "
            f"{pairs} mismatched pairs; ∞ golds: {len(infinity)}, equal to themselves "
            f"{result['infinity_golds_self_equal']}, equal to 5: {result['infinity_golds_equal_5']}.\n\n"
            + markdown_table(hostile))
    write_results("bench_grading", result, body, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
