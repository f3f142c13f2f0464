"""The success checker: gold passes; a wrong fact, a missing or failed call, a hallucinated tool and a
wrong give-up decision fail, each with the reason named."""

import copy
import json
from pathlib import Path

import pytest

from umi_lab.errors import DataError
from umi_lab.protocol.dialogue import Dialogue, Turn, load_dialogues
from umi_lab.toolworld import ToolWorld, check_success
from umi_lab.toolworld.success import dialogue_calls, fact_in, normalise_fact, normalise_text, parse_caller

DATA = Path(__file__).resolve().parent.parent / "data" / "toolworld"


@pytest.fixture(scope="module")
def gold():
    return load_dialogues(DATA / "test_in_domain.json")


@pytest.fixture(scope="module")
def tw():
    return ToolWorld(seed=0)


def first(gold, pred):
    return copy.deepcopy(next(d for d in gold if pred(d)))


def solvable_multi(d):
    t = d.extra["task"]
    return t["solvable"] and len(t["required_calls"]) >= 2 and not t["fault_plan"]


def test_every_gold_dialogue_passes(gold):
    results = [check_success(d.extra["task"], d) for d in gold]
    assert all(r.passed for r in results), [r.reasons for r in results if not r.passed][:3]
    assert all(not r.missing_facts and not r.failed_calls and not r.hallucinated_tools for r in results)


def test_wrong_fact_fails(gold):
    d = first(gold, lambda d: d.extra["task"]["solvable"] and any(
        f.replace(".", "").isdigit() for f in d.extra["task"]["facts"]))
    fact = next(f for f in d.extra["task"]["facts"] if f.replace(".", "").isdigit())
    conclusion = d.conversations[-1]
    assert conclusion.role == "conclusion" and fact in conclusion.value
    wrong = str(float(fact) + 1) if "." in fact else str(int(fact) + 1)
    conclusion.value = conclusion.value.replace(fact, wrong)
    res = check_success(d, d)
    assert not res.passed and fact in res.missing_facts and "misses" in res.reasons[0]


def test_wrong_text_fact_fails(gold):
    d = first(gold, lambda d: d.extra["task_type"] == "geo_country")
    cap = d.extra["task"]["facts"][0]
    d.conversations[-1].value = "The capital is Somewhere Else and its currency is " + d.extra["task"]["facts"][1]
    res = check_success(d, d)
    assert not res.passed and res.missing_facts == [cap]


def test_missing_call_fails(gold):
    d = first(gold, solvable_multi)
    turns = d.conversations
    i = next(i for i, t in enumerate(turns) if t.role == "caller")
    del turns[i - 1:i + 2]  # drop the first planner/caller/observation triple, keep the answer
    res = check_success(d, d)
    assert not res.passed and len(res.failed_calls) == 1 and "never succeeded" in res.reasons[-1]
    assert res.missing_facts == []  # the answer itself is unchanged


def test_failed_call_does_not_count(gold):
    d = first(gold, solvable_multi)
    obs = next(t for t in d.conversations if t.role == "observation")
    obs.value = json.dumps({"error": "503 Service Unavailable", "response": ""})
    res = check_success(d, d)
    assert not res.passed and len(res.failed_calls) == 1


def test_call_with_other_arguments_fails(gold, tw):
    d = first(gold, lambda d: d.extra["task"]["solvable"] and not d.extra["task"]["fault_plan"])
    i = next(i for i, t in enumerate(d.conversations) if t.role == "caller")
    name, args = parse_caller(d.conversations[i].value)
    args = json.loads(args)
    key = next(k for k, v in args.items() if isinstance(v, str))
    args[key] = "X" + args[key]
    d.conversations[i].value = f"Action: {name}\nAction Input: {json.dumps(args)}"
    d.conversations[i + 1].value = tw.env_for(d).call(name, json.dumps(args)).text  # what that call really gets
    res = check_success(d, d)
    assert not res.passed and res.failed_calls


def test_hallucinated_tool_fails(gold):
    d = first(gold, lambda d: d.extra["task"]["solvable"])
    extra = [Turn("assistant", "Let me also check the news. Next: caller."),
             Turn("caller", 'Action: latest_news_for_newsapi\nAction Input: {"topic": "x"}'),
             Turn("observation", '{"error": "No such function name: latest_news_for_newsapi", "response": ""}')]
    d.conversations[1:1] = extra
    res = check_success(d, d)
    assert not res.passed and res.hallucinated_tools == ["latest_news_for_newsapi"]
    assert res.missing_facts == [] and res.failed_calls == []


