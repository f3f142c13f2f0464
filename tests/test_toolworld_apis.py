"""ToolWorld APIs: documents, every API's documented answer, failure modes, faults and rate limits."""

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from umi_lab.errors import DataError
from umi_lab.tools.registry import (
    BAD_ARGUMENTS,
    EMPTY,
    NOT_FOUND,
    OK,
    RATE_LIMITED,
    TOOL_ERROR,
    UNKNOWN_TOOL,
)
from umi_lab.toolworld import ToolWorld, ToolWorldEnv
from umi_lab.toolworld.apis import ALTERNATIVES, API_BY_NAME, APIS, CATEGORIES, tools_of
from umi_lab.toolworld.env import DEFAULT_QUOTA, validate_fault_plan
from umi_lab.toolworld.world import TODAY, build_world


@pytest.fixture(scope="module")
def tw():
    return ToolWorld(seed=0)


@pytest.fixture(scope="module")
def w(tw):
    return tw.world


@pytest.fixture()
def env(tw):
    return tw.env_for(None)


def call(env, name, args):
    obs = env.call(name, json.dumps(args))
    body = json.loads(obs.text)
    assert set(body) == {"error", "response"}
    return obs, body


# ------------------------------------------------------------------ catalogue and documents
def test_catalogue_size_and_docs(tw):
    assert len(APIS) >= 40 and len(API_BY_NAME) == len(APIS)
    assert len({a.category for a in APIS}) >= 8 and set(CATEGORIES) == {a.category for a in APIS}
    docs = tw.tool_docs()
    assert [d.Name for d in docs] == [a.name for a in APIS]
    for a, d in zip(APIS, docs):
        assert re.fullmatch(r"[a-z0-9_]+_for_[a-z0-9]+", d.Name) and d.Name.endswith(f"_for_{a.tool}")
        assert d.function.startswith(f'This is the subfunction for tool "{a.tool}"') and a.description in d.function
        for p, text in d.input.items():
            typ, req, _ = text.split(", ", 2)
            assert typ in ("string", "integer", "number", "boolean") and req in ("required", "optional"), (p, text)
    assert len(tw.tool_docs("weather")) == 5 and len(tw.tool_docs("books")) == 4
    with pytest.raises(DataError, match="unknown category"):
        tw.tool_docs("sports")


def test_tools_of_and_alternatives():
    assert tools_of(["timezone_for_geodb"]) == [a.name for a in APIS if a.tool == "geodb"]
    for primary, (alt, mapping) in ALTERNATIVES.items():
        p, a = API_BY_NAME[primary], API_BY_NAME[alt]
        assert p.category == a.category and p.tool != a.tool
        required = {k: "x" for k, (_, _, req) in p.params.items() if req}
        assert set(mapping(required)) <= set(a.params)


def test_world_is_seeded(w):
    again, other = build_world(0), build_world(1)
    assert again.cities == w.cities and again.films == w.films and again.flights == w.flights
    assert other.cities != w.cities
    assert len(w.countries) == 16 and len(w.cities) >= 48 and len(w.films) == 70 and len(w.books) == 50
    assert len({c.name.lower() for c in w.cities}) == len(w.cities)
    for k in w.countries:
        assert w.get("city", k.capital).country == k.name and w.get("currency", k.currency) is not None


