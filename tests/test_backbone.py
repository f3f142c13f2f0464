"""The embedded tiny backbone: tokenizer, build/caching, loading any causal LM."""

import json
from pathlib import Path

import pytest
import torch

from umi_lab import cli
from umi_lab.backbone import TINY_PRESETS, build_tiny, corpus_text, load_backbone, resolve_model, transcript
from umi_lab.errors import DataError

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def corpus(shared_data):
    return [shared_data / "alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json",
            shared_data / "gsm8k/train.jsonl"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, corpus):
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model", preset="test", corpus=corpus)


def test_build_report_and_files(tiny):
    report = json.loads((tiny / "build_report.json").read_text())
    assert report["preset"] == "test"
    assert report["parameters"] == 70_896  # d=48, 2 layers, vocab 512, tied embeddings
    assert report["tokens_seen"] == 80 * 4 * 64
    assert report["size_on_disk_bytes"] > 200_000
    assert report["loss_last"] < report["loss_first"]  # pretraining did something
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (tiny / name).is_file()


def test_tokenizer_special_tokens(tiny):
    _, tok = load_backbone(tiny, device="cpu")
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == ("<s>", "</s>", "<pad>", "<unk>")
    ids = tok("user: hi</s> caller: ", add_special_tokens=False)["input_ids"]
    assert ids.count(tok.eos_token_id) == 1  # the official "</s>" text marker is the EOS token
    text = 'Action: get_weather\nAction Input: {"city": "Paris"}</s>'
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_model_loads_fp32_on_cpu_and_generates(tiny):
    model, tok = load_backbone(tiny, device="cpu")
    assert model.dtype == torch.float32
    assert model.config.pad_token_id == tok.pad_token_id
    assert model.config.max_position_embeddings == TINY_PRESETS["test"].context
    ids = tok("system: hello", return_tensors="pt", add_special_tokens=False)
    out = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] <= ids["input_ids"].shape[1] + 5


def test_build_is_deterministic_and_cached(tiny, corpus, tmp_path):
    again = build_tiny(tmp_path / "again", preset="test", corpus=corpus)
    a = (tiny / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == a
    mtime = (again / "build_report.json").stat().st_mtime_ns
    assert build_tiny(again, preset="test", corpus=corpus) == again  # reused, not rebuilt
    assert (again / "build_report.json").stat().st_mtime_ns == mtime
    build_tiny(again, preset="test", corpus=corpus, force=True, steps=3)
    assert json.loads((again / "build_report.json").read_text())["spec"]["steps"] == 3


def test_default_cache_location(monkeypatch, tmp_path, corpus):
    monkeypatch.setenv("UMI_LAB_CACHE", str(tmp_path))
    path = build_tiny(preset="test", corpus=corpus, steps=2)
    assert path.parent == tmp_path and path.name.startswith("tiny-test-")


def test_resolve_model_passthrough():
    assert resolve_model("gpt2") == "gpt2"
    assert resolve_model("/some/folder") == "/some/folder"


def test_pad_falls_back_to_eos(tiny, tmp_path):
    model, tok = load_backbone(tiny, device="cpu")
    tok.pad_token = None
    model.config.pad_token_id = None
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model2, tok2 = load_backbone(tmp_path, device="cpu")
    assert tok2.pad_token == "</s>" and model2.config.pad_token_id == tok2.eos_token_id


def test_no_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no text to pretrain"):
        build_tiny(tmp_path / "x", preset="test", corpus=[])


def test_corpus_interleaves_sources(corpus):
    text = corpus_text(corpus, 20_000)
    assert len(text) <= 20_000
    assert "####" in text  # GSM8K solutions present
    assert '"Name"' in text  # tool documentation present


def test_default_preset_pretrains_on_role_tagged_transcripts(tmp_path):
    """The default model reads whole train dialogues as role-tagged transcripts; the test preset generic text."""
    assert TINY_PRESETS["default"].corpus == "transcripts_roles" and TINY_PRESETS["test"].corpus == "mixed"
    tool = {"Name": "get_weather_for_meteo", "function": "Weather of a city.", "input": {"city": "string"}}
    dialogue = {"tools": [tool], "instruction": "Weather in Paris?", "id": "x1", "split": "train",
                "conversations": [{"from": "user", "value": "Weather in Paris?"},
                                  {"from": "assistant", "value": "I call it.\n Next: caller."},
                                  {"from": "caller", "value": 'Action: get_weather_for_meteo\nAction Input: {}'},
                                  {"from": "observation", "value": "sunny"}]}
    f = tmp_path / "train.json"
    f.write_text(json.dumps([dialogue, dialogue]))
    text = corpus_text([f], 10_000, "transcripts")
    one = transcript(dialogue)
    assert text == one + "\n" + one
    assert one.startswith("get_weather_for_meteo: Weather of a city. Input: ")
    assert "user: Weather in Paris?</s>assistant: I call it." in one and "observation: sunny" in one
    assert "x1" not in one  # ids and split data are not text
    f.write_text(json.dumps([{"tools": [], "conversations": 5}]))
    with pytest.raises(DataError, match=r"train.json.*record 0.*conversations"):
        corpus_text([f], 10_000, "transcripts")
    with pytest.raises(ValueError, match="corpus style"):
        corpus_text([f], 10, "other")


def test_transcripts_roles_corpus_adds_the_role_samples_as_the_study_trains_on_them(tmp_path):
    """After every transcript, each train dialogue's role samples, rendered with the tiny study's own prompt
    style (so pretraining shows the layout fine-tuning and serving use), up to the size cap."""
    from importlib.resources import files

    import yaml

    from umi_lab.pretrain_corpus import ROLE_STYLE, role_texts
    from umi_lab.protocol.prompts import PromptStyle
    from umi_lab.splitting import split_roles

    study = yaml.safe_load((files("umi_lab") / "configs" / "tiny_study.yaml").read_text())
    assert study["prompt_style"] == ROLE_STYLE                     # one style for the corpus and the study
    src = HERE.parent / "data" / "toolworld" / "train.json"
    dialogues = json.loads(src.read_text())[:3]
    f = tmp_path / "train.json"
    f.write_text(json.dumps(dialogues))
    text = corpus_text([f], 10_000_000, "transcripts_roles")
    transcripts = "\n".join(transcript(d) for d in dialogues)
    assert text.startswith(transcripts + "\n")
    style = PromptStyle(**ROLE_STYLE)
    caller = split_roles(dialogues[:1])["caller"][0]
    sample = style.model_prompt(caller["input"], tools=caller["tools"]) + " " + caller["target"] + "</s>"
    assert sample in role_texts(dialogues[0]) and sample in text
    assert "caller: Action:" in sample and not sample.startswith("system:  ")
    capped = corpus_text([f], len(transcripts) + 100, "transcripts_roles")
    assert len(capped) == len(transcripts) + 100 and capped.startswith(transcripts)


def test_cli_build_tiny(tiny, capsys):
    assert cli.main(["build-tiny", "--preset", "test", "--out", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "parameters    70,896" in out and "tokens seen" in out


@pytest.mark.gpu
def test_gpu_loads_bf16_with_checkpointing(tiny):
    model, _ = load_backbone(tiny)
    assert model.device.type == "cuda" and model.dtype == torch.bfloat16
    assert model.is_gradient_checkpointing
