"""Serving: role adapters on one base, switching, batched vs unbatched greedy equality, truncation, errors."""

from __future__ import annotations

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.prompts import PromptStyle, role_input
from umi_lab.serving import GenerationSettings, RoleModels, build_random_run

TOOLS = [{"Name": "get_weather", "function": "Current weather of a city.", "input": {"city": "string, the city"}}]
ROLES = ["planner", "caller", "summarizer"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    run = build_random_run(tmp_path_factory.mktemp("run") / "alpha", method="alpha_umi", seed=1)
    return RoleModels.from_run(run, device="cpu")


def _prompts(models, n=6):
    questions = ["what is the weather in Oslo?", "is it raining in Paris", "temperature in Rome please",
                 "weather?", "tell me the wind in Bergen today", "snow in Tromso"]
    return [models.prompt(ROLES[i % 3], TOOLS, f"user: {questions[i % 6]}</s>", thought="Look it up.")
            for i in range(n)]


def test_from_run_reads_roles_style_and_family(models):
    assert models.role_map == {"planner": "planner", "caller": "caller", "summarizer": "summarizer"}
    assert models.style == PromptStyle(system_prefix=True) and models.family == "toolbench"
    p = models.prompt("caller", TOOLS, "user: hi</s>", thought="t")
    assert p == "system: " + role_input("caller", TOOLS, "user: hi</s>", thought="t")


def test_adapter_switching_changes_outputs(models):
    prompt = _prompts(models, 1)[0]
    settings = GenerationSettings(max_new_tokens=12)
    outs = [models.generate([prompt], [r], settings)[0] for r in ROLES]
    assert len({o.text for o in outs}) == 3
    again = models.generate([prompt], ["planner"], settings)[0]
    assert again.text == outs[0].text  # greedy is deterministic


def test_batched_mixed_grouped_and_unbatched_agree(models):
    prompts = _prompts(models)
    roles = [ROLES[i % 3] for i in range(len(prompts))]
    one = [models.generate([p], [r], GenerationSettings(max_new_tokens=10, batch_size=1))[0] for p, r in zip(prompts, roles)]
    mixed = models.generate(prompts, roles, GenerationSettings(max_new_tokens=10, batch_size=6, mixed_roles=True))
    grouped = models.generate(prompts, roles, GenerationSettings(max_new_tokens=10, batch_size=4, mixed_roles=False))
    assert [g.text for g in mixed] == [g.text for g in one] == [g.text for g in grouped]
    assert [g.prompt_tokens for g in mixed] == [g.prompt_tokens for g in one]
    assert all(0 < g.generated_tokens <= 10 and g.latency_s > 0 for g in mixed)


def test_left_truncation_keeps_the_end(models):
    long_history = "user: " + "tell me more about the weather. " * 200 + "</s>"
    prompt = models.prompt("planner", TOOLS, long_history)
    g = models.generate([prompt], ["planner"], GenerationSettings(max_new_tokens=4, max_prompt_tokens=64))[0]
    assert g.truncated and g.prompt_tokens == 64
    assert models.context_limit(GenerationSettings(max_new_tokens=12)) == 512 - 12


def test_sampling_is_seeded(models):
    prompt = _prompts(models, 1)[0]
    s = GenerationSettings(max_new_tokens=8, temperature=1.0, top_p=0.9, seed=3)
    assert models.generate([prompt], ["caller"], s)[0].text == models.generate([prompt], ["caller"], s)[0].text


def test_errors(models, tmp_path):
    with pytest.raises(DataError, match="no adapter serves role"):
        models.generate(["x"], ["backbone"])
    with pytest.raises(ValueError):
        models.generate(["x", "y"], ["planner"])
    with pytest.raises(ValueError):
        GenerationSettings(top_p=0)
    with pytest.raises(DataError, match="adapter_config.json"):
        RoleModels.from_adapters("tiny-test", {"planner": tmp_path})


def test_single_llm_run_serves_backbone(tmp_path):
    run = build_random_run(tmp_path / "single", method="single_llm")
    m = RoleModels.from_run(run, device="cpu")
    assert m.role_map["backbone"] == "backbone" and m.method == "single_llm"
    out = m.generate([m.prompt("backbone", TOOLS, "user: hi</s>")], ["backbone"], GenerationSettings(max_new_tokens=5))
    assert out[0].generated_tokens <= 5


@pytest.mark.gpu
def test_cuda_mixed_and_grouped_batches_agree(tmp_path):
    run = build_random_run(tmp_path / "gpu", method="alpha_umi", seed=4)
    models = RoleModels.from_run(run, device="cuda", dtype="float32")
    assert models.device.type == "cuda"
    prompts = _prompts(models)
    roles = [ROLES[i % 3] for i in range(len(prompts))]
    mixed = models.generate(prompts, roles, GenerationSettings(max_new_tokens=10, mixed_roles=True))
    grouped = models.generate(prompts, roles, GenerationSettings(max_new_tokens=10, mixed_roles=False))
    assert [g.text for g in mixed] == [g.text for g in grouped]


def test_full_finetune_run_loads_one_model_per_role(tmp_path):
    import torch

    from umi_lab.backbone import load_backbone, resolve_model
    from umi_lab.io import write_json

    base = resolve_model("tiny-test")
    for k, role in enumerate(ROLES):
        model, tok = load_backbone(base, device="cpu", dtype="float32")
        torch.manual_seed(k)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.5 * torch.randn_like(p))
        model.save_pretrained(tmp_path / "models" / role)
        tok.save_pretrained(tmp_path / "models" / role)
    write_json(tmp_path / "config.json", {"method": "alpha_umi", "model_name_or_path": base,
                                          "lora": {"enabled": False}, "family": "toolbench"})
    models = RoleModels.from_run(tmp_path, device="cpu")
    assert models.model is None and sorted(models.full_models) == sorted(ROLES)
    prompts = _prompts(models)
    roles = [ROLES[i % 3] for i in range(len(prompts))]
    batched = models.generate(prompts, roles, GenerationSettings(max_new_tokens=8, batch_size=4))
    single = [models.generate([p], [r], GenerationSettings(max_new_tokens=8))[0] for p, r in zip(prompts, roles)]
    assert [g.text for g in batched] == [g.text for g in single]
    one = prompts[0]
    assert len({models.generate([one], [r], GenerationSettings(max_new_tokens=8))[0].text for r in ROLES}) > 1


