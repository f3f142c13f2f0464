"""Evaluate a trained run: static (paper Table 1 protocol) and real-time (agent in an environment).

Static (``mode="static"``): one sample per planner decision of the test dialogues
(``static_eval.static_samples``). The planner predicts the decision; for ``Next: caller.`` the caller, for
``Next: conclusion.`` the summarizer completes it, from the histories the official pipeline uses
(``caller_input`` / ``summarizer_input``); the three outputs are joined by ``compose_prediction``. A
single-LLM (backbone) run answers each sample with one backbone output, mapped to the same prediction
shape. ``predictions.json`` (official shape: the samples with ``predictions``) is scored by
``static_eval.evaluate_predictions``.

Real-time (``mode="realtime"``): the run's agent (``agent.make_agent``) solves tasks end to end:
ToolWorld tasks (pass rate from each task's success criterion), GSM8K with the calculator and MATH with
the python sandbox (answer accuracy via ``grading``), ToolBench tasks on the cache replay. Metrics add
average steps, give-up rate, hallucinated-tool and invalid-argument rates (``agent.trajectory_stats``).

Everything lands in ``RUN_DIR/eval/<benchmark>-<mode>/``: ``predictions.json`` or ``trajectories.jsonl``,
``metrics.json`` and ``config.json`` (the run's config plus the evaluation settings), written atomically.

Resumable: items (static samples or real-time tasks) are processed in chunks of
``EvalSettings.checkpoint_every``; after each chunk the finished items are appended, one JSON line each
(flushed and fsynced), to ``predictions.partial.jsonl`` / ``trajectories.partial.jsonl`` next to
``partial.json``, a fingerprint of the run, benchmark, mode, limit, settings and item ids. Running the same
evaluation again skips the finished items; a different fingerprint is refused (``DataError`` naming
``partial.json``) unless ``restart=True`` (CLI ``--restart``). A torn last line (a kill mid-write) is
dropped, counted and its item recomputed. The final files are written from the union, the partial files
removed; ``metrics["resume"]`` says how many items were resumed and computed (``wall_s`` is this
invocation's time only). The checkpoint cadence is not part of the fingerprint. An item whose model call
raised is kept, never dropped: a trajectory with outcome ``error`` (real-time) or a sample with an empty
prediction and ``error`` (static, scored like an empty model output, counted in ``counts["errors"]``).

CLI: ``python -m umi_lab evaluate --run RUN_DIR --benchmark NAME [--mode static|realtime] [--limit N] [--smoke]
[--restart] [--checkpoint-every N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import data_root, read_json, read_jsonl, write_json
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, Turn, load_dialogues, save_trajectories
from umi_lab.protocol.predictions import backbone_prediction  # noqa: F401 (re-exported: the static backbone path)
from umi_lab.protocol.prompts import backbone_history
from umi_lab.serving import GenerationSettings, RoleModels

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "toolbench-ood": ("static",),
    "toolalpaca-real": ("static",),
    "toolalpaca-sim": ("static",),
    "toolworld-id": ("static", "realtime"),
    "toolworld-ood": ("static", "realtime"),
    "gsm8k": ("realtime",),
    "math": ("realtime",),
    "toolbench-cache": ("realtime",),
}


@dataclass
class EvalSettings:
    """Evaluation knobs: decoding, agent limits, the ToolWorld seed, the grader's sympy time limit and
    ``checkpoint_every`` (items per chunk saved to the partial file; None: 4 generation batches)."""

    generation: GenerationSettings = field(default_factory=GenerationSettings)
    max_steps: int = 8
    repeat_limit: int = 3
    world_seed: int = 0
    grade_timeout_s: float = 3.0
    checkpoint_every: int | None = None

    def __post_init__(self):
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")

    @property
    def chunk_size(self) -> int:
        """Items per checkpointed chunk. Example: ``EvalSettings().chunk_size`` → 32."""
        return self.checkpoint_every or 4 * self.generation.batch_size

    @classmethod
    def smoke(cls) -> EvalSettings:
        """Tiny budgets for a quick end-to-end check."""
        return cls(GenerationSettings(max_new_tokens=16, batch_size=8), max_steps=2)


# ------------------------------------------------------------------------------------------------ data
def _shared(rel: str) -> Path:
    root = data_root()
    if root is None:
        raise DataError("shared data folder not found; set UMI_LAB_DATA", field="benchmark")
    path = root / rel
    if not path.exists():
        raise DataError("benchmark data not found", file=str(path))
    return path


def _toolworld_file(benchmark: str) -> Path:
    path = REPO_ROOT / "data" / "toolworld" / ("test_in_domain.json" if benchmark == "toolworld-id"
                                               else "test_out_of_domain.json")
    if not path.is_file():
        raise DataError("ToolWorld test set not found (python -m umi_lab toolworld generate)", file=str(path))
    return path


def static_benchmark_samples(benchmark: str, family: str = "toolbench") -> list[dict[str, Any]]:
    """The static samples of a benchmark (``family`` is the run's prompt family, used for ToolWorld).

    Example: ``len(static_benchmark_samples("toolbench-ood"))`` → 1547.
    """
    from umi_lab.static_eval import static_samples

    if benchmark == "toolbench-ood":
        path = _shared("alpha_umi_toolbench/test/out_of_domain.json")
        return static_samples(load_dialogues(path), "toolbench", file=str(path))
    if benchmark in ("toolalpaca-real", "toolalpaca-sim"):
        from umi_lab.sources.toolalpaca import load_toolalpaca, toolalpaca_samples

        name = "eval_real.json" if benchmark == "toolalpaca-real" else "eval_simulated.json"
        cases, _report = load_toolalpaca(_shared(f"toolalpaca/{name}"))
        return toolalpaca_samples(cases)
    if benchmark in ("toolworld-id", "toolworld-ood"):
        path = _toolworld_file(benchmark)
        return static_samples(load_dialogues(path), family, file=str(path))
    raise DataError(f"no static protocol for {benchmark!r}; static benchmarks: "
                    f"{', '.join(b for b, m in BENCHMARKS.items() if 'static' in m)}", field="benchmark")


def realtime_tasks(benchmark: str, limit: int | None = None) -> list[Dialogue]:
    """Tasks (user turn only, answer/task in ``extra``) of a real-time benchmark.

    Example: ``realtime_tasks("gsm8k", limit=5)[0].extra["answer"]``.
    """
    if benchmark in ("toolworld-id", "toolworld-ood"):
        dialogues = load_dialogues(_toolworld_file(benchmark))[:limit]
        return [Dialogue(d.tools, d.instruction, [Turn("user", d.conversations[0].value)], d.extra) for d in dialogues]
    if benchmark == "gsm8k":
        from umi_lab.tools.calculator import CalculatorRegistry

        path = _shared("gsm8k/test.jsonl")
        tools = CalculatorRegistry().tool_docs()
        tasks = []
        for i, rec in enumerate(read_jsonl(path)[:limit]):
            if not isinstance(rec, dict) or not isinstance(rec.get("question"), str) or "####" not in str(
                    rec.get("answer", "")):
                raise DataError("expected question and an answer with '####'", file=str(path), record=i,
                                field="answer")
            answer = rec["answer"].rsplit("####", 1)[1].strip().replace(",", "")
            tasks.append(Dialogue(tools, rec["question"], [Turn("user", rec["question"])],
                                  {"id": f"gsm8k-test-{i:05d}", "answer": answer, "source": "gsm8k"}))
        return tasks
    if benchmark == "math":
        from umi_lab.sources.maths import math_tasks

        path = _shared("math/test.jsonl")
        records = read_jsonl(path)
        tasks, _report = math_tasks(records[:limit] if limit else records, file=str(path))
        return tasks
    if benchmark == "toolbench-cache":
        from umi_lab.tools.cache_replay import CacheReplay

        return CacheReplay(_shared("toolbench_example")).tasks()[:limit]
    raise DataError(f"no real-time protocol for {benchmark!r}; real-time benchmarks: "
                    f"{', '.join(b for b, m in BENCHMARKS.items() if 'realtime' in m)}", field="benchmark")


def env_factory(benchmark: str, settings: EvalSettings | None = None):
    """A function ``task -> ToolRegistry`` for a real-time benchmark. Example: ``env_factory("gsm8k")(task)``."""
    settings = settings or EvalSettings()
    if benchmark in ("toolworld-id", "toolworld-ood"):
        from umi_lab.toolworld import ToolWorld

        return ToolWorld(settings.world_seed).env_for
    if benchmark == "gsm8k":
        from umi_lab.tools.calculator import CalculatorRegistry

        return lambda task: CalculatorRegistry()
    if benchmark == "math":
        from umi_lab.tools.sandbox import PythonRegistry

        return lambda task: PythonRegistry()
    if benchmark == "toolbench-cache":
        from umi_lab.tools.cache_replay import CacheReplay

        return CacheReplay(_shared("toolbench_example")).env_for
    raise DataError(f"no environment for {benchmark!r}", field="benchmark")


# ------------------------------------------------------------------------------------------------ static
def predict_static(models: RoleModels, samples: list[dict[str, Any]], settings: GenerationSettings
                   ) -> list[dict[str, Any]]:
    """Fill ``predictions`` (and the role outputs and token counts) of every sample.

    Multi-LLM runs: planner, then caller or summarizer per decision; backbone runs: one output each.
    Example: ``predict_static(RoleModels.from_run(run), samples[:8], GenerationSettings())``.
    """
    from umi_lab.static_eval import (
        caller_input,
        clean_candidate,
        compose_prediction,
        planner_decision,
        summarizer_input,
    )

    def prompt(s: dict, text: str) -> str:  # the run's PromptStyle, as at training time
        return models.style.model_prompt(text, tools=s.get("tools"), tokenizer=getattr(models, "tokenizer", None))

    out = [dict(s) for s in samples]
    if models.method == "single_llm" or ("backbone" in models.role_map and "planner" not in models.role_map):
        prompts = [prompt(s, _role_input("backbone", s)) for s in out]
        gens = models.generate(prompts, ["backbone"] * len(out), settings)
        for s, g in zip(out, gens):
            s.update(backbone_output=g.text, predictions=backbone_prediction(g.text),
                     tokens={"prompt": g.prompt_tokens, "generated": g.generated_tokens, "truncated": g.truncated})
        return out
    gens = models.generate([prompt(s, s["model_input"]) for s in out], ["planner"] * len(out), settings)
    second: list[tuple[int, str, str]] = []
    for k, (s, g) in enumerate(zip(out, gens)):
        decision, cut = planner_decision(clean_candidate(g.text))
        s.update(planner_output=g.text, tokens={"prompt": g.prompt_tokens, "generated": g.generated_tokens,
                                                 "truncated": g.truncated})
        if decision == "caller":
            second.append((k, "caller", prompt(s, caller_input(s, cut))))
        elif decision == "conclusion":
            second.append((k, "summarizer", prompt(s, summarizer_input(s, cut))))
    gens2 = models.generate([p for _, _, p in second], [r for _, r, _ in second], settings) if second else []
    for (k, role, _), g in zip(second, gens2):
        out[k][f"{role}_output"] = g.text
        tok = out[k]["tokens"]
        tok.update(prompt=tok["prompt"] + g.prompt_tokens, generated=tok["generated"] + g.generated_tokens,
                   truncated=tok["truncated"] or g.truncated)
    for s in out:
        s["predictions"] = compose_prediction(s["planner_output"], s.get("caller_output"), s.get("summarizer_output"))
    return out


def _role_input(role: str, sample: dict[str, Any]) -> str:
    from umi_lab.protocol.prompts import role_input

    return role_input(role, sample["tools"], backbone_history(sample["history"]), family=sample.get("family", "toolbench"))


# ------------------------------------------------------------------------------------------------ realtime
def _final_answer(traj) -> str | None:
    if traj.outcome != "conclusion":
        return None
    turns = traj.dialogue.conversations
    return turns[-1].value if turns and turns[-1].role == "conclusion" else None


def score_realtime(benchmark: str, trajs: list, tasks: list[Dialogue], settings: EvalSettings) -> dict[str, Any]:
    """Real-time metrics: ``trajectory_stats`` plus pass rate (ToolWorld), accuracy (GSM8K/MATH) or cache
    hit counts (ToolBench replay). Per-task verdicts are written into each trajectory's ``meta``.
    Example: ``score_realtime("gsm8k", trajs, tasks, EvalSettings())["accuracy"]``."""
    from umi_lab.agent import trajectory_stats

    metrics = trajectory_stats(trajs)
    if benchmark.startswith("toolworld"):
        from umi_lab.toolworld import check_success

        passed = 0
        for traj, task in zip(trajs, tasks):
            result = check_success(task, traj.dialogue)
            traj.meta["success"] = result.to_dict() if hasattr(result, "to_dict") else {"passed": bool(result)}
            passed += bool(traj.meta["success"]["passed"])
        metrics.update(pass_rate=passed / len(trajs) if trajs else 0.0, passed=passed)
    elif benchmark in ("gsm8k", "math"):
        from umi_lab.grading import GradeSettings, answers_equal

        grade = GradeSettings(timeout_s=settings.grade_timeout_s)
        correct = 0
        for traj, task in zip(trajs, tasks):
            answer = _final_answer(traj)
            ok = answer is not None and answers_equal(answer, task.extra["answer"], grade)
            traj.meta.update(answer=answer, gold=task.extra["answer"], correct=ok)
            correct += ok
        metrics.update(accuracy=correct / len(trajs) if trajs else 0.0, correct=correct)
    elif benchmark == "toolbench-cache":
        statuses = [s.extra.get("tool_status") for t in trajs for s in t.steps if "tool_status" in s.extra]
        metrics.update(cache_hits=sum(st in ("ok", "empty", "tool_error") for st in statuses),
                       cache_misses=statuses.count("not_in_cache"))
    return metrics


# ------------------------------------------------------------------------------------------------ checkpoints
FINGERPRINT_FILE = "partial.json"


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class Checkpoint:
    """The partial results of one evaluation folder: ``partial.json`` (fingerprint) and ``<stem>.partial.jsonl``
    (one ``{"index", "id", "item"}`` line per finished item, appended per chunk, flushed and fsynced).

    Example: ``ck = Checkpoint(out_dir, "trajectories", fp); done = ck.open(); ck.append([(0, "t0", {...})])``.
    """

    def __init__(self, folder: Path, stem: str, fingerprint: dict[str, Any],
                 validate: Callable[[dict, str, int], Any] | None = None):
        self.folder, self.fingerprint, self.validate = folder, fingerprint, validate
        self.fp_path = folder / FINGERPRINT_FILE
        self.path = folder / f"{stem}.partial.jsonl"
        self.corrupt_lines = 0

    def discard(self) -> None:
        """Remove the partial files (``--restart``, or after the final files are written)."""
        for path in (self.path, self.fp_path):
            path.unlink(missing_ok=True)

    def open(self) -> dict[int, dict[str, Any]]:
        """Check the fingerprint (or write it) and return the finished items by index; a torn last line is
        dropped from the file and counted in ``corrupt_lines``."""
        if self.fp_path.is_file():
            self._check_fingerprint(read_json(self.fp_path))
        elif self.path.is_file():
            raise DataError(f"partial results without their fingerprint ({FINGERPRINT_FILE}); re-run with "
                            "--restart to discard them", file=str(self.path))
        else:
            write_json(self.fp_path, self.fingerprint)
        return self._read() if self.path.is_file() else {}

    def _check_fingerprint(self, saved: Any) -> None:
        if not isinstance(saved, dict):
            raise DataError("expected a JSON object", file=str(self.fp_path))
        differ = [k for k in sorted(set(saved) | set(self.fingerprint)) if saved.get(k) != self.fingerprint.get(k)]
        for k in ("settings", "run_config"):
            if k in differ and isinstance(saved.get(k), dict):  # name the setting, not just "settings"
                old, new = _flat(saved[k], k), _flat(self.fingerprint[k], k)
                differ[differ.index(k):differ.index(k) + 1] = [x for x in sorted(set(old) | set(new))
                                                               if old.get(x) != new.get(x)]
        if differ:
            raise DataError(f"an interrupted evaluation with different settings is in this folder (differs: "
                            f"{', '.join(differ)}); re-run with the same settings to resume, or with --restart "
                            "to discard it", file=str(self.fp_path), field=differ[0])

    def _read(self) -> dict[int, dict[str, Any]]:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        done: dict[int, dict[str, Any]] = {}
        keep = 0  # bytes of the file that hold complete, valid lines
        for i, raw in enumerate(lines):
            try:
                row = self._row(raw, i)
            except DataError:
                if i < len(lines) - 1:
                    raise
                self.corrupt_lines += 1  # torn by a kill mid-write: drop it, its item is recomputed
                break
            if row["index"] in done:
                raise DataError(f"item {row['index']} appears twice", file=str(self.path), record=i, field="index")
            done[row["index"]] = row
            keep += len(raw) + 1
        if keep != len(data):  # cut the torn tail (or add the missing final newline) before appending
            with open(self.path, "r+b") as f:
                f.truncate(min(keep, len(data)))
                if keep > len(data):
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
        return done

    def _row(self, raw: bytes, i: int) -> dict[str, Any]:
        file = str(self.path)
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"invalid JSON line ({e})", file=file, record=i) from None
        ids = self.fingerprint["item_ids"]
        if not isinstance(row, dict) or not isinstance(row.get("index"), int) or not 0 <= row["index"] < len(ids):
            raise DataError(f"expected an object with an index in [0, {len(ids)})", file=file, record=i, field="index")
        if row.get("id") != ids[row["index"]]:
            raise DataError(f"id {row.get('id')!r} is not item {row['index']} ({ids[row['index']]!r})", file=file,
                            record=i, field="id")
        if not isinstance(row.get("item"), dict):
            raise DataError("expected an object", file=file, record=i, field="item")
        if self.validate:
            self.validate(row["item"], file, i)
        return row

    def append(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Append finished items ``(index, id, item)`` and make them durable (flush + fsync)."""
        text = "".join(json.dumps({"index": i, "id": k, "item": item}, ensure_ascii=False) + "\n"
                       for i, k, item in rows)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def _flat(d: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}.{k}"))
        else:
            out[f"{prefix}.{k}"] = v
    return out


def _validate_trajectory(item: dict, file: str, record: int) -> None:
    RecordedTrajectory.from_dict(item, file=file, record=record)


def _validate_prediction(item: dict, file: str, record: int) -> None:
    if not isinstance(item.get("predictions"), str):
        raise DataError("missing or not a string", file=file, record=record, field="item.predictions")


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def _predict_chunk(models: RoleModels, samples: list[dict[str, Any]], settings: GenerationSettings
                   ) -> list[dict[str, Any]]:
    """``predict_static`` on a chunk; if it raises, sample by sample, keeping a failing sample with an empty
    prediction and its ``error``."""
    try:
        out = predict_static(models, samples, settings)
    except Exception:
        out = []
        for s in samples:
            try:
                out += predict_static(models, [s], settings)
            except Exception as e:
                out.append({**s, "predictions": "", "error": f"predict: {_error_text(e)}",
                            "tokens": {"prompt": 0, "generated": 0, "truncated": False}})
    for s in out:
        s.pop("model_input", None)
    return out


def _error_trajectory(task: Dialogue, task_id: str, method: str, error: str) -> RecordedTrajectory:
    turns = [Turn("user", t.value) for t in task.conversations if t.role == "user"][:1] or [
        Turn("user", task.instruction)]
    meta = {"decisions": 0, "model_calls": 0, "prompt_tokens": 0, "generated_tokens": 0, "latency_s": 0.0,
            "error": error}
    return RecordedTrajectory(task_id, method, Dialogue(task.tools, task.instruction, turns, dict(task.extra)), [],
                              "error", meta)


def _run_chunk(agent, tasks: list[Dialogue], ids: list[str], env) -> list[RecordedTrajectory]:
    """``agent.run_batch`` on a chunk; if it raises, task by task, a failing task becoming an ``error``
    trajectory with the exception text."""
    try:
        trajs = agent.run_batch(tasks, env)
    except Exception:
        trajs = []
        for task, task_id in zip(tasks, ids):
            try:
                trajs += agent.run_batch([task], env)
            except Exception as e:
                trajs.append(_error_trajectory(task, task_id, agent.method, f"agent: {_error_text(e)}"))
    for traj, task, task_id in zip(trajs, tasks, ids):
        if task.id is None:  # the agent numbers id-less tasks within its batch; use the benchmark position
            traj.task_id = task_id
    return trajs


def _fingerprint(run_dir: Path, benchmark: str, mode: str, limit: int | None, smoke: bool, method: str,
                 settings: EvalSettings, ids: list[str], items: list[Any]) -> dict[str, Any]:
    cfg = asdict(settings)
    cfg.pop("checkpoint_every")  # the checkpoint cadence does not change results
    return {"benchmark": benchmark, "mode": mode, "limit": limit, "smoke": smoke, "method": method,
            "run_config": read_json(run_dir / "config.json"), "settings": cfg,
            "n_items": len(ids), "items_sha256": _sha256(items), "item_ids": ids}


# ------------------------------------------------------------------------------------------------ driver
def evaluate_run(run_dir: str | os.PathLike, benchmark: str, mode: str | None = None, limit: int | None = None,
                 smoke: bool = False, settings: EvalSettings | None = None, *, models: RoleModels | None = None,
                 restart: bool = False) -> dict[str, Any]:
    """Evaluate a run on a benchmark and write ``RUN_DIR/eval/<benchmark>-<mode>/``; returns the metrics.

    Resumes an interrupted evaluation with the same settings (``restart=True`` discards it); see the
    module doc. Example: ``evaluate_run("runs/alpha", "toolbench-ood", "static", limit=50)["plan_em"]``.
    """
    from umi_lab.agent import AgentConfig, make_agent
    from umi_lab.static_eval import evaluate_predictions

    run_dir = Path(run_dir)
    if benchmark not in BENCHMARKS:
        raise DataError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}",
                        field="benchmark")
    mode = mode or BENCHMARKS[benchmark][0]
    if mode not in BENCHMARKS[benchmark]:
        raise DataError(f"{benchmark} has no {mode} protocol (modes: {', '.join(BENCHMARKS[benchmark])})",
                        field="mode")
    if not (run_dir / "config.json").is_file():
        raise DataError("not a run directory (no config.json)", file=str(run_dir))
    status_file = run_dir / "status"
    status = status_file.read_text().strip() if status_file.is_file() else None
    if status in ("running", "failed") and models is None:
        raise DataError(f"training did not finish (status: {status}); resume it with `train --resume` first",
                        file=str(status_file))
    settings = settings or (EvalSettings.smoke() if smoke else EvalSettings())
    if smoke:
        limit = min(limit or 4, 4)
    models = models or RoleModels.from_run(run_dir)
    out_dir = run_dir / "eval" / f"{benchmark}-{mode}"
    start = time.perf_counter()
    if mode == "static":
        items: list[Any] = static_benchmark_samples(benchmark, models.family)[:limit]
        ids = [f"{i}:{s.get('id')}" for i, s in enumerate(items)]
        stem, validate, fp_items = "predictions", _validate_prediction, items
    else:
        items = realtime_tasks(benchmark, limit)
        ids = [str(t.id) if t.id is not None else f"task-{i}" for i, t in enumerate(items)]
        stem, validate, fp_items = "trajectories", _validate_trajectory, [t.to_dict() for t in items]
        agent = make_agent(models, AgentConfig(settings.max_steps, settings.repeat_limit, settings.generation))
        env = env_factory(benchmark, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = Checkpoint(out_dir, stem, _fingerprint(run_dir, benchmark, mode, limit, smoke, models.method,
                                                        settings, ids, fp_items), validate)
    if restart:
        checkpoint.discard()
    done = {i: row["item"] for i, row in checkpoint.open().items()}
    resumed = len(done)
    todo = [i for i in range(len(items)) if i not in done]
    size = settings.chunk_size
    for c in range(0, len(todo), size):
        chunk = todo[c:c + size]
        if mode == "static":
            results = _predict_chunk(models, [items[i] for i in chunk], settings.generation)
        else:
            results = [t.to_dict() for t in _run_chunk(agent, [items[i] for i in chunk], [ids[i] for i in chunk], env)]
        checkpoint.append([(i, ids[i], r) for i, r in zip(chunk, results)])
        done.update(zip(chunk, results))
    finished = [done[i] for i in range(len(items))]
    if mode == "static":
        metrics = evaluate_predictions(finished, file=str(out_dir / "predictions.json"))
        metrics["counts"]["errors"] = sum("error" in s for s in finished)
        metrics["generation"] = {
            "prompt_tokens": sum(s["tokens"]["prompt"] for s in finished),
            "generated_tokens": sum(s["tokens"]["generated"] for s in finished),
            "truncated_prompts": sum(bool(s["tokens"]["truncated"]) for s in finished)}
        write_json(out_dir / "predictions.json", finished, indent=None)
    else:
        trajs = [RecordedTrajectory.from_dict(d, file=str(checkpoint.path), record=i) for i, d in enumerate(finished)]
        metrics = score_realtime(benchmark, trajs, items, settings)
        save_trajectories(out_dir / "trajectories.jsonl", trajs)
    metrics.update(benchmark=benchmark, mode=mode, method=models.method, n_items=metrics.get("n") or
                   metrics.get("counts", {}).get("samples", 0), wall_s=round(time.perf_counter() - start, 3),
                   smoke=smoke, limit=limit)
    metrics["resume"] = {"resumed": resumed, "computed": len(todo), "corrupt_lines": checkpoint.corrupt_lines,
                         "chunk_size": size}
    run_config = read_json(run_dir / "config.json")
    write_json(out_dir / "config.json", {"run": run_config, "benchmark": benchmark, "mode": mode, "limit": limit,
                                         "smoke": smoke, "settings": asdict(settings)})
    write_json(out_dir / "metrics.json", metrics)
    checkpoint.discard()
    return metrics


def _cmd_evaluate(args: argparse.Namespace) -> int:
    settings = EvalSettings.smoke() if args.smoke else EvalSettings()
    if args.max_new_tokens:
        settings.generation.max_new_tokens = args.max_new_tokens
    if args.batch_size:
        settings.generation.batch_size = args.batch_size
    if args.max_steps:
        settings.max_steps = args.max_steps
    if args.grouped:
        settings.generation.mixed_roles = False
    if args.checkpoint_every:
        settings.checkpoint_every = args.checkpoint_every
    metrics = evaluate_run(args.run, args.benchmark, args.mode, limit=args.limit, smoke=args.smoke, settings=settings,
                           restart=args.restart)
    keys = [k for k in ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge", "pass_rate",
                        "accuracy", "avg_steps", "give_up_rate", "hallucinated_tool_rate", "invalid_argument_rate",
                        "n_items", "wall_s") if k in metrics]
    resume = metrics["resume"]
    errors = metrics["outcomes"]["error"] if "outcomes" in metrics else metrics["counts"]["errors"]
    print(json.dumps({**{k: metrics[k] for k in keys}, "resumed": resume["resumed"], "computed": resume["computed"],
                      "corrupt_lines": resume["corrupt_lines"], "errors": errors}))
    if resume["corrupt_lines"]:
        print(f"recovered: dropped {resume['corrupt_lines']} torn line(s) of the partial file; recomputed")
    print(f"written: {Path(args.run) / 'eval' / (args.benchmark + '-' + (args.mode or BENCHMARKS[args.benchmark][0]))}")
    return 0


def add_cli(sub: Any) -> None:
    """Register ``evaluate --run RUN_DIR --benchmark NAME [--mode static|realtime] [--limit N] [--smoke]
    [--restart] [--checkpoint-every N]``."""
    p = sub.add_parser("evaluate", help="static or real-time evaluation of a trained run")
    p.add_argument("--run", required=True, help="run directory written by `train`")
    p.add_argument("--benchmark", required=True, choices=list(BENCHMARKS))
    p.add_argument("--mode", choices=("static", "realtime"), default=None,
                   help="default: static where the benchmark has it, else realtime")
    p.add_argument("--limit", type=int, default=None, help="first N samples (static) or tasks (realtime)")
    p.add_argument("--smoke", action="store_true", help="at most 4 items, 16 new tokens, 2 steps")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--grouped", action="store_true", help="batch by role (set_adapter) instead of mixed batches")
    p.add_argument("--restart", action="store_true",
                   help="discard the partial results of an interrupted evaluation instead of resuming them")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="items per checkpointed chunk (default: 4 generation batches)")
    p.set_defaults(func=_cmd_evaluate)
