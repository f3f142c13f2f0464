"""The static-inference workload of ``bench_inference.py``: per static sample a planner request and, unless the
reference is a give-up, a caller or summarizer request built from the reference thought (library renderers:
``static_eval.static_samples``, ``caller_input``, ``summarizer_input``, the default prompt style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import data_root


def toolworld_test_file() -> Path | None:
    """The in-domain ToolWorld test dialogues the library evaluates on (``umi_lab.toolworld.manifest``:
    ``$UMI_LAB_TOOLWORLD``, else the default data set), or None when they cannot be had."""
    from umi_lab.toolworld.manifest import resolve_toolworld

    try:
        return resolve_toolworld().file("test_in_domain")
    except (DataError, OSError):
        return None


def load_workload(source: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
    """``(description, requests)``: per static sample a planner request and, unless the reference is a
    give-up, a caller or summarizer request. ``limit`` caps the number of samples (0 = all)."""
    from umi_lab.protocol.dialogue import load_dialogues
    from umi_lab.protocol.prompts import DEFAULT_STYLE
    from umi_lab.static_eval import caller_input, static_samples, summarizer_input

    if source == "auto":
        source = "toolworld" if toolworld_test_file() is not None else "ood"
    if source == "toolworld":
        path = toolworld_test_file()
        if path is None:
            raise DataError("no ToolWorld test file (set UMI_LAB_TOOLWORLD)", field="source")
        family = "toolbench"
    elif source == "ood":
        root = data_root()
        path = root / "alpha_umi_toolbench" / "test" / "out_of_domain.json" if root else None
        if path is None or not path.is_file():
            raise DataError("shared data not found (set UMI_LAB_DATA)", file="alpha_umi_toolbench/test/out_of_domain.json")
        family = "toolbench"
    else:
        path, family = Path(source), "toolbench"
    samples = static_samples(load_dialogues(path), family, file=str(path))
    total = len(samples)
    if limit:
        samples = samples[:limit]
    requests = []
    for i, s in enumerate(samples):
        prompt = DEFAULT_STYLE.model_prompt  # the same "system: " style training used
        requests.append({"sample": i, "role": "planner", "prompt": prompt(s["model_input"])})
        thought = _reference_thought(s)
        if s["decision"] == "caller":
            requests.append({"sample": i, "role": "caller", "prompt": prompt(caller_input(s, thought))})
        elif s["decision"] == "conclusion":
            requests.append({"sample": i, "role": "summarizer", "prompt": prompt(summarizer_input(s, thought))})
    return f"{path.name}: {len(samples)} of {total} static samples", requests


def _reference_thought(sample: dict[str, Any]) -> str:
    ref = sample["reference"]
    if ref.startswith("assistant: "):
        return ref[len("assistant: "):].split("</s>", 1)[0]
    return ref
