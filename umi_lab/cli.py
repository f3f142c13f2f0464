"""``python -m umi_lab``: one entry point, one subcommand per pipeline stage.

Each module in COMMANDS defines ``add_cli(subparsers)`` that registers its subcommand(s) with
``set_defaults(func=...)``; ``func(args)`` returns an exit code. Only the module of the command being run
is imported (training pulls in torch/TRL, which takes seconds); ``--help`` lists every command from the
table below without importing them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from umi_lab.errors import DataError

# command -> (module that registers it, one-line help shown by the top-level --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("umi_lab.protocol.cli", "what the protocol reads from a planner/caller/backbone output (JSON)"),
    "convert": ("umi_lab.sources.convert", "raw public data -> alpha-UMi conversations"),
    "split": ("umi_lab.splitting", "conversations -> role datasets train_{backbone,planner,...}.json"),
    "export-roles": ("umi_lab.export", "role datasets -> Hugging Face datasets + TRL tool-calling chat format"),
    "split-data": ("umi_lab.splitting", "dialogues -> train/val/test with no shared instruction (or tool)"),
    "static-samples": ("umi_lab.static_eval", "one static-evaluation sample per planner decision"),
    "evaluate-static": ("umi_lab.static_eval", "official-compatible static metrics of a predictions.json"),
    "sandbox": ("umi_lab.tools.sandbox", "run a Python file in the sandbox; print a JSON result"),
    "toolworld": ("umi_lab.toolworld.cli", "offline tool world: generate data, list tools, check success"),
    "build-tiny": ("umi_lab.backbone", "build (or reuse) the embedded tiny backbone"),
    "train": ("umi_lab.training", "GLPFT (alpha_umi) and baseline training with TRL + LoRA"),
    "grade-answers": ("umi_lab.grading", "grade maths answers in a JSONL file; prints one JSON object"),
    "evaluate": ("umi_lab.evaluation.cli", "static or real-time evaluation of a trained run"),
    "import-run": ("umi_lab.import_run", "a run folder from full-weight checkpoints (the released alpha-UMi models)"),
    "ablate": ("umi_lab.ablation", "train + evaluate a grid of methods x seeds x benchmarks"),
    "replay-html": ("umi_lab.replay", "standalone HTML replay of recorded trajectories or dialogues"),
    "replay-app": ("umi_lab.replay", "serve the filterable replay widget as a Voila app on 127.0.0.1"),
    "study": ("umi_lab.study", "the whole study on the embedded default (data, training, evaluation, table, plots, replay)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser: only ``command``'s module is imported; the other commands are listed by name and help.

    >>> "train" in build_parser("split")._subparsers._group_actions[0].choices
    True
    """
    parser = argparse.ArgumentParser(prog="python -m umi_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[command][0]] if command in COMMANDS else []
    registered: set[str] = set()
    for name in modules:
        before = set(sub.choices)
        importlib.import_module(name).add_cli(sub)
        registered |= set(sub.choices) - before
    for cmd, (_, help_text) in COMMANDS.items():  # the others: listed in --help, not imported
        if cmd not in registered:
            sub.add_parser(cmd, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Example: ``main(["split", "--help"])``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, RecursionError, MemoryError) as e:  # a reader or writer not yet located
        print(f"error: {_describe(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C anywhere: no traceback; finished work is kept and reused
        print("\ninterrupted: finished work is kept; run the same command again to resume where it stopped",
              file=sys.stderr)
        return 130


def _describe(e: BaseException) -> str:
    """One line for an input/output failure: the file when known, and what went wrong."""
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename is not None else ""
        return f"{where}{e.strerror or type(e).__name__}"
    if isinstance(e, UnicodeDecodeError):
        return f"input is not UTF-8 text (byte {e.start}: {e.reason})"
    if isinstance(e, RecursionError):
        return "input nested too deeply to process (RecursionError)"
    return "input too large to process in memory (MemoryError)"


if __name__ == "__main__":
    raise SystemExit(main())
