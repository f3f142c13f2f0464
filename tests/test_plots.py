import json

import matplotlib
import pandas as pd
import pytest

from umi_lab.errors import DataError
from umi_lab.plots import (
    STYLE_PATH,
    decision_counts,
    plot_decision_breakdown,
    plot_loss_curves,
    plot_metric_bars,
    plot_token_lengths,
    read_loss_history,
    token_lengths,
)
from umi_lab.protocol.dialogue import Dialogue, RecordedTrajectory
from umi_lab.tables import TIDY_COLUMNS


def _check_outputs(paths):
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    pdf = paths[0].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf or b"/Subtype /TrueType" in pdf   # Type 42 (TrueType) embedded
    assert b"/Subtype /Type3" not in pdf
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_style_file_embeds_truetype_and_backend_is_agg():
    style = STYLE_PATH.read_text()
    assert "pdf.fonttype: 42" in style and "ps.fonttype: 42" in style
    assert "figure.figsize: 3.3" in style
    assert matplotlib.get_backend().lower() == "agg"


def _capture(monkeypatch):
    import umi_lab.plots as plots

    figs = []
    real = plots.save_figure

    def keep(fig, stem):
        figs.append(fig)
        axes = [(ax.get_ylabel(), [t.get_text() for t in ax.get_xticklabels()],
                 [c.errorbar is not None for c in ax.containers if hasattr(c, "errorbar")]) for ax in fig.axes]
        figs[-1] = axes
        return real(fig, stem)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figs


def test_metric_bars(tmp_path, monkeypatch):
    figs = _capture(monkeypatch)
    rows = [(f"{m}-{s}", m, s, "toolworld_test", metric, 0.1 * (s + 1) + (0.2 if m == "alpha_umi" else 0))
            for m in ("single_llm", "alpha_umi") for s in range(3) for metric in ("plan_em", "hallu_rate", "avg_steps")]
    paths = plot_metric_bars(pd.DataFrame(rows, columns=TIDY_COLUMNS), tmp_path / "bars")
    _check_outputs(paths)
    (rate_label, rate_ticks, rate_err), (count_label, count_ticks, count_err) = figs[0]
    assert (rate_label, rate_ticks) == ("rate (%)", ["Plan ACC", "Hallu"])     # the step count has its own axis
    assert (count_label, count_ticks) == ("count per task", ["Steps"])
    assert rate_err == [True, True]                                           # 3 seeds: std error bars
    one_seed = [r for r in rows if r[2] == 0]
    plot_metric_bars(pd.DataFrame(one_seed, columns=TIDY_COLUMNS), tmp_path / "one")
    assert figs[1][0][2] == [False, False]                                    # no error bars from one seed
    with pytest.raises(DataError, match="no results for benchmark"):
        plot_metric_bars(pd.DataFrame(rows, columns=TIDY_COLUMNS), tmp_path / "x", benchmark="nope")


def test_metric_bars_use_item_cis(tmp_path, monkeypatch):
    from umi_lab.item_scores import ITEM_COLUMNS

    figs = _capture(monkeypatch)
    items = pd.DataFrame([(f"{m}-s0", m, 0, "b", "pass_rate", f"t{i}", float(i % (2 if m == "alpha_umi" else 3) == 0),
                           1.0, "") for m in ("alpha_umi", "single_llm") for i in range(12)], columns=ITEM_COLUMNS)
    _check_outputs(plot_metric_bars(None, tmp_path / "ci", items=items))
    assert figs[0] == [("rate (%)", ["Pass"], [True, True])]                  # one seed, but item CIs


