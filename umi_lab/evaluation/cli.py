"""``python -m umi_lab evaluate --run RUN_DIR --benchmark NAME [--mode static|realtime] [--limit N] [--smoke]
[--decoding greedy|official] [--toolworld DIR] [--restart] [--checkpoint-every N]
[--search chain|dfsdt] [--search-width W] [--max-nodes N] [--trials K]``.

Results go to a folder keyed by the full settings (``umi_lab.eval_folders``): ``eval/<benchmark>-<mode>/``
(``-dfsdt`` / ``-kK`` added for a tree search / several trials) for the first settings evaluated, else
``eval/<that name>-<hash8>/``; the same settings again reuse a finished evaluation and resume an interrupted
one. Ctrl-C keeps the finished items, says so and exits with 130; the same command resumes. ``--restart``
discards the partial results of an interrupted evaluation."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from umi_lab.evaluation.benchmarks import BENCHMARKS, get_benchmark
from umi_lab.evaluation.driver import evaluate_run
from umi_lab.evaluation.settings import DECODING_PROFILES, EvalSettings
from umi_lab.search import STRATEGIES

SHOWN = ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge", "pass_rate", "accuracy",
         "avg_steps", "give_up_rate", "hallucinated_tool_rate", "invalid_argument_rate", "n_items", "wall_s")


def settings_from_args(args: argparse.Namespace, mode: str) -> EvalSettings:
    """The evaluation settings the flags ask for: the decoding profile for ``mode``, then explicit flags.
    Example: ``settings_from_args(parser.parse_args([...]), "static")``."""
    settings = EvalSettings.for_profile(args.decoding, mode, smoke=args.smoke)
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
    if args.toolworld:
        settings.toolworld = args.toolworld
    search = {"search": args.search, "search_width": args.search_width, "max_nodes": args.max_nodes,
              "trials": args.trials}
    return replace(settings, **{k: v for k, v in search.items() if v is not None})  # validated again


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _, mode = get_benchmark(args.benchmark, args.mode)
    settings = settings_from_args(args, mode)
    try:
        metrics = evaluate_run(args.run, args.benchmark, mode, limit=args.limit, smoke=args.smoke,
                               settings=settings, restart=args.restart)
    except KeyboardInterrupt:  # the driver said what was saved and how to resume
        return 130
    resume = metrics["resume"]
    errors = metrics["outcomes"]["error"] if "outcomes" in metrics else metrics["counts"]["errors"]
    print(json.dumps({**{k: metrics[k] for k in SHOWN if k in metrics}, "decoding": metrics["decoding"],
                      **{k: metrics[k] for k in ("search", "trials") if k in metrics},
                      "resumed": resume["resumed"], "computed": resume["computed"],
                      "corrupt_lines": resume["corrupt_lines"], "errors": errors}))
    if resume["corrupt_lines"]:
        print(f"recovered: dropped {resume['corrupt_lines']} torn line(s) of the partial file; recomputed")
    print(f"{'reused' if metrics.get('reused') else 'written'}: {metrics['eval_dir']}")
    return 0


def add_cli(sub: Any) -> None:
    """Register ``evaluate`` (flags in the module doc)."""
    from umi_lab.cli_types import positive_int

    p = sub.add_parser("evaluate", help="static or real-time evaluation of a trained run")
    p.add_argument("--run", required=True, help="run directory written by `train` or `import-run`")
    p.add_argument("--benchmark", required=True, choices=list(BENCHMARKS))
    p.add_argument("--mode", choices=("static", "realtime"), default=None,
                   help="default: static where the benchmark has it, else realtime")
    p.add_argument("--limit", type=positive_int, default=None, help="first N samples (static) or tasks (realtime)")
    p.add_argument("--smoke", action="store_true", help="at most 4 items, 16 new tokens, 2 steps")
    p.add_argument("--decoding", choices=DECODING_PROFILES, default="greedy",
                   help="decoding profile: greedy (default) or official (the α-UMi release's settings)")
    p.add_argument("--toolworld", default=None,
                   help="ToolWorld data folder (with manifest.json); default: the one the run trained on")
    p.add_argument("--max-new-tokens", type=positive_int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--max-steps", type=positive_int, default=None)
    p.add_argument("--grouped", action="store_true", help="batch by role (set_adapter) instead of mixed batches")
    p.add_argument("--restart", action="store_true",
                   help="discard the partial results of an interrupted evaluation instead of resuming them")
    p.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="items per checkpointed chunk (default: 4 generation batches)")
    p.add_argument("--search", choices=STRATEGIES, default=None,
                   help="real time: chain (default, greedy chain) or dfsdt (the official tree search)")
    p.add_argument("--search-width", type=positive_int, default=None, help="DFSDT children per node (default 2)")
    p.add_argument("--max-nodes", type=positive_int, default=None, help="DFSDT steps per task (default 200, official)")
    p.add_argument("--trials", type=positive_int, default=None,
                   help="real time: sampled runs per task, recorded per trial for pass^k (needs sampling)")
    p.set_defaults(func=_cmd_evaluate)
