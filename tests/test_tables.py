import pandas as pd
import pytest

from umi_lab.errors import DataError
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
    assert "\\caption{50\\% \\& more Rates in \\%, mean$\\pm$std over seeds.}" in tex
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
