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
OUT_DIR = Path(os.environ.get("UMI_LAB_OUT", ROOT / "runs"))              # where this notebook writes
print("smoke mode" if SMOKE else "full mode", "| project root:", ROOT, "| outputs:", OUT_DIR)'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(src: str):
    return new_code_cell(src.strip())


def params(src: str):
    cell = new_code_cell(src.strip())
    cell.metadata["tags"] = ["parameters"]
    return cell


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["01_data_splitting.ipynb"] = [
    md("""
# 01 · From trajectories to role datasets

α-UMi trains three small LLMs from the *same* agent trajectories. A trajectory is a conversation: the user's
task, then turns of the **planner** (`assistant`: a rationale ending in `Next: caller.`, `Next: conclusion.` or
`Next: give up.`), the **caller** (`Action: …` / `Action Input: …`), tool **observations**, and the
**summarizer**'s final answer (`conclusion`). Splitting cuts every trajectory into one sample per role
decision, each `{tools, history, input, target}`, with the input rendered from that role's prompt template.

This notebook splits three sources: the embedded **ToolWorld** data, **GSM8K** (calculator dialogues) and
the official **ToolBench** examples of α-UMi (train example and out-of-domain test), and looks at split
sizes and token lengths.
"""),
    params(SETUP + """

TOOLWORLD = str(ROOT / "data" / "toolworld")   # the embedded default data
MODEL = "tiny-test" if SMOKE else "tiny"       # whose tokenizer measures lengths
MAX_GSM8K = 200 if SMOKE else None             # GSM8K problems to convert (None: all)
MAX_LENGTH = 1024                              # the training cut, drawn on the length plot"""),
    md("""
## ToolWorld: the embedded default

`prepare_data` (the study's first stage) uses `data/toolworld` (generating it when absent) and writes the
role datasets with the project's one splitter.
"""),
    code("""import pandas as pd
from IPython.display import Image, display

from umi_lab.io import data_root, read_records
from umi_lab.study import StudyConfig, prepare_data

info = prepare_data(StudyConfig(toolworld=TOOLWORLD), OUT_DIR / "splitting")
pd.Series({**info["sizes"], **{f"roles/{k}": v for k, v in info["role_sizes"].items()}}, name="records").to_frame()"""),
    md("""
## One dialogue, four views

The same conversation seen by each role: the planner's sample ends at `assistant: `, the caller's carries
the planner's thought, the summarizer's only the history. The backbone (stage 1 of GLPFT, and the
Single-LLM baseline) predicts thought and action in one go.
"""),
    code("""from umi_lab.protocol.dialogue import load_dialogues

world = load_dialogues(f"{info['toolworld']}/train.json")
print(world[0].instruction)
for turn in world[0].conversations[1:6]:
    print(f"  {turn.role:11s} {turn.value[:110]!r}")
roles = {p.stem.removeprefix("train_"): read_records(p) for p in sorted(Path(info["roles"]).glob("train_*.json"))}
for role, samples in roles.items():
    print(f"\\n--- {role}: {len(samples)} samples; first target:\\n{samples[0]['target'][:200]}")"""),
    md("""
## GSM8K with a calculator

Each worked solution's `<<48/2=24>>` annotations become calculator calls; the final `#### answer` becomes the
conclusion. The converter reports what it could not turn into a faithful dialogue instead of dropping it.
"""),
    code("""from umi_lab.sources.gsm8k import convert_gsm8k

root = data_root()
if root is not None and (root / "gsm8k" / "train.jsonl").is_file():
    records = read_records(root / "gsm8k" / "train.jsonl")[:MAX_GSM8K]
    gsm, report = convert_gsm8k(records, split="train", file=str(root / "gsm8k" / "train.jsonl"))
    print(len(records), "problems ->", len(gsm), "dialogues")
    print(report)
    for turn in gsm[0].conversations:
        print(f"  {turn.role:11s} {turn.value[:100]!r}")
else:
    print("shared data not found: set UMI_LAB_DATA to run this part")"""),
    md("""
## ToolBench, as α-UMi ships it

The official `train-example` holds the four role files produced by α-UMi's own scripts, and the
out-of-domain test set gives one **static** evaluation sample per planner decision (1,547 on the full file).
"""),
    code("""from umi_lab.static_eval import static_samples

if root is not None and (root / "alpha_umi_toolbench").is_dir():
    example = root / "alpha_umi_toolbench" / "train-example"
    official = {r: read_records(example / f"train_{r}.json") for r in ("backbone", "planner", "caller", "summarizer")}
    print({r: len(v) for r, v in official.items()})
    ood = load_dialogues(root / "alpha_umi_toolbench" / "test" / "out_of_domain.json")
    samples = static_samples(ood)
    print(len(ood), "test dialogues ->", len(samples), "static samples:",
          pd.Series([s["decision"] for s in samples]).value_counts().to_dict())
else:
    official = {}
    print("shared data not found: set UMI_LAB_DATA to run this part")"""),
    md("""
## Token lengths

How long each role's samples are for the tiny backbone's tokenizer (prompt as the model sees it + target).
Samples beyond the dashed `max_length` are cut from the left during training, keeping the end.
"""),
    code("""from umi_lab.backbone import load_backbone
from umi_lab.plots import plot_token_lengths, token_lengths

_, tokenizer = load_backbone(MODEL, device="cpu")
lengths = token_lengths({**roles, **{f"toolbench/{r}": v for r, v in official.items()}}, tokenizer)
display(lengths.groupby("role")["total_tokens"].describe().round(1))
pdf, png = plot_token_lengths(lengths, OUT_DIR / "splitting" / "token_lengths", max_length=MAX_LENGTH)
display(Image(filename=str(png)))"""),
]

