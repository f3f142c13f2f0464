"""ToolWorld task types that need one tool (G1): stocks, geography, calendar, units."""

from __future__ import annotations

from umi_lab.toolworld.generator import (
    article,
    fmt,
    join_list,
    pick,
    task,
)


# ====================================================================== G1: one tool (continued)
@task("G1", "stock_quote_for_marketdata")
def stock_price(w, rng, ep):
    """Asks e.g. "What is {s} trading at?"."""
    s = pick(rng, w.stocks)
    ep.ask(["What is {s} trading at?", "Current share price of {s}, please.", "How is {s} stock doing today?"],
           s=s.symbol)
    r = ep.call("stock_quote_for_marketdata", {"symbol": s.symbol}, f"I'll get a quote for {s.symbol}.")
    p, ch = ep.fact(r["price"]), ep.fact(r["change_pct"])
    ep.conclude(f"{s.symbol} is at {p} USD ({ch}%)", f"{s.symbol} trades at {p} USD, a change of {ch}% today.")


@task("G1", "company_profile_for_marketdata")
def stock_profile(w, rng, ep):
    """Asks e.g. "Who is the CEO of the company with ticker {s}?"."""
    s = pick(rng, w.stocks)
    ep.ask(["Who is the CEO of the company with ticker {s}?", "Tell me about {s}: company, sector and CEO.",
            "Which sector is {s} in and who runs it?"], s=s.symbol)
    r = ep.call("company_profile_for_marketdata", {"symbol": s.symbol}, f"company_profile describes {s.symbol}.")
    ceo, sec = ep.fact(r["ceo"]), ep.fact(r["sector"])
    ep.conclude(f"{r['company']} ({sec}), CEO {ceo}", f"{s.symbol} is {r['company']}, {article(sec)} {sec} company led by {ceo}, "
                f"founded in {r['founded']}.")


@task("G1", "dividends_for_marketdata")
def stock_dividend(w, rng, ep):
    """Asks e.g. "Does {s} pay a dividend? What's the yield?"."""
    s = pick(rng, w.stocks)
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
    """Asks e.g. "What are today's top {n} {d}?"."""
    d = rng.choice(["gainers", "losers"])
    n = rng.choice([1, 3, 5])
    ep.ask(["What are today's top {n} {d}?", "Show me the {n} biggest {d} in the market today.",
            "Which {n} stocks are the top {d} right now?"], n=n, d=d)
    r = ep.call("top_movers_for_marketdata", {"direction": d, "limit": n}, f"top_movers lists the {d}.")
    items = [f"{ep.fact(x['symbol'])} ({ep.fact(x['change_pct'])}%)" for x in r["stocks"]]
    ep.conclude(f"the top {d} are {join_list(items)}", f"Today's top {d}: {join_list(items)}.")


@task("G1", "city_info_for_geodb")
def geo_city(w, rng, ep):
    """Asks e.g. "How many people live in {c}?"."""
    c = pick(rng, w.cities)
    ep.ask(["How many people live in {c}?", "What country is {c} in, and what's its population?",
            "Give me basic facts about the city of {c}."], c=c.name)
    r = ep.call("city_info_for_geodb", {"city": c.name}, f"geodb has city facts; I'll look up {c.name}.")
    pop, country = ep.fact(r["population"]), ep.fact(r["country"])
    ep.conclude(f"{c.name}, {country}, population {pop}", f"{c.name} is in {country} and has {pop} inhabitants "
                f"(elevation {r['elevation_m']} m).")


@task("G1", "country_info_for_geodb")
def geo_country(w, rng, ep):
    """Asks e.g. "What is the capital of {k} and which currency do they use?"."""
    k = pick(rng, w.countries)
    ep.ask(["What is the capital of {k} and which currency do they use?",
            "Tell me the capital and currency of {k}.", "I'm travelling to {k}. Capital city and currency?"], k=k.name)
    r = ep.call("country_info_for_geodb", {"country": k.name}, f"I'll get the country facts for {k.name}.")
    cap, cur = ep.fact(r["capital"]), ep.fact(r["currency"])
    ep.conclude(f"capital {cap}, currency {cur}", f"The capital of {k.name} is {cap} and its currency is {cur}; "
                f"people speak {r['language']}.")


@task("G1", "distance_for_geodb")
def geo_distance(w, rng, ep):
    """Asks e.g. "How far is {a} from {b}?"."""
    a, b = rng.sample(w.cities, 2)
    ep.ask(["How far is {a} from {b}?", "What's the distance between {a} and {b} in kilometres?",
            "Distance from {a} to {b} as the crow flies?"], a=a.name, b=b.name)
    r = ep.call("distance_for_geodb", {"city_a": a.name, "city_b": b.name}, f"distance_for_geodb computes it for "
                f"{a.name} and {b.name}.")
    km = ep.fact(r["distance_km"])
    ep.conclude(f"{km} km", f"{a.name} and {b.name} are {km} km apart.")


@task("G1", "timezone_for_geodb")
def geo_tz(w, rng, ep):
    """Asks e.g. "What time zone is {c} in?"."""
    c = pick(rng, w.cities)
    ep.ask(["What time zone is {c} in?", "What's the UTC offset of {c}?", "I have a call with someone in {c}. "
            "Which time zone do they use?"], c=c.name)
    r = ep.call("timezone_for_geodb", {"city": c.name}, f"I'll look up the UTC offset of {c.name}.")
    tz = ep.fact(r["utc_offset"])
    ep.conclude(f"{c.name} is on {tz}", f"{c.name} uses {tz}.")


@task("G1", "public_holidays_for_calendarific")
def cal_month(w, rng, ep):
    """Asks e.g. "Are there public holidays in {k} in {month}?"."""
    k = pick(rng, w.countries)
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
    ep.conclude(f"{len(items)} holiday(s) in {month}", f"In {month} 2025 {k.name} celebrates {join_list(items)}.")


@task("G1", "is_holiday_for_calendarific")
def cal_is(w, rng, ep):
    """Asks e.g. "Is {d} a public holiday in {k}?"."""
    k = pick(rng, w.countries)
    day = pick(rng, k.holidays)[0] if rng.random() < 0.5 else f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
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
    """Asks e.g. "What's the next public holiday in {k} after {d}?"."""
    k = pick(rng, w.countries)
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
    """A G1 conversion task for one unitconv API: asks e.g. "Convert 5 mile to km."."""
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
