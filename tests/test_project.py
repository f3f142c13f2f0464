"""Project-level checks: install files agree, the README's commands are the ones CI runs, the CLI is whole."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from umi_lab import cli

REPO = Path(__file__).resolve().parent.parent


def _pyproject_deps() -> set[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        deps += extra
    return {d.replace(" ", "") for d in deps}


def _environment_pip_deps() -> set[str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    deps = set()
    for line in lines[start + 1:]:
        m = re.match(r"^\s+-\s+(\S+)\s*$", line)
        if not m:
            break
        if m.group(1) not in ("-e", ".") and not m.group(1).startswith("-e"):
            deps.add(m.group(1))
    return deps


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    text = (REPO / "environment.yml").read_text()
    assert "conda-forge" in text and "- -e ." in text
    assert _environment_pip_deps() == _pyproject_deps()


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (REPO / "README.md").read_text())


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    cmds = _readme_commands()
    assert len(cmds) >= 2
    study, tests = cmds[0], cmds[1]
    assert study.startswith("pip install torch==2.13.0") and study.endswith("python -m umi_lab study")
    assert "pytest" in tests
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci                                      # byte-identical, on a line of its own
    after = "\n".join(ci[ci.index(tests) + 1:])
    assert "exit" in after and re.search(r"^UMI_LAB_SMOKE=1 python -m pytest notebooks --nbmake", after, re.M)


def test_every_command_module_is_present_and_has_help(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    names = sorted(sub.choices)
    for expected in ("convert", "split", "static-samples", "evaluate-static", "sandbox", "toolworld",
                     "build-tiny", "train", "evaluate", "grade-answers", "ablate", "replay-html", "study"):
        assert expected in names, f"subcommand {expected} missing"
    for name in names:
        with pytest.raises(SystemExit) as e:
            cli.main([name, "--help"])
        assert e.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_module_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "umi_lab", "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("convert", "split", "train", "evaluate", "study"):
        assert name in out


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "umi_lab", "tests", "benchmarks", "notebooks"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_quotes_the_study_record():
    """The README's study numbers are the ones `study --record` wrote to benchmarks/results/study_cpu.json."""
    import json

    root = Path(__file__).resolve().parent.parent
    rec = json.loads((root / "benchmarks" / "results" / "study_cpu.json").read_text())
    readme = (root / "README.md").read_text()
    assert f"**{rec['wall_s'] / 60:.1f} min**" in readme
    assert (root / "benchmarks" / "results" / "study_cpu.md").read_text().startswith("# The default study")
    cell = {(m["method"], m["benchmark"], m["metric"]): m["mean"] for m in rec["metrics"]}
    methods = ("single_llm", "single_llm_multitask", "multi_llm_one_stage", "alpha_umi")
    for label, metric, bench in (("Plan ACC (static)", "plan_em", "toolworld-id-static"),
                                 ("Action EM (static)", "action_em", "toolworld-id-static"),
                                 ("real-time pass", "pass_rate", "toolworld-id-realtime")):
        values = [100 * cell[(m, bench, metric)] for m in methods]
        row = f"| {label} | " + " | ".join("0" if v == 0 else f"{v:.1f}" for v in values) + " |"
        assert row in readme, row