def test_data_scaling_plot(tmp_path, monkeypatch):
    from umi_lab.plots import plot_data_scaling

    figs = _capture(monkeypatch)
    rows = [(f"{m}-f{f}-s{s}", m, s, "tw", "plan_em", 0.3 + f * (0.5 if m == "alpha_umi" else 0.3) + 0.01 * s, f)
            for m in ("alpha_umi", "single_llm") for f in (0.25, 0.5, 1.0) for s in (0, 1)]
    df = pd.DataFrame(rows, columns=[*TIDY_COLUMNS, "fraction"])
    _check_outputs(plot_data_scaling(df, tmp_path / "scaling", metric="plan_em"))
    assert figs[0][0][0] == "Plan ACC (%)"
    with pytest.raises(DataError, match="fraction"):
        plot_data_scaling(df.drop(columns="fraction"), tmp_path / "x", metric="plan_em")
    with pytest.raises(DataError, match="no 'rouge' results"):
        plot_data_scaling(df, tmp_path / "x", metric="rouge")


def test_loss_curves_from_run_dir(tmp_path):
    rows = [{"stage": stage, "role": role, "step": i, "epoch": i / 10, "loss": 4.0 / (i + 1), "learning_rate": 1e-3}
            for stage, roles in ((1, ["backbone"]), (2, ["planner", "caller", "summarizer"]))
            for role in roles for i in range(1, 11)]
    (tmp_path / "loss_history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    df = read_loss_history(tmp_path)
    assert len(df) == 40 and set(df["role"]) == {"backbone", "planner", "caller", "summarizer"}
    _check_outputs(plot_loss_curves(tmp_path, tmp_path / "plots" / "loss"))


def test_loss_history_errors_name_record_and_field(tmp_path):
    bad = tmp_path / "loss_history.jsonl"
    bad.write_text('{"stage": 1, "role": "backbone", "step": 1, "loss": 2.0}\n{"stage": 1, "role": "b", "step": 2}\n')
    with pytest.raises(DataError, match="record 1: field loss: missing"):
        read_loss_history(tmp_path)
    bad.write_text('{"stage": 1, "role": "backbone", "step": 1, "loss": "nan?"}\n')
    with pytest.raises(DataError, match="record 0: field loss"):
        read_loss_history(bad)


def _traj(method: str, decisions: list[str]) -> RecordedTrajectory:
    turns = [{"from": "user", "value": "q"}]
    for d in decisions:
        turns.append({"from": "assistant", "value": f"think {d}"})
    dialogue = Dialogue.from_dict({"tools": [], "instruction": "q", "conversations": turns})
    return RecordedTrajectory("t0", method, dialogue, [], "conclusion")


def test_decision_breakdown_counts_and_plot(tmp_path):
    counts = decision_counts({
        "alpha_umi": [_traj("alpha_umi", ["Next: caller.", "Next: caller.", "Next: conclusion."])],
        "single_llm": [_traj("single_llm", ["Next: caller.", "garbage", "Next: give up."]),
                       _traj("single_llm", ["Next: conclusion."])],
    })
    table = counts.set_index(["method", "decision"])["count"].to_dict()
    assert table[("alpha_umi", "caller")] == 2 and table[("alpha_umi", "conclusion")] == 1
    assert table[("single_llm", "invalid")] == 1 and table[("single_llm", "give up")] == 1
    assert counts.groupby("method")["fraction"].sum().round(9).tolist() == [1.0, 1.0]
    _check_outputs(plot_decision_breakdown(counts, tmp_path / "decisions"))


def test_token_lengths_on_official_role_files(shared_data, tmp_path):
    from umi_lab.io import read_records

    class WordTokenizer:  # whitespace "tokenizer": lengths are checkable by hand
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": text.split()}

    folder = shared_data / "alpha_umi_toolbench/train-example"
    samples = {r: read_records(folder / f"train_{r}.json") for r in ("planner", "caller", "summarizer")}
    df = token_lengths(samples, WordTokenizer())
    assert df.groupby("role").size().to_dict() == {r: len(s) for r, s in samples.items()}
    first = samples["planner"][0]
    assert df.iloc[0]["target_tokens"] == len(first["target"].split())
    assert (df["total_tokens"] == df["prompt_tokens"] + df["target_tokens"]).all()
    _check_outputs(plot_token_lengths(df, tmp_path / "lengths", max_length=1024))
    with pytest.raises(DataError, match="needs 'input' and 'target'"):
        token_lengths({"planner": [{"input": "x"}]}, WordTokenizer())
