"""ToolWorld task types with several calls across categories (G3)."""

from __future__ import annotations

from umi_lab.toolworld.generator import join_list, pick, random_route, task


# ====================================================================== G3: across categories
@task("G3", "country_info_for_geodb", "current_weather_for_skycast")
def capital_weather(w, rng, ep):
    """Asks e.g. "What's the weather like in the capital of {k} right now?"."""
    k = pick(rng, w.countries)
    ep.ask(["What's the weather like in the capital of {k} right now?",
            "How warm is it in {k}'s capital today?", "Current conditions in the capital city of {k}?"], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I need the capital of {k.name} first.")
    c = ep.call("current_weather_for_skycast", {"city": r["capital"]}, f"The capital is {r['capital']}; now its "
                "weather.")
    cap, t, cond = ep.fact(r["capital"]), ep.fact(c["temperature"]), ep.fact(c["condition"])
    ep.conclude(f"{cap}: {t}°C, {cond}", f"In {cap}, the capital of {k.name}, it is {t}°C and {cond}.")


@task("G3", "country_info_for_geodb", "exchange_rate_for_currencyhub")
def country_rate(w, rng, ep):
    """Asks e.g. "How many units of {k}'s currency do I get for one {b}?"."""
    k = pick(rng, w.countries)
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
    """Asks e.g.:
    What's the cheapest flight from {a} to {b}, and what does it cost in the destination's currency?
    """
    a, b = random_route(w, rng)
    ep.ask(["What's the cheapest flight from {a} to {b}, and what does it cost in the destination's currency?",
            "Cheapest {a} to {b} fare, converted to the local currency at {b}?",
            "I'm flying {a} to {b}. What's the lowest fare in the local currency of {b}?",
            "Find the cheapest flight {a} to {b} and give its price in the currency used at the destination."], a=a.name, b=b.name)
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
    """Asks e.g. "I want to fly from {a} to {b}. Cheapest flight, and what's the weather there now?"."""
    a, b = random_route(w, rng)
    ep.ask(["I want to fly from {a} to {b}. Cheapest flight, and what's the weather there now?",
            "Book-keeping for my trip {a} to {b}: lowest fare and current weather at {b}.",
            "What's the cheapest way to fly from {a} to {b}, and how is the weather in {b}?",
            "Lowest fare {a} to {b}? Also tell me the current conditions in {b}."], a=a.name, b=b.name)
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
    """Asks e.g. "What is one share of {s} worth in {c}?"."""
    s = pick(rng, w.stocks)
    cur = pick(rng, w.currencies[1:])
    ep.ask(["What is one share of {s} worth in {c}?", "Price of {s} converted to {c}?",
            "I pay in {c}. How much is a {s} share?"], s=s.symbol, c=cur.code)
    q = ep.call("stock_quote_for_marketdata", {"symbol": s.symbol}, f"First the USD price of {s.symbol}.")
    x = ep.call("convert_for_currencyhub", {"amount": q["price"], "from": "USD", "to": cur.code},
                f"{s.symbol} is at {q['price']} USD; converting to {cur.code}.")
    usd, loc = ep.fact(q["price"]), ep.fact(x["result"])
    ep.conclude(f"{usd} USD = {loc} {cur.code}", f"One {s.symbol} share costs {usd} USD, i.e. {loc} {cur.code}.")


@task("G3", "current_weather_for_skycast", "convert_temperature_for_unitconv")
def weather_kelvin(w, rng, ep):
    """Asks e.g. "What's the temperature in {c} in kelvin?"."""
    c = pick(rng, w.cities)
    ep.ask(["What's the temperature in {c} in kelvin?",
            "Give me {c}'s current temperature converted to kelvin.",
            "For my physics class: current temperature of {c}, in K."], c=c.name)
    r = ep.call("current_weather_for_skycast", {"city": c.name}, f"First the temperature in {c.name}.")
    k = ep.call("convert_temperature_for_unitconv", {"value": r["temperature"], "from_unit": "celsius",
                                                     "to_unit": "kelvin"}, f"It is {r['temperature']}°C. Converting.")
    t, kv = ep.fact(r["temperature"]), ep.fact(k["result"])
    ep.conclude(f"{t}°C = {kv} K", f"It is {t}°C in {c.name}, which is {kv} K.")


@task("G3", "distance_for_geodb", "convert_length_for_unitconv")
def distance_miles(w, rng, ep):
    """Asks e.g. "How many miles is it from {a} to {b}?"."""
    a, b = rng.sample(w.cities, 2)
    ep.ask(["How many miles is it from {a} to {b}?", "Distance from {a} to {b} in miles, please.",
            "How far apart are {a} and {b}, in miles?",
            "I think in miles: what's the distance between {a} and {b}?"],
           a=a.name, b=b.name)
    d = ep.call("distance_for_geodb", {"city_a": a.name, "city_b": b.name}, "First the distance in km.")
    m = ep.call("convert_length_for_unitconv", {"value": d["distance_km"], "from_unit": "km", "to_unit": "mile"},
                f"It is {d['distance_km']} km; converting to miles.")
    km, mi = ep.fact(d["distance_km"]), ep.fact(m["result"])
    ep.conclude(f"{km} km = {mi} miles", f"{a.name} to {b.name} is {mi} miles ({km} km).")


@task("G3", "city_info_for_geodb", "next_holiday_for_calendarific")
def city_next_holiday(w, rng, ep):
    """Asks e.g. "I'll be in {c} from {d}. What's the next public holiday there?"."""
    c = pick(rng, w.cities)
    after = f"2025-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["I'll be in {c} from {d}. What's the next public holiday there?",
            "After {d}, when is the next public holiday in the country where {c} is?",
            "Visiting {c} after {d}: which public holiday comes next in that country?",
            "Will there be a public holiday in {c}'s country soon after {d}? Which one and when?"], c=c.name, d=after)
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


