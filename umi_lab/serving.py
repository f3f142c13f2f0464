"""Serving a trained run: one base model + role adapters switched by name, batched generation.

``RoleModels`` maps an agent role (planner / caller / summarizer / backbone) to a trained adapter
(``alpha_umi``: one adapter per role; ``single_llm``: ``backbone``; ``single_llm_multitask``: ``multitask``
for every role) on one shared base, loaded with ``PeftModel.from_pretrained(..., adapter_name=)`` and
``load_adapter``. Full fine-tuning runs (``models/<role>/``) load one full model per role instead.

``generate(prompts, roles, settings)`` left-pads, left-truncates over-long prompts (keeps the end, as
training does), decodes greedily unless ``temperature > 0``, stops at EOS (``</s>`` for the tiny model)
and cuts the text at ``</s>``. Requests are batched either with mixed roles in one batch through PEFT's
per-sample ``adapter_names=`` (``mixed_roles=True``) or grouped by role with ``set_adapter``.

Example::

    models = RoleModels.from_run("runs/alpha")
    prompt = models.prompt("planner", tools, "user: hi</s>")
    [g.text for g in models.generate([prompt], ["planner"])]
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.methods import REFERENCE
from umi_lab.protocol.prompts import EOS_MARK, PromptStyle, role_input

AGENT_ROLES = ("planner", "caller", "summarizer", "backbone")
OFFICIAL_MAX_NEW_TOKENS = 512  # GLPFT's static and real-time inference


@dataclass
class GenerationSettings:
    """Decoding settings. ``temperature == 0`` is greedy; ``batch_size`` requests per forward batch;
    ``max_prompt_tokens`` (None: the model's context minus ``max_new_tokens``) bounds prompts, cut on the left;
    ``mixed_roles``: one batch may mix adapters (PEFT ``adapter_names``), else batches are grouped by role.
    ``max_new_tokens`` defaults to the official GLPFT inference budget, 512 (fewer cut long thoughts and
    lose their ``Next:`` mark)."""

    max_new_tokens: int = OFFICIAL_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 8
    max_prompt_tokens: int | None = None
    mixed_roles: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass
class Generation:
    """One generated answer: ``text`` (cut at ``</s>``), token counts, the batch's wall time and whether
    the prompt was left-truncated."""

    text: str
    prompt_tokens: int
    generated_tokens: int
    latency_s: float
    truncated: bool = False


class RoleModels:
    """A base model with named adapters (or full per-role models) serving agent roles.

    ``role_map`` maps an agent role to an adapter name (or to a key of ``full_models``).
    """

    def __init__(self, model, tokenizer, role_map: dict[str, str], *, style: PromptStyle | None = None,
                 family: str = "toolbench", full_models: dict[str, Any] | None = None, method: str = REFERENCE):
        self.model, self.tokenizer = model, tokenizer
        self.role_map = dict(role_map)
        self.style = style or PromptStyle()
        self.family = family
        self.full_models = full_models or {}
        self.method = method
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        for m in [model, *self.full_models.values()]:
            if m is not None:
                m.eval()
                m.config.use_cache = True
                disable = getattr(m, "activation_checkpointing_disable", None) or getattr(
                    m, "gradient_checkpointing_disable", None)
                if disable is not None and next(m.parameters()).is_cuda:  # load_backbone enables it on GPUs
                    disable()

    # ------------------------------------------------------------------------------------- loading
    @classmethod
    def from_adapters(cls, base: str | os.PathLike | tuple, adapters: dict[str, str | os.PathLike],
                      role_map: dict[str, str] | None = None, *, style: PromptStyle | None = None,
                      family: str = "toolbench", device=None, dtype=None, method: str = REFERENCE) -> RoleModels:
        """Load ``base`` (a path/name, or an already loaded ``(model, tokenizer)``) and the named adapters.

        Example: ``RoleModels.from_adapters("tiny", {"planner": "runs/a/adapters/planner", ...})``.
        """
        from peft import PeftModel

        model, tokenizer = base if isinstance(base, tuple) else _load_base(base, device, dtype)
        if not adapters:
            raise DataError("no adapters to load", field="adapters")
        names = list(adapters)
        for name in names:
            if not (Path(adapters[name]) / "adapter_config.json").is_file():
                raise DataError("not a PEFT adapter folder (no adapter_config.json)", file=str(adapters[name]))
        with warnings.catch_warnings():  # PEFT reads transformers' deprecated is_gradient_checkpointing
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            peft_model = PeftModel.from_pretrained(model, str(adapters[names[0]]), adapter_name=names[0])
            for name in names[1:]:
                peft_model.load_adapter(str(adapters[name]), adapter_name=name)
        role_map = role_map or {r: r for r in names}
        missing = sorted({a for a in role_map.values() if a not in adapters})
        if missing:
            raise DataError(f"roles map to adapters that were not loaded: {', '.join(missing)}", field="roles")
        return cls(peft_model, tokenizer, role_map, style=style, family=family, method=method)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device=None, dtype=None) -> RoleModels:
        """Load a training run directory (``umi_lab.rundir.RunDir.info``; TRL is not imported): base + adapters, or full models.

        Example: ``RoleModels.from_run("runs/alpha")``.
        """
        from umi_lab.rundir import RunDir

        info = RunDir(run_dir).info()
        style = PromptStyle(**info.get("prompt_style", {}))
        roles = dict(info["roles"])
        if "backbone" in info["adapters"] or "backbone" in info["models"]:
            roles.setdefault("backbone", "backbone")
        if info["models"]:
            full, tokenizer = {}, None
            for name, path in info["models"].items():
                full[name], tokenizer = _load_base(path, device, dtype)
            missing = sorted({a for a in roles.values() if a not in full})
            if missing:
                raise DataError(f"run has no full model for {', '.join(missing)}", file=str(run_dir), field="models")
            return cls(None, tokenizer, roles, style=style, family=info["family"], full_models=full,
                       method=info["method"])
        wanted = {a: info["adapters"][a] for a in dict.fromkeys(roles.values()) if a in info["adapters"]}
        if not wanted:
            raise DataError("run has no adapters for its roles", file=str(run_dir), field="adapters")
        roles = {r: a for r, a in roles.items() if a in wanted}
        return cls.from_adapters(info["base"], wanted, roles, style=style, family=info["family"], device=device,
                                 dtype=dtype, method=info["method"])

    # ------------------------------------------------------------------------------------- prompts
    @property
    def device(self):
        """Where the (first) model lives, e.g. ``models.device.type == "cpu"``."""
        m = self.model if self.model is not None else next(iter(self.full_models.values()))
        return next(m.parameters()).device

    def prompt(self, role: str, tools, history: str, *, thought: str = "") -> str:
        """The exact model text for ``role``: ``PromptStyle.model_prompt(role_input(...))`` (as in training).

        Example: ``models.prompt("caller", tools, "user: hi</s>assistant: Look. Next: caller.</s>", thought="Look.")``.
        """
        tools = list(tools)
        return self.style.model_prompt(role_input(role, tools, history, thought=thought, family=self.family),
                                       tools=tools, tokenizer=self.tokenizer)

    def context_limit(self, settings: GenerationSettings) -> int:
        """Most prompt tokens kept: the context minus ``max_new_tokens`` (and at most ``max_prompt_tokens``).

        Example: ``models.context_limit(GenerationSettings(max_new_tokens=128))``.
        """
        m = self.model if self.model is not None else next(iter(self.full_models.values()))
        ctx = getattr(m.config, "max_position_embeddings", 2048)
        limit = ctx - settings.max_new_tokens
        if settings.max_prompt_tokens is not None:
            limit = min(limit, settings.max_prompt_tokens)
        if limit < 1:
            raise ValueError(f"max_new_tokens {settings.max_new_tokens} leaves no room for a prompt (context {ctx})")
        return limit

    # ------------------------------------------------------------------------------------- generation
    def generate(self, prompts: list[str], roles: list[str], config: GenerationSettings | None = None
                 ) -> list[Generation]:
        """Generate one answer per prompt with the role's adapter; results in input order.

        Example: ``models.generate(["system: ... assistant: "], ["planner"])[0].text``.
        """
        settings = config or GenerationSettings()
        if len(prompts) != len(roles):
            raise ValueError(f"{len(prompts)} prompts but {len(roles)} roles")
        unknown = sorted({r for r in roles if r not in self.role_map})
        if unknown:
            raise DataError(f"no adapter serves role(s) {', '.join(unknown)}; served: {', '.join(self.role_map)}",
                            field="roles")
        order = list(range(len(prompts)))
        if not settings.mixed_roles or self.full_models:
            order.sort(key=lambda i: self.role_map[roles[i]])  # group by adapter, stable within a group
        out: list[Generation | None] = [None] * len(prompts)
        limit = self.context_limit(settings)
        k = 0
        while k < len(order):
            batch = [order[k]]
            k += 1
            while k < len(order) and len(batch) < settings.batch_size and (
                    (settings.mixed_roles and not self.full_models)
                    or self.role_map[roles[order[k]]] == self.role_map[roles[batch[0]]]):
                batch.append(order[k])
                k += 1
            gens = self._generate_batch([prompts[i] for i in batch], [self.role_map[roles[i]] for i in batch],
                                        settings, limit)
            for i, g in zip(batch, gens):
                out[i] = g
        return out  # type: ignore[return-value]

    def _generate_batch(self, prompts: list[str], adapters: list[str], settings: GenerationSettings,
                        limit: int) -> list[Generation]:
        import torch

        from umi_lab.backbone import encode_prompt

        tok = self.tokenizer
        pairs = [encode_prompt(tok, p, limit) for p in prompts]  # the tokenizer's own convention, as in training
        encoded = [ids for ids, _ in pairs]
        truncated = [cut for _, cut in pairs]
        width = max(len(ids) for ids in encoded)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded], device=self.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "pad_token_id": pad,
                                  "eos_token_id": tok.eos_token_id}
        if settings.temperature > 0:
            torch.manual_seed(settings.seed)
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if self.full_models:
            model = self.full_models[adapters[0]]
        else:
            model = self.model
            if len(set(adapters)) == 1:
                model.set_adapter(adapters[0])
            else:
                kwargs["adapter_names"] = adapters
        start = time.perf_counter()
        with torch.no_grad():
            output = model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        latency = time.perf_counter() - start
        gens = []
        for row, ids, cut in zip(output[:, width:].tolist(), encoded, truncated):
            n = len(row)
            if tok.eos_token_id is not None and tok.eos_token_id in row:
                n = row.index(tok.eos_token_id) + 1
            text = tok.decode(row[:n], skip_special_tokens=True)
            if EOS_MARK in text:
                text = text[:text.index(EOS_MARK)]
            gens.append(Generation(self.style.output_text(text), len(ids), n, latency, cut))
        return gens


def _load_base(path: str | os.PathLike, device, dtype):
    import torch

    from umi_lab.backbone import load_backbone

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer = load_backbone(path, device=device, dtype=dtype)
    return model, tokenizer


def build_random_run(run_dir: str | os.PathLike, *, base: str = "tiny-test", method: str = REFERENCE,
                     family: str = "toolbench", seed: int = 0, r: int = 4) -> Path:
    """Write a run directory with randomly initialised (untrained, non-zero) LoRA adapters for ``method``.

    Useful to smoke-test serving, agents and evaluation without training; each adapter gets its own seed
    so the roles really differ. Example: ``build_random_run("/tmp/run", method="single_llm")``.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from umi_lab.backbone import resolve_model
    from umi_lab.io import write_json
    from umi_lab.methods import get_method

    roles = tuple(dict.fromkeys(get_method(method).serving.values()))  # only the adapters that serve a role
    run_dir = Path(run_dir)
    base_path = resolve_model(base)
    for k, role in enumerate(roles):
        torch.manual_seed(seed + 1000 * (k + 1))
        model, _ = _load_base(base_path, "cpu", "float32")
        lora = LoraConfig(r=r, lora_alpha=4 * r, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False,
                          task_type="CAUSAL_LM")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            get_peft_model(model, lora).save_pretrained(str(run_dir / "adapters" / role))
    write_json(run_dir / "config.json", {"method": method, "model": base, "model_name_or_path": base_path,
                                         "lora": {"enabled": True}, "prompt_style": {"system_prefix": True},
                                         "family": family, "seed": seed, "random_adapters": True})
    (run_dir / "status").write_text("done\n")
    return run_dir
