"""ToolWorld task types that need one tool (G1): weather, currency, movies, recipes, flights.

The other G1 types are in ``tasks_single_facts`` (stocks, geography, calendar, units) and
``tasks_give_up`` (the subject does not exist); ``generator.TASK_MODULES`` imports them in that order.
"""

from __future__ import annotations

from umi_lab.toolworld.generator import (
    fmt,
    join_list,
    pick,
    random_route,
    task,
)


# ====================================================================== G1: one tool
@task("G1", "current_weather_for_skycast")
def weather_now(w, rng, ep):
    """Asks e.g. "What's the weather like in {city} right now? Give the temperature in {unit}."."""
    c = pick(rng, w.cities)
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
                f"It is currently {t}{deg} in {r['city']}, {cond} (humidity {r['humidity']}%).")


@task("G1", "forecast_for_skycast")
def weather_forecast(w, rng, ep):
    """Asks e.g. "What will the high and low temperatures be in {city} on {day}?"."""
    c = pick(rng, w.cities)
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
                f"On {day} {c.name} expects a high of {hi}°C and a low of {lo}°C; conditions: {cond}.")


@task("G1", "air_quality_for_skycast")
def air(w, rng, ep):
    """Asks e.g. "How is the air quality in {city} today?"."""
    c = pick(rng, w.cities)
    ep.ask(["How is the air quality in {city} today?", "What's the AQI in {city}?",
            "Is the air in {city} healthy to breathe right now? Give me the index."], city=c.name)
    r = ep.call("air_quality_for_skycast", {"city": c.name}, f"I need the air quality index of {c.name}.")
    aqi, lvl = ep.fact(r["aqi"]), ep.fact(r["level"])
    ep.conclude(f"AQI {aqi} ({lvl})", f"The air quality index in {c.name} is {aqi}, which is {lvl}.")


@task("G1", "sun_times_for_weatherly")
def sun(w, rng, ep):
    """Asks e.g. "When does the sun rise and set in {city} today?"."""
    c = pick(rng, w.cities)
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
    """Asks e.g. "How much is {amount} {a} in {b}?"."""
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
    """Asks e.g. "What is the exchange rate from {a} to {b}?"."""
    a, b = _two_currencies(w, rng)
    ep.ask(["What is the exchange rate from {a} to {b}?", "How many {b} is one {a} worth today?",
            "Give me the current {a}/{b} rate."], a=a.code, b=b.code)
    r = ep.call("exchange_rate_for_currencyhub", {"base": a.code, "target": b.code},
                f"The user needs the {a.code} to {b.code} rate.")
    rate = ep.fact(r["rate"])
    ep.conclude(f"1 {a.code} = {rate} {b.code}", f"One {a.code} is worth {rate} {b.code}.")


@task("G1", "currency_info_for_currencyhub")
def money_info(w, rng, ep):
    """Asks e.g. "Which currency has the code {code}, and where is it used?"."""
    cur = pick(rng, w.currencies[2:])
    ep.ask(["Which currency has the code {code}, and where is it used?", "What is {code}? Name the currency.",
            "Tell me about the currency {code}: its name and how many per US dollar."], code=cur.code)
    r = ep.call("currency_info_for_currencyhub", {"code": cur.code}, f"currencyhub describes currency codes; "
                f"I'll look up {cur.code}.")
    name, per = ep.fact(r["name"]), ep.fact(r["per_usd"])
    ep.conclude(f"{cur.code} is the {name}", f"{cur.code} is the {name}, used in {join_list(r['used_in'])}; one US "
                f"dollar buys {per} {cur.code}.")


