"""ToolWorld task types with several calls in one category (G2); across categories (G3): ``tasks_cross``."""

from __future__ import annotations

from umi_lab.toolworld.generator import article, fmt, join_list, pick, random_route, task


# ====================================================================== G2: one category, several calls
@task("G2", "current_weather_for_skycast", "sun_times_for_weatherly")
def weather_and_sun(w, rng, ep):
    """Asks e.g. "What's the weather in {c} now, and when does the sun set?"."""
    c = pick(rng, w.cities)
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
    """Asks e.g. "Is it a good day for a run in {c}? Tell me the temperature and the air quality."."""
    c = pick(rng, w.cities)
    ep.ask(["Is it a good day for a run in {c}? Tell me the temperature and the air quality.",
            "Weather and AQI for {c} right now?", "How hot is it in {c}, and how clean is the air?"], c=c.name)
    r = ep.call("current_weather_for_skycast", {"city": c.name}, f"I'll start with the weather in {c.name}.")
    t, cond = ep.fact(r["temperature"]), ep.fact(r["condition"])
    a = ep.call("air_quality_for_skycast", {"city": c.name}, f"Weather: {t}°C, {cond}. Now the air quality.")
    aqi, lvl = ep.fact(a["aqi"]), ep.fact(a["level"])
    ep.conclude(f"{t}°C, {cond}, AQI {aqi}", f"{c.name}: {t}°C and {cond}; the air quality index is {aqi} ({lvl}).")


