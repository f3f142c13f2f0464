"""``python -m umi_lab parse {planner,caller,backbone} [--compat official] TEXT``: what the protocol reads.

Prints one JSON object (role, decision, thought, tool, arguments, answer, error, text) computed by
``umi_lab.protocol.grammar.parse``, the code the agent, the evaluators and the plots use. ``TEXT`` ``-``
reads standard input; escapes such as ``\\n`` are not interpreted (use ``$'...'`` in bash).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from umi_lab.protocol.grammar import COMPAT_MODES, PARSERS, parse


def _cmd(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    print(json.dumps(parse(args.role, text, args.compat).to_dict(), ensure_ascii=False))
    return 0


def add_cli(sub: Any) -> None:
    """Register ``parse``."""
    p = sub.add_parser("parse", help="what the protocol reads from a model output (one JSON object)")
    p.add_argument("role", choices=tuple(PARSERS), help="whose output TEXT is")
    p.add_argument("text", metavar="TEXT", help="the model output ('-' reads stdin)")
    p.add_argument("--compat", default="default", choices=COMPAT_MODES,
                   help="default grammar, or the official GLPFT rules")
    p.set_defaults(func=_cmd)
