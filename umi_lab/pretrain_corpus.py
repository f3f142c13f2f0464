"""Pretraining text of the embedded tiny model (``umi_lab.backbone.build_tiny``), from training data only.

Three styles: ``"transcripts"`` renders each ToolWorld *train* dialogue as one role-tagged transcript, compact
tool docs then the history string (``user: ...</s>assistant: ...</s>caller: ...``), the α-UMi conversation
format every role's data is cut from; ``"transcripts_roles"`` (the default preset) adds, after all the
transcripts and up to the size cap, the train dialogues' role samples (backbone, planner, caller, summarizer)
as the study's tiny preset trains on them (``ROLE_STYLE``: prompt + target + ``</s>``), so the model learns
to read the dialogue from inside the role prompts too; ``"mixed"`` (the test preset) takes every string
value of the ToolWorld train dialogues, the α-UMi train-example conversations, ToolBench instructions and
GSM8K solutions, interleaved. Test splits are never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import data_root, read_records


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


def transcript(rec: Any, file: str | None = None, record: int | None = None) -> str:
    """A dialogue record as one role-tagged transcript: compact tool docs, then the history string.

    >>> transcript({"tools": [], "conversations": [{"from": "user", "value": "hi"}]})
    'user: hi</s>'
    """
    from umi_lab.protocol.prompts import history_string, render_docs_compact

    try:
        return render_docs_compact(rec.get("tools") or []) + history_string(rec["conversations"])
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise DataError(f"not a dialogue record ({type(e).__name__}: {e})", file=file, record=record,
                        field="conversations") from None


# the prompt style of the role samples in "transcripts_roles": configs/tiny_study.yaml's (a test checks they agree)
ROLE_STYLE = {"compact_docs": True, "space_to_target": True}
CORPUS_ROLES = ("backbone", "planner", "caller", "summarizer")


def role_texts(rec: Any, file: str | None = None, record: int | None = None) -> list[str]:
    """A train dialogue's role samples as model text: ``model_prompt(input) + target_text(target) + "</s>"``.

    >>> role_texts({"tools": [], "conversations": [{"from": "user", "value": "hi"}]})
    []
    """
    from umi_lab.protocol.prompts import PromptStyle
    from umi_lab.splitting import split_roles

    style = PromptStyle(**ROLE_STYLE)
    try:
        split = split_roles([rec])
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise DataError(f"not a dialogue record ({type(e).__name__}: {e})", file=file, record=record,
                        field="conversations") from None
    return [style.model_prompt(s["input"], tools=s.get("tools")) + style.target_text(s["target"]) + "</s>"
            for role in CORPUS_ROLES for s in split.get(role, [])]


def default_corpus_files(style: str = "transcripts") -> list[Path]:
    """Training-only text sources for pretraining the tiny model, in a fixed order.

    The ToolWorld ``train.json`` (``$UMI_LAB_TOOLWORLD``, else the default data set, see
    ``umi_lab.toolworld.manifest``); for ``style="mixed"`` also, from the shared data
    (``$UMI_LAB_DATA``): the α-UMi train-example conversations, ToolBench example instructions and GSM8K
    train solutions. Test sets are never used.

    >>> isinstance(default_corpus_files(), list)
    True
    """
    from umi_lab.toolworld.manifest import resolve_toolworld

    files = []
    files.append(resolve_toolworld().file("train"))
    if style in ("transcripts", "transcripts_roles"):
        return files
    root = data_root()
    if root is not None and root.is_dir():
        for rel in ("alpha_umi_toolbench/train-example/raw_data/raw_data_stage_2.json",
                    "gsm8k/train.jsonl"):
            if (root / rel).is_file():
                files.append(root / rel)
        files.extend(sorted((root / "toolbench_example" / "instruction").glob("*.json")))
    return files


def corpus_text(files: list[Path], max_chars: int, style: str = "mixed") -> str:
    """Plain text from ``files``, one piece per line, cut at ``max_chars``, interleaving the sources so a
    cut keeps some of each. ``style="mixed"``: every string value; ``"transcripts"``: each dialogue record
    (one with ``conversations``) as one ``transcript``, other records' string values as in ``"mixed"``;
    ``"transcripts_roles"``: the transcripts, then the dialogues' ``role_texts`` in order until the cap.

    >>> corpus_text([], 10)
    ''
    """
    if style not in ("mixed", "transcripts", "transcripts_roles"):
        raise ValueError(f"unknown corpus style {style!r}; expected 'mixed', 'transcripts' or 'transcripts_roles'")
    per_file: list[list[str]] = []
    for f in files:
        out: list[str] = []
        roles: list[str] = []
        size = 0
        for i, rec in enumerate(read_records(f)):
            if style != "mixed" and isinstance(rec, dict) and "conversations" in rec:
                out.append(transcript(rec, str(f), i))
                if style == "transcripts_roles" and size < max_chars:
                    texts = role_texts(rec, str(f), i)
                    roles += texts
                    size += sum(len(t) + 1 for t in texts)
            else:
                _strings(rec, out)
        per_file.append(out + roles)
    pieces: list[str] = []
    total = 0
    for i in range(max((len(p) for p in per_file), default=0)):
        for p in per_file:
            if i < len(p) and total < max_chars:
                pieces.append(p[i])
                total += len(p[i]) + 1
    return "\n".join(pieces)[:max_chars]
