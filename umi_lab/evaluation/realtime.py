"""The real-time strategy: the run's agent (``agent.make_agent``) solves tasks end to end in the benchmark's
environment; metrics are ``agent.trajectory_stats`` plus the benchmark's own score (pass rate of ToolWorld's
success criteria, graded answer accuracy, cache hits of the ToolBench replay).

A task whose model call raised is kept as a trajectory with outcome ``error``, never dropped.
Example: ``run_chunk(make_agent(models), tasks, ids, env)``.
"""

from __future__ import annotations

from typing import Any

from umi_lab.evaluation.settings import EvalSettings
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, Turn


def agent_for(models, settings: EvalSettings, trial: int = 0):
    """The run's agent with the settings' limits, decoding profile and search; trial ``j`` of several samples
    with seed ``settings.trial_seed(j)``. Example: ``agent_for(models, EvalSettings.for_profile("official", "realtime"))``."""
    from dataclasses import replace

    from umi_lab.agent import AgentConfig, make_agent

    generation = replace(settings.generation, seed=settings.trial_seed(trial)) if trial else settings.generation
    return make_agent(models, AgentConfig(settings.max_steps, settings.repeat_limit, generation,
                                          planner_attempts=settings.planner_attempts,
                                          max_observation_chars=settings.max_observation_chars,
                                          search=settings.search_config(trial)))


def error_trajectory(task: Dialogue, task_id: str, method: str, error: str) -> RecordedTrajectory:
    """The trajectory kept for a task whose run raised: the user turn, no steps, outcome ``error``."""
    turns = [Turn("user", t.value) for t in task.conversations if t.role == "user"][:1] or [
        Turn("user", task.instruction)]
    meta = {"decisions": 0, "model_calls": 0, "prompt_tokens": 0, "generated_tokens": 0, "latency_s": 0.0,
            "error": error}
    return RecordedTrajectory(task_id, method, Dialogue(task.tools, task.instruction, turns, dict(task.extra)), [],
                              "error", meta)


def run_chunk(agent, tasks: list[Dialogue], ids: list[str], env) -> list[RecordedTrajectory]:
    """``agent.run_batch`` on a chunk; if it raises, task by task, a failing task becoming an ``error``
    trajectory with the exception text. Example: ``run_chunk(agent, tasks[:8], ids[:8], env)``."""
    try:
        trajs = agent.run_batch(tasks, env)
    except Exception:
        trajs = []
        for task, task_id in zip(tasks, ids):
            try:
                trajs += agent.run_batch([task], env)
            except Exception as e:
                trajs.append(error_trajectory(task, task_id, agent.method, f"agent: {type(e).__name__}: {e}"))
    for traj, task, task_id in zip(trajs, tasks, ids):
        if task.id is None:  # the agent numbers id-less tasks within its batch; use the benchmark position
            traj.task_id = task_id
    return trajs


def final_answer(traj: RecordedTrajectory) -> str | None:
    """The summarizer's answer of a trajectory that concluded, else None."""
    if traj.outcome != "conclusion":
        return None
    turns = traj.dialogue.conversations
    return turns[-1].value if turns and turns[-1].role == "conclusion" else None


# ------------------------------------------------------------------------------------------------ scores
def score_toolworld(trajs: list[RecordedTrajectory], tasks: list[Dialogue], ctx) -> dict[str, Any]:
    """ToolWorld: each task's success criterion (``toolworld.check_success``) → ``pass_rate``, ``passed``."""
    from umi_lab.toolworld import check_success

    passed = 0
    for traj, task in zip(trajs, tasks):
        result = check_success(task, traj.dialogue)
        traj.meta["success"] = result.to_dict() if hasattr(result, "to_dict") else {"passed": bool(result)}
        passed += bool(traj.meta["success"]["passed"])
    return {"pass_rate": passed / len(trajs) if trajs else 0.0, "passed": passed}


def score_answers(trajs: list[RecordedTrajectory], tasks: list[Dialogue], ctx) -> dict[str, Any]:
    """GSM8K / MATH: the final answer graded against ``task.extra["answer"]`` → ``accuracy``, ``correct``."""
    from umi_lab.grading import GradeSettings, answers_equal

    grade = GradeSettings(timeout_s=ctx.settings.grade_timeout_s)
    correct = 0
    for traj, task in zip(trajs, tasks):
        answer = final_answer(traj)
        ok = answer is not None and answers_equal(answer, task.extra["answer"], grade)
        traj.meta.update(answer=answer, gold=task.extra["answer"], correct=ok)
        correct += ok
    return {"accuracy": correct / len(trajs) if trajs else 0.0, "correct": correct}


