"""Standalone HTML replay pages: one self-contained file, no server, no external assets.

Turns are rendered (and escaped) in Python by ``umi_lab.widgets``; the page embeds them as JSON (with
``<``, ``>`` and ``&`` written as unicode escapes so no text can close the script element) plus a few
lines of vanilla JavaScript for task choice, filters (outcome, error type, the role that erred; see
``umi_lab.replay_filter``), previous/next, a step slider and play/pause.

CLI: ``python -m umi_lab replay-html --trajectories A.jsonl [B.jsonl] [--gold GOLD.json] --out page.html``;
``python -m umi_lab replay-app --trajectories A.jsonl [B.jsonl] [--gold GOLD.json] [--port 8866]`` serves the
replay widget (``umi_lab/assets/replay_app.ipynb``) with Voila on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import atomic_write_text, data_root
from umi_lab.methods import REFERENCE, default_method
from umi_lab.replay_filter import ANY, filter_options, task_facets
from umi_lab.widgets import (
    CSS,
    ReplayTrack,
    esc,
    footer_html,
    group_by_task,
    load_tracks,
    render_tools_html,
    turn_fragments,
)

_JS = r"""
(function(){
  const DATA = JSON.parse(document.getElementById('umi-data').textContent);
  const sel = document.getElementById('umi-task'), slider = document.getElementById('umi-step');
  const view = document.getElementById('umi-view'), label = document.getElementById('umi-step-label');
  const filters = {outcome: document.getElementById('umi-f-outcome'), error: document.getElementById('umi-f-error'),
    role: document.getElementById('umi-f-role')}, shown = document.getElementById('umi-shown');
  const ANY = DATA.filters.any;
  let timer = null;
  Object.keys(filters).forEach(name => DATA.filters[name].forEach(v => {
    const o = document.createElement('option'); o.value = v; o.textContent = v; filters[name].appendChild(o); }));
  function passes(f){
    const o = filters.outcome.value, e = filters.error.value, r = filters.role.value;
    if (o !== ANY && !f.outcomes.includes(o)) return false;
    if (e === ANY && r === ANY) return true;
    return f.errors.some(x => (r === ANY || r === x[0]) && (e === ANY || e === x[1]));
  }
  function applyFilter(){
    sel.innerHTML = ''; let n = 0;
    DATA.tasks.forEach((t, i) => { if (!passes(t.facets)) return; const o = document.createElement('option');
      o.value = i; o.textContent = t.task_id; sel.appendChild(o); n++; });
    shown.textContent = n + ' of ' + DATA.tasks.length + ' tasks';
    if (n) { load(); } else { stop(); view.innerHTML = '<div class="umi-meta">no task matches the filters</div>';
      label.textContent = ''; }
  }
  function task(){ return DATA.tasks[Number(sel.value)]; }
  function render(){
    const t = task(), k = Number(slider.value);
    let html = '<div class="umi-task"><b>task:</b> ' + t.instruction + '</div><div class="umi-view">' + t.tools;
    t.columns.forEach(c => {
      const n = c.turns.length, last = Math.min(k, n - 1);
      html += '<div class="umi-col" data-label="' + c.label + '"><h4>' + c.label +
        ' <span class="umi-meta">task ' + t.task_id + ' \u00b7 turn ' + (last + 1) + '/' + n + '</span></h4>';
      html += c.turns.slice(0, last + 1).map((h, i) => (i === last && k < n) ?
        h.replace('class="umi-turn"', 'class="umi-turn current"') : h).join('');
      if (k >= n - 1) html += c.footer;
      html += '</div>';
    });
    view.innerHTML = html + '</div>';
    label.textContent = 'step ' + (k + 1) + ' / ' + (Number(slider.max) + 1);
  }
  function load(){ slider.max = task().steps - 1; slider.value = 0; stop(); render(); }
  function go(k){ slider.value = Math.max(0, Math.min(Number(slider.max), k)); render(); }
  function stop(){ if (timer) { clearInterval(timer); timer = null; } }
  function play(){ stop(); timer = setInterval(() => {
    if (Number(slider.value) >= Number(slider.max)) { stop(); return; } go(Number(slider.value) + 1); }, 900); }
  sel.addEventListener('change', load);
  Object.values(filters).forEach(f => f.addEventListener('change', applyFilter));
  slider.addEventListener('input', render);
  document.getElementById('umi-prev').addEventListener('click', () => go(Number(slider.value) - 1));
  document.getElementById('umi-next').addEventListener('click', () => go(Number(slider.value) + 1));
  document.getElementById('umi-play').addEventListener('click', play);
  document.getElementById('umi-pause').addEventListener('click', stop);
  applyFilter();
})();
"""


def replay_data(main: Sequence[ReplayTrack], compare: Sequence[Sequence[ReplayTrack]] = (),
                gold: Sequence[ReplayTrack] | None = None, *, limit: int | None = None) -> dict[str, Any]:
    """The page's embedded data: per task, the escaped tool docs and every column's rendered turns.

    Example: ``replay_data(load_tracks("a.jsonl"), [load_tracks("b.jsonl")], load_tracks("gold.json"))``.
    """
    sources = [list(main), *[list(c) for c in compare], list(gold or [])]
    tasks = []
    for task_id, tracks in group_by_task(*sources).items():
        gold_track = tracks[-1]
        present = [t for t in tracks[:-1] if t is not None]
        columns = [{"label": esc(t.label), "turns": turn_fragments(t, gold_track), "footer": footer_html(t)}
                   for t in present]
        if gold_track is not None:
            columns.append({"label": esc(gold_track.label), "turns": turn_fragments(gold_track),
                            "footer": footer_html(gold_track)})
        first = present[0]
        tasks.append({"task_id": esc(task_id), "instruction": esc(first.dialogue.instruction),
                      "tools": render_tools_html(first.dialogue.tools),
                      "steps": max(1, max(len(c["turns"]) for c in columns)), "facets": task_facets(present)})
        tasks[-1]["columns"] = columns
        if limit is not None and len(tasks) >= limit:
            break
    return {"tasks": tasks, "filters": {**filter_options([t["facets"] for t in tasks]), "any": ANY}}


def _script_json(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(data: dict[str, Any], *, title: str = "umi-lab trajectory replay") -> str:
    """A complete HTML document for ``replay_data(...)``; needs no network or server."""
    if not data.get("tasks"):
        raise DataError("nothing to replay", field="trajectories")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{CSS}\nbody{{margin:12px}}.umi-controls{{margin:6px 0}}</style></head>\n"
        f"<body><h3>{esc(title)}</h3><div class=\"umi-controls umi-filters\"><label>outcome <select id=\"umi-f-outcome\">"
        "</select></label> <label>error type <select id=\"umi-f-error\"></select></label> <label>erring role "
        "<select id=\"umi-f-role\"></select></label> <span id=\"umi-shown\" class=\"umi-meta\"></span></div>"
        "<div class=\"umi-controls\"><label>task <select id=\"umi-task\"></select></label> "
        "<button id=\"umi-play\">&#9654; play</button> <button id=\"umi-pause\">&#10074;&#10074; pause</button> "
        "<button id=\"umi-prev\">&#9664; previous</button> <button id=\"umi-next\">next &#9654;</button> "
        "<input id=\"umi-step\" type=\"range\" min=\"0\" max=\"0\" value=\"0\"> <span id=\"umi-step-label\"></span></div>"
        "<div id=\"umi-view\"></div>\n"
        f"<script type=\"application/json\" id=\"umi-data\">{_script_json(data)}</script>\n"
        f"<script>{_JS}</script></body></html>\n"
    )


def export_replay_html(trajectories: Sequence[str | os.PathLike] | str | os.PathLike, out: str | os.PathLike, *,
                       gold: str | os.PathLike | None = None, limit: int | None = None,
                       title: str = "umi-lab trajectory replay") -> Path:
    """Write a standalone replay page; the first file is the main method, further files are compared.

    Example: ``export_replay_html(["a/trajectories.jsonl", "b/trajectories.jsonl"], "replay.html", gold="test.json")``.
    """
    files = [trajectories] if isinstance(trajectories, (str, os.PathLike)) else list(trajectories)
    if not files:
        raise DataError("no trajectory file given", field="trajectories")
    sources = [load_tracks(f) for f in files]
    if not sources[0]:
        raise DataError("no trajectories in file", file=str(files[0]))
    gold_tracks = load_tracks(gold, label="gold") if gold else None
    data = replay_data(sources[0], sources[1:], gold_tracks, limit=limit)
    return atomic_write_text(out, render_page(data, title=title))


def default_gold() -> Path | None:
    """The default gold dialogues: the in-domain test of the ToolWorld data (``$UMI_LAB_TOOLWORLD``, else the
    default data set), or None when it cannot be had. Example: ``default_gold().name`` → ``test_in_domain.json``."""
    from umi_lab.toolworld.manifest import resolve_toolworld

    try:
        return resolve_toolworld().file("test_in_domain")
    except (DataError, OSError):
        return None


def __getattr__(name: str):  # DEFAULT_GOLD, resolved on first use (it may generate the default data)
    if name == "DEFAULT_GOLD":
        return default_gold()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def replay_inputs(trajectories: str | Sequence[str] = "", gold: str = "", *, study_dir: str | os.PathLike = "",
                  benchmark: str = "toolworld-id-realtime", methods: Sequence[str] | None = None,
                  ) -> tuple[list[Path], Path | None]:
    """Decide what to replay: the given files (comma-separated or a list), else the study's recorded runs of
    ``methods`` (default: the reference and the first backbone method) on ``benchmark``, else the gold dialogues alone. Gold defaults to the ToolWorld in-domain test (or, without it, the shared
    α-UMi out-of-domain test).

    Example: ``files, gold = replay_inputs(study_dir="runs/study")``.
    """
    if isinstance(trajectories, str):
        trajectories = [t for t in trajectories.split(",") if t.strip()]
    files = [Path(t.strip()) for t in trajectories]
    for f in files:
        if not f.is_file():
            raise DataError("trajectory file not found", file=str(f))
    gold_path = Path(gold) if gold else default_gold()
    if gold and not gold_path.is_file():
        raise DataError("gold file not found", file=str(gold_path))
    if not files and study_dir:
        for method in methods or (REFERENCE, default_method("backbone")):
            found = sorted(Path(study_dir).glob(f"**/{method}-s*/eval/{benchmark}/trajectories.jsonl"))
            if found:
                files.append(found[0])
    if not files:
        root = data_root()
        shared = root / "alpha_umi_toolbench" / "test" / "out_of_domain.json" if root else None
        if gold_path is None and shared is not None and shared.is_file():
            gold_path = shared
        if gold_path is None:
            raise DataError("nothing to replay: no trajectories given, none in the study folder, no gold file",
                            field="trajectories")
        return [gold_path], None
    return files, gold_path


def _cmd(args: argparse.Namespace) -> int:
    path = export_replay_html(args.trajectories, args.out, gold=args.gold, limit=args.limit, title=args.title)
    print(f"replay page: {path} ({path.stat().st_size} bytes)")
    return 0


def voila_command(trajectories: Sequence[str], *, gold: str | None = None, port: int = 8866,
                  limit: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the replay widget as a Voila app on 127.0.0.1.

    Example: ``cmd, env = voila_command(["a/trajectories.jsonl"], port=8870); subprocess.Popen(cmd, env=env)``.
    """
    import importlib.resources
    import sys

    for f in trajectories:
        if not Path(f).is_file():
            raise DataError("trajectory file not found", file=str(f))
    notebook = importlib.resources.files("umi_lab") / "assets" / "replay_app.ipynb"
    env = {**os.environ, "UMI_LAB_REPLAY": ",".join(str(Path(f).resolve()) for f in trajectories),
           "UMI_LAB_REPLAY_GOLD": str(Path(gold).resolve()) if gold else "",
           "UMI_LAB_REPLAY_LIMIT": str(limit or 0)}
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--ServerApp.port_retries=0"]
    return cmd, env