@task("G3", "flight_status_for_skyroute", "airport_info_for_skyroute", "is_holiday_for_calendarific")
def flight_holiday(w, rng, ep):
    """Asks e.g. "Does flight {n} arrive on a public holiday at its destination?"."""
    f = pick(rng, w.flights)
    ep.ask(["Does flight {n} arrive on a public holiday at its destination?",
            "My flight {n}: is its departure day a public holiday in the destination country?",
            "Will shops be closed for a holiday where flight {n} lands, on the day it flies?",
            "Check flight {n}: is the travel day a holiday in the country it flies to?"], n=f.number)
    s = ep.call("flight_status_for_skyroute", {"flight_number": f.number}, f"First the schedule of {f.number}.")
    code, day = s["destination"].split("(")[-1].rstrip(")"), s["departure"][:10]
    a = ep.call("airport_info_for_skyroute", {"code": code}, f"It flies to {s['destination']} on {day}. Which "
                f"country is {code} in?")
    h = ep.call("is_holiday_for_calendarific", {"country": a["country"], "date": day},
                f"{code} is in {a['country']}. Is {day} a holiday there?")
    country, d = ep.fact(a["country"]), ep.fact(day)
    if h["is_holiday"]:
        ep.fact("yes")
        name = ep.fact(h["name"])
        ep.conclude(f"{day} is {name} in {country}", f"Yes: {f.number} flies on {d}, which is {name} in {country}.")
    else:
        ep.fact("no")
        ep.conclude(f"{day} is a normal day in {country}", f"No, {f.number} flies on {d}, which is not a public "
                    f"holiday in {country}.")


