"""``python -m umi_lab``: one entry point, one subcommand per pipeline stage.

Each module listed in COMMAND_MODULES defines ``add_cli(subparsers)`` that registers its subcommand(s)
with ``set_defaults(func=...)``; ``func(args)`` returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from umi_lab.errors import DataError

COMMAND_MODULES = [
    "umi_lab.sources.convert",     # convert {toolbench-raw, alpha-umi-stage1, gsm8k, math, tora, toolalpaca}
    "umi_lab.splitting",           # split
    "umi_lab.static_eval",         # static-samples, evaluate-static
    "umi_lab.tools.sandbox",       # sandbox
    "umi_lab.toolworld.cli",       # toolworld generate
    "umi_lab.backbone",            # build-tiny
    "umi_lab.training",            # train
    "umi_lab.grading",             # grade-answers
    "umi_lab.evaluate",            # evaluate
    "umi_lab.ablation",            # ablate
    "umi_lab.replay",              # replay-html
    "umi_lab.study",               # study
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m umi_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