def _cmd_app(args: argparse.Namespace) -> int:
    cmd, env = voila_command(args.trajectories, gold=args.gold, port=args.port, limit=args.limit)
    print(f"replay app: http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    os.execve(cmd[0], cmd, env)  # the server replaces this process, so stopping it stops the server
    return 0


def add_cli(subparsers) -> None:
    """Register ``replay-html`` and ``replay-app``."""
    from umi_lab.cli_types import positive_int

    a = subparsers.add_parser("replay-app", help="serve the filterable replay widget as a Voila app (127.0.0.1)")
    a.add_argument("--trajectories", nargs="+", default=[],
                   help="RecordedTrajectory JSONL files (default: the gold dialogues alone)")
    a.add_argument("--gold", help="gold dialogues (default: data/toolworld/test_in_domain.json)")
    a.add_argument("--port", type=positive_int, default=8866)
    a.add_argument("--limit", type=positive_int, help="at most this many tasks")
    a.set_defaults(func=_cmd_app)
    p = subparsers.add_parser("replay-html", help="standalone HTML replay of recorded trajectories or dialogues")
    p.add_argument("--trajectories", nargs="+", required=True,
                   help="RecordedTrajectory JSONL or dialogue JSON/JSONL; several files are shown side by side")
    p.add_argument("--gold", help="gold dialogues (e.g. data/toolworld/test_in_domain.json)")
    p.add_argument("--out", required=True, help="output HTML page")
    p.add_argument("--limit", type=positive_int, help="at most this many tasks")
    p.add_argument("--title", default="umi-lab trajectory replay")
    p.set_defaults(func=_cmd)