def test_solvable_task_must_conclude(gold):
    d = first(gold, lambda d: d.extra["task"]["solvable"])
    d.conversations[-2].value = "I cannot do this. Next: give up."
    del d.conversations[-1]
    res = check_success(d, d)
    assert not res.passed and "ended with give_up" in res.reasons[0]
    d.conversations[-1].value = "Still thinking. Next: caller."
    assert "ended with caller" in check_success(d, d).reasons[0]


def test_empty_conclusion_fails(gold):
    d = first(gold, lambda d: d.extra["task"]["solvable"])
    d.conversations[-1].value = "  "
    res = check_success(d, d)
    assert not res.passed and "the conclusion is empty" in res.reasons


def test_give_up_tasks(gold):
    d = first(gold, lambda d: not d.extra["task"]["solvable"])
    assert d.extra["task"]["expected"] == "give_up" and d.conversations[-1].value.endswith("Next: give up.")
    assert check_success(d, d).passed
    concluded = copy.deepcopy(d)
    concluded.conversations[-1].value = "It is 21 degrees. Next: conclusion."
    concluded.conversations.append(Turn("conclusion", "It is 21 degrees."))
    res = check_success(d, concluded)
    assert not res.passed and "should give up" in res.reasons[0]
    halluc = copy.deepcopy(d)
    halluc.conversations[1:1] = [Turn("assistant", "x Next: caller."), Turn("caller", "Action: guess_for_me\n"
                                                                                    "Action Input: {}")]
    res = check_success(d, halluc)
    assert not res.passed and res.hallucinated_tools == ["guess_for_me"]


def test_alternative_api_satisfies_the_step(gold, tw):
    """An agent that uses the alternative API instead of the primary one, executed for real, passes."""
    d = first(gold, lambda d: d.extra["task_type"] == "weather_now" and not d.extra["task"]["fault_plan"]
              and "units" not in d.conversations[2].value)
    env = tw.env_for(d)
    name, args = parse_caller(d.conversations[2].value)
    assert name == "current_weather_for_skycast"
    alt_args = json.dumps({"location": json.loads(args)["city"]})
    obs = env.call("weather_now_for_weatherly", alt_args)
    d.conversations[2].value = f"Action: weather_now_for_weatherly\nAction Input: {alt_args}"
    d.conversations[3].value = obs.text
    assert check_success(d, d).passed


def test_agent_written_episode_passes(gold, tw):
    """A freshly executed episode with different wording and argument spelling passes."""
    d = first(gold, lambda d: d.extra["task_type"] == "geo_capital" and not d.extra["task"]["fault_plan"])
    env = tw.env_for(d)
    country = json.loads(parse_caller(d.conversations[2].value)[1])["country"]
    r1 = env.call("country_info_for_geodb", json.dumps({"country": country.upper()}))
    capital = r1.data["capital"]
    r2 = env.call("city_info_for_geodb", json.dumps({"city": capital.lower()}))
    pop = r2.data["population"]
    turns = [Turn("user", d.instruction), Turn("assistant", "Look up the country. Next: caller."),
             Turn("caller", f'Action: country_info_for_geodb\nAction Input: {{"country": "{country.upper()}"}}'),
             Turn("observation", r1.text), Turn("assistant", "Now the city. Next: caller."),
             Turn("caller", f'Action: city_info_for_geodb\nAction Input: {{"city": "{capital.lower()}"}}'),
             Turn("observation", r2.text), Turn("assistant", "Done. Next: conclusion."),
             Turn("conclusion", f"{capital.upper()} is the capital; about {pop:,} people live there.")]
    produced = Dialogue(d.tools, d.instruction, turns)
    assert check_success(d.extra["task"], produced).passed


def test_fact_matching_rules():
    assert normalise_fact(21.40) == "21.4" and normalise_fact(True) == "yes" and normalise_fact("UTC+2") == "utc+2"
    assert normalise_text("Founders' Day, 2025-06-03.") == "founders day 2025-06-03"
    assert fact_in("1234567", "about 1,234,567 people") and not fact_in("1234567", "about 1,234,568 people")
    assert fact_in("-3.2", "it fell -3.2% today") and not fact_in("3.2", "it rose 3.25%")
    assert fact_in("light rain", "Light rain.") and not fact_in("rain", "raining")
    assert fact_in("utc+1", "It uses UTC+1.") and not fact_in("utc+1", "It uses UTC+10.")