# ------------------------------------------------------------------ every API's documented answer
def _cases(w):
    """One success call per API with a check on the response, computed from the world or by hand."""
    c, k, f, r, fl, s, b = w.cities[0], w.countries[0], w.films[0], w.recipes[0], w.flights[0], w.stocks[0], \
        w.books[0]
    cur = w.get("currency", k.currency)
    route = (w.get("airport", fl.origin), w.get("airport", fl.destination))
    on_route = [x for x in w.flights if (x.origin, x.destination) == (fl.origin, fl.destination)]
    by_dir = sorted((x for x in w.films if x.director == f.director), key=lambda x: (x.year, x.title))
    by_author = sorted((x for x in w.books if x.author == b.author), key=lambda x: (x.year, x.title))
    return {
        "current_weather_for_skycast": ({"city": c.name.upper()}, lambda x: x["temperature"] ==
                                        c.weather.temperature_c and x["condition"] == c.weather.condition),
        "forecast_for_skycast": ({"city": c.name, "days": 2}, lambda x: [d["high_c"] for d in x["days"]] ==
                                 [c.weather.forecast[0][1], c.weather.forecast[1][1]]),
        "air_quality_for_skycast": ({"city": c.name}, lambda x: x["aqi"] == c.weather.aqi and x["level"]),
        "weather_now_for_weatherly": ({"location": c.name}, lambda x: x["temperature"] == c.weather.temperature_c),
        "sun_times_for_weatherly": ({"location": c.name}, lambda x: (x["sunrise"], x["sunset"], x["date"]) ==
                                    (c.weather.sunrise, c.weather.sunset, TODAY.isoformat())),
        "convert_for_currencyhub": ({"amount": 100, "from": "USD", "to": "EUR"}, lambda x: x["result"] == 92.0),
        "exchange_rate_for_currencyhub": ({"base": "eur", "target": "usd"}, lambda x: x["rate"] == 1.086957),
        "list_currencies_for_currencyhub": ({}, lambda x: len(x["currencies"]) == len(w.currencies)),
        "currency_info_for_currencyhub": ({"code": cur.code}, lambda x: x["name"] == cur.name and
                                          k.name in x["used_in"]),
        "latest_rate_for_fxfeed": ({"pair": "USD/EUR"}, lambda x: x["rate"] == 0.92),
        "fx_convert_for_fxfeed": ({"value": 50, "source": "EUR", "target": "EUR"}, lambda x: x["result"] == 50),
        "search_movies_for_cinemadb": ({"query": f.title.split()[-1]}, lambda x: f.title in
                                       [h["title"] for h in x["results"]]),
        "movie_details_for_cinemadb": ({"title": f.title.lower()}, lambda x: (x["director"], x["year"]) ==
                                       (f.director, f.year)),
        "movie_cast_for_cinemadb": ({"title": f.title}, lambda x: x["cast"] == list(f.cast)),
        "movies_by_director_for_cinemadb": ({"director": f.director}, lambda x: [h["title"] for h in x["films"]]
                                            == [y.title for y in by_dir]),
        "top_rated_for_cinemadb": ({"limit": 2}, lambda x: [h["rating"] for h in x["films"]] ==
                                   sorted((y.rating for y in w.films), reverse=True)[:2]),
        "title_lookup_for_filmfinder": ({"name": f.title}, lambda x: x["director"] == f.director),
        "search_recipes_for_cookbook": ({"query": r.name.split()[-1]}, lambda x: r.name in x["results"]),
        "recipe_details_for_cookbook": ({"name": r.name}, lambda x: (x["calories"], x["prep_min"]) ==
                                        (r.calories, r.prep_min)),
        "recipes_by_ingredient_for_cookbook": ({"ingredient": r.ingredients[0]}, lambda x: r.name in x["recipes"]),
        "recipes_by_cuisine_for_cookbook": ({"cuisine": r.cuisine}, lambda x: [h["prep_min"] for h in
                                            x["recipes"]] == sorted(h["prep_min"] for h in x["recipes"])),
        "recipe_lookup_for_tastyapi": ({"dish": r.name}, lambda x: x["calories"] == r.calories),
        "nutrition_facts_for_nutritionix": ({"recipe": r.name}, lambda x: x["protein_g"] == r.protein_g),
        "search_flights_for_skyroute": ({"origin": route[0].name, "destination": route[1].airport},
                                        lambda x: len(x["flights"]) == len(on_route)),
        "cheapest_flight_for_skyroute": ({"origin": fl.origin, "destination": fl.destination},
                                         lambda x: x["price_usd"] == min(y.price_usd for y in on_route)),
        "flight_status_for_skyroute": ({"flight_number": fl.number}, lambda x: x["status"] == fl.status),
        "airport_info_for_skyroute": ({"code": c.airport}, lambda x: x["city"] == c.name),
        "track_flight_for_flightradar": ({"flight": fl.number}, lambda x: x["status"] == fl.status),
        "stock_quote_for_marketdata": ({"symbol": s.symbol}, lambda x: x["price"] == s.price),
        "company_profile_for_marketdata": ({"symbol": s.symbol}, lambda x: x["ceo"] == s.ceo),
        "dividends_for_marketdata": ({"symbol": s.symbol}, lambda x: x["pays_dividend"] == (s.dividend_yield > 0)),
        "top_movers_for_marketdata": ({"direction": "losers", "limit": 1}, lambda x: x["stocks"][0]["change_pct"]
                                      == min(y.change_pct for y in w.stocks)),
        "symbol_search_for_marketdata": ({"company": s.company}, lambda x: x["results"][0]["symbol"] == s.symbol),
        "quote_for_tickerfeed": ({"ticker": s.symbol.lower()}, lambda x: x["price"] == s.price),
        "city_info_for_geodb": ({"city": c.name}, lambda x: x["population"] == c.population),
        "country_info_for_geodb": ({"country": k.code}, lambda x: (x["capital"], x["currency"]) ==
                                   (k.capital, k.currency)),
        "distance_for_geodb": ({"city_a": c.name, "city_b": c.name}, lambda x: x["distance_km"] == 0.0),
        "cities_in_country_for_geodb": ({"country": k.name}, lambda x: x["cities"][0]["city"] == k.capital),
        "timezone_for_geodb": ({"city": c.name}, lambda x: x["utc_offset"] == f"UTC{c.utc_offset:+d}"),
        "public_holidays_for_calendarific": ({"country": k.name}, lambda x: len(x["holidays"]) == len(k.holidays)),
        "is_holiday_for_calendarific": ({"country": k.name, "date": k.holidays[0][0]},
                                        lambda x: x["is_holiday"] and x["name"] == k.holidays[0][1]),
        "next_holiday_for_calendarific": ({"country": k.name, "after": "2025-01-01"},
                                          lambda x: x["date"] == k.holidays[0][0]),
        "day_of_week_for_dateutil": ({"date": "2024-01-01"}, lambda x: x["weekday"] == "Monday"),
        "days_between_for_dateutil": ({"start": "2025-01-01", "end": "2025-12-31"}, lambda x: x["days"] == 364),
        "add_days_for_dateutil": ({"date": "2024-02-28", "days": 1}, lambda x: x["result"] == "2024-02-29"),
        "convert_length_for_unitconv": ({"value": 1, "from_unit": "mile", "to_unit": "km"},
                                        lambda x: x["result"] == 1.6093),
        "convert_mass_for_unitconv": ({"value": 1, "from_unit": "kg", "to_unit": "lb"},
                                      lambda x: x["result"] == 2.2046),
        "convert_volume_for_unitconv": ({"value": 1, "from_unit": "gallon", "to_unit": "l"},
                                        lambda x: x["result"] == 3.7854),
        "convert_temperature_for_unitconv": ({"value": 100, "from_unit": "celsius", "to_unit": "fahrenheit"},
                                             lambda x: x["result"] == 212.0),
        "search_books_for_openlibrary": ({"query": b.title.split()[-1]}, lambda x: b.title in
                                         [h["title"] for h in x["results"]]),
        "book_details_for_openlibrary": ({"title": b.title}, lambda x: (x["author"], x["isbn"]) == (b.author, b.isbn)),
        "books_by_author_for_openlibrary": ({"author": b.author}, lambda x: [h["title"] for h in x["books"]] ==
                                            [y.title for y in by_author]),
        "book_by_isbn_for_openlibrary": ({"isbn": f"{b.isbn[:3]}-{b.isbn[3:]}"}, lambda x: x["title"] == b.title),
    }


