"""Static evaluation, compatible with the official alpha-UMi evaluator (``GLPFT/inference_utils/toolbench``).

One sample per planner decision of a test dialogue (``static_samples``); a prediction string per sample,
parsed with ``parse_step`` (``umi_lab.protocol.grammar.official_step``); metrics computed by ``evaluate_predictions`` exactly as the official
``evaluate-multi_agent.py`` computes them (plan_em, action_em, hallu_rate, easy_f1, hard_f1, f1, rouge).

Where the official script crashes we return a number instead, and count the case:

* an empty argument-F1 list (e.g. no reference ``{}`` arguments): official ``ZeroDivisionError``; here the
  mean is 0, so the value is ``1e-30``; ``counts["easy_f1_n"]`` etc. say how many samples each list holds.
* a ``call`` prediction without a second ``</s>`` segment (``text.split('</s>')[1]``): official
  ``IndexError``; here the segment is empty, so action ``none`` and input ``{}``
  (``counts["pred_unparseable"]``).
* an empty ROUGE hypothesis or reference (nothing but dots or nothing at all, which the ``rouge`` package
  refuses with "Hypothesis is empty."): the pair scores 0 and still counts in the mean
  (``counts["rouge_empty"]``). Every other pair is scored by the ``rouge`` package itself.
* no samples at all: every metric is 0.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rouge import Rouge

from umi_lab.errors import DataError, require_strings
from umi_lab.io import read_records, write_json
from umi_lab.protocol.dialogue import Dialogue, load_dialogues
from umi_lab.protocol.grammar import (
    COMPAT_MODES,
    DECISION_MARKS,
    Decision,
    clean_candidate,
    official_step,
)
from umi_lab.protocol.predictions import backbone_step, compose_prediction, planner_decision
from umi_lab.protocol.prompts import FAMILIES, history_string, history_with_thought, role_input

# the official evaluator's names for the protocol's official rules (umi_lab.protocol.grammar)
parse_step = official_step
PLANS = ("call", "finish", "give up")
F1_EPS = 1e-30


# ----------------------------------------------------------------------------------------------- samples
def static_samples(dialogues: Iterable[Dialogue | dict], family: str = "toolbench", *,
                   file: str | None = None) -> list[dict[str, Any]]:
    """One static-evaluation sample per planner decision (assistant turn with a ``Next:`` mark).

    Each sample: ``tools``, ``instruction``, ``history`` (turn dicts before the decision), ``dispath``
    (the history string, the official key name), ``model_input`` (planner template + `` assistant: ``),
    ``reference``, ``decision`` (caller | conclusion | give up), ``dialogue_index``, ``turn_index``,
    ``family`` and ``id`` (the dialogue's id, or None).

    >>> d = {"tools": [], "instruction": "q", "conversations": [{"from": "user", "value": "q"},
    ...      {"from": "assistant", "value": "Done. Next: give up."}]}
    >>> [s["reference"] for s in static_samples([d])]
    ['Done. Next: give up.']
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown prompt family {family!r}; expected one of {', '.join(FAMILIES)}")
    samples = []
    for di, raw in enumerate(dialogues):
        dlg = raw if isinstance(raw, Dialogue) else Dialogue.from_dict(raw, file=file, record=di)
        turns = dlg.conversations
        tools = [t.to_dict() for t in dlg.tools]
        for ti, turn in enumerate(turns):
            if turn.role != "assistant" or not any(m in turn.value for m in DECISION_MARKS.values()):
                continue
            history = turns[:ti]
            # The official builder: a value mentioning caller/conclusion gets the next turn appended.
            if "Next: caller" in turn.value or Decision.CONCLUSION.mark in turn.value:
                if ti + 1 >= len(turns):
                    raise DataError("a caller/conclusion decision is the last turn; the reference needs the "
                                    "turn after it", file=file, record=di, field=f"conversations[{ti}].value")
                nxt = turns[ti + 1]
                reference = f"assistant: {turn.value}</s>{nxt.role}: {nxt.value}</s>"
            else:
                reference = turn.value
            plan = parse_step(reference)[0]
            dispath = history_string(history)
            samples.append({
                "tools": tools, "instruction": dlg.instruction,
                "history": [t.to_dict() for t in history], "dispath": dispath,
                "model_input": role_input("planner", dlg.tools, dispath, family=family),
                "reference": reference,
                "decision": Decision.coerce(plan).label,
                "dialogue_index": di, "turn_index": ti, "family": family, "id": dlg.id,
            })
    return samples


def caller_input(sample: dict[str, Any], thought: str, *, speaker: str = "assistant") -> str:
    """The caller's model input continuing a static sample after the planner said ``thought``.

    ``speaker="assistant"`` matches the training data; ``"planner"`` is the official inference quirk
    (it writes ``planner: <thought></s>`` into the history).
    Example: ``caller_input(sample, "Search it. Next: caller.")``.
    """
    history = history_with_thought(sample["dispath"], thought, speaker=speaker)
    return role_input("caller", sample["tools"], history, thought=thought, family=sample.get("family", "toolbench"))


def summarizer_input(sample: dict[str, Any], thought: str, *, speaker: str = "assistant") -> str:
    """The summarizer's model input after the planner's ``thought`` (see ``caller_input``).

    Example: ``summarizer_input(sample, "I know it. Next: conclusion.")``.
    """
    history = history_with_thought(sample["dispath"], thought, speaker=speaker)
    return role_input("summarizer", sample["tools"], history, family=sample.get("family", "toolbench"))


# ----------------------------------------------------------------------------------------------- metrics
def _argument_f1(pred_action: str, ref_action: str, pred_input: str, ref_input: str
                 ) -> tuple[float | None, float | None, float | None, bool]:
    """One reference-``call`` sample's ``(easy, hard, overall, left_out)`` argument F1, following the official
    branches; None where the official code appends nothing to that list."""
    if pred_action != ref_action:
        return 0, 0, 0, False
    try:
        ref = json.loads(ref_input)
    except (ValueError, RecursionError):
        return None, None, None, True  # official: the sample is left out of all three lists
    try:
        pred = json.loads(pred_input)
    except (ValueError, RecursionError):
        pred = _UNPARSED
    if ref == {}:
        score = 1 if (pred is not _UNPARSED and pred == {}) else 0
        return score, None, score, False
    score = 0
    if isinstance(ref, dict) and isinstance(pred, dict):
        full = sum(1 for k, v in ref.items() if k in pred and pred[k] == v)
        half = sum(1 for k, v in ref.items() if k in pred and pred[k] != v)
        recall = (0.5 * half + full) / (len(ref) + F1_EPS)
        precision = (0.5 * half + full) / (len(pred) + F1_EPS)
        if recall + precision != 0:
            score = (2 * recall * precision) / (recall + precision)
    return None, score, score, False


_UNPARSED = object()


def _words_for_rouge(text: str) -> bool:
    """Whether the ``rouge`` package accepts ``text`` (it needs one non-empty ``.``-separated piece)."""
    return any(len(piece) > 0 for piece in text.split("."))


def rouge_l_scores(hyps: list[str], refs: list[str]) -> tuple[list[float], int]:
    """Rouge-L F of every hypothesis/reference pair with the ``rouge`` package; empty pairs score 0.

    Returns ``(scores, n_empty)``. ``rouge_l_scores(["a b"], ["a b"])[0][0]`` ≈ 1.
    """
    ok = [i for i, (h, r) in enumerate(zip(hyps, refs)) if _words_for_rouge(h) and _words_for_rouge(r)]
    scores = [0.0] * len(refs)
    if ok:
        got = Rouge().get_scores([hyps[i] for i in ok], [refs[i] for i in ok])
        for i, s in zip(ok, got):
            scores[i] = s["rouge-l"]["f"]
    return scores, len(refs) - len(ok)


def rouge_l(hyps: list[str], refs: list[str]) -> tuple[float, int]:
    """Mean Rouge-L F of hypothesis/reference pairs with the ``rouge`` package; empty pairs score 0.

    Returns ``(mean, n_empty)``; 0 for no pairs. ``rouge_l(["a b"], ["a b"])[0]`` ≈ 1.
    """
    if not refs:
        return 0, 0
    scores, empty = rouge_l_scores(hyps, refs)
    total = 0
    for s in scores:  # the package's own summation order
        total = total + s
    return total / len(refs), empty


def _mean_eps(values: list) -> float:
    return (sum(values) / len(values) if values else 0) + F1_EPS


SAMPLE_METRICS = ("plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge")


def sample_scores(samples: list[dict[str, Any]], *, file: str | None = None, backbone: bool = False,
                  compat: str = "default") -> list[dict[str, Any]]:
    """Each sample's contribution to every official metric: ``plan_em``, ``hallu_rate`` (0/1, all samples),
    ``action_em`` and ``easy_f1``/``hard_f1``/``f1`` (reference calls), ``rouge`` (reference answers); None
    where the official code leaves the sample out of that metric. Also ``ref_plan``, ``pred_plan``,
    ``pred_unparseable`` and ``args_ref_unparseable`` flags. ``evaluate_predictions`` averages these;
    ``backbone``/``compat`` as there.

    >>> t = [{"Name": "f", "function": "", "input": {}}]
    >>> sample_scores([{"tools": t, "reference": "a Next: give up.", "predictions": "b Next: give up."}])[0]["plan_em"]
    1
    """
    out = []
    finish: list[tuple[int, str, str]] = []
    step = (lambda text: backbone_step(text, compat)) if backbone else parse_step
    for i, d in enumerate(samples):
        reference, prediction, names = _checked(d, i, file)
        r_plan, r_action, r_input, r_answer = step(reference)
        if r_plan == "call" and "</s>" not in reference and not backbone:
            raise DataError("a call reference needs the caller turn after '</s>'", file=file, record=i,
                            field="reference")
        p_plan, p_action, p_input, p_answer = step(prediction)
        row: dict[str, Any] = dict.fromkeys(SAMPLE_METRICS)
        row.update(ref_plan=r_plan, pred_plan=p_plan, plan_em=int(r_plan == p_plan),
                   hallu_rate=int(p_action is not None and p_action != "none" and p_action not in names),
                   pred_unparseable=p_plan == "call" and "</s>" not in prediction and not backbone,
                   args_ref_unparseable=False)
        if r_plan == "finish":
            finish.append((i, "none" if p_answer is None else p_answer, r_answer))
        elif r_plan == "call":
            pa = "none" if p_action is None else p_action
            row["action_em"] = int(r_action == pa)
            easy, hard, overall, left_out = _argument_f1(pa, r_action, "{}" if p_input is None else p_input,
                                                         r_input)
            row.update(easy_f1=easy, hard_f1=hard, f1=overall, args_ref_unparseable=left_out)
        out.append(row)
    scores, _ = rouge_l_scores([h for _, h, _ in finish], [r for _, _, r in finish])
    for (i, hyp, ref), score in zip(finish, scores):
        out[i]["rouge"] = score
        out[i]["rouge_empty"] = not (_words_for_rouge(hyp) and _words_for_rouge(ref))
    return out


def evaluate_predictions(samples: list[dict[str, Any]], *, file: str | None = None, backbone: bool = False,
                         compat: str = "default") -> dict[str, Any]:
    """Official-compatible metrics of samples carrying ``reference``, ``predictions`` and ``tools``.

    Multi-agent prediction strings are parsed with ``evaluate-multi_agent.py``'s rules. With ``backbone``,
    references and predictions are raw backbone texts, parsed by ``grammar.backbone_step``: exactly
    ``evaluate-backbone.py`` under ``compat="official"``, the protocol's lenient reading otherwise.

    Returns ``plan_em, action_em, hallu_rate, easy_f1, hard_f1, f1, rouge`` plus ``counts`` and
    ``confusion`` (``confusion[ref_plan][pred_plan]``); the averages of ``sample_scores``. Example:
    ``evaluate_predictions(read_json("predictions.json"))["plan_em"]``.
    """
    rows = sample_scores(samples, file=file, backbone=backbone, compat=compat)
    counts: Counter = Counter()
    confusion = {p: dict.fromkeys(PLANS, 0) for p in PLANS}
    for r in rows:
        confusion[r["ref_plan"]][r["pred_plan"]] += 1
        counts[f"ref_{r['ref_plan']}"] += 1
        counts[f"pred_{r['pred_plan']}"] += 1
        counts["hallucinated"] += r["hallu_rate"]
        counts["pred_unparseable"] += r["pred_unparseable"]
    lists = {k: [r[k] for r in rows if r[k] is not None] for k in SAMPLE_METRICS}
    answers = lists["rouge"]
    total = 0
    for s in answers:  # the package's own summation order
        total = total + s
    n = len(samples)
    counts.update({"samples": n, "easy_f1_n": len(lists["easy_f1"]), "hard_f1_n": len(lists["hard_f1"]),
                   "f1_n": len(lists["f1"]), "args_ref_unparseable": sum(r["args_ref_unparseable"] for r in rows),
                   "rouge_empty": sum(bool(r.get("rouge_empty")) for r in rows)})
    for key in ("ref_call", "ref_finish", "ref_give up", "pred_call", "pred_finish", "pred_give up",
                "hallucinated", "pred_unparseable"):
        counts.setdefault(key, 0)
    acts = lists["action_em"]
    return {
        "plan_em": sum(lists["plan_em"]) / n if n else 0,
        "action_em": sum(acts) / len(acts) if acts else 0,
        "hallu_rate": sum(lists["hallu_rate"]) / n if n else 0,
        "easy_f1": _mean_eps(lists["easy_f1"]), "hard_f1": _mean_eps(lists["hard_f1"]), "f1": _mean_eps(lists["f1"]),
        "rouge": total / len(answers) if answers else 0, "counts": dict(sorted(counts.items())),
        "confusion": confusion,
    }


def _checked(d: Any, i: int, file: str | None) -> tuple[str, str, list[str]]:
    require_strings(d, ("reference", "predictions"), file=file, index=i)
    tools = d.get("tools")
    if not isinstance(tools, list):
        raise DataError("missing or not a list", file=file, record=i, field="tools")
    names = []
    for j, t in enumerate(tools):
        if not isinstance(t, dict) or not isinstance(t.get("Name"), str):
            raise DataError("a tool needs a string Name", file=file, record=i, field=f"tools[{j}].Name")
        names.append(t["Name"])
    return d["reference"], d["predictions"], names


def evaluate_file(path: str | os.PathLike, *, backbone: bool = False, compat: str = "default") -> dict[str, Any]:
    """Metrics of an official-shape ``predictions.json`` (a JSON list of samples with ``predictions``;
    a ``.jsonl`` file with one sample per line is read too).

    Example: ``evaluate_file("run/eval/toolbench-static/predictions.json")["f1"]``.
    """
    return evaluate_predictions(read_records(path), file=str(path), backbone=backbone, compat=compat)


# ----------------------------------------------------------------------------------------------- CLI
def _cmd_samples(args: argparse.Namespace) -> int:
    samples = static_samples(load_dialogues(args.input), args.prompts, file=args.input)
    write_json(args.out, samples)
    counts = Counter(s["decision"] for s in samples)
    print(json.dumps({"samples": len(samples), **{k: counts.get(k, 0) for k in DECISION_MARKS}, "out": args.out}))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_file(args.predictions, backbone=args.backbone, compat=args.compat)
    if args.out:
        write_json(args.out, metrics)
    print(json.dumps(metrics))
    return 0


def add_cli(sub: Any) -> None:
    """Register ``static-samples`` and ``evaluate-static``."""
    p = sub.add_parser("static-samples", help="one static-evaluation sample per planner decision")
    p.add_argument("--input", required=True, help="test conversations (JSON list or JSONL of dialogues)")
    p.add_argument("--out", required=True, help="where to write the samples (JSON list)")
    p.add_argument("--prompts", default="toolbench", choices=FAMILIES, help="prompt family")
    p.set_defaults(func=_cmd_samples)
    e = sub.add_parser("evaluate-static", help="official-compatible static metrics of a predictions.json")
    e.add_argument("predictions", help="JSON list of samples, each with reference, predictions, tools")
    e.add_argument("--out", default=None, help="also write the metrics JSON here")
    e.add_argument("--backbone", action="store_true",
                   help="references and predictions are raw Single-LLM (backbone) outputs")
    e.add_argument("--compat", default="default", choices=COMPAT_MODES,
                   help="backbone parsing: the protocol's reading, or evaluate-backbone.py's exact rules")
    e.set_defaults(func=_cmd_evaluate)


__all__ = ["static_samples", "parse_step", "planner_decision", "clean_candidate", "compose_prediction",
           "caller_input", "summarizer_input", "rouge_l", "rouge_l_scores", "sample_scores", "evaluate_predictions",
           "evaluate_file", "add_cli"]
