import json

import pandas as pd
import pytest

from umi_lab.ablation import AblationConfig, EvalSpec, run_ablation, train_config
from umi_lab.errors import DataError
from umi_lab.io import write_json
from umi_lab.tables import (
    TIDY_COLUMNS,
    TableOptions,
    aggregate,
    latex_escape,
    load_tidy,
    to_latex,
    to_markdown,
    write_tables,
)


def _tidy() -> pd.DataFrame:
    rows = []
    values = {  # method -> metric -> per-seed values
        "alpha_umi": {"plan_em": (0.5, 0.6), "hallu_rate": (0.10, 0.05)},
        "single_llm": {"plan_em": (0.4, 0.3), "hallu_rate": (0.20, 0.10)},
    }
    for method, metrics in values.items():
        for metric, vals in metrics.items():
            for seed, v in enumerate(vals):
                rows.append((f"{method}-s{seed}", method, seed, "toolworld_test", metric, v))
        for seed in (0, 1):
            rows.append((f"{method}-s{seed}", method, seed, "real_time", "success_rate",
                         0.25 if method == "alpha_umi" else 0.125))
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def test_aggregate_mean_std_count():
    agg = aggregate(_tidy()).set_index(["method", "benchmark", "metric"])
    row = agg.loc[("alpha_umi", "toolworld_test", "plan_em")]
    assert row["mean"] == pytest.approx(0.55)
    assert row["std"] == pytest.approx(0.0707106781)
    assert row["n"] == 2
    assert agg.loc[("single_llm", "real_time", "success_rate"), "std"] == 0.0


def test_markdown_golden():
    assert to_markdown(_tidy()) == (
        "| Method | toolworld_test: Plan ACC | toolworld_test: Hallu | real_time: Success |\n"
        "|---|---:|---:|---:|\n"
        "| Single-LLM | 35.00 ± 7.07 | 15.00 ± 7.07 | 12.50 ± 0.00 |\n"
        "| α-UMi | **55.00 ± 7.07** | **7.50 ± 3.54** | **25.00 ± 0.00** |\n"
    )


def test_latex_golden_booktabs_bold_and_escaping():
    assert to_latex(_tidy()) == (
        "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{lccc}\n\\toprule\n"
        " & \\multicolumn{2}{c}{toolworld\\_test} & \\multicolumn{1}{c}{real\\_time} \\\\\n"
        "\\cmidrule(lr){2-3} \\cmidrule(lr){4-4}\n"
        "Method & Plan ACC & Hallu & Success \\\\\n\\midrule\n"
        "Single-LLM & 35.00$\\pm$7.07 & 15.00$\\pm$7.07 & 12.50$\\pm$0.00 \\\\\n"
        "$\\alpha$-UMi & \\textbf{55.00$\\pm$7.07} & \\textbf{7.50$\\pm$3.54} & \\textbf{25.00$\\pm$0.00} \\\\\n"
        "\\bottomrule\n\\end{tabular}\n\\caption{Rates in \\%, mean$\\pm$std over seeds.}\n\\end{table}\n"
    )


def test_lower_is_better_and_unknown_names_escaped():
    df = pd.DataFrame([("a", "my_method", 0, "bench_%", "hallu_rate", 0.3),
                       ("b", "alpha_umi", 0, "bench_%", "hallu_rate", 0.1),
                       ("b", "alpha_umi", 0, "bench_%", "avg_steps", 4.0),
                       ("a", "my_method", 0, "bench_%", "avg_steps", 3.0)], columns=TIDY_COLUMNS)
    tex = to_latex(df, TableOptions(show_std=False), caption="50% & more", label="tab:main_1")
    assert "Method & Hallu & Steps \\\\" in tex
    assert "my\\_method & 30.00 & \\textbf{3.00} \\\\" in tex      # one seed: no std; steps not in percent
    assert "$\\alpha$-UMi & \\textbf{10.00} & 4.00 \\\\" in tex
    assert "\\caption{50\\% \\& more. Rates in \\%, mean$\\pm$std over seeds.}" in tex
    assert "\\label{tab:main\\_1}" in tex
    assert latex_escape("a_b {x} #1 ~^\\") == "a\\_b \\{x\\} \\#1 \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"


def test_options_select_methods_and_metrics():
    md = to_markdown(_tidy(), TableOptions(methods=("alpha_umi",), metrics=("hallu_rate",), percent=False, digits=3))
    assert md == ("| Method | toolworld_test: Hallu |\n|---|---:|\n| α-UMi | **0.075 ± 0.035** |\n")


def test_bad_tidy_tables_raise_located_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"run": ["a"], "method": ["m"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="bad.csv: field columns: missing columns"):
        load_tidy(bad)
    worse = tmp_path / "worse.csv"
    df = _tidy()
    df["value"] = df["value"].astype(object)
    df.loc[3, "value"] = "n/a%"
    df.to_csv(worse, index=False)
    with pytest.raises(DataError, match="worse.csv: record 3: field value"):
        load_tidy(worse)
    with pytest.raises(DataError, match="file not found"):
        load_tidy(tmp_path / "nope.csv")


def test_write_tables_roundtrip_parquet(tmp_path):
    df = _tidy()
    df.to_parquet(tmp_path / "r.parquet")
    paths = write_tables(load_tidy(tmp_path / "r.parquet"), tmp_path / "out")
    assert paths["latex"].read_text() == to_latex(df)
    assert paths["markdown"].read_text() == to_markdown(df)
    summary = pd.read_csv(paths["summary"])
    assert len(summary) == 6 and set(summary.columns) == {"method", "benchmark", "metric", "mean", "std", "n"}