NOTEBOOKS["02_glpft_training.ipynb"] = [
    md("""
# 02 · GLPFT training

**Global-to-local progressive fine-tuning**: stage 1 trains one backbone on the whole task (thought, action and
answer in one output); stage 2 copies it three times and fine-tunes each copy on its own role (planner,
caller, summarizer). Here with LoRA on the embedded tiny model, through TRL's `SFTTrainer`.

The panel below sets the method, the stage-2 initialisation (`copy` the stage-1 adapter, or `merge` it into the
base), per-role learning rates and epochs, LoRA rank and alpha; *train* starts the run with a live loss plot
and a progress bar. The last cells do the same without widgets.
"""),
    params(SETUP + """

METHOD = "alpha_umi"                      # alpha_umi | single_llm | multi_llm_one_stage | single_llm_multitask
MODEL = "tiny-test" if SMOKE else "tiny"  # 'tiny', 'tiny-test', or a local checkpoint folder
LORA_R = 8 if SMOKE else 16
TOOLWORLD = str(ROOT / "data" / "toolworld")"""),
    code("""from IPython.display import Image, display

from umi_lab.study import StudyConfig, prepare_data
from umi_lab.widgets import TrainingPanel

data = prepare_data(StudyConfig(toolworld=TOOLWORLD), OUT_DIR / "study")
panel = TrainingPanel(data=data["roles"], out=str(OUT_DIR / "glpft" / METHOD), model=MODEL)
panel.method.value = METHOD
panel.lora_r.value = LORA_R
panel.smoke.value = SMOKE
panel"""),
    md("""
## Train

Pressing *train* runs in the background; here we start the same run inline so the notebook also executes
top to bottom. A finished run directory is reused (its `status` is `done`).
"""),
    code("""config = panel.build_config()
print(config.method, config.init, "LoRA r =", config.lora.r, "| planner lr =", config.resolved_schedule().planner.learning_rate)
run_dir = panel.start(background=False)
print(run_dir, (run_dir / "status").read_text().strip())"""),
    md("""
## Loss per stage and role

`loss_history.jsonl` has one row per logged step (`stage`, `role`, `step`, `loss`, `learning_rate`).
"""),
    code("""from umi_lab.plots import plot_loss_curves, read_loss_history
from umi_lab.training import run_info

history = read_loss_history(run_dir)
display(history.groupby(["stage", "role"])["loss"].agg(["first", "last", "count"]))
pdf, png = plot_loss_curves(run_dir, OUT_DIR / "glpft" / f"loss_{METHOD}", title=METHOD)
display(Image(filename=str(png)))
run_info(run_dir)"""),
]

