"""What the embedded tiny model can do from its context, along its pretraining: every K steps, greedy
continuations of held-out in-domain ToolWorld transcripts at each caller turn (the tool name, and the whole
call with its arguments, exactly as the gold call), each conclusion (the task's facts stated) and the first
planner thought of each dialogue that calls a tool (does it name every argument value of the first gold call,
i.e. did the model copy the question's entities into its plan).

The pretraining is the library's own (``backbone.prepare_pretraining`` + ``backbone._pretrain``, the code
``build_tiny`` runs), with the preset's fields overridden on the command line; the probe prompts are the
pretraining transcripts' own format (``pretrain_corpus.transcript``: compact docs + history string), cut at
the turn to predict. Test dialogues are never in the corpus.

Run: ``UMI_LAB_DATA=... OMP_NUM_THREADS=2 python -m benchmarks.pretrain_curve seq_len=512 steps=1500 every=150``
(``dialogues=12`` held-out dialogues by default; ``save=DIR`` also saves the final model there, loadable as
a backbone folder). Writes benchmarks/results/pretrain_curve.json and .md.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, replace

from benchmarks.common import header, markdown_table, run_main, write_results

HELD_OUT = "test_in_domain"


def probe(model, tokenizer, dialogues, new_tokens: int = 48) -> dict[str, float]:
    """Greedy caller, conclusion and first planner turns on ``dialogues``: shares of right tool names, exact
    calls, facts stated and first thoughts that name the first call's argument values."""
    import torch

    from umi_lab.protocol.prompts import history_piece, render_docs_compact
    from umi_lab.toolworld.success import fact_in

    model.eval()
    calls = names = exact = facts = stated = thoughts = copied = 0
    for d in dialogues:
        docs, history = render_docs_compact(d.tools), ""
        required = d.extra.get("task", {}).get("required_calls") or [[]]
        first_args = [str(v) for v in (required[0][0]["args"].values() if required[0] else ())]
        for i, turn in enumerate(d.conversations):
            text = history_piece(turn)
            first_thought = i == 1 and turn.role == "assistant" and bool(first_args)
            if turn.role in ("caller", "conclusion") or first_thought:
                head = f"{turn.role}:"
                ids = tokenizer(docs + history + head, return_tensors="pt").input_ids
                with torch.no_grad():
                    out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
                got = tokenizer.decode(out[0, ids.shape[1]:]).split("</s>")[0].strip()
                want = text[len(head):].split("</s>")[0].strip()
                if first_thought:
                    thoughts += 1
                    copied += all(v.lower() in got.lower() for v in first_args)
                elif turn.role == "caller":
                    calls += 1
                    names += got.split("\n")[0] == want.split("\n")[0]
                    exact += got == want
                else:
                    wanted = [str(f) for f in d.extra.get("task", {}).get("facts", [])]
                    facts += len(wanted)
                    stated += sum(fact_in(f, got) for f in wanted)
            history += text
    return {"caller_turns": calls, "tool_name": round(names / max(calls, 1), 3),
            "call_exact": round(exact / max(calls, 1), 3), "facts": facts, "fact_recall": round(stated / max(facts, 1), 3),
            "first_thoughts": thoughts, "thought_copies_args": round(copied / max(thoughts, 1), 3)}


def main() -> int:
    import torch

    from umi_lab.backbone import TINY_PRESETS, _pretrain, prepare_pretraining
    from umi_lab.pretrain_corpus import default_corpus_files
    from umi_lab.protocol.dialogue import load_dialogues
    from umi_lab.toolworld.manifest import resolve_toolworld

    args = dict(a.split("=", 1) for a in sys.argv[1:])
    spec = TINY_PRESETS[args.pop("preset", "default")]
    every, n_dialogues = int(args.pop("every", 150)), int(args.pop("dialogues", 12))
    save = args.pop("save", None)
    for key, value in args.items():
        if key not in spec.__dataclass_fields__:
            raise SystemExit(f"unknown field {key!r}; TinySpec has {', '.join(spec.__dataclass_fields__)}")
        spec = replace(spec, **{key: type(getattr(spec, key))(value)})
    held_out = load_dialogues(resolve_toolworld().file(HELD_OUT))[:n_dialogues]
    result = header("pretrain_curve", "cpu")
    t0 = time.perf_counter()
    _, tokenizer, ids, model = prepare_pretraining(spec, default_corpus_files(spec.corpus))
    rows: list[dict] = []
    train_s = [0.0, time.perf_counter()]  # seconds spent training, start of the current training stretch

    def on_step(step: int, losses: list[float]) -> None:
        if step % every and step != spec.steps:
            return
        train_s[0] += time.perf_counter() - train_s[1]
        row = {"step": step, "tokens_seen": step * spec.batch_size * spec.seq_len, "train_s": round(train_s[0], 1),
               "loss": round(sum(losses[-20:]) / len(losses[-20:]), 3), **probe(model, tokenizer, held_out)}
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
        train_s[1] = time.perf_counter()

    _pretrain(model, ids, spec, spec.steps, on_step=on_step)
    if save:
        model.save_pretrained(save)
        tokenizer.save_pretrained(save)
    result.update({"spec": asdict(spec), "parameters": sum(p.numel() for p in model.parameters()),
                   "corpus_tokens": int(ids.numel()), "held_out": f"{HELD_OUT}[:{n_dialogues}]",
                   "torch_threads": torch.get_num_threads(), "wall_s": round(time.perf_counter() - t0, 1), "rows": rows})
    body = (f"Spec: {asdict(spec)}; {result['parameters']:,} parameters; corpus {result['corpus_tokens']:,} tokens "
            f"(corpus style `{spec.corpus}`); probe: the first {n_dialogues} `{HELD_OUT}` dialogues, greedy.\n\n"
            + markdown_table(rows))
    write_results("pretrain_curve", result, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
