"""The package works installed, not only from a checkout: nothing derives data paths from ``__file__``; a
non-editable install into a fresh virtual environment runs the smoke study from another directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent  # the test locates the checkout; the library never does


def test_no_module_derives_paths_from_its_file():
    hits = []
    for path in sorted((REPO / "umi_lab").rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\b__file__\b", line) and '"__file__": "snippet.py"' not in line:  # sandbox globals
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert hits == []


@pytest.mark.slow
def test_non_editable_install_runs_the_smoke_study_elsewhere(tmp_path):
    venv = tmp_path / "venv"
    # --without-pip: the interpreter's bundled setuptools may predate built-in bdist_wheel; the system pip and
    # setuptools (seen through --system-site-packages) install into the venv all the same
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    src = tmp_path / "src"  # a copy, so the build leaves the checkout untouched
    shutil.copytree(REPO / "umi_lab", src / "umi_lab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(src)],
                   check=True, cwd=tmp_path, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UMI_LAB_TOOLWORLD", "UMI_LAB_DATA")}
    env.update(UMI_LAB_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    where = subprocess.run([python, "-c", "import umi_lab; print(umi_lab.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout
    out = tmp_path / "study"
    proc = subprocess.run([python, "-m", "umi_lab", "study", "--smoke", "--out", str(out)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "tables" / "table.md").is_file() and (out / "replay.html").is_file()
    cfg = json.loads(next(out.glob("ablation/runs/alpha_umi-s0*/eval/toolworld-id-realtime/config.json")).read_text())
    tw = cfg["data"]["toolworld"]
    assert (tw["source"], tw["world_seed"]) == ("run", 0)  # the world the run trained on, from its manifest
    assert tw["files"]["test_in_domain.json"]["sha256"] == json.loads(
        (REPO / "data" / "toolworld" / "manifest.json").read_text())["files"]["test_in_domain.json"]["sha256"]
