"""Fill the results table of ``benchmarks/README.md`` from ``benchmarks/results/*.json``.

Rewrites the text between ``<!-- results:start -->`` and ``<!-- results:end -->``; everything else in the
README is left alone. Run after re-running any benchmark:

    python benchmarks/report.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import common

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _when(r: dict[str, Any]) -> str:
    load = " (under load)" if r.get("cpu_under_load") else ""
    return f"{r['date_utc'][:16].replace('T', ' ')} UTC{load}"


def rows(folder: Path) -> list[dict[str, str]]:
    """One row per measured quantity: benchmark, measure, value, target, verdict, when."""
    out: list[dict[str, str]] = []

    def add(bench, measure, value, target="", met=None, r=None):
        verdict = "" if met is None else ("met" if met else "missed")
        out.append({"benchmark": bench, "measure": measure, "value": value, "target": target, "verdict": verdict,
                    "measured": _when(r) if r else ""})

    t = _load(folder, "bench_training")
    if t:
        for arm, a in t["arms"].items():
            add("training", f"{arm}: real tokens/s", f"{a['tokens_per_s']:,.0f}", r=t)
            add("training", f"{arm}: MFU (CPU peak estimated)", f"{a['mfu']:.1%}", r=t)
            add("training", f"{arm}: peak RSS", f"{common.gib(a['peak_memory_bytes'])} GiB", r=t)
        add("training", "speed-up ours / TRL defaults", f"{t['speedup_tokens_per_s']:.2f}×", "≥ 1.5× (GPU, 7B)",
            t["speedup_tokens_per_s"] >= 1.5, t)
        if "glpft" in t:
            per = ", ".join(f"{s['role']} {s['peak_memory_gib']}" for s in t["glpft"]["stages"])
            add("training", "four GLPFT trainings, one process: peak GiB per stage", per, "≤ 40 GB (GPU, 7B)", None, t)
    i = _load(folder, "bench_inference")
    if i:
        for arm, a in i["arms"].items():
            add("inference", f"{arm}: samples/s", f"{a['samples_per_s']:.2f}", r=i)
            add("inference", f"{arm}: generated tokens/s", f"{a['generated_tokens_per_s']:,.0f}", r=i)
        add("inference", "batched / sequential samples/s", f"{i['speedup_samples_per_s']:.2f}×", "≥ 10×",
            i["targets"]["speedup_met"], i)
        add("inference", "base + 3 adapters / one model (parameter bytes)",
            f"{i['memory']['ratio_base_plus_adapters_to_one_model']:.3f}×", "≤ 1.1×", i["targets"]["memory_ratio_met"], i)
        add("inference", "3 merged models / one model", f"{i['memory']['ratio_three_merged_to_one_model']:.2f}×", r=i)
        if i.get("project_serving"):
            add("inference", "RoleModels batched / one-at-a-time",
                f"{i['project_serving']['speedup_samples_per_s']:.2f}×", r=i)
    s = _load(folder, "bench_splitting")
    if s:
        for name, a in s["throughput"].items():
            add("splitting", f"{name}: trajectories/s ({a['dialogues']:,} dialogues)", f"{a['trajectories_per_s']:,.0f}", r=s)
        add("splitting", "ours / naive on ToolWorld", f"{s['speedup']:.2f}×", "≥ 5×", s["targets"]["speedup_met"], s)
        last = s["scaling"]["rows"][-1]
        add("splitting", f"ours / naive at {last['turns']} turns", f"{last['speedup']:.1f}×", "≥ 5×",
            last["speedup"] >= 5, s)
        add("splitting", "log-log slope ours / naive", f"{s['scaling']['slope_ours']:.2f} / {s['scaling']['slope_naive']:.2f}",
            "≈ 1 / ≈ 2", s["targets"]["linear_met"], s)
    for mode in ("smoke", "full"):
        e = _load(folder, f"bench_e2e_{mode}")
        if e:
            stages = ", ".join(f"{st['stage']} {st['seconds']:.0f} s" for st in e["stages"])
            add("e2e", f"study --{mode}: wall-clock (exit {e.get('exit_code', '–')})", f"{e['wall_s']:.0f} s",
                "≤ 600 s (2 cores)" if mode == "smoke" else "", e.get("targets", {}).get("met"), e)
            if stages:
                add("e2e", f"study --{mode}: per stage", stages, r=e)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(common.RESULTS_DIR))
    p.add_argument("--readme", default=str(common.REPO / "benchmarks" / "README.md"))
    a = p.parse_args(argv)
    readme = Path(a.readme)
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"error: {readme}: markers {START} / {END} not found")
    table = common.markdown_table(rows(Path(a.results)),
                                  ["benchmark", "measure", "value", "target", "verdict", "measured"])
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(json.dumps({"readme": str(readme), "rows": table.count("\n") - 1}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
