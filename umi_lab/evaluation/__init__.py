"""Evaluate a trained run: static (paper Table 1 protocol) and real-time (agent in an environment).

One job per module:

- ``benchmarks``: the benchmark registry (static samples, real-time tasks, environment factory, scoring);
  ``register_benchmark(Benchmark(...))`` adds one;
- ``static`` / ``realtime``: the two strategies (prediction of static samples; the agent solving tasks);
- ``checkpoint``: resumable partial results (``Checkpoint``) and their fingerprint;
- ``settings``: ``EvalSettings`` and the decoding profiles (``greedy``, ``official``);
- ``driver``: ``evaluate_run``, which writes a content-addressed ``RUN_DIR/eval/<benchmark>-<mode>[-<hash8>]/``
  (``umi_lab.eval_folders``), and ``evaluation_identity``, the key a reader looks an evaluation up by;
- ``cli``: ``python -m umi_lab evaluate``.

Example: ``evaluate_run("runs/alpha", "toolworld-id", "static", limit=50)["plan_em"]``.
"""

from umi_lab.evaluation.benchmarks import (
    BENCHMARKS,
    REGISTRY,
    Benchmark,
    BenchmarkContext,
    env_factory,
    get_benchmark,
    realtime_tasks,
    register_benchmark,
    static_benchmark_samples,
    unregister_benchmark,
)
from umi_lab.evaluation.checkpoint import FINGERPRINT_FILE, Checkpoint
from umi_lab.evaluation.driver import evaluate_run, evaluation_identity
from umi_lab.evaluation.realtime import score_realtime
from umi_lab.evaluation.settings import DECODING_PROFILES, EvalSettings
from umi_lab.evaluation.static import backbone_history, backbone_prediction, predict_static

__all__ = ["BENCHMARKS", "DECODING_PROFILES", "FINGERPRINT_FILE", "REGISTRY", "Benchmark", "BenchmarkContext",
           "Checkpoint", "EvalSettings", "backbone_history", "backbone_prediction", "env_factory", "evaluate_run", "evaluation_identity",
           "get_benchmark", "predict_static", "realtime_tasks", "register_benchmark", "score_realtime",
           "static_benchmark_samples", "unregister_benchmark"]