@task("G1", "movie_details_for_cinemadb")
def film_details(w, rng, ep):
    """Asks e.g. "Who directed \"{t}\" and when was it released?"."""
    f = pick(rng, w.films)
    ep.ask(["Who directed \"{t}\" and when was it released?", "Give me the director and release year of {t}.",
            "I'm curious about the film {t}: year, director and rating?"], t=f.title)
    r = ep.call("movie_details_for_cinemadb", {"title": f.title}, f"I'll fetch the details of \"{f.title}\".")
    d, y, rt = ep.fact(r["director"]), ep.fact(r["year"]), ep.fact(r["rating"])
    ep.conclude(f"{f.title} ({y}) by {d}", f"\"{r['title']}\" was directed by {d} and released in {y}; it is "
                f"rated {rt}.")


@task("G1", "movie_cast_for_cinemadb")
def film_cast(w, rng, ep):
    """Asks e.g. "Who stars in {t}?"."""
    f = pick(rng, w.films)
    ep.ask(["Who stars in {t}?", "List the main cast of the movie {t}.", "Which actors are in \"{t}\"?"], t=f.title)
    r = ep.call("movie_cast_for_cinemadb", {"title": f.title}, f"I need the cast of \"{f.title}\".")
    cast = [ep.fact(a) for a in r["cast"]]
    ep.conclude(f"the cast is {join_list(cast)}", f"The main cast of \"{r['title']}\" is {join_list(cast)}.")


@task("G1", "movies_by_director_for_cinemadb")
def film_director(w, rng, ep):
    """Asks e.g. "Which films has {d} directed?"."""
    d = pick(rng, sorted({f.director for f in w.films}))
    ep.ask(["Which films has {d} directed?", "List the movies by director {d}.",
            "I liked a film by {d}. What else did they direct?"], d=d)
    r = ep.call("movies_by_director_for_cinemadb", {"director": d}, f"cinemadb lists films by director; I'll ask "
                f"for {d}.")
    titles = [f"{ep.fact(x['title'])} ({x['year']})" for x in r["films"]]
    ep.conclude(f"{d} directed {len(titles)} film(s)", f"{d} directed {join_list(titles)}.")


@task("G1", "top_rated_for_cinemadb")
def film_top(w, rng, ep):
    """Asks e.g. "What are the {n} best rated {g} films?"."""
    g = pick(rng, sorted({f.genre for f in w.films}))
    n = rng.choice([1, 3, 5])
    ep.ask(["What are the {n} best rated {g} films?", "Recommend the top {n} {g} movies by rating.",
            "Which {g} films have the highest ratings? Top {n}, please."], n=n, g=g)
    r = ep.call("top_rated_for_cinemadb", {"genre": g, "limit": n}, f"top_rated can filter by genre; I'll ask for "
                f"{n} {g} films.")
    items = [f"{ep.fact(x['title'])} ({ep.fact(x['rating'])})" for x in r["films"]]
    ep.conclude(f"the top {g} films are {join_list(items)}", f"The best rated {g} films are {join_list(items)}.")


@task("G1", "recipe_details_for_cookbook")
def recipe_info(w, rng, ep):
    """Asks e.g. "How many calories does {r} have and how long does it take to make?"."""
    r0 = pick(rng, w.recipes)
    ep.ask(["How many calories does {r} have and how long does it take to make?",
            "What do I need for {r}, and how long is the preparation?",
            "Give me the details of the recipe {r}."],
           r=r0.name)
    r = ep.call("recipe_details_for_cookbook", {"name": r0.name}, f"I'll look up the recipe \"{r0.name}\".")
    cal, mins = ep.fact(r["calories"]), ep.fact(r["prep_min"])
    ings = [ep.fact(i) for i in r["ingredients"]]
    ep.conclude(f"{cal} kcal, {mins} minutes", f"{r['name']} takes {mins} minutes, has {cal} calories and uses "
                f"{join_list(ings)}.")


@task("G1", "recipes_by_ingredient_for_cookbook")
def recipe_ingredient(w, rng, ep):
    """Asks e.g. "What can I cook with {i}?"."""
    i = pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
    ep.ask(["What can I cook with {i}?", "Find me recipes that use {i}.", "I have lots of {i}. Any recipes?"], i=i)
    r = ep.call("recipes_by_ingredient_for_cookbook", {"ingredient": i}, f"I'll search cookbook for recipes with {i}.")
    names = [ep.fact(n) for n in r["recipes"]]
    ep.conclude(f"{len(names)} recipe(s) use {i}", f"Recipes with {i}: {join_list(names)}.")


