"""Compatibility shim: evaluation lives in ``umi_lab.evaluation`` (registry, strategies, checkpoints, CLI).

``from umi_lab.evaluate import evaluate_run, EvalSettings`` keeps working. Example:
``evaluate_run("runs/alpha", "toolworld-id", "static", limit=50)``.
"""

from umi_lab.evaluation import *  # noqa: F403
from umi_lab.evaluation import __all__  # noqa: F401
from umi_lab.evaluation.cli import add_cli  # noqa: F401
