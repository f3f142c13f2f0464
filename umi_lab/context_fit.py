"""Do the prompts fit the context? Tokens per prompt and the share of truncated prompts, per role.

Training cuts an over-long prompt from the left (``training.encode_sample``), so what is lost first is the
start of the prompt: the tool documentation. ``truncation_report`` runs that same encoding over role
datasets and counts, per role, how many prompts were cut. ``python -m benchmarks.bench_context`` writes
the measurements for the study presets to ``benchmarks/results/context_fit.json``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from umi_lab.protocol.prompts import PromptStyle


def tiny_tokenizer(preset: str = "default"):
    """The embedded model's tokenizer without pretraining the model (the same training as ``build_tiny``).

    >>> tiny_tokenizer("test").eos_token  # doctest: +SKIP
    '</s>'
    """
    from umi_lab.backbone import TINY_PRESETS, corpus_text, default_corpus_files, train_tokenizer

    spec = TINY_PRESETS[preset]
    text = corpus_text(default_corpus_files(spec.corpus), spec.max_corpus_chars, spec.corpus)
    return train_tokenizer(text, spec.vocab_size, spec.context)


def truncation_report(samples: Mapping[str, Sequence[dict]], tokenizer, *, max_length: int,
                      style: PromptStyle | None = None, min_prompt_tokens: int = 32) -> dict[str, dict[str, Any]]:
    """Per role: samples, prompts cut (count and share), targets cut, prompt tokens (mean, p95, max).

    Uses ``training.encode_sample``, i.e. exactly what training does to each sample.

    >>> rep = truncation_report({"caller": samples}, tok, max_length=768)  # doctest: +SKIP
    >>> rep["caller"]["prompt_truncated_share"]  # doctest: +SKIP
    0.0
    """
    from umi_lab.training import encode_sample

    style = style or PromptStyle()
    out: dict[str, dict[str, Any]] = {}
    for role, rows in samples.items():
        lengths, cut, cut_target = [], 0, 0
        for s in rows:
            text = style.model_prompt(s["input"], tools=s.get("tools"), tokenizer=tokenizer)
            lengths.append(len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]))
            _, flags = encode_sample(s, tokenizer, style=style, max_length=max_length,
                                     min_prompt_tokens=min_prompt_tokens)
            cut += flags["prompt_truncated"]
            cut_target += flags["target_truncated"]
        n = len(rows)
        ordered = sorted(lengths)
        out[role] = {
            "samples": n, "prompt_truncated": cut, "prompt_truncated_share": round(cut / n, 4) if n else 0.0,
            "target_truncated": cut_target,
            "prompt_tokens_mean": round(sum(lengths) / n, 1) if n else 0.0,
            "prompt_tokens_p95": ordered[int(0.95 * (n - 1))] if n else 0,
            "prompt_tokens_max": ordered[-1] if n else 0,
        }
    return out


def measure_data(data: str | os.PathLike, tokenizer, *, max_length: int, style: PromptStyle | None = None,
                 roles: Iterable[str] = ("backbone", "planner", "caller", "summarizer"),
                 min_prompt_tokens: int = 32) -> dict[str, dict[str, Any]]:
    """``truncation_report`` on a data folder's role datasets (split on the fly like training does).

    >>> measure_data("data/toolworld", tiny_tokenizer(), max_length=768)["caller"]  # doctest: +SKIP
    """
    from umi_lab.training import load_role_data

    samples, _ = load_role_data(data, list(roles))
    return truncation_report(samples, tokenizer, max_length=max_length, style=style,
                             min_prompt_tokens=min_prompt_tokens)