def test_space_to_target_keeps_the_pretraining_boundary_in_training_and_serving(models):
    """``space_to_target``: the prompt ends at ``assistant:``, the target starts with the spaced word token the
    byte-level tokenizer learned (`` I``), and serving hands the protocol the text without that space."""
    from dataclasses import replace

    from umi_lab.training import encode_sample

    tok = models.tokenizer
    sample = {"input": "user: hi</s> assistant: ", "target": "I need it. Next: caller.", "tools": []}
    plain, _ = encode_sample(sample, tok, style=PromptStyle(), max_length=128)
    moved, _ = encode_sample(sample, tok, style=PromptStyle(space_to_target=True), max_length=128)
    first = lambda row: tok.convert_ids_to_tokens(next(t for t in row["labels"] if t != -100))  # noqa: E731
    assert first(moved) == "ĠI" and first(plain) != "ĠI"
    assert tok.convert_ids_to_tokens(moved["input_ids"][moved["labels"].index(next(
        t for t in moved["labels"] if t != -100)) - 1]) == ":"                        # the prompt ends at the colon
    assert tok.decode(moved["input_ids"]) == "system: user: hi</s> assistant: I need it. Next: caller.</s>"
    spaced = replace(models.style, space_to_target=True)
    assert spaced.model_prompt("x assistant: ") == "system: x assistant:"
    assert spaced.output_text(" I need it.") == "I need it." and spaced.output_text("I") == "I"
    old = models.style
    try:
        models.style = spaced
        text = models.generate([spaced.model_prompt("user: hi</s> assistant: ")], ["planner"],
                               GenerationSettings(max_new_tokens=6))[0].text
    finally:
        models.style = old
    assert not text.startswith(" ")                                    # what reaches the protocol
