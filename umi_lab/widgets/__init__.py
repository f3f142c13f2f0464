"""Notebook widgets: a trajectory replayer and a training panel (ipywidgets 8).

* ``tracks``          ``ReplayTrack``, ``load_tracks`` and task matching;
* ``render``          the replay's escaped HTML (also used by the standalone page, ``umi_lab.replay``);
* ``replayer``        ``TrajectoryReplayer``;
* ``training_panel``  ``TrainingPanel``: every training hyperparameter, a train button that starts a new
                      content-addressed run for changed values (and reuses an identical one), progress and a
                      live loss plot.

Example: ``from umi_lab.widgets import TrajectoryReplayer; TrajectoryReplayer("runs/x/eval/y/trajectories.jsonl")``.
"""

from umi_lab.widgets.render import (
    CSS,
    LONG_OBSERVATION,
    ROLE_COLOURS,
    ROLE_LABELS,
    esc,
    footer_html,
    render_step_html,
    render_tools_html,
    render_turn_html,
    render_view_html,
    turn_fragments,
)
from umi_lab.widgets.replayer import TrajectoryReplayer
from umi_lab.widgets.tracks import (
    ReplayTrack,
    group_by_task,
    load_tracks,
    split_call,
    task_key,
    trajectory_files,
)
from umi_lab.widgets.training_panel import PANEL_ROLES, TrainingPanel

__all__ = ["CSS", "LONG_OBSERVATION", "PANEL_ROLES", "ROLE_COLOURS", "ROLE_LABELS", "ReplayTrack", "TrainingPanel",
           "TrajectoryReplayer", "esc", "footer_html", "group_by_task", "load_tracks", "render_step_html",
           "render_tools_html", "render_turn_html", "render_view_html", "split_call", "task_key",
           "trajectory_files", "turn_fragments"]
