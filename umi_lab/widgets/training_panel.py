"""``TrainingPanel``: every training hyperparameter as a widget, and a *train* button.

Runs are content-addressed (``umi_lab.rundir``): pressing *train* after changing any value starts a new run in
its own folder; pressing it again with the same values reuses the finished run and says so. Each press first
clears the loss plot and resets the progress bar, then shows the run's own progress and live loss.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from umi_lab.errors import DataError
from umi_lab.widgets.render import esc

PANEL_ROLES = ("backbone", "planner", "caller", "summarizer", "multitask")
_RED = '<span style="color:#b91c1c">{}</span>'


def _progress_callback(panel: TrainingPanel):
    """A ``TrainerCallback`` feeding the panel's bar: one pass of the bar per trained role."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            panel.began += 1
            panel.progress.max = max(int(state.max_steps or 1), 1)
            panel.progress.value = min(int(state.global_step), panel.progress.max)
            panel.progress.description = str(getattr(args, "role", None) or "steps")

        def on_step_end(self, args, state, control, **kwargs):
            panel.progress.max = max(int(state.max_steps or 1), 1)
            panel.progress.value = min(int(state.global_step), panel.progress.max)

    return _Progress()


class TrainingPanel(widgets.VBox):
    """Widgets for model, method, init, seed, per-role learning rates and epochs, LoRA rank/alpha, training-set
    size (dialogues drawn, 0 = all), prompt style (compact tool docs, chat template), smoke mode;
    ``build_config()`` turns them into a validated ``GLPFTConfig``; *train* (``start()``) runs
    ``umi_lab.training.train`` and shows the run folder it trained (or reused), a progress bar and a live loss
    plot. Errors are shown in the panel (and kept in ``error``).

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
        self.run_label = widgets.HTML("")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="620px"))
        self.train_button.on_click(lambda _: self.start())
        self.losses: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self.began = 0
        self.reused = False
        self.result: Path | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        grid = widgets.GridBox([*self.learning_rates.values(), *self.epochs.values()],
                               layout=widgets.Layout(grid_template_columns="repeat(5, 1fr)"))
        super().__init__([widgets.HBox([self.model, self.method, self.init, self.seed]), grid,
                          widgets.HBox([self.lora_r, self.lora_alpha, self.max_dialogues]),
                          widgets.HBox([self.compact_docs, self.chat_template, self.smoke]),
                          widgets.HBox([self.data, self.out]),
                          widgets.HBox([self.train_button, self.progress, self.status]), self.run_label, self.plot])

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

    def _say(self, message: str) -> None:
        self.messages.append(message)
        self.run_label.value = "<br>".join(f'<span class="umi-meta">{esc(m)}</span>' for m in self.messages[-4:])

    def reset(self) -> None:
        """Clear what the previous press showed: losses and plot, messages, run folder, progress bar."""
        self.losses.clear()
        self.messages.clear()
        self.began = 0
        self.reused = False
        self.result = None
        self.error = None
        self.plot.value = b""
        self.run_label.value = ""
        self.progress.bar_style = ""
        self.progress.description = "steps"
        self.progress.value = 0
        self.progress.max = 1

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

    def _finish(self, run_dir: Path) -> None:
        """Show the finished (or reused) run: its folder, a full bar and, when reused, its recorded losses."""
        from umi_lab.rundir import RunDir

        self.result = Path(run_dir)
        self.reused = self.began == 0           # no trainer started: the run was already done
        if self.reused:
            self.losses[:] = RunDir(run_dir).loss_history()[0]
            if self.losses:
                self.draw()
        self.progress.max = max(self.progress.max, 1)
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        what = "reused (same configuration, already trained)" if self.reused else "trained"
        self.status.value = esc(f"done: {what}")
        self._say(f"run folder: {self.result}")

    def start(self, *, background: bool = True):
        """Train with the current values: in a thread (returns it) or, with ``background=False``, inline
        (returns the run directory, raising what failed). A changed value means a new run folder; the same
        values reuse the finished run. Errors are shown in the panel and kept in ``self.error``.

        Example: ``panel.learning_rates["planner"].value = 1e-4; run = panel.start(background=False)``.
        """
        from umi_lab.training import LossRecorder, train

        if self._thread is not None and self._thread.is_alive():  # one run at a time: its bar and plot stay its own
            self.status.value = esc("busy: a run is still training; press train when it has finished")
            return None
        self.reset()
        try:
            config = self.build_config()
        except DataError as e:
            self.status.value = _RED.format(f"invalid: {esc(e)}")
            self.error = e
            return None
        self.status.value = "training…"
        callbacks = [LossRecorder(hook=self._on_log), _progress_callback(self)]

        def work():
            try:
                self._finish(train(config, callbacks=callbacks, progress=False, say=self._say))
            except Exception as e:  # shown in the panel; the run directory records status=failed
                self.error = e
                self.progress.bar_style = "danger"
                self.status.value = _RED.format(f"failed: {esc(e)}")

        if not background:
            work()
            if self.error is not None:
                raise self.error
            return self.result
        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()
        return self._thread
