import json
import shutil
import subprocess

import pandas as pd
import pytest

from umi_lab.ablation import AblationConfig, EvalSpec, run_ablation, train_config
from umi_lab.errors import DataError
from umi_lab.io import write_json
from umi_lab.item_scores import ITEM_COLUMNS, REFERENCE_COLUMNS
from umi_lab.summary import check_settings, pass_k, summarize
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

GOLDEN = __import__("pathlib").Path(__file__).parent / "fixtures" / "tables"
SETTINGS = json.dumps({"run": {"max_samples": 32, "method": "x", "seed": 0}, "limit": 20})


def _items(settings: str = SETTINGS) -> pd.DataFrame:
    """Hand-made item scores: 3 methods; a static benchmark (20 samples, 2 seeds) and a real-time one (12
    tasks, 1 seed)."""
    passes = {  # method -> (plan_em passes per seed, hallucinations per seed, real-time passes)
        "alpha_umi": ((18, 17), (0, 0), 10),
        "single_llm": ((6, 8), (10, 10), 2),
        "multi_llm_one_stage": ((17, 18), (9, 9), 9),
    }
    rows = []
    for method, (plan, hallu, rt) in passes.items():
        for seed in (0, 1):
            run = f"{method}-s{seed}"
            for i in range(20):
                rows.append((run, method, seed, "tw-static", "plan_em", f"d{i}", float(i < plan[seed]), 1.0, settings))
                rows.append((run, method, seed, "tw-static", "hallu_rate", f"d{i}", float(i < hallu[seed]), 1.0,
                             settings))
        for i in range(12):
            rows.append((f"{method}-s0", method, 0, "tw-realtime", "pass_rate", f"t{i}", float(i < rt), 1.0, settings))
            rows.append((f"{method}-s0", method, 0, "tw-realtime", "avg_steps", f"t{i}", float(2 + i % 3), 1.0,
                         settings))
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)


def _floors() -> pd.DataFrame:
    return pd.DataFrame([("always Next: caller.", "tw-static", "plan_em", 0.55, "trivial floor (gold items)"),
                         ("always Next: caller.", "tw-static", "hallu_rate", 0.0, "trivial floor (gold items)")],
                        columns=REFERENCE_COLUMNS)


def test_summary_statistics_and_bold_rule():
    s = summarize(_items(), resamples=500).set_index(["method", "benchmark", "metric"])
    a = s.loc[("alpha_umi", "tw-static", "plan_em")]
    assert (a["mean"], a["n_seeds"], a["n_items"]) == (0.875, 2, 20)
    assert a["std"] == pytest.approx(0.0353553, abs=1e-6) and a["ci_lo"] <= 0.875 <= a["ci_hi"]
    assert s.loc[("single_llm", "tw-static", "plan_em"), "p_ref"] < 0.05
    # α-UMi and Multi-LLM tie on Plan ACC (87.5): nothing bold; α-UMi's 0 % hallucination is significant
    assert not s.xs(("tw-static", "plan_em"), level=(1, 2))["bold"].any()
    assert s.xs(("tw-static", "hallu_rate"), level=(1, 2))["bold"].to_dict() == {
        "alpha_umi": True, "single_llm": False, "multi_llm_one_stage": False}
    # real time, one seed of pass/fail: exact McNemar; 10 vs 9 passes is no significant lead
    single = s.loc[("single_llm", "tw-realtime", "pass_rate")]
    assert single["test_ref"] == "mcnemar" and single["p_ref"] == pytest.approx(2 / 2 ** 8)
    assert pd.isna(s.loc[("alpha_umi", "tw-realtime", "pass_rate"), "std"])     # one seed: no std
    assert not s.xs(("tw-realtime", "pass_rate"), level=(1, 2))["bold"].any()


def test_markdown_and_latex_golden_files():
    md = to_markdown(items=_items(), references=_floors(), opts=TableOptions(resamples=500))
    tex = to_latex(items=_items(), references=_floors(), opts=TableOptions(resamples=500),
                   caption="ToolWorld, smoke", label="tab:ablation")
    assert md == (GOLDEN / "table.md").read_text()
    assert tex == (GOLDEN / "table.tex").read_text()
    realtime = md.split("### tw-realtime")[1].split("Rates in")[0]
    assert "±" not in realtime and "16.7\\textsuperscript{\\dag} {" in tex   # one seed never shows a std