def test_every_api_has_a_case(w):
    assert set(_cases(w)) == set(API_BY_NAME)


@pytest.mark.parametrize("name", [a.name for a in APIS])
def test_api_answers_from_the_world(w, env, name):
    args, check = _cases(w)[name]
    obs, body = call(env, name, args)
    assert obs.status == OK and body["error"] == "", body
    assert check(body["response"]), body["response"]
    assert env.call(name, json.dumps(args)).text == obs.text  # deterministic


def test_distance_matches_haversine(w, env):
    a, b = w.cities[0], w.cities[5]
    _, body = call(env, "distance_for_geodb", {"city_a": a.name, "city_b": b.name})
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    central = math.acos(math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))
    assert abs(body["response"]["distance_km"] - 6371.0 * central) < 0.06
    _, back = call(env, "distance_for_geodb", {"city_a": b.name, "city_b": a.name})
    assert back["response"]["distance_km"] == body["response"]["distance_km"]


# ------------------------------------------------------------------ failures: not found, empty, bad values
@pytest.mark.parametrize("name,args", [
    ("current_weather_for_skycast", {"city": "Atlantis"}),
    ("weather_now_for_weatherly", {"location": "Atlantis"}),
    ("convert_for_currencyhub", {"amount": 1, "from": "USD", "to": "XXX"}),
    ("currency_info_for_currencyhub", {"code": "XXX"}),
    ("movie_details_for_cinemadb", {"title": "No Such Film"}),
    ("movies_by_director_for_cinemadb", {"director": "Nobody"}),
    ("recipe_details_for_cookbook", {"name": "Air Soup"}),
    ("flight_status_for_skyroute", {"flight_number": "ZZ0"}),
    ("search_flights_for_skyroute", {"origin": "XXX", "destination": "YYY"}),
    ("stock_quote_for_marketdata", {"symbol": "NONE"}),
    ("country_info_for_geodb", {"country": "Atlantis"}),
    ("public_holidays_for_calendarific", {"country": "Atlantis"}),
    ("book_details_for_openlibrary", {"title": "Unwritten"}),
    ("book_by_isbn_for_openlibrary", {"isbn": "9780000000000"}),
])
def test_not_found(env, name, args):
    obs, body = call(env, name, args)
    assert obs.status == NOT_FOUND and body["error"].startswith("404 Not Found") and not obs.ok


