"""The generator and the committed data set: bit-reproducible, α-UMi format, gold replays and passes,
ToolBench-like splits (no shared instructions; held-out tools and category absent from train)."""

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from umi_lab.protocol.dialogue import DECISIONS, TURN_ROLES, load_dialogues
from umi_lab.toolworld import ToolWorld, check_success
from umi_lab.toolworld.apis import API_BY_NAME
from umi_lab.toolworld.cli import add_cli, replay_mismatches
from umi_lab.toolworld.dataset import SPLIT_FILES, GenerateConfig, dumps, generate
from umi_lab.toolworld.generator import HELD_OUT_CATEGORY, HELD_OUT_TOOLS, is_held_out, request_of

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "toolworld"
NEXT = re.compile(r" Next: (caller|conclusion|give up)\.$")


def run_cli(argv):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def committed():
    return {name: load_dialogues(DATA / f) for name, f in SPLIT_FILES.items()}


@pytest.fixture(scope="module")
def raw():
    return {name: json.loads((DATA / f).read_text(encoding="utf-8")) for name, f in SPLIT_FILES.items()}


def test_cli_generate_is_bit_reproducible(tmp_path, capsys):
    argv = ["toolworld", "generate", "--seed", "3", "--n-train", "60", "--n-test-id", "15", "--n-test-ood", "15"]
    assert run_cli(argv + ["--out", str(tmp_path / "a")]) == 0
    assert run_cli(argv + ["--out", str(tmp_path / "b")]) == 0
    assert '"dialogues": 60' in capsys.readouterr().out
    for f in SPLIT_FILES.values():
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    other = tmp_path / "c"
    run_cli(["toolworld", "generate", "--seed", "4", "--n-train", "60", "--n-test-id", "15", "--n-test-ood", "15",
             "--out", str(other)])
    assert (other / "train.json").read_bytes() != (tmp_path / "a" / "train.json").read_bytes()


def test_generation_does_not_depend_on_hash_seed(tmp_path):
    code = ("import sys; from umi_lab.toolworld.dataset import GenerateConfig, generate, write_splits; "
            "write_splits(generate(GenerateConfig(1, 40, 10, 10)), sys.argv[1])")
    for hs in ("1", "2"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / hs)], check=True, cwd=REPO,
                       env={**os.environ, "PYTHONHASHSEED": hs})
    for f in SPLIT_FILES.values():
        assert (tmp_path / "1" / f).read_bytes() == (tmp_path / "2" / f).read_bytes()


def test_committed_data_equals_a_fresh_generation():
    """``python -m umi_lab toolworld generate --seed 0 --out data/toolworld`` (the documented defaults)."""
    fresh = generate(GenerateConfig(seed=0))
    for name, f in SPLIT_FILES.items():
        assert dumps(fresh[name]).encode("utf-8") == (DATA / f).read_bytes(), f"{f} is stale: regenerate it"


def test_negative_counts_are_refused():
    from umi_lab.errors import DataError

    with pytest.raises(DataError) as e:
        GenerateConfig(n_test_ood=-1)
    assert e.value.field == "n_test_ood"


def test_sizes_and_counts(committed):
    assert [len(committed[s]) for s in SPLIT_FILES] == [2000, 200, 200]
    assert sum((DATA / f).stat().st_size for f in SPLIT_FILES.values()) < 20_000_000
    ids = [d.id for ds in committed.values() for d in ds]
    assert len(ids) == len(set(ids))


def test_alpha_umi_format(raw):
    for name, rows in raw.items():
        for d in rows:
            assert list(d)[:3] == ["tools", "instruction", "conversations"]
            assert d["split"] == name and d["level"] in ("G1", "G2", "G3") and d["category"] == d["categories"][0]
            turns = d["conversations"]
            assert turns[0] == {"from": "user", "value": d["instruction"]}
            assert {t["from"] for t in turns} <= set(TURN_ROLES)
            for i, t in enumerate(turns):
                if t["from"] == "assistant":
                    m = NEXT.search(t["value"])
                    assert m and sum(t["value"].count(f"Next: {x}") for x in DECISIONS) == 1, t["value"]
                    nxt = turns[i + 1]["from"] if i + 1 < len(turns) else None
                    assert nxt == {"caller": "caller", "conclusion": "conclusion", "give up": None}[m.group(1)]
                elif t["from"] == "caller":
                    name_, args = re.fullmatch(r"Action: (\S+)\nAction Input: (\{.*\})", t["value"], re.S).groups()
                    assert name_ in [x["Name"] for x in d["tools"]] and isinstance(json.loads(args), dict)
                    assert turns[i + 1]["from"] == "observation"
            for tool in d["tools"]:
                assert set(tool) == {"Name", "function", "input"} and tool["Name"] in API_BY_NAME


def test_gold_replays_exactly_and_passes(committed):
    world = ToolWorld(seed=0)
    for ds in committed.values():
        for d in ds:
            assert replay_mismatches(world, d) == [], d.id
            res = check_success(d.extra["task"], d)
            assert res.passed, (d.id, res.reasons)


def test_mix_of_levels_recoveries_and_give_ups(raw):
    for rows in raw.values():
        n = len(rows)
        levels = Counter(d["level"] for d in rows)
        assert all(levels[g] >= 0.2 * n for g in ("G1", "G2", "G3")), levels
        assert 0.07 * n <= sum(d["task"]["recovery"] for d in rows) <= 0.16 * n
        give_ups = [d for d in rows if not d["task"]["solvable"]]
        assert 0.01 * n <= len(give_ups) <= 0.09 * n
        for d in give_ups:
            assert d["conversations"][-1]["value"].endswith("Next: give up.") and d["task"]["facts"] == []
    train = raw["train"]
    assert len({d["category"] for d in train}) >= 8
    kinds = Counter(f["kind"] for d in train for f in d["task"]["fault_plan"])
    assert set(kinds) == {"transient", "rate_limit", "down"}
    assert sum(d["task_type"].endswith("_missing") for d in train) >= 20  # things that do not exist
    assert len({d["task_type"] for d in train}) >= 40