def test_latex_compiles_with_pdflatex(tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    tex = to_latex(items=_items(), references=_floors(), opts=TableOptions(resamples=200), caption="x_y & 5%")
    doc = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
           "\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n" + tex + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_tidy_only_tables_have_no_bold_and_round_away_the_f1_epsilon():
    tidy = pd.DataFrame([("a-s0", "alpha_umi", 0, "b", "f1", 1e-30), ("a-s1", "alpha_umi", 1, "b", "f1", 1e-30),
                         ("s-s0", "single_llm", 0, "b", "f1", 0.5)], columns=TIDY_COLUMNS)
    md = to_markdown(tidy, TableOptions(percent=False))
    assert "| α-UMi | 2 seeds | 0.00 ± 0.00 |" in md and "| Single-LLM | 1 seed | 0.50 |" in md
    assert "e-30" not in md and "**" not in md and "nothing bold" in md
    assert "\\textbf" not in to_latex(tidy)


def test_mixed_settings_are_refused_unless_allowed():
    items = pd.concat([_items(), _items(json.dumps({"run": {"max_samples": 64}, "limit": 4})).assign(
        method="alpha_umi_merge")])
    with pytest.raises(DataError, match=r"run.max_samples \(32 vs 64\); limit \(20 vs 4\)|limit .*run.max_samples"):
        to_markdown(items=items)
    md = to_markdown(items=items, allow_mixed=True, opts=TableOptions(resamples=200))
    assert "Mixed settings: limit" in md
    # method and seed are per-cell keys: they never count as mixed settings
    same = _items().assign(config=lambda d: [json.dumps({"method": m, "seed": s, "limit": 20})
                                             for m, s in zip(d["method"], d["seed"])])
    assert check_settings(same) == []
    hashed = _items().assign(config=lambda d: ["abc" if m == "alpha_umi" else "def" for m in d["method"]])
    with pytest.raises(DataError, match="config"):
        to_latex(items=hashed)


def test_pass_k_from_repeated_trials():
    rows = []
    for trial, outcomes in enumerate(([1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1])):
        for i, v in enumerate(outcomes):
            rows.append((f"a-t{trial}", "alpha_umi", trial, "tw-realtime", "pass_rate", f"t{i}", float(v), 1.0, ""))
    got = pass_k(pd.DataFrame(rows, columns=ITEM_COLUMNS), ks=(1, 2, 4))
    # task 0: 4/4, task 1: 3/4, task 2: 1/4 -> pass^1 = 2/3, pass^2 = (1 + 1/2 + 0)/3, pass^4 = 1/3
    assert got["value"].round(6).tolist() == [round(2 / 3, 6), 0.5, round(1 / 3, 6)]
    assert got["n_trials"].unique().tolist() == [4]


def test_aggregate_mean_std_count():
    tidy = pd.DataFrame([("a", "m", 0, "t", "plan_em", 0.5), ("b", "m", 1, "t", "plan_em", 0.6)], columns=TIDY_COLUMNS)
    row = aggregate(tidy).iloc[0]
    assert row["mean"] == pytest.approx(0.55) and row["std"] == pytest.approx(0.0707106781) and row["n"] == 2


def test_lower_is_better_and_unknown_names_escaped():
    df = pd.DataFrame([("a", "my_method", 0, "bench_%", "hallu_rate", 0.3),
                       ("b", "alpha_umi", 0, "bench_%", "avg_steps", 4.0),
                       ("a", "my_method", 0, "bench_%", "avg_steps", 3.0)], columns=TIDY_COLUMNS)
    tex = to_latex(df, caption="50% & more", label="tab:main_1")
    assert "Method & $n$ & Hallu & Steps \\\\" in tex and "\\multicolumn{3}{c}{bench\\_\\%}" in tex
    assert "my\\_method & 1 seed & 30.0 & 3.00 \\\\" in tex           # one seed: no std; steps not in percent
    assert "\\caption{50\\% \\& more. Rates in \\%." in tex and "\\label{tab:main\\_1}" in tex
    assert latex_escape("a_b {x} #1 ~^\\") == "a\\_b \\{x\\} \\#1 \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"


def test_options_select_methods_and_metrics():
    md = to_markdown(items=_items(), opts=TableOptions(methods=("alpha_umi",), metrics=("hallu_rate",), percent=False,
                                                       digits=3, show_ci=False))
    assert "| α-UMi | 20×2 | 0.000 ± 0.000 |" in md and "tw-realtime" not in md


def test_bad_tidy_tables_raise_located_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"run": ["a"], "method": ["m"]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="bad.csv: field columns: missing columns"):
        load_tidy(bad)
    worse = tmp_path / "worse.csv"
    df = pd.DataFrame([("a", "m", 0, "t", "plan_em", "0.5")] * 4, columns=TIDY_COLUMNS)
    df.loc[3, "value"] = "n/a%"
    df.to_csv(worse, index=False)
    with pytest.raises(DataError, match="worse.csv: record 3: field value"):
        load_tidy(worse)
    with pytest.raises(DataError, match="file not found"):
        load_tidy(tmp_path / "nope.csv")


