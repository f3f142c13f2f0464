"""Ctrl-C anywhere in a command (e.g. while the study builds its backbone) ends with a one-line hint, no traceback."""

import argparse

from umi_lab import cli


def test_ctrl_c_in_any_command_prints_a_resume_hint_and_exits_130(monkeypatch, capsys):
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    real = cli.build_parser

    def parser_with_stub(command):
        p = real(command)
        for action in p._subparsers._group_actions:  # the `parse` subcommand, its work replaced by Ctrl-C
            action.choices["parse"].set_defaults(func=interrupted)
        return p

    monkeypatch.setattr(cli, "build_parser", parser_with_stub)
    assert cli.main(["parse", "planner", "Next: caller."]) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err and "Traceback" not in err