@task("G2", "exchange_rate_for_currencyhub", "convert_for_currencyhub")
def money_rate_and_convert(w, rng, ep):
    """Asks e.g. "What's the {a} to {b} rate, and how much is {n} {a} in {c}?"."""
    a, b, c = rng.sample(w.currencies, 3)
    amt = rng.choice([20, 100, 300, 1200])
    ep.ask(["What's the {a} to {b} rate, and how much is {n} {a} in {c}?",
            "Two things: the exchange rate {a}/{b}, and {n} {a} converted to {c}.",
            "Tell me how many {b} one {a} buys, then convert {n} {a} into {c}.",
            "I'm comparing currencies: the {a}-to-{b} rate, and the value of {n} {a} in {c}?"], a=a.code, b=b.code,
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
    """Asks e.g. "What is {d}'s most recent film and how is it rated?"."""
    d = pick(rng, sorted({f.director for f in w.films}))
    ep.ask(["What is {d}'s most recent film and how is it rated?",
            "Find the latest movie by {d} and its rating.",
            "Which is the newest film directed by {d}? Give me its genre and rating."], d=d)
    r = ep.call("movies_by_director_for_cinemadb", {"director": d}, f"I'll list {d}'s films first.")
    last = r["films"][-1]
    f = ep.call("movie_details_for_cinemadb", {"title": last["title"]}, f"The newest is \"{last['title']}\" "
                f"({last['year']}). Now its details.")
    t, rt, g = ep.fact(f["title"]), ep.fact(f["rating"]), ep.fact(f["genre"])
    ep.conclude(f"{t}, rated {rt}", f"{d}'s most recent film is \"{t}\" ({f['year']}), {article(g)} {g} rated {rt}.")


@task("G2", "top_rated_for_cinemadb", "movie_cast_for_cinemadb")
def film_top_cast(w, rng, ep):
    """Asks e.g. "Who acts in the best rated {g} film?"."""
    g = pick(rng, sorted({f.genre for f in w.films}))
    ep.ask(["Who acts in the best rated {g} film?", "Find the top {g} movie and tell me its cast.",
            "What's the highest rated {g} film, and who is in it?"], g=g)
    r = ep.call("top_rated_for_cinemadb", {"genre": g, "limit": 1}, f"First the best rated {g} film.")
    top = r["films"][0]
    c = ep.call("movie_cast_for_cinemadb", {"title": top["title"]}, f"It is \"{top['title']}\" ({top['rating']}). "
                "Now its cast.")
    t = ep.fact(top["title"])
    cast = [ep.fact(a) for a in c["cast"]]
    ep.conclude(f"{t} with {join_list(cast)}", f"The best rated {g} film is \"{t}\" ({fmt(top['rating'])}); it stars "
                f"{join_list(cast)}.")


@task("G2", "recipes_by_ingredient_for_cookbook", "recipe_details_for_cookbook")
def recipepick(w, rng, ep):
    """Asks e.g. "Pick a recipe with {i} and tell me how long it takes and its calories."."""
    i = pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
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
    """Asks e.g. "Find the cheapest flight from {a} to {b} and tell me if it's on time."."""
    a, b = random_route(w, rng)
    ep.ask(["Find the cheapest flight from {a} to {b} and tell me if it's on time.",
            "What's the lowest fare from {a} to {b}, and what's that flight's status?",
            "Book-keeping check: the cheapest {a} to {b} flight and its current status?",
            "Which flight from {a} to {b} costs least, and is it delayed?"], a=a.name, b=b.name)
    r = ep.call("cheapest_flight_for_skyroute", {"origin": a.airport, "destination": b.airport},
                f"I'll find the cheapest {a.airport}-{b.airport} flight.")
    s = ep.call("flight_status_for_skyroute", {"flight_number": r["flight"]}, f"The cheapest is {r['flight']} at "
                f"{r['price_usd']} USD. Now its status.")
    num, price, st = ep.fact(r["flight"]), ep.fact(r["price_usd"]), ep.fact(s["status"])
    ep.conclude(f"{num}, {price} USD, {st}", f"The cheapest flight is {num} for {price} USD, and it is {st}.")


@task("G2", "flight_status_for_skyroute", "airport_info_for_skyroute")
def flights_status_airport(w, rng, ep):
    """Asks e.g. "Where is flight {n} going, what's its status, and how high is the destination airport?"."""
    f = pick(rng, w.flights)
    ep.ask(["Where is flight {n} going, what's its status, and how high is the destination airport?",
            "Status of {n} and the elevation of the airport it flies to?",
            "Flight {n}: is it on schedule, and at what elevation is its destination airport?",
            "Tell me whether {n} is on time and where exactly it lands."], n=f.number)
    r = ep.call("flight_status_for_skyroute", {"flight_number": f.number}, f"I'll check {f.number} first.")
    code = r["destination"].split("(")[-1].rstrip(")")
    a = ep.call("airport_info_for_skyroute", {"code": code}, f"{f.number} is {r['status']} and flies to "
                f"{r['destination']}. Now the airport {code}.")
    st, city, el = ep.fact(r["status"]), ep.fact(a["city"]), ep.fact(a["elevation_m"])
    ep.conclude(f"{st}, to {city} at {el} m", f"Flight {f.number} is {st}; it flies to {city} ({code}), whose "
                f"airport lies at {el} m.")


@task("G2", "symbol_search_for_marketdata", "stock_quote_for_marketdata")
def stock_by_name(w, rng, ep):
    """Asks e.g. "What's the share price of {c}?"."""
    s = pick(rng, w.stocks)
    ep.ask(["What's the share price of {c}?", "How much does one share of {c} cost today?",
            "Give me {c}'s stock price and daily change."], c=s.company)
    r = ep.call("symbol_search_for_marketdata", {"company": s.company}, f"I need {s.company}'s ticker first.")
    sym = r["results"][0]["symbol"]
    q = ep.call("stock_quote_for_marketdata", {"symbol": sym}, f"The ticker is {sym}. Now the quote.")
    p, ch = ep.fact(q["price"]), ep.fact(q["change_pct"])
    ep.conclude(f"{sym} at {p} USD", f"{s.company} ({sym}) trades at {p} USD ({ch}% today).")


@task("G2", "symbol_search_for_marketdata", "company_profile_for_marketdata", "dividends_for_marketdata")
def stock_profile_div(w, rng, ep):
    """Asks e.g. "Who runs {c}, and does it pay a dividend?"."""
    s = pick(rng, w.stocks)
    ep.ask(["Who runs {c}, and does it pay a dividend?", "Tell me {c}'s CEO and dividend yield.",
            "Research {c} for me: CEO, sector and dividend."], c=s.company)
    r = ep.call("symbol_search_for_marketdata", {"company": s.company}, f"I'll find the ticker of {s.company}.")
    sym = r["results"][0]["symbol"]
    p = ep.call("company_profile_for_marketdata", {"symbol": sym}, f"It trades as {sym}; next its profile.")
    d = ep.call("dividends_for_marketdata", {"symbol": sym}, f"The CEO is {p['ceo']} ({p['sector']}). Now the "
                "dividend.")
    ceo, sec, y = ep.fact(p["ceo"]), ep.fact(p["sector"]), ep.fact(d["dividend_yield_pct"])
    pays = "pays a dividend yielding" if d["pays_dividend"] else "pays no dividend; yield"
    ep.conclude(f"CEO {ceo}, yield {y}%", f"{s.company} ({sym}) is {article(sec)} {sec} company run by {ceo}; it {pays} {y}%.")


@task("G2", "country_info_for_geodb", "city_info_for_geodb")
def geo_capital(w, rng, ep):
    """Asks e.g. "How many people live in the capital of {k}?"."""
    k = pick(rng, w.countries)
    ep.ask(["How many people live in the capital of {k}?", "What's the population of {k}'s capital?",
            "Tell me the capital of {k} and how big it is."], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I need {k.name}'s capital first.")
    c = ep.call("city_info_for_geodb", {"city": r["capital"]}, f"The capital is {r['capital']}. Now its "
                "population.")
    cap, pop = ep.fact(r["capital"]), ep.fact(c["population"])
    ep.conclude(f"{cap}, {pop} people", f"The capital of {k.name} is {cap}, with {pop} inhabitants.")


@task("G2", "cities_in_country_for_geodb", "distance_for_geodb")
def geo_two_largest(w, rng, ep):
    """Asks e.g. "How far apart are the two largest cities of {k}?"."""
    k = pick(rng, w.countries)
    ep.ask(["How far apart are the two largest cities of {k}?",
            "Distance between {k}'s biggest and second biggest cities?",
            "What's the distance from the biggest city of {k} to its second biggest?",
            "Take the two most populous cities in {k}. How many km separate them?"], k=k.name)
    r = ep.call("cities_in_country_for_geodb", {"country": k.name}, f"I'll list the cities of {k.name}.")
    a, b = r["cities"][0]["city"], r["cities"][1]["city"]
    d = ep.call("distance_for_geodb", {"city_a": a, "city_b": b}, f"The largest are {a} and {b}. Now the distance.")
    fa, fb, km = ep.fact(a), ep.fact(b), ep.fact(d["distance_km"])
    ep.conclude(f"{fa}-{fb}: {km} km", f"The two largest cities of {k.name}, {fa} and {fb}, are {km} km apart.")


@task("G2", "country_info_for_geodb", "country_info_for_geodb", "distance_for_geodb")
def geo_capitals_distance(w, rng, ep):
    """Asks e.g. "How far is the capital of {a} from the capital of {b}?"."""
    k1, k2 = rng.sample(w.countries, 2)
    ep.ask(["How far is the capital of {a} from the capital of {b}?",
            "Distance between the capitals of {a} and {b}?",
            "I'm flying between the capitals of {a} and {b}. How far is that?",
            "How many kilometres lie between {a}'s capital and {b}'s capital?"], a=k1.name, b=k2.name)
    r1 = ep.call("country_info_for_geodb", {"country": k1.name}, f"First the capital of {k1.name}.")
    r2 = ep.call("country_info_for_geodb", {"country": k2.name}, f"{k1.name}'s capital is {r1['capital']}. Now "
                 f"{k2.name}'s.")
    d = ep.call("distance_for_geodb", {"city_a": r1["capital"], "city_b": r2["capital"]},
                f"{k2.name}'s capital is {r2['capital']}. Now the distance.")
    a, b, km = ep.fact(r1["capital"]), ep.fact(r2["capital"]), ep.fact(d["distance_km"])
    ep.conclude(f"{a}-{b}: {km} km", f"The capitals {a} ({k1.name}) and {b} ({k2.name}) are {km} km apart.")


@task("G2", "public_holidays_for_calendarific", "public_holidays_for_calendarific")
def cal_two_countries(w, rng, ep):
    """Asks e.g. "List all 2025 public holidays of {a} and {b}."."""
    k1, k2 = rng.sample(w.countries, 2)
    ep.ask(["List all 2025 public holidays of {a} and {b}.",
            "Which public holidays do {a} and {b} have this year?",
            "Compare the public holiday calendars of {a} and {b} for 2025.",
            "I work with teams in {a} and {b}. When are their public holidays this year?"],
           a=k1.name, b=k2.name)
    out = []
    for k, note in ((k1, f"First {k1.name}'s holidays."), (k2, f"{k1.name} has {len(k1.holidays)}. Now {k2.name}.")):
        r = ep.call("public_holidays_for_calendarific", {"country": k.name}, note)
        out.append(f"{k.name}: " + join_list(f"{ep.fact(h['name'])} ({ep.fact(h['date'])})" for h in r["holidays"]))
    ep.conclude(f"{len(k1.holidays)} and {len(k2.holidays)} holidays", ". ".join(out) + ".")


@task("G2", "convert_length_for_unitconv", "convert_mass_for_unitconv")
def units_two(w, rng, ep):
    """Asks e.g. "Convert {l} miles to km and {m} lb to kg."."""
    lv, mv = rng.choice([5, 10, 26.2, 42]), rng.choice([2, 15, 70, 180])
    ep.ask(["Convert {l} miles to km and {m} lb to kg.", "I ran {l} miles and weigh {m} lb. Metric, please.",
            "Please convert two things: {l} miles into kilometres and {m} pounds into kilograms.",
            "What are {l} miles in km, and {m} lb in kg?"],
           l=fmt(lv), m=fmt(mv))
    a = ep.call("convert_length_for_unitconv", {"value": lv, "from_unit": "mile", "to_unit": "km"}, "First the "
                "distance.")
    b = ep.call("convert_mass_for_unitconv", {"value": mv, "from_unit": "lb", "to_unit": "kg"},
                f"{fmt(lv)} miles is {a['result']} km. Now the weight.")
    x, y = ep.fact(a["result"]), ep.fact(b["result"])
    ep.conclude(f"{x} km, {y} kg", f"{fmt(lv)} miles = {x} km and {fmt(mv)} lb = {y} kg.")
