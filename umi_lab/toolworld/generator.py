"""Gold trajectories for ToolWorld, built by executing the tools through the episode's environment.

A *task type* is a small function that writes the user's request (one of several paraphrases), makes
its calls through an ``Episode`` and states the answer. The Episode turns each call into α-UMi turns
(planner rationale ending in ``Next: caller.``, ``Action:/Action Input:`` caller turn, the env's
observation text), applies the task's fault plan, and recovers like a careful agent: it retries after a
transient error or rate limit, switches to the alternative API when one is down, and gives up when
nothing can answer. Every dialogue carries ``id``, ``split``, ``category``, ``level`` and the ``task``
that ``success.check_success`` judges.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from umi_lab.tools.registry import EMPTY, NOT_FOUND, TOOL_ERROR
from umi_lab.toolworld.apis import ALTERNATIVES, API_BY_NAME
from umi_lab.toolworld.env import ToolWorldEnv
from umi_lab.toolworld.success import normalise_fact
from umi_lab.toolworld.world import TODAY, World

HELD_OUT_CATEGORY = "books"
HELD_OUT_TOOLS = ("dateutil", "nutritionix")
LEVEL_WEIGHTS = (("G1", 0.4), ("G2", 0.3), ("G3", 0.3))
RECOVERY_RATE = 0.10
GIVE_UP_RATE = 0.05


def is_held_out(api: str) -> bool:
    """Whether an API belongs to the out-of-domain test only. ``is_held_out("book_details_for_openlibrary")``."""
    a = API_BY_NAME[api]
    return a.category == HELD_OUT_CATEGORY or a.tool in HELD_OUT_TOOLS


class GiveUp(Exception):
    """Raised inside a task when no API can answer; carries the planner's last rationale."""


