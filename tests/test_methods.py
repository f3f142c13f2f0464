"""The method registry: built-in entries, validation, and a toy method trained, served and evaluated
with no change anywhere but its one ``register`` call."""

import json

import pytest

from umi_lab.backbone import build_tiny
from umi_lab.errors import DataError
from umi_lab.methods import (
    METHODS,
    Method,
    RoleJob,
    get_method,
    method_names,
    register,
    unregister,
    with_init,
)
from umi_lab.training_config import GLPFTConfig


def test_builtin_methods_and_order():
    assert method_names() == ("single_llm", "single_llm_multitask", "multi_llm_one_stage", "alpha_umi",
                              "alpha_umi_merge")
    assert get_method("single_llm").agent == "backbone" and get_method("single_llm").role_map()["caller"] == "backbone"
    assert get_method("single_llm_multitask").datasets == ("multitask",)
    assert [j.init for j in get_method("alpha_umi_merge").plan] == ["base", "merge", "merge", "merge"]
    assert get_method("alpha_umi").init == "copy" and get_method("multi_llm_one_stage").init == "base"
    assert "alpha_umi" in METHODS and list(METHODS)[0] == "single_llm"


def test_init_selects_the_sibling_method():
    assert with_init("alpha_umi", "merge") == "alpha_umi_merge" and with_init("alpha_umi_merge", "copy") == "alpha_umi"
    assert GLPFTConfig(method="alpha_umi", init="merge").method == "alpha_umi_merge"
    assert GLPFTConfig(method="alpha_umi_merge").init == "merge"
    assert with_init("single_llm", "merge") == "single_llm"      # no stage 2: nothing to initialise


def test_invalid_entries_are_refused():
    with pytest.raises(DataError, match="untrained"):
        Method("bad", "Bad", (RoleJob(1, "backbone"),), {"planner": "planner", "caller": "backbone",
                                                         "summarizer": "backbone"})
    with pytest.raises(DataError, match="not trained before"):
        Method("bad", "Bad", (RoleJob(2, "planner", "copy"),), dict.fromkeys(("planner", "caller", "summarizer"),
                                                                                  "planner"))
    with pytest.raises(DataError, match="no adapter serves"):
        Method("bad", "Bad", (RoleJob(1, "planner"),), {"planner": "planner"})
    with pytest.raises(DataError, match="unknown method 'nope'"):
        GLPFTConfig(method="nope")
    with pytest.raises(DataError, match="already registered"):
        register(get_method("alpha_umi"))


TOY = Method("toy_shared", "Toy (shared caller)",
             (RoleJob(1, "backbone"), RoleJob(2, "planner", "copy")),
             {"planner": "planner", "caller": "backbone", "summarizer": "backbone"}, order=99)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


def test_toy_method_trains_serves_and_evaluates(toy, shared_data, tmp_path):
    from umi_lab.evaluation import evaluate_run
    from umi_lab.serving import RoleModels
    from umi_lab.training import train

    tiny = build_tiny(tmp_path / "tiny", preset="test",
                      corpus=[shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json"])
    run = train(GLPFTConfig(method="toy_shared", model=str(tiny), out=str(tmp_path / "run"), schedule="tiny",
                            data=str(shared_data / "alpha_umi_toolbench" / "train-example"), smoke=True),
                progress=False)
    assert sorted(p.name for p in (run / "adapters").iterdir()) == ["backbone", "planner"]
    rows = [json.loads(line) for line in (run / "loss_history.jsonl").read_text().splitlines()]
    assert {(r["stage"], r["role"]) for r in rows} == {(1, "backbone"), (2, "planner")}
    models = RoleModels.from_run(run)
    assert models.method == "toy_shared"
    assert models.role_map == {"planner": "planner", "caller": "backbone", "summarizer": "backbone",
                               "backbone": "backbone"}
    metrics = evaluate_run(run, "toolbench-ood", "static", smoke=True, limit=2)
    assert metrics["n_items"] == 2 and (run / "eval" / "toolbench-ood-static" / "metrics.json").is_file()


def test_registered_method_is_tabulated_with_its_label_and_order():
    import pandas as pd

    from umi_lab.agent import MultiLLMAgent, SingleLLMAgent, make_agent
    from umi_lab.methods import REFERENCE, default_method, ordered
    from umi_lab.tables import method_label, to_latex, to_markdown

    toy = Method("toy_between", "Toy ⟨between⟩", (RoleJob(1, "multitask"),),
                 dict.fromkeys(("planner", "caller", "summarizer"), "multitask"), agent="multitask",
                 latex_label=r"\textsc{Toy}", order=35)
    register(toy)
    try:
        tidy = pd.DataFrame({"run": ["a", "t", "s"], "method": [REFERENCE, "toy_between", "single_llm"],
                             "seed": 0, "benchmark": "b", "metric": "plan_em", "value": [0.5, 0.4, 0.3]})
        md = to_markdown(tidy)
        rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ") and "Method" not in line]
        assert rows == ["Single-LLM", "Toy ⟨between⟩", "α-UMi"]           # order 10 < 35 < 40
        assert r"\textsc{Toy} &" in to_latex(tidy) and method_label("toy_between") == "Toy ⟨between⟩"
        assert ordered(["x", "alpha_umi", "toy_between"]) == ["toy_between", "alpha_umi", "x"]

        class Models:
            method = "toy_between"

        agent = make_agent(Models())
        assert isinstance(agent, SingleLLMAgent) and agent.mode == "multitask" and agent.method == "toy_between"
        Models.method = "multi_llm_one_stage"
        assert type(make_agent(Models())) is MultiLLMAgent
        assert default_method("backbone") == "single_llm" and default_method("multitask") == "single_llm_multitask"
    finally:
        unregister("toy_between")
    assert method_label("toy_between") == "toy_between"