@pytest.mark.parametrize("name,args", [
    ("search_movies_for_cinemadb", {"query": "zzzz"}),
    ("search_recipes_for_cookbook", {"query": "zzzz"}),
    ("recipes_by_ingredient_for_cookbook", {"ingredient": "marshmallow"}),
    ("recipes_by_cuisine_for_cookbook", {"cuisine": "Velan", "max_minutes": 1}),
    ("top_rated_for_cinemadb", {"genre": "western"}),
    ("symbol_search_for_marketdata", {"company": "zzzz"}),
    ("search_books_for_openlibrary", {"query": "zzzz"}),
    ("next_holiday_for_calendarific", {"country": "VM", "after": "2025-12-31"}),
])
def test_empty_results(env, name, args):
    obs, body = call(env, name, args)
    assert obs.status == EMPTY and obs.ok and body["error"] == "" and body["response"]["results"] == []
    assert body["response"]["message"]


def test_no_flights_on_a_route_is_empty(w, env):
    routes = {(f.origin, f.destination) for f in w.flights}
    a, b = next((x, y) for x in w.cities for y in w.cities if x != y and (x.airport, y.airport) not in routes)
    obs, _ = call(env, "search_flights_for_skyroute", {"origin": a.airport, "destination": b.airport})
    assert obs.status == EMPTY


@pytest.mark.parametrize("name,args,reason", [
    ("forecast_for_skycast", {"city": "Namyst", "days": 9}, "between 1 and 5"),
    ("current_weather_for_skycast", {"city": "Namyst", "units": "kelvin"}, "'units'"),
    ("convert_for_currencyhub", {"amount": -5, "from": "USD", "to": "EUR"}, "negative"),
    ("latest_rate_for_fxfeed", {"pair": "USDEUR"}, "USD/EUR"),
    ("top_rated_for_cinemadb", {"limit": 50}, "between 1 and 10"),
    ("top_movers_for_marketdata", {"direction": "sideways"}, "gainers"),
    ("is_holiday_for_calendarific", {"country": "VM", "date": "13/01/2025"}, "YYYY-MM-DD"),
    ("public_holidays_for_calendarific", {"country": "VM", "month": 13}, "between 1 and 12"),
    ("day_of_week_for_dateutil", {"date": "2025-02-30"}, "YYYY-MM-DD"),
    ("add_days_for_dateutil", {"date": "9999-12-31", "days": 5}, "out of range"),
    ("convert_length_for_unitconv", {"value": 1, "from_unit": "parsec", "to_unit": "m"}, "'from_unit'"),
    ("convert_temperature_for_unitconv", {"value": -500, "from_unit": "celsius", "to_unit": "kelvin"},
     "absolute zero"),
    ("book_by_isbn_for_openlibrary", {"isbn": "12345"}, "13 digits"),
    ("search_movies_for_cinemadb", {"query": "  "}, "empty"),
])
def test_invalid_argument_values(env, name, args, reason):
    obs, body = call(env, name, args)
    assert obs.status == BAD_ARGUMENTS and body["error"].startswith(f"Invalid arguments for {name}")
    assert reason in body["error"]


