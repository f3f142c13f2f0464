"""Build the numbered study notebooks with nbformat: ``python notebooks/build_notebooks.py``.

Each notebook is written without outputs, has exactly one cell tagged ``parameters`` (papermill), reads
``UMI_LAB_SMOKE=1`` to shrink its work, and only calls the library: narration in markdown, logic in
``umi_lab``. Edit the cell lists below and rerun this script instead of editing the ``.ipynb`` files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''import os
import sys
from pathlib import Path

ROOT = Path.cwd() if (Path.cwd() / "umi_lab").is_dir() else Path.cwd().parent
sys.path.insert(0, str(ROOT))
SMOKE = os.environ.get("UMI_LAB_SMOKE", "0") == "1"
print("smoke mode" if SMOKE else "full mode", "| project root:", ROOT)'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(src: str):
    return new_code_cell(src.strip())


def params(src: str):
    cell = new_code_cell(src.strip())
    cell.metadata["tags"] = ["parameters"]
    return cell


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["04_trajectory_replay.ipynb"] = [
    md("""
# 04 · Replaying agent trajectories

An agent run on a task leaves a **recorded trajectory**: the α-UMi conversation it produced (planner
rationales ending in `Next: …`, caller actions, tool observations, the summarizer's answer), one record per
model call (tokens, latency, errors) and how it ended (`conclusion`, `give_up`, `step_limit`, `repetition`,
`error`). This notebook steps through such runs turn by turn, puts two methods side by side on the same task,
and overlays the gold trajectory: every planner decision and every tool call is marked `= gold` or with the
gold choice it missed.

By default it replays what `python -m umi_lab study` recorded (α-UMi against the Single-LLM baseline on the
ToolWorld in-domain test, real-time mode). Set `TRAJECTORIES` to any `trajectories.jsonl` files (comma-
separated, up to two methods) to replay other runs; with nothing recorded yet it replays the gold dialogues.
"""),
    params(SETUP + '''

TRAJECTORIES = os.environ.get("UMI_LAB_REPLAY", "")      # "a/trajectories.jsonl,b/trajectories.jsonl"
GOLD = os.environ.get("UMI_LAB_REPLAY_GOLD", "")          # gold dialogues; default data/toolworld/test_in_domain.json
STUDY_DIR = str(ROOT / "runs" / "study")
BENCHMARK = "toolworld-id-realtime"
MAX_TASKS = 5 if SMOKE else 100'''),
    md("""
## What to replay

`replay_inputs` picks the files: the ones given, else the study's recorded runs, else the gold dialogues.
"""),
    code('''from umi_lab.replay import export_replay_html, replay_inputs
from umi_lab.widgets import TrajectoryReplayer, load_tracks

files, gold = replay_inputs(TRAJECTORIES, GOLD, study_dir=STUDY_DIR, benchmark=BENCHMARK)
main = load_tracks(files[0])[:MAX_TASKS]
compare = load_tracks(files[1]) if len(files) > 1 else None
print("replaying:", *files, sep="\\n  ")
print("gold:", gold)
print(len(main), "tasks; outcomes:", {t.outcome for t in main})'''),
    md("""
## The replayer

*play* steps forward on a timer, *pause* stops it, *previous*/*next* and the slider move one turn at a time.
Each role has its own colour; long observations are folded (click to open); the task's tool documentation
stays on the left. All text coming from a model or a dataset is HTML-escaped.
"""),
    code('''replayer = TrajectoryReplayer(main, gold=gold, compare=compare)
replayer'''),
    md("""
## A standalone page

The same replay as one self-contained HTML file (embedded data, a few lines of JavaScript, no server), e.g.
to attach to a report. `python -m umi_lab replay-html --trajectories A.jsonl B.jsonl --gold GOLD --out page.html`
does the same from the shell.
"""),
    code('''page = export_replay_html(files, ROOT / "runs" / "replay" / "replay.html", gold=gold, limit=MAX_TASKS)
print(page, page.stat().st_size, "bytes")'''),
]


def build(out_dir: Path = HERE) -> list[Path]:
    """Write every notebook in ``NOTEBOOKS`` into ``out_dir``; return the paths."""
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells)
        for i, cell in enumerate(nb.cells):  # stable ids: rebuilding gives the same file
            cell.id = f"{name[:2]}-{i:02d}"
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        path = out_dir / name
        nbformat.validate(nb)
        nbformat.write(nb, str(path))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build():
        print(p)
