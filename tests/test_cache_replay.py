"""ToolBench cache replay on the shared ToolBench example answer trees."""

from __future__ import annotations

import json

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Tool
from umi_lab.tools.cache_replay import (
    CacheReplay,
    CacheReplayRegistry,
    load_answer_file,
    normalise_arguments,
    tool_document,
)
from umi_lab.tools.registry import NOT_IN_CACHE, UNKNOWN_TOOL


@pytest.fixture(scope="module")
def replay(shared_data):
    return CacheReplay(shared_data / "toolbench_example")


def test_summary_counts(replay):
    assert replay.summary() == {"tasks": 13, "recordings": 102, "conflicts": 7, "skipped": 2}
    assert sorted(s["file"].rsplit("/", 1)[1].split("_")[0] for s in replay.skipped) == ["69", "8"]
    task = replay.tasks()[0]
    assert task.id == "G1_10" and task.conversations[0].role == "user"
    assert task.tool_names == ["transitaire_for_transitaires", "transitaires_for_transitaires"]


def test_every_recorded_train_message_call_replays_exactly(replay, shared_data):
    checked = 0
    for path in sorted((shared_data / "toolbench_example" / "answer").glob("G*_answer/*.json")):
        data = json.loads(path.read_text())
        msgs = data["answer_generation"].get("train_messages") or []
        if not msgs:
            continue
        env = replay.env_for(load_answer_file(path).task_id)
        chain = msgs[-1]
        for k, m in enumerate(chain[:-1]):
            call = m.get("function_call") if m.get("role") == "assistant" else None
            if call and call["name"] != "Finish" and chain[k + 1]["role"] == "function":
                obs = env.call(call["name"][-64:], call["arguments"])
                if (call["name"][-64:], normalise_arguments(call["arguments"])) in env.recordings:
                    assert obs.status != NOT_IN_CACHE
                    checked += 1
    assert checked >= 20
    assert env.counts["misses"] == 0


def test_key_order_and_whitespace_do_not_matter(replay):
    env = replay.env_for("G1_10")
    recorded = env.call("transitaire_for_transitaires", '{\n  "is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"\n}')
    same = env.call("transitaire_for_transitaires", '{"is_id":"ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"}')
    assert recorded.status == "ok" and recorded.text == same.text and "98800" in same.text
    assert normalise_arguments('{"b": 1, "a": [1, 2]}') == normalise_arguments('{ "a":[1,2],"b":1 }')


def test_misses_hallucinations_and_bad_arguments(replay):
    env = replay.env_for("G1_10")
    miss = env.call("transitaire_for_transitaires", '{"is_id": "NOPE"}')
    assert miss.status == NOT_IN_CACHE and "not in cache" in json.loads(miss.text)["error"]
    ghost = env.call("weather_for_nowhere", "{}")
    assert ghost.status == UNKNOWN_TOOL and "No such function name" in ghost.text
    bad = env.call("transitaire_for_transitaires", "{is_id: oops")
    assert bad.status == "bad_arguments"
    assert env.counts == {"hits": 0, "misses": 1, "unknown_tool": 1, "bad_arguments": 1}


def test_tool_document_follows_the_stage1_rules():
    doc = tool_document({"name": "x" * 70, "description": "d" * 300,
                         "parameters": {"properties": {"q": {"type": "string", "description": "e" * 300},
                                                       "n": {"type": "number"}}}})
    assert doc.Name == "x" * 64 and doc.function == "d" * 256
    assert doc.input == {"q": "string, " + "e" * 256, "n": "number"}


def test_registry_doctest_shape():
    reg = CacheReplayRegistry([Tool("f", "d", {})], {("f", "{}"): '{"error": "boom", "response": ""}'})
    assert reg.call("f", "").status == "tool_error"


def test_broken_answer_file_is_a_located_error(tmp_path):
    bad = tmp_path / "answer" / "G1_answer" / "1_x.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"answer_generation": {"query": "q", "function": "nope"}}))
    with pytest.raises(DataError) as e:
        CacheReplay(tmp_path)
    assert e.value.field == "answer_generation.function" and str(bad) in str(e.value)
    with pytest.raises(DataError):
        CacheReplay(tmp_path / "empty")
