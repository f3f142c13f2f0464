"""Every value of the training panel reaches the SFTConfig / LoraConfig / model the trainer receives."""

import json
import threading

import pytest
from small_gguf import make_small_gguf

from umi_lab.io import write_json
from umi_lab.protocol.prompts import render_docs_compact, role_input

TOOLS = [{"Name": "convert_for_money", "function": 'This is the subfunction for tool "money", you can use this '
          'tool.The description of this function is: "Convert an amount."', "input": {"amount": "number, required"}}]


def _role_data(folder, n=6):
    targets = {"backbone": "I convert. Action: convert_for_money\nAction Input: {}", "planner": "I convert. Next: caller.",
               "caller": "Action: convert_for_money\nAction Input: {\"amount\": 5}", "summarizer": "It is 5."}
    hists = [f"user: convert {i} EUR</s>" for i in range(n)]  # one dialogue per row
    for role, target in targets.items():
        rows = [{"tools": TOOLS, "history": h, "input": role_input(role, TOOLS, h, thought="I convert."),
                 "target": f"{target} {i}"} for i, h in enumerate(hists)]
        write_json(folder / f"train_{role}.json", rows)
    return folder


class _FakeTrainer:
    """Stands in for trl.SFTTrainer: records what it was given, trains nothing."""

    seen: list = []

    def __init__(self, *, model, args, train_dataset, processing_class, callbacks):
        self.model = model
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        _FakeTrainer.seen.append({"args": args, "lora": model.peft_config["default"], "rows": len(train_dataset),
                                  "base": str(base.config._name_or_path), "first": train_dataset[0]["input_ids"],
                                  "tokenizer": processing_class})

    def train(self, resume_from_checkpoint=None):
        pass

    def add_callback(self, callback):
        pass

    def remove_callback(self, callback):
        pass

    def is_world_process_zero(self):
        return True

    def save_model(self, output_dir):
        self.model.save_pretrained(output_dir)