def score_cache_hits(trajs: list[RecordedTrajectory], tasks: list[Dialogue], ctx) -> dict[str, Any]:
    """ToolBench cache replay: calls answered from the cache and calls it did not hold."""
    statuses = [s.extra.get("tool_status") for t in trajs for s in t.steps if "tool_status" in s.extra]
    return {"cache_hits": sum(st in ("ok", "empty", "tool_error") for st in statuses),
            "cache_misses": statuses.count("not_in_cache")}


def trial_verdicts(trajs: list[RecordedTrajectory]) -> dict[str, list[bool]]:
    """Per task id, whether each trial passed (ToolWorld ``meta["success"]``, graded ``meta["correct"]``), in
    trial order; empty where the benchmark has no per-task verdict. Example: ``trial_verdicts(trajs)["t1"]``."""
    out: dict[str, list[bool]] = {}
    for t in sorted(trajs, key=lambda t: t.meta.get("trial", 0)):
        if isinstance(t.meta.get("success"), dict):
            out.setdefault(t.task_id, []).append(bool(t.meta["success"].get("passed")))
        elif "correct" in t.meta:
            out.setdefault(t.task_id, []).append(bool(t.meta["correct"]))
    return out


def search_metrics(trajs: list[RecordedTrajectory], settings: EvalSettings) -> dict[str, Any]:
    """What an evaluation adds for its search and trials: ``search`` (the strategy's settings; for DFSDT the
    average nodes, backtracks and whole-tree model calls and tokens per task) and, with several trials,
    ``trials`` (k, each task's per-trial verdicts and ``pass_hat_k``: pass^j for j = 1..k, ``stats.pass_hat_k``).
    Example: ``search_metrics(trajs, EvalSettings(search="dfsdt"))["search"]["avg_node_count"]``."""
    config = settings.search_config()
    out: dict[str, Any] = {"search": config.to_dict() if config else {"strategy": "chain"}}
    trees = [t.meta["search"] for t in trajs if isinstance(t.meta.get("search"), dict)]
    if trees:
        n = len(trees)
        out["search"].update({f"avg_{k}": sum(x.get(k, 0) for x in trees) / n for k in
                              ("node_count", "backtracks", "model_calls", "prompt_tokens", "generated_tokens")})
        out["search"]["stops"] = {s: sum(x.get("stop") == s for x in trees) for s in sorted({x.get("stop") for x in trees})}
    if settings.trials > 1:
        out["trials"] = {"k": settings.trials, "per_task": trial_verdicts(trajs)}
        out["trials"].update(pass_hat_k_table(out["trials"]["per_task"], settings.trials))
    return out


def pass_hat_k_table(per_task: dict[str, list[bool]], k: int) -> dict[str, Any]:
    """pass^j for j = 1..k, the mean over tasks of τ-bench's unbiased estimate (``stats.pass_hat_k``) from
    each task's trial verdicts (tasks with fewer than j trials left out); keys are strings, as in JSON.
    Empty where the benchmark gives no per-task verdict.

    >>> pass_hat_k_table({"a": [True, True], "b": [True, False]}, 2)
    {'pass_hat_k': {'1': 0.75, '2': 0.5}, 'pass_hat_k_tasks': 2}
    """
    from umi_lab.stats import pass_hat_k

    if not per_task:
        return {}
    table = {}
    for j in range(1, k + 1):
        values = [pass_hat_k(len(v), sum(v), j) for v in per_task.values() if len(v) >= j]
        if values:
            table[str(j)] = sum(values) / len(values)
    return {"pass_hat_k": table, "pass_hat_k_tasks": len(per_task)}


def score_realtime(benchmark: str, trajs: list, tasks: list[Dialogue], settings: EvalSettings | None = None, *,
                   ctx=None) -> dict[str, Any]:
    """Real-time metrics: ``trajectory_stats`` plus the benchmark's score; per-task verdicts go into each
    trajectory's ``meta``. Example: ``score_realtime("gsm8k", trajs, tasks, EvalSettings())["accuracy"]``."""
    from umi_lab.agent import trajectory_stats
    from umi_lab.evaluation.benchmarks import BenchmarkContext, get_benchmark

    b, _ = get_benchmark(benchmark, "realtime")
    ctx = ctx or BenchmarkContext(settings=settings or EvalSettings())
    metrics = trajectory_stats(trajs)
    if b.score is not None:
        metrics.update(b.score(trajs, tasks, ctx))
    return metrics