def test_registry_level_argument_errors(env):
    cases = [
        ('{"city": "Namyst"', "invalid JSON"),
        ('["Namyst"]', "must be a JSON object"),
        ("{}", "missing required argument(s): city"),
        ('{"city": 3}', "'city' must be string"),
        ('{"city": "Namyst", "country": "x"}', "unknown argument(s): country"),
    ]
    for text, reason in cases:
        obs = env.call("air_quality_for_skycast", text)
        assert obs.status == BAD_ARGUMENTS and reason in json.loads(obs.text)["error"], (text, obs.text)
    obs = env.call("forecast_for_skycast", '{"city": "Namyst", "days": true}')
    assert obs.status == BAD_ARGUMENTS and "got boolean" in obs.text
    obs = env.call("weather_for_everything", "{}")
    assert obs.status == UNKNOWN_TOOL and "No such function name: weather_for_everything" in obs.text


# ------------------------------------------------------------------ faults and rate limits
def test_transient_and_rate_limit_faults_then_success(tw):
    plan = [{"api": "timezone_for_geodb", "kind": "transient", "calls": [1]},
            {"api": "city_info_for_geodb", "kind": "rate_limit", "calls": [2]}]
    env = tw.env_for({"tools": tools_of(["timezone_for_geodb"]), "fault_plan": plan})
    args = '{"city": "Namyst"}'
    first = env.call("timezone_for_geodb", args)
    assert first.status == TOOL_ERROR and "503" in first.text and "retry" in first.text
    assert env.call("timezone_for_geodb", args).status == OK
    assert env.call("city_info_for_geodb", args).status == OK
    limited = env.call("city_info_for_geodb", args)
    assert limited.status == RATE_LIMITED and "429" in limited.text
    assert env.call("city_info_for_geodb", args).status == OK
    assert env.stats["faults"] == 2 and env.stats[OK] == 3


def test_down_api_always_fails_and_alternative_works(tw):
    plan = [{"api": "current_weather_for_skycast", "kind": "down", "calls": []}]
    env = tw.env_for({"tools": tools_of(["current_weather_for_skycast", "weather_now_for_weatherly"]),
                      "fault_plan": plan})
    for _ in range(3):
        obs = env.call("current_weather_for_skycast", '{"city": "Namyst"}')
        assert obs.status == TOOL_ERROR and "the skycast API is down" in obs.text
    assert env.call("weather_now_for_weatherly", '{"location": "Namyst"}').status == OK


def test_fault_applies_even_to_bad_arguments_and_counts_per_episode(tw):
    task = {"tools": ["timezone_for_geodb"], "fault_plan": [{"api": "timezone_for_geodb", "kind": "transient",
                                                             "calls": [1]}]}
    env = tw.env_for(task)
    assert env.call("timezone_for_geodb", "not json").status == TOOL_ERROR
    assert env.call("timezone_for_geodb", "not json").status == BAD_ARGUMENTS
    fresh = tw.env_for(task)  # a new episode starts counting again
    assert fresh.call("timezone_for_geodb", '{"city": "Namyst"}').status == TOOL_ERROR
    assert task["fault_plan"][0]["calls"] == [1]  # the task is not modified


def test_quota_per_api_per_episode(tw):
    env = tw.env_for({"tools": ["timezone_for_geodb", "city_info_for_geodb"], "fault_plan": []})
    statuses = [env.call("timezone_for_geodb", '{"city": "Namyst"}').status for _ in range(DEFAULT_QUOTA + 2)]
    assert statuses == [OK] * DEFAULT_QUOTA + [RATE_LIMITED] * 2
    assert "quota of 6 calls" in env.call("timezone_for_geodb", "{}").text
    assert env.call("city_info_for_geodb", '{"city": "Namyst"}').status == OK
    assert env.stats["quota_exceeded"] == 3 and env.stats["calls"] == DEFAULT_QUOTA + 4