def test_every_panel_value_reaches_the_trainer(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    pytest.importorskip("gguf")
    import trl

    from umi_lab.models import convert_gguf
    from umi_lab.widgets import TrainingPanel

    model_dir = convert_gguf(make_small_gguf(tmp_path)[0], tmp_path / "small-model")
    data = _role_data(tmp_path / "data")
    monkeypatch.setattr(trl, "SFTTrainer", _FakeTrainer)  # the seam: training.train builds its trainer from trl
    _FakeTrainer.seen = []

    panel = TrainingPanel(data=str(data), out=str(tmp_path / "run"), model="tiny-test")
    panel.model.value = str(model_dir)
    panel.method.value = "alpha_umi"
    panel.init.value = "merge"
    panel.seed.value = 7
    lrs = {"backbone": 1.1e-3, "planner": 2.2e-4, "caller": 3.3e-4, "summarizer": 4.4e-4}
    epochs = {"backbone": 2.0, "planner": 3.0, "caller": 4.0, "summarizer": 5.0}
    for role in lrs:
        panel.learning_rates[role].value = lrs[role]
        panel.epochs[role].value = epochs[role]
    panel.lora_r.value = 3
    panel.lora_alpha.value = 11
    panel.max_dialogues.value = 4
    panel.compact_docs.value = True
    panel.chat_template.value = True
    run = panel.start(background=False)

    seen = {s["args"].role: s for s in _FakeTrainer.seen}
    assert list(seen) == ["backbone", "planner", "caller", "summarizer"]          # the method's plan
    for role, s in seen.items():
        args, lora = s["args"], s["lora"]
        assert args.learning_rate == pytest.approx(lrs[role]) and args.num_train_epochs == epochs[role]
        assert (args.seed, args.data_seed) == (7, 7)
        assert (lora.r, lora.lora_alpha) == (3, 11)
        assert s["rows"] == 4                                                      # training-set size
    assert seen["backbone"]["base"] == str(model_dir)                              # the model
    assert seen["planner"]["base"].endswith("base")                                # merge init: stage 1 merged
    tok = seen["caller"]["tokenizer"]
    first = tok.decode(seen["caller"]["first"])
    assert first.startswith("<|im_start|>user\n")                                  # chat template
    assert render_docs_compact(TOOLS).strip() in first                             # compact docs
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["prompt_style"] == {"system_prefix": True, "compact_docs": True, "chat_template": True,
                                   "space_to_target": False}

    _FakeTrainer.seen = []                                                         # back to the defaults
    panel.method.value, panel.init.value, panel.max_dialogues.value = "single_llm", "copy", 0
    panel.model.value, panel.chat_template.value = "tiny-test", False
    panel.out.value = str(tmp_path / "run2")
    panel.start(background=False)
    (only,) = _FakeTrainer.seen
    assert only["args"].role == "backbone" and only["rows"] == 6
    assert "system: " in only["tokenizer"].decode(only["first"])


class _SteppingTrainer(_FakeTrainer):
    """A fake trainer that drives its callbacks through two logged steps, as ``SFTTrainer`` would."""

    def __init__(self, *, callbacks, **kwargs):
        super().__init__(callbacks=callbacks, **kwargs)
        self.callbacks, self.args = callbacks, kwargs["args"]

    def train(self, resume_from_checkpoint=None):
        from transformers import TrainerControl, TrainerState

        state, control = TrainerState(max_steps=2), TrainerControl()
        for cb in self.callbacks:
            cb.on_train_begin(self.args, state, control)
        for step in (1, 2):
            state.global_step, state.epoch = step, step / 2
            for cb in self.callbacks:
                cb.on_step_end(self.args, state, control)
                cb.on_log(self.args, state, control, logs={"loss": 3.0 / step, "learning_rate": 1e-4})


def test_panel_trains_a_new_run_per_change_and_reuses_an_unchanged_one(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    import trl

    from umi_lab.widgets import TrainingPanel

    monkeypatch.setattr(trl, "SFTTrainer", _SteppingTrainer)
    _FakeTrainer.seen = []
    panel = TrainingPanel(data=str(_role_data(tmp_path / "data")), out=str(tmp_path / "run"), model="tiny-test")
    panel.method.value = "single_llm"
    seen_plots, seen_bars = [], []
    panel.plot.observe(lambda change: seen_plots.append(change["new"]), names="value")
    panel.progress.observe(lambda change: seen_bars.append(change["new"]), names="value")

    first = panel.start(background=False)
    assert (first / "adapters" / "backbone").is_dir() and not panel.reused
    assert (panel.progress.value, panel.progress.max, panel.progress.bar_style) == (2, 2, "success")  # 100 %
    assert [r["loss"] for r in panel.losses] == [3.0, 1.5] and panel.plot.value[:4] == b"\x89PNG"
    assert str(first) in panel.run_label.value and "trained" in panel.status.value

    _FakeTrainer.seen = []                                             # unchanged values: reused, said
    assert panel.start(background=False) == first and panel.reused and _FakeTrainer.seen == []
    assert "reused" in panel.status.value and panel.progress.value == panel.progress.max
    assert len(panel.losses) == 2                                      # the reused run's own losses

    panel.learning_rates["backbone"].value = 7e-4                      # a change: a new run, a fresh plot
    seen_plots.clear()
    seen_bars.clear()
    second = panel.start(background=False)
    assert second != first and second.parent == first.parent and second.name.startswith(f"{first.name}-")
    assert seen_plots[0] == b"" and seen_bars[0] == 0                  # old plot cleared, bar reset first
    (only,) = _FakeTrainer.seen
    assert only["args"].learning_rate == pytest.approx(7e-4)
    assert [r["loss"] for r in panel.losses] == [3.0, 1.5]             # this run's losses only
    assert (panel.progress.value, panel.progress.max) == (2, 2) and not panel.reused
    assert str(second) in panel.run_label.value
    assert json.loads((second / "config.json").read_text())["schedule_overrides"]["backbone"]["learning_rate"] == 7e-4

    release = threading.Event()                                        # a press while a run trains: refused
    panel._thread = threading.Thread(target=release.wait, daemon=True)
    panel._thread.start()
    assert panel.start(background=False) is None and "busy" in panel.status.value
    assert panel.result == second and panel.progress.value == 2       # the running run's display is kept
    release.set()
