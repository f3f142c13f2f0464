"""Grading files of records, streamed, and the ``grade-answers`` command.

A JSONL file is read one line at a time (``umi_lab.io.iter_jsonl``) with a per-line size cap
(``MAX_LINE_BYTES``): a longer line is never held in memory; it is skipped to its end, counted in
``oversize`` (with its record index) and graded wrong. Invalid JSON, bad encodings, too deeply nested JSON and a missing reference are located
``DataError``s (file, record, field).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from umi_lab import io
from umi_lab.cli_types import finite_non_negative_float, finite_positive_float
from umi_lab.errors import DataError
from umi_lab.grading.settings import COMPAT_MODES, GradeSettings

MAX_LINE_BYTES = 16 * 2 ** 20
MAX_JSON_FILE_BYTES = 256 * 2 ** 20
PRED_KEYS = ("pred", "prediction", "predicted", "model_answer", "output", "response")
GOLD_KEYS = ("gt", "gold", "reference", "answer", "target", "solution")


class Oversize:
    """Stands for a JSONL line longer than the cap (its content is never read)."""

    def __init__(self, size: int):
        self.size = size


def iter_jsonl(path: str | os.PathLike, max_line_bytes: int | None = None) -> Iterator[Any]:
    """Records of a JSONL file, one line at a time (``umi_lab.io.iter_jsonl``); an over-long line yields an
    ``Oversize`` instead of an error. Example: ``for rec in iter_jsonl("preds.jsonl"): ...``.
    """
    for _, record in io.iter_jsonl(path, max_line_bytes=max_line_bytes or MAX_LINE_BYTES, oversize=Oversize):
        yield record


def read_graded_records(path: str | os.PathLike) -> Iterable[Any]:
    """A ``.json`` list (up to ``MAX_JSON_FILE_BYTES``) or, for any other name, streamed JSONL records."""
    path = Path(path)
    if path.suffix != ".json":
        return iter_jsonl(path)
    if path.is_file() and path.stat().st_size > MAX_JSON_FILE_BYTES:
        raise DataError(f"JSON file larger than {MAX_JSON_FILE_BYTES} bytes; write it as JSONL", file=str(path))
    data = io.read_json(path, max_bytes=MAX_JSON_FILE_BYTES)
    if not isinstance(data, list):
        raise DataError("expected a JSON list of records", file=str(path))
    return data


def detect_keys(record: Any, pred_key: str | None = None, gold_key: str | None = None,
                file: str | None = None) -> tuple[str, str]:
    """The prediction and reference fields of a record: the given ones, else the first known names present
    (ToRA's released outputs: ``pred`` and ``gt``). Example: ``detect_keys({"pred": ["1"], "gt": "1"})``."""
    if not isinstance(record, dict):
        raise DataError(f"expected an object, got {type(record).__name__}", file=file, record=0)
    pred_key = pred_key or next((k for k in PRED_KEYS if k in record), None)
    gold_key = gold_key or next((k for k in GOLD_KEYS if k in record and k != pred_key), None)
    if pred_key is None or gold_key is None:
        raise DataError(f"cannot tell the prediction and reference fields apart (fields: {sorted(record)[:20]}); "
                        "pass --pred-key and --gold-key", file=file, record=0)
    return pred_key, gold_key


def grade_records(records: Iterable[Any], pred_key: str | None = None, gold_key: str | None = None, *,
                  file: str | None = None, settings: GradeSettings | None = None) -> dict[str, Any]:
    """Grade ``record[pred_key]`` against ``record[gold_key]`` for every record (keys detected when None).

    Returns ``{"accuracy", "n", "correct", "missing_pred", "oversize", "timeouts", "compat", "pred_key",
    "gold_key", "results"}`` (plus ``recorded_accuracy`` when records carry ToRA's own ``score`` list). A
    record without the reference is a DataError; a missing/null prediction or an over-long line counts wrong.
    Example: ``grade_records([{"p": "0.5", "g": "\\\\frac12"}], "p", "g")["accuracy"]`` → 1.0.
    """
    from umi_lab.grading import answers_equal
    from umi_lab.grading.symbolic import WORKER

    settings = settings or GradeSettings()
    before = WORKER.timeouts
    results: list[bool] = []
    missing, oversize, recorded = 0, [], []
    for i, rec in enumerate(records):
        if isinstance(rec, Oversize):
            oversize.append(i)
            results.append(False)
            continue
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", file=file, record=i)
        if pred_key is None or gold_key is None:
            pred_key, gold_key = detect_keys(rec, pred_key, gold_key, file)
        if gold_key not in rec or rec[gold_key] is None:
            raise DataError("missing reference answer", file=file, record=i, field=gold_key)
        if isinstance(rec.get("score"), list) and rec["score"]:
            recorded.append(bool(rec["score"][0]))
        pred = rec.get(pred_key)
        if isinstance(pred, (list, tuple)):
            pred = pred[0] if pred else None
        if pred is None:
            missing += 1
            results.append(False)
            continue
        results.append(answers_equal(pred, rec[gold_key], settings))
    n, correct = len(results), sum(results)
    out = {"accuracy": correct / n if n else 0.0, "n": n, "correct": correct, "missing_pred": missing,
           "oversize": oversize, "timeouts": WORKER.timeouts - before, "compat": settings.compat,
           "pred_key": pred_key, "gold_key": gold_key, "results": results}
    if recorded and len(recorded) == n:
        out["recorded_accuracy"] = sum(recorded) / n
    return out


def grade_file(path: str | os.PathLike, pred_key: str | None = None, gold_key: str | None = None,
               settings: GradeSettings | None = None) -> dict[str, Any]:
    """Grade a JSONL (or JSON list) file, streamed. Example: ``grade_file("preds.jsonl", "pred", "answer")``."""
    return grade_records(read_graded_records(path), pred_key, gold_key, file=str(path), settings=settings)


def _cmd_grade(args: argparse.Namespace) -> int:
    try:
        settings = GradeSettings(rel_tol=args.rel_tol, timeout_s=args.timeout, compat=args.compat,
                                 raw_predictions=args.raw_predictions)
    except ValueError as e:
        raise DataError(str(e)) from None
    out = grade_file(args.file, args.pred_key, args.gold_key, settings)
    if not args.per_record:
        out.pop("results")
    print(json.dumps(out))
    return 0


def add_cli(sub: Any) -> None:
    """Register ``grade-answers FILE.jsonl [--pred-key KEY --gold-key KEY] [--compat tora]``."""
    p = sub.add_parser("grade-answers", help="grade maths answers in a JSONL file; prints one JSON object")
    p.add_argument("file", help="JSONL (or .json list) of records")
    p.add_argument("--pred-key", default=None,
                   help=f"field holding the prediction (a list: its first element); default: first of {PRED_KEYS}")
    p.add_argument("--gold-key", default=None, help=f"field holding the reference; default: first of {GOLD_KEYS}")
    p.add_argument("--compat", default="strict", choices=COMPAT_MODES,
                   help="strict (default) or tora: ToRA's grading rules, see docs/grading.md")
    p.add_argument("--raw-predictions", action="store_true",
                   help="tora mode: predictions are full outputs (e.g. --pred-key code); extract as ToRA does")
    p.add_argument("--rel-tol", type=finite_non_negative_float, default=GradeSettings.rel_tol,
                   help="relative tolerance for numbers (0: exact)")
    p.add_argument("--timeout", type=finite_positive_float, default=GradeSettings.timeout_s, help="sympy seconds per comparison")
    p.add_argument("--per-record", action="store_true", help="also print the list of per-record results")
    p.set_defaults(func=_cmd_grade)