NOTEBOOKS["03_ablations.ipynb"] = [
    md("""
# 03 · Ablations: α-UMi against its baselines

The grid: methods × seeds × benchmarks. Each cell trains a run (reused when finished) and evaluates it
statically (one sample per planner decision, the official metrics) and in real time (the agent talks to the
ToolWorld tools). Results are one tidy table (`run, method, seed, benchmark, metric, value`), from which the
paper-style table (mean ± std over seeds, best in bold) and the plots are drawn.

Methods: **Single-LLM** (one model does everything), **Single-LLM multi-task** (one model trained on the three
role datasets), **Multi-LLM one-stage** (three role models straight from the base), **α-UMi** (GLPFT), and
α-UMi with the stage-1 adapter **merged** into the base before stage 2.
"""),
    params(SETUP + """

METHODS = ("single_llm", "alpha_umi") if SMOKE else (
    "single_llm", "single_llm_multitask", "multi_llm_one_stage", "alpha_umi", "alpha_umi_merge")
SEEDS = (0, 1) if SMOKE else (0, 1, 2)
BENCHMARKS = ("toolworld-id:static", "toolworld-id:realtime")
MODEL = "tiny-test" if SMOKE else "tiny"
LIMIT = 3 if SMOKE else None              # test tasks per benchmark (None: all)
TOOLWORLD = str(ROOT / "data" / "toolworld")"""),
    code("""from IPython.display import Image, Markdown, display

from umi_lab.ablation import AblationConfig, run_ablation
from umi_lab.study import StudyConfig, prepare_data

data = prepare_data(StudyConfig(toolworld=TOOLWORLD), OUT_DIR / "study")
cfg = AblationConfig(data=data["roles"], out=str(OUT_DIR / "ablation"), model=MODEL, methods=METHODS, seeds=SEEDS,
                     evals=BENCHMARKS, smoke=SMOKE, train_overrides={"schedule": "tiny"},
                     eval_overrides={"limit": LIMIT} if LIMIT else {})
result = run_ablation(cfg, report=True)
result.counts"""),
    md("""
## The tidy table

Every number in one long table; failed runs or evaluations are listed, not dropped.
"""),
    code("""display(result.tidy.head(12))
print(len(result.tidy), "rows;", len(result.failures), "failures")
for f in result.failures:
    print(" ", f["run"], f["stage"], f["benchmark"], f["error"])"""),
    md("""
## Table 1, reproduced

Rows are methods; columns Plan ACC, Action EM, hallucination rate, argument F1 (easy: no arguments; hard: with
arguments), Rouge-L of the answer, then the real-time columns. Values in %, mean ± std over seeds.
"""),
    code("""from umi_lab.tables import REALTIME_METRICS, STATIC_METRICS, TableOptions, to_latex, to_markdown

options = TableOptions(metrics=STATIC_METRICS + REALTIME_METRICS)
display(Markdown(to_markdown(result.tidy, options)))
print(to_latex(result.tidy, options, caption="ToolWorld in-domain test", label="tab:ablation"))"""),
    md("""
## Plots

Metric bars with error bars (std over seeds), one figure per benchmark, and the loss curves of each method's
first seed. PDFs embed TrueType fonts.
"""),
    code("""for key, path in result.paths.items():
    if key.startswith(("bars_", "loss_")):
        print(key)
        display(Image(filename=str(path.with_suffix(".png"))))"""),
]