def test_write_tables_records_each_cells_settings(tmp_path):
    items = _items()
    paths = write_tables(None, tmp_path / "out", TableOptions(resamples=200), items=items, references=_floors())
    assert paths["markdown"].read_text() == to_markdown(items=items, references=_floors(),
                                                        opts=TableOptions(resamples=200))
    summary = pd.read_csv(paths["summary"])
    assert len(summary) == 12 and {"ci_lo", "ci_hi", "p_ref", "bold", "config", "n_items"} <= set(summary.columns)
    configs = json.loads(paths["configs"].read_text())
    assert list(configs.values()) == [{"limit": 20, "run.max_samples": 32}]
    assert summary["config"].unique().tolist() == list(configs)
    assert "pass_k" not in paths                                              # real time ran one trial per task


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
    assert list(tidy.columns) == [*TIDY_COLUMNS, "config"] and len(tidy) == 12  # 6 evaluations x 2 numeric metrics
    assert tidy["config"].isna().all()                                          # the stand-in wrote no config.json
    assert set(tidy["metric"]) == {"plan_em", "hallu_rate"}                   # nested counts left out
    merged = tidy[(tidy.method == "alpha_umi_merge") & (tidy.metric == "plan_em")
                  & (tidy.benchmark == "toolworld-id-static")]
    assert merged["value"].round(6).tolist() == [0.7, 0.71]
    assert load_tidy(res.paths["csv"]).drop(columns="config").equals(tidy.drop(columns="config"))
    assert "70.5$\\pm$0.7" in res.paths["table_latex"].read_text()                  # no item scores: no bold
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
    assert pd.read_csv(res.paths["csv"]).columns.tolist() == [*TIDY_COLUMNS, "config"]
    with pytest.raises(DataError, match="unknown method 'gpt'"):
        AblationConfig(methods=("gpt",))
    with pytest.raises(DataError, match="expected BENCHMARK"):
        EvalSpec.parse("tw:live")
    assert train_config(cfg, "alpha_umi_merge", 3).init == "merge"


def test_ablation_evaluates_again_when_the_settings_differ(tmp_path):
    """Issue 11.1: a finished evaluation is reused only with the grid's settings (limit, smoke, decoding), read
    from its config.json; each cell's config lands in the tidy table's ``config`` column."""
    evals = []

    def evaluate(run_dir, spec, **kwargs):
        evals.append(kwargs.get("limit"))
        folder = run_dir / "eval" / spec.name
        write_json(folder / "config.json", {"limit": kwargs.get("limit"), "smoke": False, "decoding": "greedy"})
        write_json(folder / "metrics.json", {"plan_em": 0.5})

    def grid(limit):
        cfg = AblationConfig(data="roles", out=str(tmp_path), methods=("single_llm",), seeds=(0,), evals=("tw",),
                             eval_overrides={"limit": limit})
        return run_ablation(cfg, train_fn=_fake_train([]), evaluate_fn=evaluate, say=lambda s: None)

    first = grid(5)
    assert json.loads(first.tidy["config"][0])["limit"] == 5
    assert grid(5).counts["reused_evals"] == 1 and evals == [5]
    again = grid(8)
    assert again.counts["evaluated"] == 1 and evals == [5, 8] and json.loads(again.tidy["config"][0])["limit"] == 8


def test_ablation_report_refuses_mixed_settings_unless_allowed(tmp_path):
    from umi_lab.ablation_report import write_report

    rows = [("a", "alpha_umi", 0, "tw", "plan_em", 0.5, '{"run": {"lr": 1}}'),
            ("b", "single_llm", 0, "tw", "plan_em", 0.4, '{"run": {"lr": 2}}')]
    tidy = pd.DataFrame(rows, columns=[*TIDY_COLUMNS, "config"])
    with pytest.raises(DataError, match="run.lr"):
        write_report(tidy, tmp_path)
    paths = write_report(tidy, tmp_path, allow_mixed=True)
    assert "Mixed settings: run.lr" in paths["table_markdown"].read_text()


def test_default_columns_are_known_metrics_only():
    df = pd.DataFrame([("x", "alpha_umi", 0, "real_time", "wall_s", 12.0),
                       ("x", "alpha_umi", 0, "real_time", "pass_rate", 0.5)], columns=TIDY_COLUMNS)
    assert "wall_s" not in to_markdown(df)
    assert "| Method | n | wall_s |" in to_markdown(df, TableOptions(metrics=("wall_s",)))