def test_env_offers_only_the_task_tools(tw):
    env = tw.env_for({"tools": ["timezone_for_geodb"], "fault_plan": []})
    assert env.names() == ["timezone_for_geodb"]
    obs = env.call("city_info_for_geodb", '{"city": "Namyst"}')
    assert obs.status == UNKNOWN_TOOL and "Available: timezone_for_geodb" in obs.text


@pytest.mark.parametrize("task,field", [
    ({"tools": "timezone_for_geodb"}, "task.tools"),
    ({"tools": ["nope_for_nothing"]}, "task.tools"),
    ({"tools": [], "fault_plan": {}}, "task.fault_plan"),
    ({"tools": [], "fault_plan": [{"api": "nope", "kind": "down"}]}, "task.fault_plan[0].api"),
    ({"tools": [], "fault_plan": [{"api": "timezone_for_geodb", "kind": "flaky"}]}, "task.fault_plan[0].kind"),
    ({"tools": [], "fault_plan": [{"api": "timezone_for_geodb", "kind": "transient"}]}, "task.fault_plan[0].calls"),
    ({"tools": [], "fault_plan": [{"api": "timezone_for_geodb", "kind": "transient", "calls": [0]}]},
     "task.fault_plan[0].calls"),
    ("not a task", "task"),
])
def test_bad_tasks_raise_located_errors(tw, task, field):
    with pytest.raises(DataError) as e:
        tw.env_for(task)
    assert e.value.field == field


def test_validate_fault_plan_accepts_good_plans():
    plan = [{"api": "timezone_for_geodb", "kind": "down", "calls": []},
            {"api": "city_info_for_geodb", "kind": "rate_limit", "calls": [1, 3]}]
    assert validate_fault_plan(plan) is plan


def test_env_class_directly():
    env = ToolWorldEnv(build_world(0), ["convert_temperature_for_unitconv"])
    obs = env.call("convert_temperature_for_unitconv", {"value": 0, "from_unit": "kelvin", "to_unit": "celsius"})
    assert obs.status == OK and obs.data["result"] == -273.15


def test_down_from_a_given_call_on(tw):
    plan = [{"api": "timezone_for_geodb", "kind": "down", "calls": [2]}]
    env = tw.env_for({"tools": ["timezone_for_geodb"], "fault_plan": plan})
    statuses = [env.call("timezone_for_geodb", '{"city": "Namyst"}').status for _ in range(4)]
    assert statuses == [OK, TOOL_ERROR, TOOL_ERROR, TOOL_ERROR]


_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) |
                            st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([a.name for a in APIS]), data=st.data())
def test_env_never_crashes_on_arbitrary_arguments(tw, name, data):
    """Any argument object or text gives a clean observation; only validation or lookups can fail."""
    params = list(API_BY_NAME[name].params)
    keys = st.sampled_from(params) if params else st.text(max_size=5)
    args = data.draw(st.dictionaries(keys, _JSON_VALUES, max_size=4) | st.text(max_size=30))
    obs = tw.env_for(None).call(name, args if isinstance(args, str) else json.dumps(args))
    body = json.loads(obs.text)
    assert obs.status in (OK, EMPTY, NOT_FOUND, BAD_ARGUMENTS), body
    assert (body["error"] == "") == obs.ok


_TYPED = {"string": st.text(max_size=15) | st.sampled_from(["Namyst", "USD", "EUR", "2025-06-03", "km", "celsius",
                                                             "gainers", "9789193795351", "TR330", "VM"]),
          "integer": st.integers(-10**10, 10**10), "number": st.floats(-1e12, 1e12, allow_nan=False)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([a.name for a in APIS]), data=st.data())
def test_handlers_never_crash_on_well_typed_arguments(tw, name, data):
    spec = API_BY_NAME[name].params
    args = {p: data.draw(_TYPED[t]) for p, (t, _, req) in spec.items() if req or data.draw(st.booleans())}
    obs = tw.env_for(None).call(name, json.dumps(args))
    assert obs.status in (OK, EMPTY, NOT_FOUND, BAD_ARGUMENTS), obs.text