def test_splits_like_toolbench(raw):
    train, test_id, test_ood = raw["train"], raw["test_in_domain"], raw["test_out_of_domain"]
    train_text = {d["instruction"] for d in train}
    assert len(train_text) == len(train)
    assert not train_text & {d["instruction"] for d in test_id}
    assert not train_text & {d["instruction"] for d in test_ood}
    # not even the same request with another greeting or closing phrase
    train_requests = {request_of(t) for t in train_text}
    assert len(train_requests) == len(train)
    assert not train_requests & {request_of(d["instruction"]) for d in test_id + test_ood}
    train_apis = {t["Name"] for d in train for t in d["tools"]}
    assert not any(is_held_out(a) for a in train_apis)
    assert not any(API_BY_NAME[a].category == HELD_OUT_CATEGORY or API_BY_NAME[a].tool in HELD_OUT_TOOLS
                   for a in train_apis)
    assert {t["Name"] for d in test_id for t in d["tools"]} <= train_apis
    for d in test_ood:  # every out-of-domain task needs a held-out API
        assert any(is_held_out(a) for a in d["task"]["tools"])
    ood_apis = {t["Name"] for d in test_ood for t in d["tools"]}
    assert {API_BY_NAME[a].tool for a in ood_apis if is_held_out(a)} == {"openlibrary", *HELD_OUT_TOOLS}


def test_role_splitting_and_static_samples_accept_the_data(committed):
    from umi_lab.splitting import split_roles
    from umi_lab.static_eval import static_samples

    ds = committed["test_in_domain"]
    roles = split_roles(ds)
    n_assistant = sum(t.role == "assistant" for d in ds for t in d.conversations)
    n_caller = sum(t.role == "caller" for d in ds for t in d.conversations)
    n_conclusion = sum(t.role == "conclusion" for d in ds for t in d.conversations)
    assert len(roles["planner"]) == n_assistant and len(roles["caller"]) == n_caller
    assert len(roles["summarizer"]) == n_conclusion
    assert len(static_samples(ds)) == n_assistant


def test_check_cli_reports_pass_rate(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert run_cli(["toolworld", "check", "--data", str(DATA / "test_out_of_domain.json"), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"n": 200, "passed": 200, "pass_rate": 1.0, "hallucinated": 0, "missing_facts": 0,
                       "failed_calls": 0}
    assert len(json.loads(out.read_text())["results"]) == 200


def test_tools_cli_lists_apis(capsys):
    assert run_cli(["toolworld", "tools", "--category", "units"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and "convert_length_for_unitconv(value: number, from_unit: string, to_unit: string)" \
        in lines[0]


def test_check_cli_judges_recorded_trajectories(tmp_path, capsys, committed):
    from umi_lab.errors import DataError
    from umi_lab.protocol.dialogue import RecordedTrajectory, Turn, save_trajectories

    gold = committed["test_in_domain"][:3]
    wrong = load_dialogues(DATA / "test_in_domain.json")[1]
    wrong.conversations[1:1] = [Turn("assistant", "x Next: caller."), Turn("caller", "Action: made_up_for_x\n"
                                                                                      "Action Input: {}")]
    trajs = [RecordedTrajectory(gold[0].id, "gold", gold[0], [], "conclusion"),
             RecordedTrajectory(gold[1].id, "broken", wrong, [], "conclusion")]
    path = tmp_path / "trajectories.jsonl"
    save_trajectories(path, trajs)
    assert run_cli(["toolworld", "check", "--data", str(DATA / "test_in_domain.json"), "--trajectories",
                    str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 2 and summary["passed"] == 1 and summary["hallucinated"] == 1
    save_trajectories(path, [RecordedTrajectory("no-such-id", "gold", gold[0], [], "conclusion")])
    with pytest.raises(DataError) as e:
        run_cli(["toolworld", "check", "--data", str(DATA / "test_in_domain.json"), "--trajectories", str(path)])
    assert e.value.record == 0 and e.value.field == "task_id"


def test_a_refused_gold_call_is_a_generator_bug():
    import random

    from umi_lab.toolworld.generator import Episode
    from umi_lab.toolworld.world import build_world

    ep = Episode(build_world(0), random.Random(0), ["timezone_for_geodb"], "plain", 1)
    with pytest.raises(RuntimeError, match="was refused"):
        ep.call("timezone_for_geodb", {"town": "Namyst"}, "A wrong argument name.")


def test_gold_retries_once_then_gives_up():
    """A call that keeps failing (here: over the per-episode quota) is retried once, then given up."""
    import random

    from umi_lab.toolworld.env import DEFAULT_QUOTA
    from umi_lab.toolworld.generator import Episode, GiveUp
    from umi_lab.toolworld.world import build_world

    ep = Episode(build_world(0), random.Random(0), ["timezone_for_geodb"], "plain", 1)
    for _ in range(DEFAULT_QUOTA):
        ep.env.call("timezone_for_geodb", '{"city": "Namyst"}')
    with pytest.raises(GiveUp, match="unavailable"):
        ep.call("timezone_for_geodb", {"city": "Namyst"}, "Time zone.")
    assert [r for r, _ in ep.turns] == ["assistant", "caller", "observation"] * 2
    assert ep.recovered and not ep.solvable
