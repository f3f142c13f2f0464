"""Notebook widgets: a trajectory replayer and a training panel (ipywidgets 8).

The replayer steps through an agent conversation turn by turn. All rendering is done by pure
functions (``render_turn_html``, ``render_step_html``, ``render_view_html``) that return HTML strings
with every piece of agent or data text escaped, so the same code serves the widget, the standalone
HTML export (``umi_lab.replay``) and browser-free tests.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from umi_lab.errors import DataError
from umi_lab.io import read_records
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory, StepRecord, Tool, Turn
from umi_lab.protocol.grammar import INVALID_ACTS_AS, Decision, parse_call, parse_decision
from umi_lab.protocol.records import TurnInfo, align_steps, turn_infos
from umi_lab.replay_filter import ANY, filter_options, matches, task_facets

ROLE_COLOURS = {"user": "#4b5563", "assistant": "#1d4ed8", "caller": "#b45309", "observation": "#047857",
                "conclusion": "#7c3aed"}
ROLE_LABELS = {"user": "user", "assistant": "planner", "caller": "caller", "observation": "observation",
               "conclusion": "summarizer: final answer"}
LONG_OBSERVATION = 300
CSS = """
.umi-view{display:flex;gap:10px;align-items:flex-start;font-family:sans-serif;font-size:13px}
.umi-col{flex:1;min-width:0;border:1px solid #ddd;border-radius:6px;padding:6px}
.umi-col h4{margin:2px 0 6px 0}
.umi-tools code{word-break:break-all}
.umi-tools{flex:0 0 24%;max-height:520px;overflow:auto;border:1px solid #ddd;border-radius:6px;padding:6px}
.umi-turn{border-left:4px solid var(--c);padding:3px 6px;margin:4px 0;background:#fafafa}
.umi-turn.current{background:#fff7d6}
.umi-role{font-weight:bold;color:var(--c);font-size:11px;text-transform:uppercase}
.umi-turn pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px}
.umi-badge{display:inline-block;border-radius:3px;padding:0 4px;font-size:11px;margin-left:4px;background:#e5e7eb}
.umi-ok{background:#d1fae5}.umi-bad{background:#fee2e2}
.umi-meta{color:#6b7280;font-size:11px}
"""


def esc(text: Any) -> str:
    """HTML-escape any value (quotes too): ``esc("<b>")`` → ``'&lt;b&gt;'``."""
    return html.escape(str(text), quote=True)


@dataclass
class ReplayTrack:
    """One conversation to replay: a method's recorded run or a gold dialogue."""

    label: str
    task_id: str
    dialogue: Dialogue
    steps: list[StepRecord] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None  # the run's own error (outcome ``error``), from ``meta["error"]``

    @classmethod
    def from_trajectory(cls, t: RecordedTrajectory) -> ReplayTrack:
        error = t.meta.get("error") if isinstance(t.meta, dict) else None
        return cls(t.method, str(t.task_id), t.dialogue, list(t.steps), t.outcome, error)

    @classmethod
    def from_dialogue(cls, d: Dialogue, *, label: str = "gold", index: int = 0) -> ReplayTrack:
        return cls(label, task_key(d, index), d)


def task_key(d: Dialogue, index: int) -> str:
    """The id used to match a dialogue with trajectories: its ``id``/``task_id``/``query_id`` or ``#index``."""
    for key in ("id", "task_id", "query_id"):
        if d.extra.get(key) is not None:
            return str(d.extra[key])
    return f"#{index}"


def load_tracks(source: str | os.PathLike | Iterable[Any], *, label: str | None = None) -> list[ReplayTrack]:
    """Turn recorded trajectories or plain dialogues (objects, dicts or a JSON/JSONL file) into tracks.

    Example: ``load_tracks("data/toolworld/test_in_domain.json", label="gold")``.
    """
    file = None
    if isinstance(source, (str, os.PathLike)):
        file = str(source)
        source = read_records(source)
    tracks = []
    for i, item in enumerate(source):
        if isinstance(item, dict):
            item = (RecordedTrajectory.from_dict(item, file=file, record=i) if "dialogue" in item
                    else Dialogue.from_dict(item, file=file, record=i))
        if isinstance(item, RecordedTrajectory):
            track = ReplayTrack.from_trajectory(item)
        elif isinstance(item, Dialogue):
            track = ReplayTrack.from_dialogue(item, label=label or "gold", index=i)
        elif isinstance(item, ReplayTrack):
            track = item
        else:
            raise DataError(f"cannot replay a {type(item).__name__}", file=file, record=i)
        if label:
            track.label = label
        tracks.append(track)
    return tracks


def split_call(value: str) -> tuple[str | None, str]:
    """A caller value's (tool name, arguments text) by the protocol grammar; ``(None, value)`` when it holds
    no call. Example: ``split_call("Action: f\\nAction Input: {}")`` → ``('f', '{}')``."""
    p = parse_call(value)
    return (p.tool, p.arguments) if p.tool is not None else (None, value)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return text


def _align_steps(track: ReplayTrack) -> list[StepRecord | None]:
    """Pair each turn with the model call that produced it (``umi_lab.protocol.records.align_steps``)."""
    return align_steps(track.dialogue, track.steps)


def _infos(track: ReplayTrack) -> list[TurnInfo]:
    return turn_infos(track.dialogue, track.steps)


def _gold_marks(track: ReplayTrack, gold: ReplayTrack | None, infos: list[TurnInfo] | None = None) -> list[str]:
    """Per turn: an HTML badge comparing the n-th recorded decision / call with the gold dialogue's
    (an ``invalid`` decision never equals gold)."""
    marks = [""] * len(track.dialogue.conversations)
    if gold is None:
        return marks
    gold_infos = _infos(gold)
    gold_turns = gold.dialogue.conversations
    gold_decisions = [i.decision for t, i in zip(gold_turns, gold_infos) if t.role == "assistant"]
    gold_calls = [i.tool for t, i in zip(gold_turns, gold_infos) if t.role == "caller"]
    n_dec = n_call = 0
    for i, (turn, info) in enumerate(zip(track.dialogue.conversations, infos or _infos(track))):
        if turn.role == "assistant":
            ref = gold_decisions[n_dec] if n_dec < len(gold_decisions) else None
            mine = info.decision
            n_dec += 1
        elif turn.role == "caller":
            ref = gold_calls[n_call] if n_call < len(gold_calls) else None
            mine = info.tool
            n_call += 1
        else:
            continue
        shown = ref.label if isinstance(ref, Decision) else ref
        if ref is None:
            marks[i] = '<span class="umi-badge umi-bad">gold: (none)</span>'
        elif ref == mine and mine is not Decision.INVALID:
            marks[i] = '<span class="umi-badge umi-ok">= gold</span>'
        else:
            marks[i] = f'<span class="umi-badge umi-bad">gold: {esc(shown)}</span>'
    return marks


def render_turn_html(turn: Turn, *, step: StepRecord | None = None, mark: str = "", current: bool = False,
                     info: TurnInfo | None = None) -> str:
    """One turn as escaped HTML: role in its colour, rationale, call with pretty arguments, observation
    (inside ``<details>`` when long) or final answer. Decisions and calls are the recorded ones (``info``,
    from ``umi_lab.protocol.records.turn_infos``; computed from ``step`` or the turn when not given).

    Example: ``render_turn_html(Turn("caller", "Action: f\\nAction Input: {\\"x\\": 1}"))``.
    """
    colour = ROLE_COLOURS.get(turn.role, "#111827")
    label = ROLE_LABELS.get(turn.role, turn.role)
    body: list[str] = []
    if info is None:
        info = turn_infos(Dialogue([], "", [turn]), [step] if step is not None else [])[0]
    if turn.role == "assistant":
        decision = info.decision
        rationale = parse_decision(turn.value).thought if decision is not None else turn.value
        body.append(f'<div class="umi-rationale"><pre>{esc(rationale)}</pre></div>')
        badge = ("no decision" if decision is None else
                 f"invalid (acted as {INVALID_ACTS_AS.label})" if decision is Decision.INVALID else f"Next: {decision.label}")
        body.append(f'<span class="umi-badge umi-decision">{esc(badge)}</span>')
    elif turn.role == "caller":
        if info.tool is None:
            body.append(f'<div class="umi-call">unparsed call:<pre>{esc(turn.value)}</pre></div>')
        else:
            body.append(f'<div class="umi-call">call <code class="umi-tool">{esc(info.tool)}</code>'
                        f'<pre class="umi-args">{esc(_pretty(info.arguments or "{}"))}</pre></div>')
    elif turn.role == "observation":
        text = _pretty(turn.value)
        if len(text) > LONG_OBSERVATION:
            body.append(f"<details><summary>{esc(text[:80])}… ({len(text)} characters)</summary>"
                        f"<pre>{esc(text)}</pre></details>")
        else:
            body.append(f"<pre>{esc(text)}</pre>")
    elif turn.role == "conclusion":
        body.append(f'<div class="umi-answer"><pre>{esc(turn.value)}</pre></div>')
    else:
        body.append(f"<pre>{esc(turn.value)}</pre>")
    meta = ""
    if step is not None:
        meta = (f'<div class="umi-meta">{esc(step.role)}: {step.prompt_tokens} prompt / {step.generated_tokens} '
                f"generated tokens, {step.latency_s:.2f} s")
        if step.error:
            meta += f' <span class="umi-badge umi-bad">error: {esc(step.error)}</span>'
        meta += "</div>"
    cls = "umi-turn current" if current else "umi-turn"
    return (f'<div class="{cls}" data-role="{esc(turn.role)}" style="--c:{colour}">'
            f'<span class="umi-role">{esc(label)}</span>{mark}{"".join(body)}{meta}</div>')


def turn_fragments(track: ReplayTrack, gold: ReplayTrack | None = None) -> list[str]:
    """Every turn of a track rendered once (not marked current), for cumulative display."""
    steps, infos = _align_steps(track), _infos(track)
    marks = _gold_marks(track, gold, infos)
    return [render_turn_html(t, step=s, mark=m, info=i)
            for t, s, m, i in zip(track.dialogue.conversations, steps, marks, infos)]


def render_step_html(track: ReplayTrack, step: int, *, gold: ReplayTrack | None = None) -> str:
    """One column: the conversation up to turn ``step`` (clamped), the newest turn highlighted, and the
    outcome once finished. Example: ``render_step_html(load_tracks("t.jsonl")[0], 3)``.
    """
    turns = track.dialogue.conversations
    n = len(turns)
    k = max(0, min(step, n - 1))
    steps, infos = _align_steps(track), _infos(track)
    marks = _gold_marks(track, gold, infos)
    parts = [render_turn_html(turns[i], step=steps[i], mark=marks[i], current=(i == k and step < n), info=infos[i])
             for i in range(min(k + 1, n))]
    title = f"{esc(track.label)} <span class=\"umi-meta\">task {esc(track.task_id)} · turn {min(step, n - 1) + 1}/{n}</span>"
    return (f'<div class="umi-col" data-label="{esc(track.label)}"><h4>{title}</h4>'
            f'{"".join(parts)}{footer_html(track) if step >= n - 1 else ""}</div>')


def footer_html(track: ReplayTrack) -> str:
    """The end-of-run line: outcome and number of model calls with errors."""
    if track.outcome is None:
        return '<div class="umi-meta">end of dialogue</div>'
    errors = sum(1 for s in track.steps if s.error)
    return (f'<div class="umi-meta">outcome: <b>{esc(track.outcome)}</b>, {len(track.steps)} model calls, '
            f"{errors} with errors</div>")


def render_tools_html(tools: Sequence[Tool]) -> str:
    """The task's tool documentation (name, description, parameters), escaped."""
    items = []
    for t in tools:
        params = "".join(f"<li><code>{esc(k)}</code>: {esc(v)}</li>" for k, v in t.input.items())
        items.append(f"<div class=\"umi-tooldoc\"><code>{esc(t.Name)}</code><div>{esc(t.function)}</div>"
                     f"<ul>{params}</ul></div>")
    return f'<div class="umi-tools"><h4>tools ({len(tools)})</h4>{"".join(items) or "none"}</div>'


def render_view_html(tracks: Sequence[ReplayTrack], step: int, *, gold: ReplayTrack | None = None,
                     with_css: bool = True) -> str:
    """The whole step view: tool docs beside one column per track (methods side by side) plus gold.

    Example: ``render_view_html([alpha_track, single_track], 2, gold=gold_track)``.
    """
    if not tracks:
        raise DataError("nothing to replay", field="trajectories")
    cols = [render_step_html(t, step, gold=gold) for t in tracks]
    if gold is not None:
        cols.append(render_step_html(gold, step))
    head = f"<style>{CSS}</style>" if with_css else ""
    instruction = esc(tracks[0].dialogue.instruction)
    return (f'{head}<div class="umi-task"><b>task:</b> {instruction}</div>'
            f'<div class="umi-view">{render_tools_html(tracks[0].dialogue.tools)}{"".join(cols)}</div>')


def group_by_task(*sources: Sequence[ReplayTrack]) -> dict[str, list[ReplayTrack | None]]:
    """Match tracks of several sources by task id (order of the first source)."""
    index = [{t.task_id: t for t in src} for src in sources]
    order = list(dict.fromkeys(t.task_id for src in sources[:1] for t in src))
    return {tid: [idx.get(tid) for idx in index] for tid in order}


class TrajectoryReplayer(widgets.VBox):
    """Replay recorded trajectories step by step, optionally beside another method and the gold path.

    Example: ``TrajectoryReplayer("runs/a/eval/toolworld-realtime/trajectories.jsonl", gold=gold_file)``.
    Widgets: filters (outcome, error type, role that erred; ``umi_lab.replay_filter``), task dropdown, play
    (``widgets.Play``), pause, previous/next buttons, step slider, HTML view.
    """

    def __init__(self, trajectories, gold=None, compare=None, *, interval_ms: int = 900):
        self.main = load_tracks(trajectories)
        if not self.main:
            raise DataError("no trajectories to replay", field="trajectories")
        self.compare = load_tracks(compare) if compare is not None else []
        self.gold = load_tracks(gold, label="gold") if gold is not None else []
        self.tasks = group_by_task(self.main, self.compare, self.gold)
        self.task = widgets.Dropdown(options=list(self.tasks), description="task")
        self.facets = {tid: task_facets(tracks[:-1]) for tid, tracks in self.tasks.items()}
        choices = filter_options(list(self.facets.values()))
        self.filters = {name: widgets.Dropdown(options=choices[name], value=ANY, description=desc)
                        for name, desc in (("outcome", "outcome"), ("error", "error type"), ("role", "erring role"))}
        self.shown = widgets.HTML()
        self.play = widgets.Play(min=0, max=1, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(min=0, max=1, description="step", continuous_update=True)
        self.prev_button = widgets.Button(description="◀ previous", layout=widgets.Layout(width="110px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="110px"))
        self.pause_button = widgets.Button(description="❚❚ pause", layout=widgets.Layout(width="90px"))
        self.view = widgets.HTML()
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.prev_button.on_click(lambda _: self.go(self.slider.value - 1))
        self.next_button.on_click(lambda _: self.go(self.slider.value + 1))
        self.pause_button.on_click(lambda _: self.pause())
        self.slider.observe(lambda _: self.refresh(), names="value")
        self.task.observe(lambda _: self._load_task(), names="value")
        for name, w in self.filters.items():
            w.observe(lambda _: self.apply_filter(), names="value")
            w.add_class(f"umi-filter-{name}")
        for w, cls in ((self.prev_button, "umi-prev"), (self.task, "umi-task"), (self.shown, "umi-shown"), (self.next_button, "umi-next"), (self.view, "umi-replay-view"),
                       (self.play, "umi-play"), (self.pause_button, "umi-pause"), (self.slider, "umi-slider")):
            w.add_class(cls)
        controls = widgets.HBox([self.play, self.pause_button, self.prev_button, self.next_button, self.slider])
        super().__init__([widgets.HBox([*self.filters.values(), self.shown]), self.task, controls, self.view])
        self.apply_filter()

    def apply_filter(self) -> list[str]:
        """Show only the tasks that pass the outcome / error type / role filters; returns their ids."""
        f = {name: w.value for name, w in self.filters.items()}
        keep = [tid for tid, facets in self.facets.items()
                if matches(facets, outcome=f["outcome"], kind=f["error"], role=f["role"])]
        self.shown.value = esc(f"{len(keep)} of {len(self.tasks)} tasks")
        self.task.options = keep
        if keep and self.task.value not in keep:
            self.task.value = keep[0]
        self._load_task()
        return keep

    def _tracks(self) -> tuple[list[ReplayTrack], ReplayTrack | None]:
        main, comp, gold = self.tasks[self.task.value]
        return [t for t in (main, comp) if t is not None], gold

    def _load_task(self) -> None:
        if self.task.value is None:
            self.view.value = '<div class="umi-meta">no task matches the filters</div>'
            return
        tracks, gold = self._tracks()
        n = max(len(t.dialogue.conversations) for t in [*tracks, *([gold] if gold else [])])
        self.play.playing = False
        self.slider.value = 0
        self.slider.max = self.play.max = max(n - 1, 0)
        self.refresh()

    def refresh(self) -> None:
        """Re-render the view for the current task and step."""
        if self.task.value is None:
            return
        tracks, gold = self._tracks()
        self.view.value = render_view_html(tracks, self.slider.value, gold=gold)

    def go(self, step: int) -> None:
        """Jump to a step (clamped to the valid range)."""
        self.slider.value = max(self.slider.min, min(self.slider.max, step))

    def pause(self) -> None:
        self.play.playing = False


# ---------------------------------------------------------------------------------------------- training

PANEL_ROLES = ("backbone", "planner", "caller", "summarizer", "multitask")


def _progress_callback(panel: TrainingPanel):
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            panel.progress.max = max(int(state.max_steps or 1), 1)
            panel.progress.value = min(int(state.global_step), panel.progress.max)

    return _Progress()


class TrainingPanel(widgets.VBox):
    """Widgets for model, method, init, seed, per-role learning rates and epochs, LoRA rank/alpha, training-set
    size (dialogues drawn, 0 = all), prompt style (compact tool docs, chat template), smoke mode;
    ``build_config()`` turns them into a validated ``GLPFTConfig``; *train* starts ``umi_lab.training.train``
    with a live loss plot and a progress bar.

    Example: ``panel = TrainingPanel(data="runs/study/data/roles", out="runs/panel"); panel``.
    """

    def __init__(self, base_config=None, *, data: str = "", out: str = "runs/panel", model: str = "tiny",
                 schedule: str = "tiny"):
        from umi_lab.backbone import MODEL_NAMES
        from umi_lab.training_config import INITS, METHODS, GLPFTConfig

        self.base_config = base_config if base_config is not None else GLPFTConfig(data=data, out=out, model=model,
                                                                                 schedule=schedule)
        cfg = self.base_config
        sched = cfg.resolved_schedule()
        style = {"description_width": "initial"}
        self.model = widgets.Combobox(value=str(cfg.model), options=list(MODEL_NAMES), description="model",
                                      placeholder="tiny, smollm2-135m, a folder or hub id", ensure_option=False)
        self.method = widgets.Dropdown(options=list(METHODS), value=cfg.method, description="method")
        self.init = widgets.Dropdown(options=list(INITS), value=cfg.init, description="stage-2 init")
        self.seed = widgets.IntText(value=cfg.seed, description="seed")
        self.learning_rates = {r: widgets.FloatText(value=getattr(sched, r).learning_rate, description=f"lr {r}",
                                                    style=style) for r in PANEL_ROLES}
        self.epochs = {r: widgets.FloatText(value=float(getattr(sched, r).num_train_epochs), description=f"epochs {r}",
                                            style=style) for r in PANEL_ROLES}
        self.lora_r = widgets.IntSlider(value=cfg.lora.r, min=1, max=128, description="LoRA rank")
        self.lora_alpha = widgets.IntText(value=cfg.lora.alpha, description="LoRA alpha")
        self.max_dialogues = widgets.IntText(value=cfg.max_dialogues or 0, description="dialogues (0 = all)",
                                             style=style)
        self.compact_docs = widgets.Checkbox(value=cfg.prompt_style.compact_docs, description="compact tool docs")
        self.chat_template = widgets.Checkbox(value=cfg.prompt_style.chat_template, description="chat template")
        self.smoke = widgets.Checkbox(value=cfg.smoke, description="smoke (3 steps per role)")
        self.data = widgets.Text(value=str(cfg.data), description="data")
        self.out = widgets.Text(value=str(cfg.out), description="run dir")
        self.train_button = widgets.Button(description="train", button_style="primary")
        self.progress = widgets.IntProgress(min=0, max=1, value=0, description="steps")
        self.status = widgets.HTML("idle")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="620px"))
        self.train_button.on_click(lambda _: self.start())
        self.losses: list[dict[str, Any]] = []
        self.result: Path | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        grid = widgets.GridBox([*self.learning_rates.values(), *self.epochs.values()],
                               layout=widgets.Layout(grid_template_columns="repeat(5, 1fr)"))
        super().__init__([widgets.HBox([self.model, self.method, self.init, self.seed]), grid,
                          widgets.HBox([self.lora_r, self.lora_alpha, self.max_dialogues]),
                          widgets.HBox([self.compact_docs, self.chat_template, self.smoke]),
                          widgets.HBox([self.data, self.out]),
                          widgets.HBox([self.train_button, self.progress, self.status]), self.plot])

    def build_config(self):
        """A new validated ``GLPFTConfig`` from the widgets (the base config stays unchanged)."""
        overrides = {role: dict(changes) for role, changes in self.base_config.schedule_overrides.items()}
        for role in PANEL_ROLES:
            overrides.setdefault(role, {}).update(learning_rate=float(self.learning_rates[role].value),
                                                  num_train_epochs=float(self.epochs[role].value))
        lora = dataclasses.replace(self.base_config.lora, r=int(self.lora_r.value), alpha=int(self.lora_alpha.value))
        style = dataclasses.replace(self.base_config.prompt_style, compact_docs=bool(self.compact_docs.value),
                                    chat_template=bool(self.chat_template.value))
        return dataclasses.replace(self.base_config, model=self.model.value.strip(), method=self.method.value,
                                   init=self.init.value, seed=int(self.seed.value), lora=lora,
                                   schedule_overrides=overrides, max_dialogues=int(self.max_dialogues.value) or None,
                                   prompt_style=style, smoke=bool(self.smoke.value), data=self.data.value,
                                   out=self.out.value)

    def _on_log(self, row: dict[str, Any]) -> None:
        self.losses.append(row)
        self.status.value = esc(f"stage {row.get('stage')} {row.get('role')} step {row.get('step')}: "
                                f"loss {row['loss']:.4f}")
        self.draw()

    def draw(self) -> None:
        """Redraw the loss plot from ``self.losses`` (one line per stage/role) into the PNG image widget.

        Rendering to bytes (not into an Output context) keeps it safe from the training thread."""
        import io

        import matplotlib.pyplot as plt

        from umi_lab.plots import paper_style

        with paper_style():
            fig, ax = plt.subplots(figsize=(4.5, 2.2))
            keys = list(dict.fromkeys((r.get("stage"), r.get("role")) for r in self.losses))
            for stage, role in keys:
                rows = [r for r in self.losses if (r.get("stage"), r.get("role")) == (stage, role)]
                ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label=f"stage {stage}: {role}",
                        marker="o" if len(rows) < 5 else None, ms=2)
            ax.set_xlabel("step")
            ax.set_ylabel("training loss")
            if keys:
                ax.legend()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            plt.close(fig)
        self.plot.value = buf.getvalue()

    def start(self, *, background: bool = True):
        """Train with the current values: in a thread (returns it) or, with ``background=False``, inline
        (returns the run directory). Errors are shown in the panel and kept in ``self.error``."""
        from umi_lab.training import LossRecorder, train

        self.losses.clear()
        self.error = None
        try:
            config = self.build_config()
        except DataError as e:
            self.status.value = f'<span style="color:#b91c1c">invalid: {esc(e)}</span>'
            self.error = e
            return None
        self.status.value = "training…"
        callbacks = [LossRecorder(hook=self._on_log), _progress_callback(self)]

        def work():
            try:
                self.result = train(config, callbacks=callbacks, progress=False)
                self.status.value = esc(f"done: {self.result}")
            except Exception as e:  # shown in the panel; the run directory records status=failed
                self.error = e
                self.status.value = f'<span style="color:#b91c1c">failed: {esc(e)}</span>'

        if not background:
            work()
            if self.error is not None:
                raise self.error
            return self.result
        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
        return self._thread


def trajectory_files(run_dir: str | os.PathLike) -> list[Path]:
    """All recorded-trajectory files of a run: ``RUN/eval/*/trajectories.jsonl``."""
    return sorted(Path(run_dir).glob("eval/*/trajectories.jsonl"))
