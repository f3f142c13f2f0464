"""The static strategy (paper Table 1 protocol): one prediction per planner decision of the test dialogues.

The planner predicts the decision; for ``Next: caller.`` the caller, for ``Next: conclusion.`` the
summarizer completes it, from the histories the official pipeline uses (``caller_input`` /
``summarizer_input``, with the speaker of the thought set by the decoding profile); the outputs are joined by
``compose_prediction``. A single-LLM (backbone) run answers each sample with one backbone output, mapped to the
same prediction shape (``protocol.grammar.backbone_prediction``, history by ``protocol.prompts.backbone_history``).
``predictions.json`` (official shape) is scored by ``static_eval.evaluate_predictions``.

Example: ``predict_static(RoleModels.from_run(run), samples[:8], GenerationSettings())``.
"""

from __future__ import annotations

from typing import Any

from umi_lab.protocol.grammar import clean_candidate
from umi_lab.protocol.predictions import backbone_prediction, compose_prediction, planner_decision
from umi_lab.protocol.prompts import backbone_history, role_input
from umi_lab.serving import GenerationSettings
from umi_lab.static_eval import caller_input, summarizer_input

__all__ = ["backbone_history", "backbone_prediction", "is_backbone", "predict_chunk", "predict_static",
           "score_static"]


def _tokens(g) -> dict[str, Any]:
    return {"prompt": g.prompt_tokens, "generated": g.generated_tokens, "truncated": g.truncated}


def is_backbone(models) -> bool:
    """Whether a run answers with one backbone output per sample: its method's agent is ``backbone`` (method
    registry); a stand-in with an unregistered method, when only a backbone serves it."""
    from umi_lab.errors import DataError
    from umi_lab.methods import get_method

    try:
        return get_method(models.method).agent == "backbone"
    except DataError:
        return "backbone" in models.role_map and "planner" not in models.role_map


def predict_static(models, samples: list[dict[str, Any]], settings: GenerationSettings, *,
                   speaker: str = "assistant", compat: str = "default") -> list[dict[str, Any]]:
    """Fill ``predictions`` (and the role outputs and token counts) of every sample.

    Multi-LLM runs: planner, then caller or summarizer per decision (``speaker`` says who spoke the thought
    in their history: ``assistant``, or ``planner`` as the official static inference writes); backbone runs:
    one output each. ``compat`` is how outputs are read (``default``: the protocol grammar; ``official``: the
    official inference's rules, ``protocol.predictions``).
    Example: ``predict_static(RoleModels.from_run(run), samples[:8], GenerationSettings())``.
    """
    def prompt(s: dict, text: str) -> str:  # the run's PromptStyle, as at training time
        return models.style.model_prompt(text, tools=s.get("tools"), tokenizer=getattr(models, "tokenizer", None))

    out = [dict(s) for s in samples]
    if is_backbone(models):
        prompts = [prompt(s, _role_input("backbone", s)) for s in out]
        gens = models.generate(prompts, ["backbone"] * len(out), settings)
        for s, g in zip(out, gens):
            s.update(backbone_output=g.text, predictions=backbone_prediction(g.text, compat), tokens=_tokens(g))
        return out
    gens = models.generate([prompt(s, s["model_input"]) for s in out], ["planner"] * len(out), settings)
    second: list[tuple[int, str, str]] = []
    for k, (s, g) in enumerate(zip(out, gens)):
        decision, cut = planner_decision(clean_candidate(g.text), compat)
        s.update(planner_output=g.text, tokens=_tokens(g))
        if decision == "caller":
            second.append((k, "caller", prompt(s, caller_input(s, cut, speaker=speaker))))
        elif decision == "conclusion":
            second.append((k, "summarizer", prompt(s, summarizer_input(s, cut, speaker=speaker))))
    gens2 = models.generate([p for _, _, p in second], [r for _, r, _ in second], settings) if second else []
    for (k, role, _), g in zip(second, gens2):
        out[k][f"{role}_output"] = g.text
        tok = out[k]["tokens"]
        tok.update(prompt=tok["prompt"] + g.prompt_tokens, generated=tok["generated"] + g.generated_tokens,
                   truncated=tok["truncated"] or g.truncated)
    for s in out:
        s["predictions"] = compose_prediction(s["planner_output"], s.get("caller_output"), s.get("summarizer_output"),
                                              compat=compat)
    return out


def _role_input(role: str, sample: dict[str, Any]) -> str:
    return role_input(role, sample["tools"], backbone_history(sample["history"]), family=sample.get("family", "toolbench"))


def predict_chunk(models, samples: list[dict[str, Any]], settings: GenerationSettings, *,
                  speaker: str = "assistant", compat: str = "default") -> list[dict[str, Any]]:
    """``predict_static`` on a chunk; if it raises, sample by sample, keeping a failing sample with an empty
    prediction and its ``error``. Example: ``predict_chunk(models, samples[:32], GenerationSettings())``."""
    try:
        out = predict_static(models, samples, settings, speaker=speaker, compat=compat)
    except Exception:
        out = []
        for s in samples:
            try:
                out += predict_static(models, [s], settings, speaker=speaker, compat=compat)
            except Exception as e:
                out.append({**s, "predictions": "", "error": f"predict: {type(e).__name__}: {e}",
                            "tokens": {"prompt": 0, "generated": 0, "truncated": False}})
    for s in out:
        s.pop("model_input", None)
    return out


def score_static(finished: list[dict[str, Any]], file: str, scorer=None) -> dict[str, Any]:
    """Official-compatible static metrics (or ``scorer``'s) plus error and token counts.

    Example: ``score_static(predictions, "eval/x/predictions.json")["plan_em"]``.
    """
    from umi_lab.static_eval import evaluate_predictions

    metrics = (scorer or evaluate_predictions)(finished, file=file)
    metrics.setdefault("counts", {})["errors"] = sum("error" in s for s in finished)
    metrics["generation"] = {
        "prompt_tokens": sum(s["tokens"]["prompt"] for s in finished),
        "generated_tokens": sum(s["tokens"]["generated"] for s in finished),
        "truncated_prompts": sum(bool(s["tokens"]["truncated"]) for s in finished)}
    return metrics
