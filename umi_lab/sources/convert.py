"""``python -m umi_lab convert <source>``: raw public data → alpha-UMi conversations.

This module registers the ToolBench commands itself and asks each other source module
(``umi_lab.sources.gsm8k``, ``.maths``, ``.toolalpaca``) to add its own via ``register_convert(sub)``:

    python -m umi_lab convert toolbench-raw --input toolbench_example --out OUT [--test-ids DIR]
    python -m umi_lab convert alpha-umi-stage1 --input raw_data_stage_1.json --out OUT

Each prints one JSON line with its counts (read, written, skipped by reason with the files).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import read_json, write_json
from umi_lab.protocol.dialogue import save_dialogues
from umi_lab.sources import toolbench

SOURCE_MODULES = ("umi_lab.sources.gsm8k", "umi_lab.sources.maths", "umi_lab.sources.toolalpaca")


def _cmd_toolbench_raw(args: argparse.Namespace) -> int:
    test_ids = toolbench.load_test_ids(args.test_ids) if args.test_ids else set()
    stage1, dialogues, report = toolbench.toolbench_to_dialogues(args.input, test_ids, with_source=args.with_source)
    out = Path(args.out)
    write_json(out / "raw_data_stage_1.json", stage1)
    save_dialogues(out / "raw_data_stage_2.json", dialogues)
    print(json.dumps({"command": "convert toolbench-raw", **report.summary(), "test_ids": len(test_ids),
                      "out": [str(out / "raw_data_stage_1.json"), str(out / "raw_data_stage_2.json")]}))
    return 0


def _cmd_alpha_umi_stage1(args: argparse.Namespace) -> int:
    records = read_json(args.input)
    if not isinstance(records, list):
        raise DataError("expected a JSON list of stage-1 records", file=str(args.input))
    dialogues = toolbench.stage2_from_stage1(records, file=str(args.input))
    out = Path(args.out) / "raw_data_stage_2.json"
    save_dialogues(out, dialogues)
    print(json.dumps({"command": "convert alpha-umi-stage1", "read": len(records), "written": len(dialogues),
                      "skipped": 0, "out": str(out)}))
    return 0


def add_cli(subparsers: Any) -> None:
    """Register ``convert`` and its sub-subcommands. Example: ``add_cli(parser.add_subparsers())``."""
    convert = subparsers.add_parser("convert", help="raw public data -> alpha-UMi conversations")
    sub = convert.add_subparsers(dest="source", metavar="SOURCE", required=True)

    p = sub.add_parser("toolbench-raw", help="ToolBench answer trees -> raw_data_stage_1.json + raw_data_stage_2.json")
    p.add_argument("--input", required=True, help="ToolBench data folder (with answer/G*_answer) or the answer folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--test-ids", default=None,
                   help="folder of test_query_ids JSON files (object keyed by id, or list); those ids are left out")
    p.add_argument("--with-source", action="store_true", help="add a 'source' key (group/file) to each record")
    p.set_defaults(func=_cmd_toolbench_raw)

    s = sub.add_parser("alpha-umi-stage1", help="alpha-UMi raw_data_stage_1.json -> raw_data_stage_2.json")
    s.add_argument("--input", required=True, help="raw_data_stage_1.json")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_cmd_alpha_umi_stage1)

    for name in SOURCE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a source module another engineer has not written yet
            if e.name == name:
                continue
            raise
        module.register_convert(sub)
