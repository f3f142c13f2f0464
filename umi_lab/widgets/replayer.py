"""``TrajectoryReplayer``: an ipywidgets (8) player for recorded trajectories, beside another method and gold."""

from __future__ import annotations

import ipywidgets as widgets

from umi_lab.errors import DataError
from umi_lab.replay_filter import ANY, filter_options, matches, task_facets
from umi_lab.widgets.render import esc, render_view_html
from umi_lab.widgets.tracks import ReplayTrack, group_by_task, load_tracks


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