# ------------------------------------------------------------------------------------ ablation grid

def _fake_train(calls):
    def train(config):
        from pathlib import Path

        calls.append((config.method, config.init, config.seed, config.smoke))
        run = Path(config.out)
        run.mkdir(parents=True, exist_ok=True)
        if config.seed == 13:
            (run / "status").write_text("failed\n")
            raise RuntimeError("out of memory")
        (run / "loss_history.jsonl").write_text(
            "".join(json.dumps({"stage": 1, "role": "backbone", "step": i, "loss": 3.0 / i}) + "\n" for i in (1, 2)))
        (run / "status").write_text("done\n")
        return run
    return train


def _fake_eval(calls):
    def evaluate(run_dir, spec, **kwargs):
        calls.append((run_dir.name, spec.name, kwargs))
        if spec.mode == "realtime" and run_dir.name.startswith("single_llm-"):
            raise ValueError("agent crashed")
        seed = int(run_dir.name.rsplit("-s", 1)[1].split("-")[0])  # <method>-s<seed>-<hash8>
        bonus = 0.2 if run_dir.name.startswith("alpha_umi") else 0.0
        write_json(run_dir / "eval" / spec.name / "metrics.json",
                   {"plan_em": 0.5 + bonus + 0.01 * seed, "hallu_rate": 0.1, "counts": {"samples": 3}, "limit": 5,
                    "smoke": True})
    return evaluate


def test_ablation_grid_reuses_finished_work_and_records_failures(tmp_path):
    trains, evals = [], []
    cfg = AblationConfig(data="roles", out=str(tmp_path / "abl"), methods=("single_llm", "alpha_umi_merge"),
                         seeds=(0, 1), evals=("toolworld-id:static", "toolworld-id:realtime"), smoke=True,
                         eval_overrides={"limit": 5})
    res = run_ablation(cfg, train_fn=_fake_train(trains), evaluate_fn=_fake_eval(evals), report=True, say=lambda s: None)
    assert sorted(trains) == [("alpha_umi_merge", "merge", 0, True), ("alpha_umi_merge", "merge", 1, True),
                              ("single_llm", "copy", 0, True), ("single_llm", "copy", 1, True)]
    assert evals[0][0].startswith("single_llm-s0-") and evals[0][1:] == ("toolworld-id-static",
                                                                           {"smoke": True, "limit": 5})
    assert res.counts == {"trained": 4, "reused_runs": 0, "evaluated": 6, "reused_evals": 0, "failed_runs": 0,
                          "failed_evals": 2}
    assert [(f["run"].rsplit("-", 1)[0], f["stage"], f["benchmark"]) for f in res.failures] == [
        ("single_llm-s0", "evaluate", "toolworld-id-realtime"), ("single_llm-s1", "evaluate", "toolworld-id-realtime")]
    assert "agent crashed" in res.failures[0]["error"]
    tidy = load_tidy(res.paths["parquet"])
    assert list(tidy.columns) == list(TIDY_COLUMNS) and len(tidy) == 12        # 6 evaluations x 2 numeric metrics
    assert set(tidy["metric"]) == {"plan_em", "hallu_rate"}                   # nested counts left out
    merged = tidy[(tidy.method == "alpha_umi_merge") & (tidy.metric == "plan_em")
                  & (tidy.benchmark == "toolworld-id-static")]
    assert merged["value"].round(6).tolist() == [0.7, 0.71]
    assert load_tidy(res.paths["csv"]).equals(tidy)
    assert "\\textbf{70.50$\\pm$0.71}" in res.paths["table_latex"].read_text()
    loss = [k for k in res.paths if k.startswith("loss_single_llm-s0-")]
    assert res.paths["bars_toolworld-id-static"].is_file() and res.paths[loss[0]].is_file()
    assert json.loads((tmp_path / "abl" / "failures.json").read_text())[1]["run"].startswith("single_llm-s1-")

    trains.clear()
    evals.clear()
    again = run_ablation(cfg, train_fn=_fake_train(trains), evaluate_fn=_fake_eval(evals), say=lambda s: None)
    assert trains == [] and [e[1] for e in evals] == ["toolworld-id-realtime"] * 2   # only the failed ones retried
    assert again.counts["reused_runs"] == 4 and again.counts["reused_evals"] == 6
    assert again.tidy.equals(res.tidy)


def test_ablation_failed_training_is_counted_and_config_is_validated(tmp_path):
    cfg = AblationConfig(data="roles", out=str(tmp_path), methods=("alpha_umi",), seeds=(13,), evals=("tw",))
    res = run_ablation(cfg, train_fn=_fake_train([]), evaluate_fn=_fake_eval([]), say=lambda s: None)
    assert res.counts["failed_runs"] == 1 and res.tidy.empty
    assert res.failures[0]["stage"] == "train" and "out of memory" in res.failures[0]["error"]
    assert pd.read_csv(res.paths["csv"]).columns.tolist() == list(TIDY_COLUMNS)
    with pytest.raises(DataError, match="unknown method 'gpt'"):
        AblationConfig(methods=("gpt",))
    with pytest.raises(DataError, match="expected BENCHMARK"):
        EvalSpec.parse("tw:live")
    assert train_config(cfg, "alpha_umi_merge", 3).init == "merge"


def test_default_columns_are_known_metrics_only():
    df = pd.concat([_tidy(), pd.DataFrame([("x", "alpha_umi", 0, "real_time", "wall_s", 12.0)], columns=TIDY_COLUMNS)])
    assert "wall_s" not in to_markdown(df)
    assert "real_time: wall_s" in to_markdown(df, TableOptions(metrics=("wall_s",)))