def fmt(value) -> str:
    """A value as the observation shows it (numbers as JSON), for answers and facts."""
    return json.dumps(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


_PREFIX = ["", "", "", "Hi! ", "Hello! ", "Quick question: ", "Please help: ", "Hey there. ", "Could you help me? ",
           "I need some information. "]
_SUFFIX = ["", "", "", " Thanks!", " Thank you.", " Please be precise.", " A short answer is fine.",
           " I'd appreciate it.", " Thanks in advance."]
_RETRY = ["The call to {api} failed ({err}). This looks temporary, so I will retry the same request.",
          "{api} returned an error: {err}. I'll try the same call once more.",
          "That request failed with a temporary error ({err}); retrying it."]
_SWITCH = ["{api} is unavailable ({err}). I will use the alternative {alt} instead.",
           "The {api} service reports: {err}. Switching to {alt}, which offers the same data.",
           "{api} cannot be reached ({err}), so I'll ask {alt} instead."]
_NOT_FOUND_ALT = ["{api} found nothing ({err}). Let me check {alt} before giving up.",
                  "No result from {api} ({err}); I'll try {alt}."]
_CONCLUDE = ["I have everything I need: {note}.", "The observations answer the question: {note}.",
             "Now I can answer: {note}.", "All the information is in: {note}."]


class Episode:
    """Runs one task type through a fresh environment and records the α-UMi turns."""

    def __init__(self, world: World, rng: random.Random, api_names: list[str], mode: str, n_calls: int):
        self.w, self.rng, self.mode = world, rng, mode
        self.api_names = api_names
        self.fault_plan: list[dict] = []
        self.env = ToolWorldEnv(world, api_names, self.fault_plan)
        self.turns: list[tuple[str, str]] = []
        self.required: list[list[dict]] = []
        self.facts: list[str] = []
        self.instruction = ""
        self.fault_at = rng.randrange(n_calls) if mode in ("recover", "down") else -1
        self.n_made = 0
        self.recovered = False
        self.solvable = True

    # ------------------------------------------------------------ writing
    def ask(self, templates: list[str], **slots) -> None:
        """Pick a paraphrase of the request and fill it in."""
        text = self.rng.choice(templates).format(**slots)
        self.instruction = self.rng.choice(_PREFIX) + text + self.rng.choice(_SUFFIX)
        self.turns.append(("user", self.instruction))

    def fact(self, value) -> str:
        """Record a fact the answer must state; return it as written in the answer."""
        self.facts.append(normalise_fact(value))
        return fmt(value)

    def conclude(self, note: str, answer: str) -> None:
        self.turns.append(("assistant", self.rng.choice(_CONCLUDE).format(note=note) + " Next: conclusion."))
        self.turns.append(("conclusion", answer))

    def give_up(self, thought: str) -> None:
        self.turns.append(("assistant", thought + " Next: give up."))

    # ------------------------------------------------------------ calling
    def _alternative(self, api: str, args: dict) -> tuple[str, dict] | None:
        if api not in ALTERNATIVES:
            return None
        alt, mapping = ALTERNATIVES[api]
        return (alt, mapping(args)) if alt in self.api_names else None

    def _inject(self, api: str, args: dict) -> None:
        alt = self._alternative(api, args)
        if self.mode == "down":
            self.fault_plan.append({"api": api, "kind": "down", "calls": []})
            if alt:
                self.fault_plan.append({"api": alt[0], "kind": "down", "calls": []})
            return
        kinds = ["transient", "rate_limit"] + (["down", "down"] if alt else [])
        kind = self.rng.choice(kinds)
        calls = [] if kind == "down" else [self.env.calls_per_api[api] + 1]
        self.fault_plan.append({"api": api, "kind": kind, "calls": calls})

    def call(self, api: str, args: dict, thought: str):
        """Plan, call and observe; recover from faults; return the response data (or raise GiveUp)."""
        if self.n_made == self.fault_at:
            self._inject(api, args)
        self.n_made += 1
        return self._attempt(api, args, thought, tried=[], primary=None)

    def _attempt(self, api: str, args: dict, thought: str, tried: list[str], primary: dict | None):
        arg_text = json.dumps(args, ensure_ascii=False)
        self.turns.append(("assistant", thought + " Next: caller."))
        self.turns.append(("caller", f"Action: {api}\nAction Input: {arg_text}"))
        obs = self.env.call(api, arg_text)
        self.turns.append(("observation", obs.text))
        if obs.ok:
            # either the primary API or its alternative satisfies this step
            group = [{"api": api, "args": args}]
            alt = self._alternative(api, args)
            if alt is not None:
                group.append({"api": alt[0], "args": alt[1]})
            if primary is not None:
                group.append(primary)
            self.required.append(group)
            return obs.data if obs.status != EMPTY else None
        err = json.loads(obs.text)["error"]
        tried = tried + [api]
        down = any(f["api"] == api and f["kind"] == "down" for f in self.fault_plan)
        alt = self._alternative(api, args)
        if obs.status != NOT_FOUND and obs.status != "bad_arguments" and not down:
            self.recovered = True
            return self._attempt(api, args, self.rng.choice(_RETRY).format(api=api, err=err), tried, primary)
        if alt is not None and alt[0] not in tried and obs.status in (TOOL_ERROR, NOT_FOUND):
            if obs.status == TOOL_ERROR:
                self.recovered = True
                text = self.rng.choice(_SWITCH).format(api=api, err=err, alt=alt[0])
            else:
                text = self.rng.choice(_NOT_FOUND_ALT).format(api=api, err=err, alt=alt[0])
            return self._attempt(alt[0], alt[1], text, tried, {"api": api, "args": args})
        self.solvable = False
        if obs.status == NOT_FOUND:
            raise GiveUp(f"{' and '.join(tried)} found nothing ({err}). What was asked for does not exist, so "
                         "I cannot answer.")
        raise GiveUp(f"{' and '.join(tried)} {'are' if len(tried) > 1 else 'is'} unavailable ({err}), and no "
                     "other API offers this data, so I cannot complete the request.")


@dataclass(frozen=True)
class TaskType:
    name: str
    level: str
    apis: tuple[str, ...]
    n_calls: int
    fn: Callable[[World, random.Random, Episode], None]
    give_up: bool = False

    @property
    def categories(self) -> list[str]:
        out: list[str] = []
        for a in self.apis:
            c = API_BY_NAME[a].category
            if c not in out:
                out.append(c)
        return out

    @property
    def held_out(self) -> bool:
        return any(is_held_out(a) for a in self.apis)


TASK_TYPES: list[TaskType] = []


def task(level: str, *apis: str, n_calls: int | None = None, give_up: bool = False):
    """Register a task type using ``apis`` (in call order)."""
    def wrap(fn):
        TASK_TYPES.append(TaskType(fn.__name__, level, apis, n_calls or len(apis), fn, give_up))
        return fn
    return wrap


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def _lst(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ====================================================================== G1: one tool
@task("G1", "current_weather_for_skycast")
def weather_now(w, rng, ep):
    c = _pick(rng, w.cities)
    imperial = rng.random() < 0.25
    unit = "Fahrenheit" if imperial else "Celsius"
    ep.ask(["What's the weather like in {city} right now? Give the temperature in {unit}.",
            "How warm is it in {city} at the moment ({unit}), and what are the conditions?",
            "I'm about to go out in {city}. Current temperature in {unit} and sky conditions, please.",
            "Tell me the current weather in {city}, with the temperature in {unit}."], city=c.name, unit=unit)
    args = {"city": c.name, "units": "imperial"} if imperial else {"city": c.name}
    r = ep.call("current_weather_for_skycast", args, f"The user wants the current weather in {c.name}; I'll "
                "query skycast for it.")
    deg = "°F" if r["units"] == "imperial" else "°C"
    t, cond = ep.fact(r["temperature"]), ep.fact(r["condition"])
    ep.conclude(f"it is {t}{deg} and {cond} in {r['city']}",
                f"It is currently {t}{deg} in {r['city']} with {cond} (humidity {r['humidity']}%).")


@task("G1", "forecast_for_skycast")
def weather_forecast(w, rng, ep):
    c = _pick(rng, w.cities)
    k = rng.randrange(5)
    day = c.weather.forecast[k][0]
    ep.ask(["What will the high and low temperatures be in {city} on {day}?",
            "Forecast for {city} on {day}: how hot and how cold will it get?",
            "I'm visiting {city} on {day}. What's the expected high, low and weather?"], city=c.name, day=day)
    r = ep.call("forecast_for_skycast", {"city": c.name, "days": k + 1},
                f"{day} is {k + 1} day(s) ahead, so I'll request a {k + 1}-day forecast for {c.name}.")
    d = r["days"][k]
    hi, lo, cond = ep.fact(d["high_c"]), ep.fact(d["low_c"]), ep.fact(d["condition"])
    ep.conclude(f"on {day} the forecast is {hi}/{lo}°C, {cond}",
                f"On {day} {c.name} expects a high of {hi}°C and a low of {lo}°C, with {cond}.")


@task("G1", "air_quality_for_skycast")
def air(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["How is the air quality in {city} today?", "What's the AQI in {city}?",
            "Is the air in {city} healthy to breathe right now? Give me the index."], city=c.name)
    r = ep.call("air_quality_for_skycast", {"city": c.name}, f"I need the air quality index of {c.name}.")
    aqi, lvl = ep.fact(r["aqi"]), ep.fact(r["level"])
    ep.conclude(f"AQI {aqi} ({lvl})", f"The air quality index in {c.name} is {aqi}, which is {lvl}.")


@task("G1", "sun_times_for_weatherly")
def sun(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["When does the sun rise and set in {city} today?", "Sunrise and sunset times for {city}, please.",
            "I want to photograph {city} at dawn and dusk. When are sunrise and sunset?"], city=c.name)
    r = ep.call("sun_times_for_weatherly", {"location": c.name}, f"weatherly gives sunrise and sunset for {c.name}.")
    a, b = ep.fact(r["sunrise"]), ep.fact(r["sunset"])
    ep.conclude(f"sunrise {a}, sunset {b}", f"In {c.name} the sun rises at {a} and sets at {b} (local time).")


def _two_currencies(w, rng):
    a, b = rng.sample(w.currencies, 2)
    return a, b


@task("G1", "convert_for_currencyhub")
def money_convert(w, rng, ep):
    a, b = _two_currencies(w, rng)
    amount = rng.choice([10, 25, 50, 100, 250, 500, 1000, 75.5, 1999.99])
    ep.ask(["How much is {amount} {a} in {b}?", "Convert {amount} {a} to {b} for me.",
            "I have {amount} {a}. What is that worth in {b}?", "What do I get for {amount} {a} in {b}?"],
           amount=fmt(amount), a=a.code, b=b.code)
    r = ep.call("convert_for_currencyhub", {"amount": amount, "from": a.code, "to": b.code},
                f"I'll convert {fmt(amount)} {a.code} to {b.code} with currencyhub.")
    res = ep.fact(r["result"])
    ep.conclude(f"{fmt(amount)} {a.code} = {res} {b.code}",
                f"{fmt(amount)} {a.code} is {res} {b.code} (rate {fmt(r['rate'])}).")


@task("G1", "exchange_rate_for_currencyhub")
def money_rate(w, rng, ep):
    a, b = _two_currencies(w, rng)
    ep.ask(["What is the exchange rate from {a} to {b}?", "How many {b} is one {a} worth today?",
            "Give me the current {a}/{b} rate."], a=a.code, b=b.code)
    r = ep.call("exchange_rate_for_currencyhub", {"base": a.code, "target": b.code},
                f"The user needs the {a.code} to {b.code} rate.")
    rate = ep.fact(r["rate"])
    ep.conclude(f"1 {a.code} = {rate} {b.code}", f"One {a.code} is worth {rate} {b.code}.")


@task("G1", "currency_info_for_currencyhub")
def money_info(w, rng, ep):
    cur = _pick(rng, w.currencies[2:])
    ep.ask(["Which currency has the code {code}, and where is it used?", "What is {code}? Name the currency.",
            "Tell me about the currency {code}: its name and how many per US dollar."], code=cur.code)
    r = ep.call("currency_info_for_currencyhub", {"code": cur.code}, f"currencyhub describes currency codes; "
                f"I'll look up {cur.code}.")
    name, per = ep.fact(r["name"]), ep.fact(r["per_usd"])
    ep.conclude(f"{cur.code} is the {name}", f"{cur.code} is the {name}, used in {_lst(r['used_in'])}; one US "
                f"dollar buys {per} {cur.code}.")


@task("G1", "movie_details_for_cinemadb")
def film_details(w, rng, ep):
    f = _pick(rng, w.films)
    ep.ask(["Who directed \"{t}\" and when was it released?", "Give me the director and release year of {t}.",
            "I'm curious about the film {t}: year, director and rating?"], t=f.title)
    r = ep.call("movie_details_for_cinemadb", {"title": f.title}, f"I'll fetch the details of \"{f.title}\".")
    d, y, rt = ep.fact(r["director"]), ep.fact(r["year"]), ep.fact(r["rating"])
    ep.conclude(f"{f.title} ({y}) by {d}", f"\"{r['title']}\" was directed by {d} and released in {y}; it is "
                f"rated {rt}.")


@task("G1", "movie_cast_for_cinemadb")
def film_cast(w, rng, ep):
    f = _pick(rng, w.films)
    ep.ask(["Who stars in {t}?", "List the main cast of the movie {t}.", "Which actors are in \"{t}\"?"], t=f.title)
    r = ep.call("movie_cast_for_cinemadb", {"title": f.title}, f"I need the cast of \"{f.title}\".")
    cast = [ep.fact(a) for a in r["cast"]]
    ep.conclude(f"the cast is {_lst(cast)}", f"The main cast of \"{r['title']}\" is {_lst(cast)}.")


@task("G1", "movies_by_director_for_cinemadb")
def film_director(w, rng, ep):
    d = _pick(rng, sorted({f.director for f in w.films}))
    ep.ask(["Which films has {d} directed?", "List the movies by director {d}.",
            "I liked a film by {d}. What else did they direct?"], d=d)
    r = ep.call("movies_by_director_for_cinemadb", {"director": d}, f"cinemadb lists films by director; I'll ask "
                f"for {d}.")
    titles = [f"{ep.fact(x['title'])} ({x['year']})" for x in r["films"]]
    ep.conclude(f"{d} directed {len(titles)} film(s)", f"{d} directed {_lst(titles)}.")


@task("G1", "top_rated_for_cinemadb")
def film_top(w, rng, ep):
    g = _pick(rng, sorted({f.genre for f in w.films}))
    n = rng.choice([1, 3, 5])
    ep.ask(["What are the {n} best rated {g} films?", "Recommend the top {n} {g} movies by rating.",
            "Which {g} films have the highest ratings? Top {n}, please."], n=n, g=g)
    r = ep.call("top_rated_for_cinemadb", {"genre": g, "limit": n}, f"top_rated can filter by genre; I'll ask for "
                f"{n} {g} films.")
    items = [f"{ep.fact(x['title'])} ({ep.fact(x['rating'])})" for x in r["films"]]
    ep.conclude(f"the top {g} films are {_lst(items)}", f"The best rated {g} films are {_lst(items)}.")


@task("G1", "recipe_details_for_cookbook")
def recipe_info(w, rng, ep):
    r0 = _pick(rng, w.recipes)
    ep.ask(["How many calories does {r} have and how long does it take to make?",
            "What do I need for {r}, and how long is the preparation?", "Give me the details of the recipe {r}."],
           r=r0.name)
    r = ep.call("recipe_details_for_cookbook", {"name": r0.name}, f"I'll look up the recipe \"{r0.name}\".")
    cal, mins = ep.fact(r["calories"]), ep.fact(r["prep_min"])
    ings = [ep.fact(i) for i in r["ingredients"]]
    ep.conclude(f"{cal} kcal, {mins} minutes", f"{r['name']} takes {mins} minutes, has {cal} calories and uses "
                f"{_lst(ings)}.")


@task("G1", "recipes_by_ingredient_for_cookbook")
def recipe_ingredient(w, rng, ep):
    i = _pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
    ep.ask(["What can I cook with {i}?", "Find me recipes that use {i}.", "I have lots of {i}. Any recipes?"], i=i)
    r = ep.call("recipes_by_ingredient_for_cookbook", {"ingredient": i}, f"I'll search cookbook for recipes with {i}.")
    names = [ep.fact(n) for n in r["recipes"]]
    ep.conclude(f"{len(names)} recipe(s) use {i}", f"Recipes with {i}: {_lst(names)}.")


@task("G1", "recipes_by_cuisine_for_cookbook")
def recipe_cuisine(w, rng, ep):
    c = _pick(rng, sorted({r.cuisine for r in w.recipes}))
    m = rng.choice([15, 20, 30, 45, 60])
    ep.ask(["What's the quickest {c} dish I can make in at most {m} minutes?",
            "I have {m} minutes. Which {c} recipe is fastest?", "Suggest a {c} recipe ready within {m} minutes."],
           c=c, m=m)
    r = ep.call("recipes_by_cuisine_for_cookbook", {"cuisine": c, "max_minutes": m},
                f"I'll list {c} recipes that take at most {m} minutes.")
    if r is None:
        ep.fact("no")
        ep.conclude(f"no {c} recipe fits in {m} minutes", f"There is no {c} recipe that can be made in {m} minutes "
                    "or less.")
        return
    best = r["recipes"][0]
    name, mins = ep.fact(best["name"]), ep.fact(best["prep_min"])
    ep.conclude(f"{name} takes {mins} minutes", f"The quickest {c} recipe within {m} minutes is {name}, ready in "
                f"{mins} minutes.")


def _route(w, rng):
    f = _pick(rng, w.flights)
    return w.get("airport", f.origin), w.get("airport", f.destination)


@task("G1", "search_flights_for_skyroute")
def flights_search(w, rng, ep):
    a, b = _route(w, rng)
    ep.ask(["Which flights go from {a} to {b}?", "List the flights from {a} to {b}, please.",
            "I need to get from {a} to {b} by plane. What flights are there?"], a=a.name, b=b.name)
    r = ep.call("search_flights_for_skyroute", {"origin": a.airport, "destination": b.airport},
                f"{a.name} is airport {a.airport} and {b.name} is {b.airport}; I'll search that route.")
    items = [f"{ep.fact(f['flight'])} at {ep.fact(f['departure'])}" for f in r["flights"]]
    ep.conclude(f"{len(items)} flight(s) found", f"Flights from {a.name} to {b.name}: {_lst(items)}.")


@task("G1", "cheapest_flight_for_skyroute")
def flights_cheapest(w, rng, ep):
    a, b = _route(w, rng)
    ep.ask(["What's the cheapest flight from {a} to {b}?", "Find me the lowest fare from {a} to {b}.",
            "On a budget: cheapest way to fly {a} to {b}?"], a=a.name, b=b.name)
    r = ep.call("cheapest_flight_for_skyroute", {"origin": a.name, "destination": b.name},
                f"cheapest_flight accepts city names, so I'll ask for {a.name} to {b.name}.")
    num, price = ep.fact(r["flight"]), ep.fact(r["price_usd"])
    ep.conclude(f"{num} at {price} USD", f"The cheapest flight is {num} ({r['airline']}) departing "
                f"{r['departure']} for {price} USD.")


@task("G1", "flight_status_for_skyroute")
def flights_status(w, rng, ep):
    f = _pick(rng, w.flights)
    ep.ask(["Is flight {n} on time?", "What's the status of flight {n}?", "My friend is on {n}. Any delay?"],
           n=f.number)
    r = ep.call("flight_status_for_skyroute", {"flight_number": f.number}, f"I'll check the status of {f.number}.")
    st = ep.fact(r["status"])
    ep.conclude(f"{f.number} is {st}", f"Flight {r['flight']} to {r['destination']} is {st} (scheduled "
                f"{r['departure']}).")


@task("G1", "airport_info_for_skyroute")
def airport(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["Which city is airport {code} in?", "Where is the airport with code {code}?",
            "My ticket says {code}. Which city and country is that?"], code=c.airport)
    r = ep.call("airport_info_for_skyroute", {"code": c.airport}, f"airport_info resolves the code {c.airport}.")
    city, country = ep.fact(r["city"]), ep.fact(r["country"])
    ep.conclude(f"{c.airport} is in {city}", f"{c.airport} is the airport of {city}, {country}.")


@task("G1", "stock_quote_for_marketdata")
def stock_price(w, rng, ep):
    s = _pick(rng, w.stocks)
    ep.ask(["What is {s} trading at?", "Current share price of {s}, please.", "How is {s} stock doing today?"],
           s=s.symbol)
    r = ep.call("stock_quote_for_marketdata", {"symbol": s.symbol}, f"I'll get a quote for {s.symbol}.")
    p, ch = ep.fact(r["price"]), ep.fact(r["change_pct"])
    ep.conclude(f"{s.symbol} is at {p} USD ({ch}%)", f"{s.symbol} trades at {p} USD, a change of {ch}% today.")


@task("G1", "company_profile_for_marketdata")
def stock_profile(w, rng, ep):
    s = _pick(rng, w.stocks)
    ep.ask(["Who is the CEO of the company with ticker {s}?", "Tell me about {s}: company, sector and CEO.",
            "Which sector is {s} in and who runs it?"], s=s.symbol)
    r = ep.call("company_profile_for_marketdata", {"symbol": s.symbol}, f"company_profile describes {s.symbol}.")
    ceo, sec = ep.fact(r["ceo"]), ep.fact(r["sector"])
    ep.conclude(f"{r['company']} ({sec}), CEO {ceo}", f"{s.symbol} is {r['company']}, a {sec} company led by {ceo}, "
                f"founded in {r['founded']}.")


@task("G1", "dividends_for_marketdata")
def stock_dividend(w, rng, ep):
    s = _pick(rng, w.stocks)
    ep.ask(["Does {s} pay a dividend? What's the yield?", "Dividend yield of {s}?",
            "I want income stocks. How much does {s} yield?"], s=s.symbol)
    r = ep.call("dividends_for_marketdata", {"symbol": s.symbol}, f"I'll look up the dividend of {s.symbol}.")
    y = ep.fact(r["dividend_yield_pct"])
    if r["pays_dividend"]:
        ep.conclude(f"{s.symbol} yields {y}%", f"Yes, {s.symbol} pays a dividend with a yield of {y}%.")
    else:
        ep.fact("no")
        ep.conclude(f"{s.symbol} pays no dividend", f"No, {s.symbol} pays no dividend (yield {y}%).")


@task("G1", "top_movers_for_marketdata")
def stock_movers(w, rng, ep):
    d = rng.choice(["gainers", "losers"])
    n = rng.choice([1, 3, 5])
    ep.ask(["What are today's top {n} {d}?", "Show me the {n} biggest {d} in the market today.",
            "Which {n} stocks are the top {d} right now?"], n=n, d=d)
    r = ep.call("top_movers_for_marketdata", {"direction": d, "limit": n}, f"top_movers lists the {d}.")
    items = [f"{ep.fact(x['symbol'])} ({ep.fact(x['change_pct'])}%)" for x in r["stocks"]]
    ep.conclude(f"the top {d} are {_lst(items)}", f"Today's top {d}: {_lst(items)}.")


@task("G1", "city_info_for_geodb")
def geo_city(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["How many people live in {c}?", "What country is {c} in, and what's its population?",
            "Give me basic facts about the city of {c}."], c=c.name)
    r = ep.call("city_info_for_geodb", {"city": c.name}, f"geodb has city facts; I'll look up {c.name}.")
    pop, country = ep.fact(r["population"]), ep.fact(r["country"])
    ep.conclude(f"{c.name}, {country}, population {pop}", f"{c.name} is in {country} and has {pop} inhabitants "
                f"(elevation {r['elevation_m']} m).")


@task("G1", "country_info_for_geodb")
def geo_country(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask(["What is the capital of {k} and which currency do they use?", "Tell me the capital and currency of {k}.",
            "I'm travelling to {k}. Capital city and currency?"], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I'll get the country facts for {k.name}.")
    cap, cur = ep.fact(r["capital"]), ep.fact(r["currency"])
    ep.conclude(f"capital {cap}, currency {cur}", f"The capital of {k.name} is {cap} and its currency is {cur}; "
                f"people speak {r['language']}.")


@task("G1", "distance_for_geodb")
def geo_distance(w, rng, ep):
    a, b = rng.sample(w.cities, 2)
    ep.ask(["How far is {a} from {b}?", "What's the distance between {a} and {b} in kilometres?",
            "Distance from {a} to {b} as the crow flies?"], a=a.name, b=b.name)
    r = ep.call("distance_for_geodb", {"city_a": a.name, "city_b": b.name}, f"distance_for_geodb computes it for "
                f"{a.name} and {b.name}.")
    km = ep.fact(r["distance_km"])
    ep.conclude(f"{km} km", f"{a.name} and {b.name} are {km} km apart.")


@task("G1", "timezone_for_geodb")
def geo_tz(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["What time zone is {c} in?", "What's the UTC offset of {c}?", "I have a call with someone in {c}. "
            "Which time zone do they use?"], c=c.name)
    r = ep.call("timezone_for_geodb", {"city": c.name}, f"I'll look up the UTC offset of {c.name}.")
    tz = ep.fact(r["utc_offset"])
    ep.conclude(f"{c.name} is on {tz}", f"{c.name} uses {tz}.")


@task("G1", "public_holidays_for_calendarific")
def cal_month(w, rng, ep):
    k = _pick(rng, w.countries)
    m = rng.randint(1, 12)
    month = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"][m - 1]
    ep.ask(["Are there public holidays in {k} in {month}?", "Which holidays does {k} have in {month} 2025?",
            "Planning a trip to {k} in {month}: any public holidays?"], k=k.name, month=month)
    r = ep.call("public_holidays_for_calendarific", {"country": k.name, "month": m},
                f"{month} is month {m}; I'll list {k.name}'s holidays for it.")
    if r is None:
        ep.fact("no")
        ep.conclude(f"no holidays in {month}", f"No, {k.name} has no public holidays in {month} 2025.")
        return
    items = [f"{ep.fact(h['name'])} on {ep.fact(h['date'])}" for h in r["holidays"]]
    ep.conclude(f"{len(items)} holiday(s) in {month}", f"In {month} 2025 {k.name} celebrates {_lst(items)}.")


@task("G1", "is_holiday_for_calendarific")
def cal_is(w, rng, ep):
    k = _pick(rng, w.countries)
    day = _pick(rng, k.holidays)[0] if rng.random() < 0.5 else f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["Is {d} a public holiday in {k}?", "Will offices in {k} be closed for a holiday on {d}?",
            "Check whether {d} is a holiday in {k}."], d=day, k=k.name)
    r = ep.call("is_holiday_for_calendarific", {"country": k.name, "date": day}, f"I'll check {day} in {k.name}.")
    if r["is_holiday"]:
        ep.fact("yes")
        name = ep.fact(r["name"])
        ep.conclude(f"{day} is {name}", f"Yes, {day} is a public holiday in {k.name}: {name}.")
    else:
        ep.fact("no")
        ep.conclude(f"{day} is a normal day", f"No, {day} is not a public holiday in {k.name}.")


@task("G1", "next_holiday_for_calendarific")
def cal_next(w, rng, ep):
    k = _pick(rng, w.countries)
    after = f"2025-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["What's the next public holiday in {k} after {d}?", "After {d}, when is {k}'s next holiday?",
            "Which holiday comes next in {k} following {d}?"], k=k.name, d=after)
    r = ep.call("next_holiday_for_calendarific", {"country": k.name, "after": after},
                f"next_holiday takes a start date; I'll use {after} for {k.name}.")
    if r is None:
        ep.fact("no")
        ep.conclude("no holiday left this year", f"There are no more public holidays in {k.name} after {after} "
                    "this year.")
        return
    name, d = ep.fact(r["name"]), ep.fact(r["date"])
    ep.conclude(f"{name} on {d}", f"The next public holiday in {k.name} after {after} is {name} on {d}.")


_UNIT_Q = {
    "convert_length_for_unitconv": [("mile", "km"), ("km", "mile"), ("ft", "m"), ("inch", "cm"), ("m", "yard")],
    "convert_mass_for_unitconv": [("lb", "kg"), ("kg", "lb"), ("oz", "g"), ("tonne", "lb"), ("g", "oz")],
    "convert_volume_for_unitconv": [("gallon", "l"), ("l", "cup"), ("cup", "ml"), ("pint", "l"), ("fl_oz", "ml")],
    "convert_temperature_for_unitconv": [("celsius", "fahrenheit"), ("fahrenheit", "celsius"),
                                         ("kelvin", "celsius"), ("celsius", "kelvin")],
}


def _unit_task(api: str):
    def fn(w, rng, ep):
        a, b = rng.choice(_UNIT_Q[api])
        v = rng.choice([1, 2.5, 5, 12, 20, 37, 100, 250, 3.75, 451, 98.6, 0])
        ep.ask(["Convert {v} {a} to {b}.", "How many {b} is {v} {a}?", "What is {v} {a} in {b}?",
                "I need {v} {a} expressed in {b}."], v=fmt(v), a=a, b=b)
        r = ep.call(api, {"value": v, "from_unit": a, "to_unit": b}, f"unitconv converts {a} to {b}.")
        res = ep.fact(r["result"])
        ep.conclude(f"{fmt(v)} {a} = {res} {b}", f"{fmt(v)} {a} is {res} {b}.")
    fn.__name__ = "units_" + api.split("_")[1]
    return fn


for _api in _UNIT_Q:
    task("G1", _api)(_unit_task(_api))


# ====================================================================== G2: one category, several calls
@task("G2", "current_weather_for_skycast", "sun_times_for_weatherly")
def weather_and_sun(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["What's the weather in {c} now, and when does the sun set?",
            "Current conditions in {c} plus today's sunrise and sunset, please.",
            "Going for an evening walk in {c}: how's the weather and what time is sunset?"], c=c.name)
    r = ep.call("current_weather_for_skycast", {"city": c.name}, f"First the current weather in {c.name}.")
    t, cond = ep.fact(r["temperature"]), ep.fact(r["condition"])
    s = ep.call("sun_times_for_weatherly", {"location": c.name}, f"It is {t}°C and {cond}. Next I need the sun "
                "times from weatherly.")
    rise, sets = ep.fact(s["sunrise"]), ep.fact(s["sunset"])
    ep.conclude(f"{t}°C, {cond}; sun {rise}-{sets}", f"In {c.name} it is {t}°C and {cond}; the sun rises at {rise} "
                f"and sets at {sets}.")


@task("G2", "current_weather_for_skycast", "air_quality_for_skycast")
def weather_and_air(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["Is it a good day for a run in {c}? Tell me the temperature and the air quality.",
            "Weather and AQI for {c} right now?", "How hot is it in {c}, and how clean is the air?"], c=c.name)
    r = ep.call("current_weather_for_skycast", {"city": c.name}, f"I'll start with the weather in {c.name}.")
    t, cond = ep.fact(r["temperature"]), ep.fact(r["condition"])
    a = ep.call("air_quality_for_skycast", {"city": c.name}, f"Weather: {t}°C, {cond}. Now the air quality.")
    aqi, lvl = ep.fact(a["aqi"]), ep.fact(a["level"])
    ep.conclude(f"{t}°C, {cond}, AQI {aqi}", f"{c.name}: {t}°C and {cond}; the air quality index is {aqi} ({lvl}).")


@task("G2", "exchange_rate_for_currencyhub", "convert_for_currencyhub")
def money_rate_and_convert(w, rng, ep):
    a, b, c = rng.sample(w.currencies, 3)
    amt = rng.choice([20, 100, 300, 1200])
    ep.ask(["What's the {a} to {b} rate, and how much is {n} {a} in {c}?",
            "Two things: the exchange rate {a}/{b}, and {n} {a} converted to {c}."], a=a.code, b=b.code,
           c=c.code, n=amt)
    r = ep.call("exchange_rate_for_currencyhub", {"base": a.code, "target": b.code}, f"First the {a.code}/{b.code} "
                "rate.")
    rate = ep.fact(r["rate"])
    x = ep.call("convert_for_currencyhub", {"amount": amt, "from": a.code, "to": c.code},
                f"1 {a.code} = {rate} {b.code}. Now convert {amt} {a.code} to {c.code}.")
    res = ep.fact(x["result"])
    ep.conclude(f"rate {rate}; {res} {c.code}", f"1 {a.code} = {rate} {b.code}, and {amt} {a.code} = {res} {c.code}.")


@task("G2", "movies_by_director_for_cinemadb", "movie_details_for_cinemadb")
def film_latest_by(w, rng, ep):
    d = _pick(rng, sorted({f.director for f in w.films}))
    ep.ask(["What is {d}'s most recent film and how is it rated?", "Find the latest movie by {d} and its rating.",
            "Which is the newest film directed by {d}? Give me its genre and rating."], d=d)
    r = ep.call("movies_by_director_for_cinemadb", {"director": d}, f"I'll list {d}'s films first.")
    last = r["films"][-1]
    f = ep.call("movie_details_for_cinemadb", {"title": last["title"]}, f"The newest is \"{last['title']}\" "
                f"({last['year']}). Now its details.")
    t, rt, g = ep.fact(f["title"]), ep.fact(f["rating"]), ep.fact(f["genre"])
    ep.conclude(f"{t}, rated {rt}", f"{d}'s most recent film is \"{t}\" ({f['year']}), a {g} rated {rt}.")


@task("G2", "top_rated_for_cinemadb", "movie_cast_for_cinemadb")
def film_top_cast(w, rng, ep):
    g = _pick(rng, sorted({f.genre for f in w.films}))
    ep.ask(["Who acts in the best rated {g} film?", "Find the top {g} movie and tell me its cast.",
            "What's the highest rated {g} film, and who is in it?"], g=g)
    r = ep.call("top_rated_for_cinemadb", {"genre": g, "limit": 1}, f"First the best rated {g} film.")
    top = r["films"][0]
    c = ep.call("movie_cast_for_cinemadb", {"title": top["title"]}, f"It is \"{top['title']}\" ({top['rating']}). "
                "Now its cast.")
    t = ep.fact(top["title"])
    cast = [ep.fact(a) for a in c["cast"]]
    ep.conclude(f"{t} with {_lst(cast)}", f"The best rated {g} film is \"{t}\" ({fmt(top['rating'])}); it stars "
                f"{_lst(cast)}.")


@task("G2", "recipes_by_ingredient_for_cookbook", "recipe_details_for_cookbook")
def recipe_pick(w, rng, ep):
    i = _pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
    ep.ask(["Pick a recipe with {i} and tell me how long it takes and its calories.",
            "I want to cook something with {i}. Give me one recipe with its prep time.",
            "Find a {i} recipe and its calorie count."], i=i)
    r = ep.call("recipes_by_ingredient_for_cookbook", {"ingredient": i}, f"I'll find recipes using {i}.")
    name = r["recipes"][0]
    d = ep.call("recipe_details_for_cookbook", {"name": name}, f"Found {len(r['recipes'])}; the first is {name}. "
                "Let me get its details.")
    n, cal, mins = ep.fact(d["name"]), ep.fact(d["calories"]), ep.fact(d["prep_min"])
    ep.conclude(f"{n}: {mins} min, {cal} kcal", f"Try {n}: it takes {mins} minutes and has {cal} calories.")


@task("G2", "cheapest_flight_for_skyroute", "flight_status_for_skyroute")
def flights_cheapest_status(w, rng, ep):
    a, b = _route(w, rng)
    ep.ask(["Find the cheapest flight from {a} to {b} and tell me if it's on time.",
            "What's the lowest fare from {a} to {b}, and what's that flight's status?"], a=a.name, b=b.name)
    r = ep.call("cheapest_flight_for_skyroute", {"origin": a.airport, "destination": b.airport},
                f"I'll find the cheapest {a.airport}-{b.airport} flight.")
    s = ep.call("flight_status_for_skyroute", {"flight_number": r["flight"]}, f"The cheapest is {r['flight']} at "
                f"{r['price_usd']} USD. Now its status.")
    num, price, st = ep.fact(r["flight"]), ep.fact(r["price_usd"]), ep.fact(s["status"])
    ep.conclude(f"{num}, {price} USD, {st}", f"The cheapest flight is {num} for {price} USD, and it is {st}.")


@task("G2", "flight_status_for_skyroute", "airport_info_for_skyroute")
def flights_status_airport(w, rng, ep):
    f = _pick(rng, w.flights)
    ep.ask(["Where is flight {n} going, what's its status, and how high is the destination airport?",
            "Status of {n} and the elevation of the airport it flies to?"], n=f.number)
    r = ep.call("flight_status_for_skyroute", {"flight_number": f.number}, f"I'll check {f.number} first.")
    code = r["destination"].split("(")[-1].rstrip(")")
    a = ep.call("airport_info_for_skyroute", {"code": code}, f"{f.number} is {r['status']} and flies to "
                f"{r['destination']}. Now the airport {code}.")
    st, city, el = ep.fact(r["status"]), ep.fact(a["city"]), ep.fact(a["elevation_m"])
    ep.conclude(f"{st}, to {city} at {el} m", f"Flight {f.number} is {st}; it flies to {city} ({code}), whose "
                f"airport lies at {el} m.")


def _company_query(s) -> str:
    return s.company.split()[0]


@task("G2", "symbol_search_for_marketdata", "stock_quote_for_marketdata")
def stock_by_name(w, rng, ep):
    s = _pick(rng, w.stocks)
    ep.ask(["What's the share price of {c}?", "How much does one share of {c} cost today?",
            "Give me {c}'s stock price and daily change."], c=s.company)
    r = ep.call("symbol_search_for_marketdata", {"company": s.company}, f"I need {s.company}'s ticker first.")
    sym = r["results"][0]["symbol"]
    q = ep.call("stock_quote_for_marketdata", {"symbol": sym}, f"The ticker is {sym}. Now the quote.")
    p, ch = ep.fact(q["price"]), ep.fact(q["change_pct"])
    ep.conclude(f"{sym} at {p} USD", f"{s.company} ({sym}) trades at {p} USD ({ch}% today).")


@task("G2", "symbol_search_for_marketdata", "company_profile_for_marketdata", "dividends_for_marketdata")
def stock_profile_div(w, rng, ep):
    s = _pick(rng, w.stocks)
    ep.ask(["Who runs {c}, and does it pay a dividend?", "Tell me {c}'s CEO and dividend yield.",
            "Research {c} for me: CEO, sector and dividend."], c=s.company)
    r = ep.call("symbol_search_for_marketdata", {"company": s.company}, f"I'll find the ticker of {s.company}.")
    sym = r["results"][0]["symbol"]
    p = ep.call("company_profile_for_marketdata", {"symbol": sym}, f"It trades as {sym}; next its profile.")
    d = ep.call("dividends_for_marketdata", {"symbol": sym}, f"The CEO is {p['ceo']} ({p['sector']}). Now the "
                "dividend.")
    ceo, sec, y = ep.fact(p["ceo"]), ep.fact(p["sector"]), ep.fact(d["dividend_yield_pct"])
    pays = "pays a dividend yielding" if d["pays_dividend"] else "pays no dividend; yield"
    ep.conclude(f"CEO {ceo}, yield {y}%", f"{s.company} ({sym}) is a {sec} company run by {ceo}; it {pays} {y}%.")


@task("G2", "country_info_for_geodb", "city_info_for_geodb")
def geo_capital(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask(["How many people live in the capital of {k}?", "What's the population of {k}'s capital?",
            "Tell me the capital of {k} and how big it is."], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I need {k.name}'s capital first.")
    c = ep.call("city_info_for_geodb", {"city": r["capital"]}, f"The capital is {r['capital']}. Now its "
                "population.")
    cap, pop = ep.fact(r["capital"]), ep.fact(c["population"])
    ep.conclude(f"{cap}, {pop} people", f"The capital of {k.name} is {cap}, with {pop} inhabitants.")


@task("G2", "cities_in_country_for_geodb", "distance_for_geodb")
def geo_two_largest(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask(["How far apart are the two largest cities of {k}?",
            "Distance between {k}'s biggest and second biggest cities?"], k=k.name)
    r = ep.call("cities_in_country_for_geodb", {"country": k.name}, f"I'll list the cities of {k.name}.")
    a, b = r["cities"][0]["city"], r["cities"][1]["city"]
    d = ep.call("distance_for_geodb", {"city_a": a, "city_b": b}, f"The largest are {a} and {b}. Now the distance.")
    fa, fb, km = ep.fact(a), ep.fact(b), ep.fact(d["distance_km"])
    ep.conclude(f"{fa}-{fb}: {km} km", f"The two largest cities of {k.name}, {fa} and {fb}, are {km} km apart.")


@task("G2", "country_info_for_geodb", "country_info_for_geodb", "distance_for_geodb")
def geo_capitals_distance(w, rng, ep):
    k1, k2 = rng.sample(w.countries, 2)
    ep.ask(["How far is the capital of {a} from the capital of {b}?",
            "Distance between the capitals of {a} and {b}?"], a=k1.name, b=k2.name)
    r1 = ep.call("country_info_for_geodb", {"country": k1.name}, f"First the capital of {k1.name}.")
    r2 = ep.call("country_info_for_geodb", {"country": k2.name}, f"{k1.name}'s capital is {r1['capital']}. Now "
                 f"{k2.name}'s.")
    d = ep.call("distance_for_geodb", {"city_a": r1["capital"], "city_b": r2["capital"]},
                f"{k2.name}'s capital is {r2['capital']}. Now the distance.")
    a, b, km = ep.fact(r1["capital"]), ep.fact(r2["capital"]), ep.fact(d["distance_km"])
    ep.conclude(f"{a}-{b}: {km} km", f"The capitals {a} ({k1.name}) and {b} ({k2.name}) are {km} km apart.")


@task("G2", "public_holidays_for_calendarific", "public_holidays_for_calendarific")
def cal_two_countries(w, rng, ep):
    k1, k2 = rng.sample(w.countries, 2)
    ep.ask(["List all 2025 public holidays of {a} and {b}.", "Which public holidays do {a} and {b} have this year?"],
           a=k1.name, b=k2.name)
    out = []
    for k, note in ((k1, f"First {k1.name}'s holidays."), (k2, f"{k1.name} has {len(k1.holidays)}. Now {k2.name}.")):
        r = ep.call("public_holidays_for_calendarific", {"country": k.name}, note)
        out.append(f"{k.name}: " + _lst(f"{ep.fact(h['name'])} ({ep.fact(h['date'])})" for h in r["holidays"]))
    ep.conclude(f"{len(k1.holidays)} and {len(k2.holidays)} holidays", ". ".join(out) + ".")


@task("G2", "convert_length_for_unitconv", "convert_mass_for_unitconv")
def units_two(w, rng, ep):
    lv, mv = rng.choice([5, 10, 26.2, 42]), rng.choice([2, 15, 70, 180])
    ep.ask(["Convert {l} miles to km and {m} lb to kg.", "I ran {l} miles and weigh {m} lb. Metric, please."],
           l=fmt(lv), m=fmt(mv))
    a = ep.call("convert_length_for_unitconv", {"value": lv, "from_unit": "mile", "to_unit": "km"}, "First the "
                "distance.")
    b = ep.call("convert_mass_for_unitconv", {"value": mv, "from_unit": "lb", "to_unit": "kg"},
                f"{fmt(lv)} miles is {a['result']} km. Now the weight.")
    x, y = ep.fact(a["result"]), ep.fact(b["result"])
    ep.conclude(f"{x} km, {y} kg", f"{fmt(lv)} miles = {x} km and {fmt(mv)} lb = {y} kg.")


# ====================================================================== G3: across categories
@task("G3", "country_info_for_geodb", "current_weather_for_skycast")
def capital_weather(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask(["What's the weather like in the capital of {k} right now?", "How warm is it in {k}'s capital today?",
            "Current conditions in the capital city of {k}?"], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I need the capital of {k.name} first.")
    c = ep.call("current_weather_for_skycast", {"city": r["capital"]}, f"The capital is {r['capital']}; now its "
                "weather.")
    cap, t, cond = ep.fact(r["capital"]), ep.fact(c["temperature"]), ep.fact(c["condition"])
    ep.conclude(f"{cap}: {t}°C, {cond}", f"In {cap}, the capital of {k.name}, it is {t}°C with {cond}.")


@task("G3", "country_info_for_geodb", "exchange_rate_for_currencyhub")
def country_rate(w, rng, ep):
    k = _pick(rng, w.countries)
    base = rng.choice(["USD", "EUR"])
    ep.ask(["How many units of {k}'s currency do I get for one {b}?", "What's the {b} exchange rate of the "
            "currency used in {k}?", "Going to {k}: what currency is used there and what's it worth per {b}?"],
           k=k.name, b=base)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I'll find out which currency {k.name} uses.")
    x = ep.call("exchange_rate_for_currencyhub", {"base": base, "target": r["currency"]}, f"{k.name} uses "
                f"{r['currency']}. Now the {base} rate.")
    cur, rate = ep.fact(r["currency"]), ep.fact(x["rate"])
    ep.conclude(f"1 {base} = {rate} {cur}", f"{k.name} uses {cur}; one {base} buys {rate} {cur}.")


@task("G3", "cheapest_flight_for_skyroute", "city_info_for_geodb", "country_info_for_geodb",
      "convert_for_currencyhub")
def flight_local_price(w, rng, ep):
    a, b = _route(w, rng)
    ep.ask(["What's the cheapest flight from {a} to {b}, and what does it cost in the destination's currency?",
            "Cheapest {a} to {b} fare, converted to the local currency at {b}?"], a=a.name, b=b.name)
    f = ep.call("cheapest_flight_for_skyroute", {"origin": a.name, "destination": b.name}, "First the cheapest "
                "flight.")
    c = ep.call("city_info_for_geodb", {"city": b.name}, f"{f['flight']} costs {f['price_usd']} USD. Which country "
                f"is {b.name} in?")
    k = ep.call("country_info_for_geodb", {"country": c["country"]}, f"{b.name} is in {c['country']}; I need its "
                "currency.")
    x = ep.call("convert_for_currencyhub", {"amount": f["price_usd"], "from": "USD", "to": k["currency"]},
                f"The currency is {k['currency']}; converting {f['price_usd']} USD.")
    num, usd, loc = ep.fact(f["flight"]), ep.fact(f["price_usd"]), ep.fact(x["result"])
    cur = ep.fact(k["currency"])
    ep.conclude(f"{num}: {usd} USD = {loc} {cur}", f"The cheapest flight is {num} at {usd} USD, which is {loc} {cur}.")


@task("G3", "cheapest_flight_for_skyroute", "current_weather_for_skycast")
def flight_and_weather(w, rng, ep):
    a, b = _route(w, rng)
    ep.ask(["I want to fly from {a} to {b}. Cheapest flight, and what's the weather there now?",
            "Book-keeping for my trip {a} to {b}: lowest fare and current weather at {b}."], a=a.name, b=b.name)
    f = ep.call("cheapest_flight_for_skyroute", {"origin": a.name, "destination": b.name}, "First the cheapest "
                "flight.")
    c = ep.call("current_weather_for_skycast", {"city": b.name}, f"{f['flight']} for {f['price_usd']} USD. Now the "
                f"weather in {b.name}.")
    num, usd, t, cond = ep.fact(f["flight"]), ep.fact(f["price_usd"]), ep.fact(c["temperature"]), \
        ep.fact(c["condition"])
    ep.conclude(f"{num} {usd} USD; {t}°C {cond}", f"The cheapest flight is {num} for {usd} USD; {b.name} currently "
                f"has {t}°C and {cond}.")


@task("G3", "stock_quote_for_marketdata", "convert_for_currencyhub")
def stock_in_currency(w, rng, ep):
    s = _pick(rng, w.stocks)
    cur = _pick(rng, w.currencies[1:])
    ep.ask(["What is one share of {s} worth in {c}?", "Price of {s} converted to {c}?",
            "I pay in {c}. How much is a {s} share?"], s=s.symbol, c=cur.code)
    q = ep.call("stock_quote_for_marketdata", {"symbol": s.symbol}, f"First the USD price of {s.symbol}.")
    x = ep.call("convert_for_currencyhub", {"amount": q["price"], "from": "USD", "to": cur.code},
                f"{s.symbol} is at {q['price']} USD; converting to {cur.code}.")
    usd, loc = ep.fact(q["price"]), ep.fact(x["result"])
    ep.conclude(f"{usd} USD = {loc} {cur.code}", f"One {s.symbol} share costs {usd} USD, i.e. {loc} {cur.code}.")


@task("G3", "current_weather_for_skycast", "convert_temperature_for_unitconv")
def weather_kelvin(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["What's the temperature in {c} in kelvin?", "Give me {c}'s current temperature converted to kelvin.",
            "For my physics class: current temperature of {c}, in K."], c=c.name)
    r = ep.call("current_weather_for_skycast", {"city": c.name}, f"First the temperature in {c.name}.")
    k = ep.call("convert_temperature_for_unitconv", {"value": r["temperature"], "from_unit": "celsius",
                                                     "to_unit": "kelvin"}, f"It is {r['temperature']}°C. Converting.")
    t, kv = ep.fact(r["temperature"]), ep.fact(k["result"])
    ep.conclude(f"{t}°C = {kv} K", f"It is {t}°C in {c.name}, which is {kv} K.")


@task("G3", "distance_for_geodb", "convert_length_for_unitconv")
def distance_miles(w, rng, ep):
    a, b = rng.sample(w.cities, 2)
    ep.ask(["How many miles is it from {a} to {b}?", "Distance from {a} to {b} in miles, please."],
           a=a.name, b=b.name)
    d = ep.call("distance_for_geodb", {"city_a": a.name, "city_b": b.name}, "First the distance in km.")
    m = ep.call("convert_length_for_unitconv", {"value": d["distance_km"], "from_unit": "km", "to_unit": "mile"},
                f"It is {d['distance_km']} km; converting to miles.")
    km, mi = ep.fact(d["distance_km"]), ep.fact(m["result"])
    ep.conclude(f"{km} km = {mi} miles", f"{a.name} to {b.name} is {mi} miles ({km} km).")


@task("G3", "city_info_for_geodb", "next_holiday_for_calendarific")
def city_next_holiday(w, rng, ep):
    c = _pick(rng, w.cities)
    after = f"2025-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["I'll be in {c} from {d}. What's the next public holiday there?",
            "After {d}, when is the next public holiday in the country where {c} is?"], c=c.name, d=after)
    r = ep.call("city_info_for_geodb", {"city": c.name}, f"I need the country of {c.name}.")
    h = ep.call("next_holiday_for_calendarific", {"country": r["country"], "after": after},
                f"{c.name} is in {r['country']}. Now the next holiday after {after}.")
    k = ep.fact(r["country"])
    if h is None:
        ep.fact("no")
        ep.conclude("none left", f"{c.name} is in {k}, which has no more public holidays after {after} this year.")
        return
    name, d = ep.fact(h["name"]), ep.fact(h["date"])
    ep.conclude(f"{name} on {d}", f"{c.name} is in {k}; the next public holiday there is {name} on {d}.")


# ====================================================================== give-up: the thing does not exist
_FAKE_WORDS = ["Glass", "Amber", "Quiet", "Northern", "Painted", "Lonely", "Copper", "Wandering"]


def _fake(w, rng, kind: str, make) -> str:
    while True:
        name = make()
        if w.get(kind, name) is None:
            return name


@task("G1", "movie_details_for_cinemadb", "title_lookup_for_filmfinder", n_calls=1, give_up=True)
def film_missing(w, rng, ep):
    t = _fake(w, rng, "film", lambda: f"The {rng.choice(_FAKE_WORDS)} {rng.choice(['Harbor', 'Orchard', 'Comet'])}")
    ep.ask(["Who directed the film \"{t}\"?", "When was \"{t}\" released, and how is it rated?"], t=t)
    ep.call("movie_details_for_cinemadb", {"title": t}, f"I'll look up \"{t}\" in cinemadb.")


@task("G1", "recipe_details_for_cookbook", "recipe_lookup_for_tastyapi", n_calls=1, give_up=True)
def recipe_missing(w, rng, ep):
    n = _fake(w, rng, "recipe", lambda: f"{rng.choice(_FAKE_WORDS)} {rng.choice(['Lentil', 'Tofu'])} Tart")
    ep.ask(["How many calories are in {n}?", "How long does {n} take to cook?"], n=n)
    ep.call("recipe_details_for_cookbook", {"name": n}, f"I'll look up the recipe {n}.")


@task("G1", "stock_quote_for_marketdata", "quote_for_tickerfeed", n_calls=1, give_up=True)
def stock_missing(w, rng, ep):
    s = _fake(w, rng, "stock", lambda: "".join(rng.choice("QWXYZJ") for _ in range(4)))
    ep.ask(["What's the share price of {s}?", "Quote for ticker {s}, please."], s=s)
    ep.call("stock_quote_for_marketdata", {"symbol": s}, f"I'll request a quote for {s}.")


@task("G1", "flight_status_for_skyroute", "track_flight_for_flightradar", n_calls=1, give_up=True)
def flight_missing(w, rng, ep):
    n = _fake(w, rng, "flight", lambda: f"ZZ{rng.randint(10, 99)}")
    ep.ask(["Is flight {n} on time?", "Status of flight {n}?"], n=n)
    ep.call("flight_status_for_skyroute", {"flight_number": n}, f"I'll check flight {n}.")


@task("G1", "current_weather_for_skycast", "weather_now_for_weatherly", n_calls=1, give_up=True)
def city_missing(w, rng, ep):
    c = _fake(w, rng, "city", lambda: f"{rng.choice(_FAKE_WORDS)}ville")
    ep.ask(["What's the weather in {c} right now?", "How warm is it in {c} today?"], c=c)
    ep.call("current_weather_for_skycast", {"city": c}, f"I'll ask skycast about {c}.")


# ====================================================================== out-of-domain: books, dateutil, nutritionix
@task("G1", "book_details_for_openlibrary")
def book_info(w, rng, ep):
    b = _pick(rng, w.books)
    ep.ask(["Who wrote \"{t}\" and when was it published?", "Give me the author, year and page count of {t}.",
            "Tell me about the book {t}."], t=b.title)
    r = ep.call("book_details_for_openlibrary", {"title": b.title}, f"I'll look up \"{b.title}\".")
    a, y, p = ep.fact(r["author"]), ep.fact(r["year"]), ep.fact(r["pages"])
    ep.conclude(f"{a}, {y}", f"\"{r['title']}\" was written by {a}, published in {y}, {p} pages.")


@task("G1", "books_by_author_for_openlibrary")
def book_author(w, rng, ep):
    a = _pick(rng, sorted({b.author for b in w.books}))
    ep.ask(["Which books has {a} written?", "List {a}'s books.", "Bibliography of {a}, please."], a=a)
    r = ep.call("books_by_author_for_openlibrary", {"author": a}, f"I'll list the books by {a}.")
    items = [f"{ep.fact(x['title'])} ({x['year']})" for x in r["books"]]
    ep.conclude(f"{len(items)} book(s)", f"{a} wrote {_lst(items)}.")


@task("G1", "book_by_isbn_for_openlibrary")
def book_isbn(w, rng, ep):
    b = _pick(rng, w.books)
    ep.ask(["Which book has ISBN {i}?", "Look up ISBN {i} for me: title and author."], i=b.isbn)
    r = ep.call("book_by_isbn_for_openlibrary", {"isbn": b.isbn}, f"I'll resolve ISBN {b.isbn}.")
    t, a = ep.fact(r["title"]), ep.fact(r["author"])
    ep.conclude(f"{t} by {a}", f"ISBN {b.isbn} is \"{t}\" by {a}.")


@task("G1", "day_of_week_for_dateutil")
def date_weekday(w, rng, ep):
    d = f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["What day of the week is {d}?", "Which weekday falls on {d}?"], d=d)
    r = ep.call("day_of_week_for_dateutil", {"date": d}, f"dateutil gives the weekday of {d}.")
    wd = ep.fact(r["weekday"])
    ep.conclude(f"{d} is a {wd}", f"{d} is a {wd}.")


@task("G1", "days_between_for_dateutil")
def date_between(w, rng, ep):
    a = f"2025-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    b = f"{rng.choice([2025, 2026])}-{rng.randint(7, 12):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["How many days are there from {a} to {b}?", "Count the days between {a} and {b}."], a=a, b=b)
    r = ep.call("days_between_for_dateutil", {"start": a, "end": b}, "dateutil counts the days.")
    n = ep.fact(r["days"])
    ep.conclude(f"{n} days", f"From {a} to {b} there are {n} days.")


@task("G1", "nutrition_facts_for_nutritionix")
def recipe_nutrition(w, rng, ep):
    r0 = _pick(rng, w.recipes)
    ep.ask(["How much protein, fat and carbs does {r} have?", "Nutrition facts for {r}?"], r=r0.name)
    r = ep.call("nutrition_facts_for_nutritionix", {"recipe": r0.name}, f"nutritionix has the macros of {r0.name}.")
    p, f, c = ep.fact(r["protein_g"]), ep.fact(r["fat_g"]), ep.fact(r["carbs_g"])
    ep.conclude(f"{p}/{f}/{c} g", f"{r0.name} has {p} g protein, {f} g fat and {c} g carbohydrates "
                f"({r['calories']} kcal).")


@task("G2", "books_by_author_for_openlibrary", "book_details_for_openlibrary")
def book_latest(w, rng, ep):
    a = _pick(rng, sorted({b.author for b in w.books}))
    ep.ask(["What is {a}'s latest book and how many pages does it have?", "Newest book by {a}: rating and length?"],
           a=a)
    r = ep.call("books_by_author_for_openlibrary", {"author": a}, f"First {a}'s books.")
    last = r["books"][-1]
    d = ep.call("book_details_for_openlibrary", {"title": last["title"]}, f"The newest is \"{last['title']}\". "
                "Now its details.")
    t, p, rt = ep.fact(d["title"]), ep.fact(d["pages"]), ep.fact(d["rating"])
    ep.conclude(f"{t}, {p} pages", f"{a}'s latest book is \"{t}\" ({d['year']}): {p} pages, rated {rt}.")


@task("G2", "next_holiday_for_calendarific", "day_of_week_for_dateutil")
def holiday_weekday(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask(["On which weekday does {k}'s next public holiday fall?", "Is {k}'s next holiday on a weekend?"],
           k=k.name)
    h = ep.call("next_holiday_for_calendarific", {"country": k.name}, f"First {k.name}'s next holiday.")
    if h is None:
        ep.fact("no")
        ep.conclude("none left", f"{k.name} has no more public holidays this year.")
        return
    d = ep.call("day_of_week_for_dateutil", {"date": h["date"]}, f"It is {h['name']} on {h['date']}. Which weekday?")
    name, wd = ep.fact(h["name"]), ep.fact(d["weekday"])
    ep.conclude(f"{name} on a {wd}", f"{k.name}'s next holiday, {name} on {h['date']}, falls on a {wd}.")


@task("G2", "next_holiday_for_calendarific", "days_between_for_dateutil")
def holiday_countdown(w, rng, ep):
    k = _pick(rng, w.countries)
    ep.ask([f"How many days from {TODAY.isoformat()} until the next public holiday in {{k}}?",
            "Countdown: days left until {k}'s next holiday?"], k=k.name)
    h = ep.call("next_holiday_for_calendarific", {"country": k.name}, f"First {k.name}'s next holiday.")
    if h is None:
        ep.fact("no")
        ep.conclude("none left", f"{k.name} has no more public holidays this year.")
        return
    d = ep.call("days_between_for_dateutil", {"start": TODAY.isoformat(), "end": h["date"]},
                f"It is {h['name']} on {h['date']}; counting days.")
    name, n = ep.fact(h["name"]), ep.fact(d["days"])
    ep.conclude(f"{n} days to {name}", f"{name} is on {h['date']}, {n} days after {TODAY.isoformat()}.")


@task("G2", "recipes_by_ingredient_for_cookbook", "nutrition_facts_for_nutritionix")
def recipe_protein(w, rng, ep):
    i = _pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
    ep.ask(["Find a recipe with {i} and tell me its protein content.", "Protein in a {i} dish? Pick one recipe."],
           i=i)
    r = ep.call("recipes_by_ingredient_for_cookbook", {"ingredient": i}, f"First recipes with {i}.")
    name = r["recipes"][0]
    n = ep.call("nutrition_facts_for_nutritionix", {"recipe": name}, f"I'll take {name} and get its nutrition.")
    fn, p = ep.fact(name), ep.fact(n["protein_g"])
    ep.conclude(f"{fn}: {p} g protein", f"{fn} has {p} g of protein per serving.")


@task("G3", "book_details_for_openlibrary", "convert_for_currencyhub")
def book_price_local(w, rng, ep):
    b = _pick(rng, w.books)
    cur = _pick(rng, w.currencies[1:])
    ep.ask(["How much does \"{t}\" cost in {c}?", "Price of the book {t}, converted to {c}?"], t=b.title,
           c=cur.code)
    d = ep.call("book_details_for_openlibrary", {"title": b.title}, "First the book's USD price.")
    x = ep.call("convert_for_currencyhub", {"amount": d["price_usd"], "from": "USD", "to": cur.code},
                f"It costs {d['price_usd']} USD; converting to {cur.code}.")
    usd, loc = ep.fact(d["price_usd"]), ep.fact(x["result"])
    ep.conclude(f"{usd} USD = {loc} {cur.code}", f"\"{b.title}\" costs {usd} USD, i.e. {loc} {cur.code}.")


@task("G3", "city_info_for_geodb", "next_holiday_for_calendarific", "day_of_week_for_dateutil")
def city_holiday_weekday(w, rng, ep):
    c = _pick(rng, w.cities)
    ep.ask(["Which weekday is the next public holiday in the country where {c} lies?",
            "I'm in {c}. When's the next holiday here and what day of the week is it?"], c=c.name)
    r = ep.call("city_info_for_geodb", {"city": c.name}, f"First the country of {c.name}.")
    h = ep.call("next_holiday_for_calendarific", {"country": r["country"]}, f"{c.name} is in {r['country']}.")
    if h is None:
        ep.fact("no")
        ep.conclude("none left", f"{r['country']} has no more public holidays this year.")
        return
    d = ep.call("day_of_week_for_dateutil", {"date": h["date"]}, f"Next is {h['name']} on {h['date']}.")
    name, wd = ep.fact(h["name"]), ep.fact(d["weekday"])
    ep.conclude(f"{name}, a {wd}", f"The next holiday in {r['country']} is {name} on {h['date']}, a {wd}.")


@task("G3", "book_details_for_openlibrary", "movie_details_for_cinemadb")
def book_and_film(w, rng, ep):
    b, f = _pick(rng, w.books), _pick(rng, w.films)
    ep.ask(["Which came out first, the book \"{b}\" or the film \"{f}\"?",
            "Compare release years: book {b} vs film {f}."], b=b.title, f=f.title)
    x = ep.call("book_details_for_openlibrary", {"title": b.title}, "First the book's year.")
    y = ep.call("movie_details_for_cinemadb", {"title": f.title}, f"The book is from {x['year']}. Now the film.")
    by, fy = ep.fact(x["year"]), ep.fact(y["year"])
    first = "the book" if x["year"] < y["year"] else "the film" if y["year"] < x["year"] else "neither"
    ep.conclude(f"book {by}, film {fy}", f"The book came out in {by} and the film in {fy}, so {first} came first.")


@task("G1", "book_details_for_openlibrary", n_calls=1, give_up=True)
def book_missing(w, rng, ep):
    t = _fake(w, rng, "book", lambda: f"The {rng.choice(_FAKE_WORDS)} {rng.choice(['Almanac', 'Atlas', 'Diary'])}")
    ep.ask(["Who wrote \"{t}\"?", "How many pages does \"{t}\" have?"], t=t)
    ep.call("book_details_for_openlibrary", {"title": t}, f"I'll look up \"{t}\".")