def test_dialogue_calls_parsing():
    d = Dialogue([], "q", [Turn("user", "q"), Turn("assistant", "a Next: caller."),
                           Turn("caller", "Action: f_for_x\nAction Input: {bad json"),
                           Turn("observation", "plain text"),
                           Turn("assistant", "b Next: caller."), Turn("caller", "Action: g_for_x\nAction Input: [1]")])
    calls = dialogue_calls(d)
    assert [(c.api, c.args, c.ok) for c in calls] == [("f_for_x", None, False), ("g_for_x", None, False)]
    assert calls[0].error == "observation is not ToolBench JSON" and calls[1].error == "no observation"


def test_missing_task_is_a_data_error(gold):
    d = copy.deepcopy(gold[0])
    with pytest.raises(DataError, match="task"):
        check_success({"facts": []}, d)
    del d.extra["task"]
    with pytest.raises(DataError) as e:
        check_success(d, d)
    assert e.value.field == "task"


def _gold_of(task_type: str, seed: int = 0):
    import random

    from umi_lab.toolworld.dataset import make_dialogue
    from umi_lab.toolworld.generator import all_task_types
    from umi_lab.toolworld.world import build_world

    tt = next(t for t in all_task_types() if t.name == task_type)
    return Dialogue.from_dict(make_dialogue(build_world(0), tt, random.Random(seed), "plain", dialogue_id="t",
                                            split="train"))


def test_same_response_with_other_argument_spelling_passes(tw):
    """Asking by airport code instead of city name gets the same answer, so the step counts."""
    gold = _gold_of("flights_cheapest")
    name, args = parse_caller(gold.conversations[2].value)
    args = json.loads(args)
    world = tw.world
    coded = {"origin": world.get("city", args["origin"]).airport,
             "destination": world.get("city", args["destination"]).airport}
    assert coded != args
    env = tw.env_for(gold)
    obs = env.call(name, json.dumps(coded))
    assert obs.text == gold.conversations[3].value
    produced = copy.deepcopy(gold)
    produced.conversations[2].value = f"Action: {name}\nAction Input: {json.dumps(coded)}"
    assert check_success(gold, produced).passed
    # a different route gives a different response and arguments: the step is missing
    other = next(f for f in world.flights if f.origin != coded["origin"])
    wrong = {"origin": other.origin, "destination": other.destination}
    produced.conversations[2].value = f"Action: {name}\nAction Input: {json.dumps(wrong)}"
    produced.conversations[3].value = env.call(name, json.dumps(wrong)).text
    res = check_success(gold, produced)
    assert not res.passed and res.failed_calls


@pytest.mark.parametrize("task,field", [
    ({"solvable": "yes", "facts": [], "required_calls": [], "tools": []}, "task.solvable"),
    ({"solvable": True, "facts": "21.4", "required_calls": [], "tools": []}, "task.facts"),
    ({"solvable": True, "facts": [], "required_calls": [[]], "tools": []}, "task.required_calls[0]"),
    ({"solvable": True, "facts": [], "required_calls": [[{"args": {}}]], "tools": []}, "task.required_calls[0][0]"),
    ({"solvable": True, "facts": [], "required_calls": [[{"api": "a", "args": []}]], "tools": []},
     "task.required_calls[0][0].args"),
    ({"solvable": True, "facts": [], "required_calls": [], "tools": [1]}, "task.tools"),
])
def test_malformed_tasks_name_the_field(gold, task, field):
    with pytest.raises(DataError) as e:
        check_success(task, gold[0])
    assert e.value.field == field


def test_check_cli_locates_a_bad_task(tmp_path):
    import argparse

    from umi_lab.toolworld.cli import add_cli

    rows = json.loads((DATA / "test_in_domain.json").read_text(encoding="utf-8"))[:3]
    rows[2]["task"]["facts"] = "oops"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rows), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    args = parser.parse_args(["toolworld", "check", "--data", str(bad)])
    with pytest.raises(DataError) as e:
        args.func(args)
    assert (e.value.file, e.value.record, e.value.field) == (str(bad), 2, "task.facts")