@task("G1", "recipes_by_cuisine_for_cookbook")
def recipe_cuisine(w, rng, ep):
    """Asks e.g. "What's the quickest {c} dish I can make in at most {m} minutes?"."""
    c = pick(rng, sorted({r.cuisine for r in w.recipes}))
    m = rng.choice([15, 20, 30, 45, 60])
    ep.ask(["What's the quickest {c} dish I can make in at most {m} minutes?",
            "I have {m} minutes. Which {c} recipe is fastest?",
            "Suggest a {c} recipe ready within {m} minutes."],
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


@task("G1", "search_flights_for_skyroute")
def flights_search(w, rng, ep):
    """Asks e.g. "Which flights go from {a} to {b}?"."""
    a, b = random_route(w, rng)
    ep.ask(["Which flights go from {a} to {b}?", "List the flights from {a} to {b}, please.",
            "I need to get from {a} to {b} by plane. What flights are there?"], a=a.name, b=b.name)
    r = ep.call("search_flights_for_skyroute", {"origin": a.airport, "destination": b.airport},
                f"{a.name} is airport {a.airport} and {b.name} is {b.airport}; I'll search that route.")
    items = [f"{ep.fact(f['flight'])} at {ep.fact(f['departure'])}" for f in r["flights"]]
    ep.conclude(f"{len(items)} flight(s) found", f"Flights from {a.name} to {b.name}: {join_list(items)}.")


@task("G1", "cheapest_flight_for_skyroute")
def flights_cheapest(w, rng, ep):
    """Asks e.g. "What's the cheapest flight from {a} to {b}?"."""
    a, b = random_route(w, rng)
    ep.ask(["What's the cheapest flight from {a} to {b}?", "Find me the lowest fare from {a} to {b}.",
            "On a budget: cheapest way to fly {a} to {b}?"], a=a.name, b=b.name)
    r = ep.call("cheapest_flight_for_skyroute", {"origin": a.name, "destination": b.name},
                f"cheapest_flight accepts city names, so I'll ask for {a.name} to {b.name}.")
    num, price = ep.fact(r["flight"]), ep.fact(r["price_usd"])
    ep.conclude(f"{num} at {price} USD", f"The cheapest flight is {num} ({r['airline']}) departing "
                f"{r['departure']} for {price} USD.")


@task("G1", "flight_status_for_skyroute")
def flights_status(w, rng, ep):
    """Asks e.g. "Is flight {n} on time?"."""
    f = pick(rng, w.flights)
    ep.ask(["Is flight {n} on time?", "What's the status of flight {n}?", "My friend is on {n}. Any delay?"],
           n=f.number)
    r = ep.call("flight_status_for_skyroute", {"flight_number": f.number}, f"I'll check the status of {f.number}.")
    st = ep.fact(r["status"])
    ep.conclude(f"{f.number} is {st}", f"Flight {r['flight']} to {r['destination']} is {st} (scheduled "
                f"{r['departure']}).")


@task("G1", "airport_info_for_skyroute")
def airport(w, rng, ep):
    """Asks e.g. "Which city is airport {code} in?"."""
    c = pick(rng, w.cities)
    ep.ask(["Which city is airport {code} in?", "Where is the airport with code {code}?",
            "My ticket says {code}. Which city and country is that?"], code=c.airport)
    r = ep.call("airport_info_for_skyroute", {"code": c.airport}, f"airport_info resolves the code {c.airport}.")
    city, country = ep.fact(r["city"]), ep.fact(r["country"])
    ep.conclude(f"{c.airport} is in {city}", f"{c.airport} is the airport of {city}, {country}.")