@task("G3", "public_holidays_for_calendarific", "country_info_for_geodb", "current_weather_for_skycast")
def holiday_month_weather(w, rng, ep):
    """Asks e.g. "Does {k} have public holidays in June, and how is the weather in its capital now?"."""
    k = pick(rng, w.countries)
    ep.ask(["Does {k} have public holidays in June, and how is the weather in its capital now?",
            "Planning a June visit to {k}: any public holidays that month? And the current weather in the capital?",
            "Two things about {k}: its June public holidays, and today's weather in the capital city."], k=k.name)
    r = ep.call("public_holidays_for_calendarific", {"country": k.name, "month": 6}, f"First {k.name}'s June "
                "holidays.")
    hol = "none" if r is None else join_list(f"{h['name']} ({h['date']})" for h in r["holidays"])
    c = ep.call("country_info_for_geodb", {"country": k.name}, f"June holidays: {hol}. Now the capital.")
    x = ep.call("current_weather_for_skycast", {"city": c["capital"]}, f"The capital is {c['capital']}; its "
                "weather next.")
    if r is None:
        ep.fact("no")
        part = f"{k.name} has no public holidays in June"
    else:
        part = f"{k.name}'s June holidays: " + join_list(f"{ep.fact(h['name'])} on {ep.fact(h['date'])}"
                                                           for h in r["holidays"])
    cap, t, cond = ep.fact(c["capital"]), ep.fact(x["temperature"]), ep.fact(x["condition"])
    ep.conclude(f"holidays: {hol}; {cap} {t}°C", f"{part}. In {cap} it is now {t}°C and {cond}.")


@task("G3", "currency_info_for_currencyhub", "country_info_for_geodb", "current_weather_for_skycast")
def currency_home_weather(w, rng, ep):
    """Asks e.g. "Where is the currency {c} used, and what's the weather in that country's capital?"."""
    cur = pick(rng, w.currencies[2:])
    ep.ask(["Where is the currency {c} used, and what's the weather in that country's capital?",
            "Someone paid me in {c}. Which country uses it, and how warm is its capital right now?",
            "Find the country of the currency {c}, then tell me the current weather in its capital."], c=cur.code)
    r = ep.call("currency_info_for_currencyhub", {"code": cur.code}, f"I'll look up the currency {cur.code}.")
    country = r["used_in"][0]
    k = ep.call("country_info_for_geodb", {"country": country}, f"{cur.code} is the {r['name']}, used in {country}. "
                "Now its capital.")
    x = ep.call("current_weather_for_skycast", {"city": k["capital"]}, f"The capital is {k['capital']}; now its "
                "weather.")
    fc, cap, t, cond = ep.fact(country), ep.fact(k["capital"]), ep.fact(x["temperature"]), ep.fact(x["condition"])
    ep.conclude(f"{cur.code}: {fc}, {cap} {t}°C", f"{cur.code} ({r['name']}) is used in {fc}; its capital {cap} has "
                f"{t}°C and {cond} right now.")


@task("G3", "convert_length_for_unitconv", "distance_for_geodb")
def distance_threshold(w, rng, ep):
    """Asks e.g. "Is {a} more than {n} miles away from {b}?"."""
    a, b = rng.sample(w.cities, 2)
    n = rng.choice([100, 250, 500, 1000, 2000, 3000, 5000])
    ep.ask(["Is {a} more than {n} miles away from {b}?", "My car has a range of {n} miles. Is {b} within that "
            "distance of {a} as the crow flies?", "Are {a} and {b} less than {n} miles apart?"],
           a=a.name, b=b.name, n=n)
    km = ep.call("convert_length_for_unitconv", {"value": n, "from_unit": "mile", "to_unit": "km"},
                 f"Distances come in km, so first {n} miles in km.")
    d = ep.call("distance_for_geodb", {"city_a": a.name, "city_b": b.name}, f"{n} miles is {km['result']} km. Now "
                f"the distance from {a.name} to {b.name}.")
    dist, lim = ep.fact(d["distance_km"]), ep.fact(km["result"])
    word = ep.fact("more" if d["distance_km"] > km["result"] else "less")
    ep.conclude(f"{dist} km vs {lim} km", f"{a.name} and {b.name} are {dist} km apart, {word} than {n} miles "
                f"({lim} km).")