NOTEBOOKS["04_trajectory_replay.ipynb"] = [
    md("""
# 04 · Replaying agent trajectories

An agent run on a task leaves a **recorded trajectory**: the α-UMi conversation it produced (planner
rationales ending in `Next: …`, caller actions, tool observations, the summarizer's answer), one record per
model call (tokens, latency, errors) and how it ended (`conclusion`, `give_up`, `step_limit`, `repetition`,
`error`). This notebook steps through such runs turn by turn, puts two methods side by side on the same task,
and overlays the gold trajectory: every planner decision and every tool call is marked `= gold` or with the
gold choice it missed.

By default it replays runs recorded under `RUNS_DIR` by `python -m umi_lab study` or notebook 03 (α-UMi
against the Single-LLM baseline on the ToolWorld in-domain test, real-time mode). Set `TRAJECTORIES` to any `trajectories.jsonl` files (comma-
separated, up to two methods) to replay other runs; with nothing recorded yet it replays the gold dialogues.
"""),
    params(SETUP + '''

TRAJECTORIES = os.environ.get("UMI_LAB_REPLAY", "")      # "a/trajectories.jsonl,b/trajectories.jsonl"
GOLD = os.environ.get("UMI_LAB_REPLAY_GOLD", "")          # gold dialogues; default data/toolworld/test_in_domain.json
RUNS_DIR = str(OUT_DIR)                                   # searched for recorded runs (study, notebook 03)
BENCHMARK = "toolworld-id-realtime"
MAX_TASKS = 5 if SMOKE else 100'''),
    md("""
## What to replay

`replay_inputs` picks the files: the ones given, else the study's recorded runs, else the gold dialogues.
"""),
    code('''from umi_lab.replay import export_replay_html, replay_inputs
from umi_lab.widgets import TrajectoryReplayer, load_tracks

files, gold = replay_inputs(TRAJECTORIES, GOLD, study_dir=RUNS_DIR, benchmark=BENCHMARK)
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
    code('''page = export_replay_html(files, OUT_DIR / "replay" / "replay.html", gold=gold, limit=MAX_TASKS)
print(page, page.stat().st_size, "bytes")'''),
]

NOTEBOOKS["05_real_benchmarks.ipynb"] = [
    md("""
# 05 · Real benchmarks

The same pipeline on public data: α-UMi's **ToolBench** out-of-domain test (static evaluation, the official
metrics) and **GSM8K** (real time: the agent calls a calculator and its final answer is graded for
mathematical equivalence).

`MODEL` picks the backbone: a real checkpoint folder (e.g. a 7B model on a GPU) or the tiny default. `RUN` is
an already trained run directory; when empty, a small α-UMi run is trained here on the official ToolBench
training example so that the notebook executes end to end on a laptop.
"""),
    params(SETUP + """

MODEL = os.environ.get("UMI_LAB_MODEL", "tiny-test" if SMOKE else "tiny")   # checkpoint folder or tiny default
RUN = os.environ.get("UMI_LAB_RUN", "")        # a trained run directory; empty: train one here
LIMIT = 3 if SMOKE else 200                    # tasks per benchmark (None: all)"""),
    md("""
## A run to evaluate
"""),
    code("""from pathlib import Path

from IPython.display import Markdown, display

from umi_lab.io import data_root
from umi_lab.training import run_info, train
from umi_lab.training_config import GLPFTConfig

root = data_root()
assert root is not None, "set UMI_LAB_DATA to the shared data folder"
if RUN:
    run_dir = Path(RUN)
else:
    run_dir = train(GLPFTConfig(method="alpha_umi", model=MODEL, data=str(root / "alpha_umi_toolbench" / "train-example"),
                                out=str(OUT_DIR / "real" / "alpha_umi"), schedule="tiny", smoke=SMOKE), progress=False)
run_info(run_dir)"""),
    md("""
## ToolBench out-of-domain, static

One sample per planner decision of the 400 test dialogues; the planner's output decides which role answers next.
"""),
    code("""from umi_lab.evaluate import evaluate_run

static = evaluate_run(run_dir, benchmark="toolbench-ood", mode="static", limit=LIMIT, smoke=SMOKE)
static"""),
    md("""
## GSM8K, real time
"""),
    code("""gsm = evaluate_run(run_dir, benchmark="gsm8k", mode="realtime", limit=LIMIT, smoke=SMOKE)
gsm"""),
    md("""
## Side by side

Both evaluations as one tidy table and one paper-style table.
"""),
    code("""import pandas as pd

from umi_lab.ablation import metric_rows
from umi_lab.io import read_json
from umi_lab.tables import to_markdown

rows = []
for name in ("toolbench-ood-static", "gsm8k-realtime"):
    metrics = read_json(run_dir / "eval" / name / "metrics.json")
    rows += metric_rows(metrics, run=run_dir.name, method="alpha_umi", seed=0, benchmark=name)
tidy = pd.DataFrame(rows)
display(Markdown(to_markdown(tidy)))"""),
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
