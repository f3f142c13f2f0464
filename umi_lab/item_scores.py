"""Per-item scores of an evaluation folder, for confidence intervals and paired tests.

An evaluation folder (``RUN/eval/<benchmark>-<mode>/``, written by ``umi_lab.evaluation``) holds
``predictions.json`` (static) or ``trajectories.jsonl`` (real-time) and ``config.json``. ``eval_items``
turns it into a tidy *item frame*, one row per item and metric:

``run, method, seed, benchmark, metric, item_id, value, weight, config``

Static values come from ``static_eval.sample_scores`` (the official metric code, per sample); a metric
that the official code computes over a subset (Action EM over reference calls, Rouge-L over reference
answers, the F1 lists) only has rows for that subset. The official ``+1e-30`` of the F1 means is not
added here. Real-time values are what each recorded trajectory says: ``meta.success.passed``
(ToolWorld), ``meta.correct`` (GSM8K/MATH), the outcome, ``meta.decisions`` (steps), the number of model
calls, and per-task tool-call rates weighted by the task's tool calls (the weighted mean is the pooled
rate that ``agent.trajectory_stats`` reports). ``config`` is the canonical JSON of the folder's
``config.json`` (the run's resolved configuration plus the evaluation settings).

``static_floors`` / ``realtime_floors`` give the trivial reference rows computed from the gold items.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from umi_lab.errors import DataError
from umi_lab.io import read_json, read_records

ITEM_COLUMNS = ("run", "method", "seed", "benchmark", "metric", "item_id", "value", "weight", "config")
REFERENCE_COLUMNS = ("label", "benchmark", "metric", "value", "source")
STATIC_ITEM_METRICS = ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge")
# trajectory meta counter -> real-time rate metric (per tool call)
CALL_RATES = {"hallucinated_tool": "hallucinated_tool_rate", "invalid_arguments": "invalid_argument_rate",
              "tool_errors": "tool_error_rate"}


def canonical_config(config: Any) -> str:
    """A config as canonical JSON (sorted keys), the value of the ``config`` column.

    >>> canonical_config({"b": 1, "a": {"y": 2}})
    '{"a": {"y": 2}, "b": 1}'
    """
    return json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)


def _item_id(sample: dict[str, Any], i: int) -> str:
    if "dialogue_index" in sample and "turn_index" in sample:
        return f"{sample.get('id') or sample['dialogue_index']}#{sample['turn_index']}"
    return str(sample["id"]) if sample.get("id") is not None else str(i)


def static_item_rows(samples: list[dict[str, Any]], *, file: str | None = None) -> list[dict[str, Any]]:
    """Rows ``item_id, metric, value, weight`` of scored static samples (see module doc).

    >>> t = [{"Name": "f", "function": "", "input": {}}]
    >>> [r["metric"] for r in static_item_rows([{"tools": t, "reference": "x Next: give up.", "predictions": "y"}])]
    ['plan_em', 'hallu_rate']
    """
    from umi_lab.static_eval import sample_scores

    rows = []
    ids = [_item_id(s, i) if isinstance(s, dict) else str(i) for i, s in enumerate(samples)]
    if len(set(ids)) != len(ids):
        ids = [str(i) for i in range(len(samples))]  # positions are the item identity then
    for item_id, scores in zip(ids, sample_scores(samples, file=file)):
        for metric in STATIC_ITEM_METRICS:
            if scores[metric] is not None:
                rows.append({"item_id": item_id, "metric": metric, "value": float(scores[metric]), "weight": 1.0})
    return rows


def realtime_item_rows(trajectories: list, *, file: str | None = None) -> list[dict[str, Any]]:
    """Rows ``item_id, metric, value, weight`` of recorded trajectories (``RecordedTrajectory`` objects).

    Example: ``realtime_item_rows(load_trajectories("eval/toolworld-id-realtime/trajectories.jsonl"))``.
    """
    rows = []
    seen: set[str] = set()
    for i, t in enumerate(trajectories):
        item_id = str(t.task_id)
        if item_id in seen:
            raise DataError(f"task {item_id!r} appears twice", file=file, record=i, field="task_id")
        seen.add(item_id)
        meta = t.meta if isinstance(t.meta, dict) else {}

        values: list[tuple[str, Any, float]] = []
        success = meta.get("success")
        if isinstance(success, dict) and "passed" in success:
            values.append(("pass_rate", bool(success["passed"]), 1.0))
        if "correct" in meta:
            values.append(("accuracy", bool(meta["correct"]), 1.0))
        values += [("give_up_rate", t.outcome == "give_up", 1.0), ("conclusion_rate", t.outcome == "conclusion", 1.0),
                   ("avg_steps", meta.get("decisions", 0), 1.0), ("avg_model_calls", len(t.steps), 1.0)]
        calls = meta.get("tool_calls", 0)
        if isinstance(calls, bool) or not isinstance(calls, (int, float)) or calls < 0:
            raise DataError(f"expected a count, got {calls!r}", file=file, record=i, field="meta.tool_calls")
        for counter, metric in CALL_RATES.items():
            count = meta.get(counter, 0)
            if isinstance(count, bool) or not isinstance(count, (int, float)):
                raise DataError(f"expected a count, got {count!r}", file=file, record=i, field=f"meta.{counter}")
            values.append((metric, count / calls if calls else 0.0, calls))
        for metric, value, weight in values:
            if isinstance(value, bool) or isinstance(value, (int, float)):
                rows.append({"item_id": item_id, "metric": metric, "value": float(value), "weight": float(weight)})
            else:
                raise DataError(f"expected a number, got {value!r}", file=file, record=i, field=f"meta.{metric}")
    return rows


def eval_items(eval_dir: str | os.PathLike, *, run: str, method: str, seed: int,
               config: Any = None) -> pd.DataFrame:
    """The item frame of one evaluation folder (``predictions.json`` or ``trajectories.jsonl``).

    ``config`` defaults to the folder's ``config.json``. Example:
    ``eval_items("runs/a/eval/toolworld-id-static", run="a", method="alpha_umi", seed=0)``.
    """
    from umi_lab.protocol.dialogue import load_trajectories

    folder = Path(eval_dir)
    static, realtime = folder / "predictions.json", folder / "trajectories.jsonl"
    if static.is_file():
        rows = static_item_rows(read_records(static), file=str(static))
    elif realtime.is_file():
        rows = realtime_item_rows(load_trajectories(realtime), file=str(realtime))
    else:
        raise DataError("no predictions.json or trajectories.jsonl in this evaluation folder", file=str(folder))
    if config is None:
        cfg_path = folder / "config.json"
        config = read_json(cfg_path) if cfg_path.is_file() else {}
    cfg = config if isinstance(config, str) else canonical_config(config)
    frame = pd.DataFrame(rows, columns=["item_id", "metric", "value", "weight"])
    frame.insert(0, "benchmark", folder.name)
    frame.insert(0, "seed", int(seed))
    frame.insert(0, "method", method)
    frame.insert(0, "run", run)
    frame["config"] = cfg
    return frame.loc[:, list(ITEM_COLUMNS)]


def run_items(run_dir: str | os.PathLike, *, method: str | None = None, seed: int | None = None,
              benchmarks: list[str] | None = None) -> pd.DataFrame:
    """Item frames of every evaluation of a run (``RUN/eval/*``); method and seed from ``RUN/config.json``.

    Example: ``run_items("runs/ablation/runs/alpha_umi-s0", method="alpha_umi")``.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    cfg = read_json(cfg_path) if cfg_path.is_file() else {}
    if not isinstance(cfg, dict):
        raise DataError("expected a JSON object", file=str(cfg_path))
    method = method or cfg.get("method")
    seed = cfg.get("seed", 0) if seed is None else seed
    if not method:
        raise DataError("no method given and none in config.json", file=str(cfg_path), field="method")
    frames = []
    for folder in sorted(p for p in (run_dir / "eval").glob("*") if p.is_dir()):
        if benchmarks is not None and folder.name not in benchmarks:
            continue
        if (folder / "predictions.json").is_file() or (folder / "trajectories.jsonl").is_file():
            frames.append(eval_items(folder, run=run_dir.name, method=method, seed=int(seed)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ITEM_COLUMNS))


def static_floors(samples: list[dict[str, Any]] | str | os.PathLike, benchmark: str) -> pd.DataFrame:
    """Reference rows of trivial static predictors, scored by the official metric code on the gold items:
    always ``Next: caller.`` (with no action: Action EM and F1 0, hallucination 0) and always
    ``Next: give up.``. ``samples`` are scored samples (a ``predictions.json`` path works: its
    references and tools are used, its predictions ignored).

    Example: ``static_floors("runs/a/eval/toolworld-id-static/predictions.json", "toolworld-id-static")``.
    """
    from umi_lab.static_eval import compose_prediction, evaluate_predictions

    file = None
    if isinstance(samples, (str, os.PathLike)):
        file = str(samples)
        samples = read_records(samples)
    rows = []
    for label, prediction in (("always Next: caller.", compose_prediction("Next: caller.")),
                              ("always Next: give up.", compose_prediction("Next: give up."))):
        gold = [{"tools": s.get("tools"), "reference": s.get("reference"), "predictions": prediction}
                for s in samples if isinstance(s, dict)]
        metrics = evaluate_predictions(gold, file=file)
        for metric in STATIC_ITEM_METRICS:
            value = float(metrics[metric])
            rows.append({"label": label, "benchmark": benchmark, "metric": metric,
                         "value": 0.0 if abs(value) < 1e-12 else value, "source": "trivial floor (gold items)"})
    return pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))


def realtime_floors(benchmark: str, trajectories: str | os.PathLike | None = None) -> pd.DataFrame:
    """The never-call agent's tool-call error rates (all 0 by construction) as reference rows and, given the
    ``trajectories.jsonl`` of an evaluation of ToolWorld tasks, the pass rate of an agent that gives up at
    once: the share of the evaluated tasks that cannot be solved (``task.solvable`` false), the tasks where
    ``toolworld.success.check_success`` passes a bare give-up.

    >>> realtime_floors("toolworld-id-realtime")["value"].tolist()
    [0.0, 0.0, 0.0]
    """
    rows = [{"label": "never calls a tool", "benchmark": benchmark, "metric": m, "value": 0.0,
             "source": "trivial floor"} for m in CALL_RATES.values()]
    if trajectories is not None and Path(trajectories).is_file():
        tasks = {}
        for rec in read_records(trajectories):
            task = (rec.get("dialogue") or {}).get("task") if isinstance(rec, dict) else None
            if isinstance(task, dict) and "solvable" in task:
                tasks[rec.get("task_id")] = not task["solvable"]
        if tasks:
            rows.append({"label": "always gives up", "benchmark": benchmark, "metric": "pass_rate",
                         "value": sum(tasks.values()) / len(tasks), "source": "trivial floor"})
    return pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))


def load_reference_rows(path: str | os.PathLike) -> pd.DataFrame:
    """Published numbers from a cited JSON file: ``{"source": "citation", "rows": [{"label", "benchmark",
    "metric", "value"}]}`` with values as fractions (0.5 for 50 %). Example:
    ``load_reference_rows("paper_table1.json")``.
    """
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("source"), str) or not data["source"].strip():
        raise DataError("expected an object with a non-empty 'source' citation", file=str(path), field="source")
    if not isinstance(data.get("rows"), list):
        raise DataError("expected a list", file=str(path), field="rows")
    rows = []
    for i, r in enumerate(data["rows"]):
        for key in ("label", "benchmark", "metric", "value"):
            if not isinstance(r, dict) or key not in r:
                raise DataError("missing", file=str(path), record=i, field=key)
        if isinstance(r["value"], bool) or not isinstance(r["value"], (int, float)):
            raise DataError(f"expected a number, got {r['value']!r}", file=str(path), record=i, field="value")
        rows.append({"label": str(r["label"]), "benchmark": str(r["benchmark"]), "metric": str(r["metric"]),
                     "value": float(r["value"]), "source": data["source"]})
    return pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))


def collect_items(run_dirs, *, methods: dict[str, str] | None = None) -> pd.DataFrame:
    """Item frames of many runs (an ablation grid) in one frame; ``methods`` maps a run folder name to its
    grid method when it differs from ``config.json``'s (e.g. ``alpha_umi_merge``).

    Example: ``collect_items(cfg.run_dir(m, s) for m in cfg.methods for s in cfg.seeds)``.
    """
    frames = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if (run_dir / "config.json").is_file():
            frames.append(run_items(run_dir, method=(methods or {}).get(run_dir.name)))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ITEM_COLUMNS))


def grid_floors(run_dirs) -> pd.DataFrame:
    """Trivial-floor reference rows for every evaluation folder name found under the runs: static floors
    from the first ``predictions.json`` of each static benchmark (the gold items are the same for every
    run), never-call rates for each real-time one. Example: ``grid_floors(run_dirs)``."""
    frames, seen = [], set()
    for run_dir in run_dirs:
        for folder in sorted(p for p in (Path(run_dir) / "eval").glob("*") if p.is_dir()):
            if folder.name in seen:
                continue
            if (folder / "predictions.json").is_file():
                frames.append(static_floors(folder / "predictions.json", folder.name))
            elif (folder / "trajectories.jsonl").is_file():
                frames.append(realtime_floors(folder.name, folder / "trajectories.jsonl"))
            else:
                continue
            seen.add(folder.name)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REFERENCE_COLUMNS))
