"""ToolWorld's APIs, modelled on ToolBench's RapidAPI tools and answering from the seeded world.

Each API is an ``Api``: a ToolBench-style name ``<api>_for_<tool>``, its tool and category, a
description, typed parameters and a handler ``handler(world, **arguments)`` that returns a JSON-able
response or a failure ``Observation`` (not found, empty result). Argument *values* that cannot be
used (a malformed date, an unknown unit) raise ``ArgumentError``, which the registry turns into a
``bad_arguments`` observation. Faults (server errors, outages, rate limits) are added by ``env.py``.

>>> from umi_lab.toolworld.world import build_world
>>> API_BY_NAME["convert_length_for_unitconv"].handler(build_world(0), value=1, from_unit="mile", to_unit="km")
{'value': 1, 'from_unit': 'mile', 'to_unit': 'km', 'result': 1.6093}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from umi_lab.tools.registry import EMPTY, NOT_FOUND, ArgumentError, Observation
from umi_lab.toolworld.world import TODAY, City, World

CATEGORIES = ("weather", "currency", "movies", "recipes", "flights", "stocks", "geography", "calendar",
              "units", "books")


@dataclass(frozen=True)
class Api:
    """One API: ``params`` maps name -> (type, description, required)."""

    name: str
    tool: str
    category: str
    description: str
    params: dict[str, tuple[str, str, bool]]
    handler: Callable[..., Any]

    def doc_function(self) -> str:
        """The ToolBench-style ``function`` text of the tool document."""
        return (f"This is the subfunction for tool \"{self.tool}\", you can use this tool."
                f"The description of this function is: \"{self.description}\"")


def _not_found(what: str, key: Any) -> Observation:
    return Observation.make(NOT_FOUND, error=f"404 Not Found: no {what} matching '{key}'")


def _empty(message: str) -> Observation:
    return Observation.make(EMPTY, error="", response={"results": [], "message": message})


def _date(value: str, name: str = "date") -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ArgumentError(f"argument {name!r} must be a date as YYYY-MM-DD, got {value!r}") from None


def _norm(text: str) -> str:
    return " ".join(str(text).split()).lower()


# ---------------------------------------------------------------- weather
def _city(w: World, city: str) -> City | Observation:
    c = w.get("city", city)
    return c if c is not None else _not_found("city", city)


def _current_weather(w: World, city: str, units: str = "metric"):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    if units not in ("metric", "imperial"):
        raise ArgumentError(f"argument 'units' must be 'metric' or 'imperial', got {units!r}")
    t = c.weather.temperature_c if units == "metric" else round(c.weather.temperature_c * 9 / 5 + 32, 1)
    return {"city": c.name, "country": c.country, "temperature": t, "units": units,
            "condition": c.weather.condition, "humidity": c.weather.humidity, "wind_kph": c.weather.wind_kph}


def _forecast(w: World, city: str, days: int = 3):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    if not 1 <= days <= 5:
        raise ArgumentError(f"argument 'days' must be between 1 and 5, got {days}")
    return {"city": c.name, "days": [{"date": d, "high_c": hi, "low_c": lo, "condition": cond}
                                     for d, hi, lo, cond in c.weather.forecast[:days]]}


def _air_quality(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    aqi = c.weather.aqi
    level = "good" if aqi <= 50 else "moderate" if aqi <= 100 else "unhealthy for sensitive groups" \
        if aqi <= 150 else "unhealthy"
    return {"city": c.name, "aqi": aqi, "level": level}


def _weather_now(w: World, location: str):
    c = _city(w, location)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "country": c.country, "temperature": c.weather.temperature_c, "units": "metric",
            "condition": c.weather.condition, "humidity": c.weather.humidity, "source": "weatherly"}


def _sun_times(w: World, location: str):
    c = _city(w, location)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "date": TODAY.isoformat(), "sunrise": c.weather.sunrise, "sunset": c.weather.sunset}


# ---------------------------------------------------------------- currency
def _rate(w: World, base: str, target: str) -> float | Observation:
    a, b = w.get("currency", base), w.get("currency", target)
    if a is None:
        return _not_found("currency", base)
    if b is None:
        return _not_found("currency", target)
    return round(b.per_usd / a.per_usd, 6)


def _convert(w: World, amount: float, **kw):
    src, dst = kw["from"], kw["to"]
    if amount < 0:
        raise ArgumentError(f"argument 'amount' must not be negative, got {amount}")
    r = _rate(w, src, dst)
    if isinstance(r, Observation):
        return r
    return {"amount": amount, "from": src.upper(), "to": dst.upper(), "rate": r, "result": round(amount * r, 2)}


def _exchange_rate(w: World, base: str, target: str):
    r = _rate(w, base, target)
    if isinstance(r, Observation):
        return r
    return {"base": base.upper(), "target": target.upper(), "rate": r}


def _list_currencies(w: World):
    return {"currencies": [{"code": c.code, "name": c.name} for c in w.currencies]}


def _currency_info(w: World, code: str):
    c = w.get("currency", code)
    if c is None:
        return _not_found("currency", code)
    used = [k.name for k in w.countries if k.currency == c.code]
    return {"code": c.code, "name": c.name, "per_usd": c.per_usd, "used_in": used}


def _latest_rate(w: World, pair: str):
    if pair.count("/") != 1:
        raise ArgumentError(f"argument 'pair' must look like 'USD/EUR', got {pair!r}")
    base, target = (p.strip() for p in pair.split("/"))
    r = _rate(w, base, target)
    if isinstance(r, Observation):
        return r
    return {"pair": f"{base.upper()}/{target.upper()}", "rate": r, "source": "fxfeed"}


def _fx_convert(w: World, value: float, source: str, target: str):
    out = _convert(w, value, **{"from": source, "to": target})
    if isinstance(out, Observation):
        return out
    return {"value": value, "source": out["from"], "target": out["to"], "rate": out["rate"], "result": out["result"]}


# ---------------------------------------------------------------- movies
def _film_dict(f) -> dict:
    return {"title": f.title, "year": f.year, "director": f.director, "genre": f.genre, "rating": f.rating,
            "runtime_min": f.runtime_min}


def _search_movies(w: World, query: str, year: int | None = None):
    q = _norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [f for f in w.films if q in f.title.lower() and (year is None or f.year == year)]
    if not hits:
        return _empty(f"no films match '{query}'")
    return {"results": [{"title": f.title, "year": f.year} for f in sorted(hits, key=lambda f: (f.year, f.title))]}


def _movie_details(w: World, title: str):
    f = w.get("film", title)
    return _not_found("film", title) if f is None else _film_dict(f)


def _movie_cast(w: World, title: str):
    f = w.get("film", title)
    return _not_found("film", title) if f is None else {"title": f.title, "cast": list(f.cast)}


def _movies_by_director(w: World, director: str):
    hits = sorted((f for f in w.films if f.director.lower() == _norm(director)), key=lambda f: (f.year, f.title))
    if not hits:
        return _not_found("director", director)
    return {"director": hits[0].director, "films": [{"title": f.title, "year": f.year} for f in hits]}


def _top_rated(w: World, genre: str = "", limit: int = 3):
    if not 1 <= limit <= 10:
        raise ArgumentError(f"argument 'limit' must be between 1 and 10, got {limit}")
    hits = [f for f in w.films if not genre or f.genre == _norm(genre)]
    if not hits:
        return _empty(f"no films in genre '{genre}'")
    hits.sort(key=lambda f: (-f.rating, f.title))
    return {"genre": _norm(genre) or "all", "films": [{"title": f.title, "rating": f.rating} for f in hits[:limit]]}


def _title_lookup(w: World, name: str):
    f = w.get("film", name)
    return _not_found("film", name) if f is None else {**_film_dict(f), "source": "filmfinder"}


# ---------------------------------------------------------------- recipes
def _recipe_dict(r) -> dict:
    return {"name": r.name, "cuisine": r.cuisine, "ingredients": list(r.ingredients), "calories": r.calories,
            "prep_min": r.prep_min, "servings": r.servings}


def _search_recipes(w: World, query: str):
    q = _norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [r.name for r in w.recipes if q in r.name.lower()]
    return {"results": sorted(hits)} if hits else _empty(f"no recipes match '{query}'")


def _recipe_details(w: World, name: str):
    r = w.get("recipe", name)
    return _not_found("recipe", name) if r is None else _recipe_dict(r)


def _recipes_by_ingredient(w: World, ingredient: str):
    i = _norm(ingredient)
    hits = sorted(r.name for r in w.recipes if i in r.ingredients)
    return {"ingredient": i, "recipes": hits} if hits else _empty(f"no recipes use '{ingredient}'")


def _recipes_by_cuisine(w: World, cuisine: str, max_minutes: int | None = None):
    c = _norm(cuisine)
    hits = sorted((r for r in w.recipes if r.cuisine.lower() == c and (max_minutes is None or r.prep_min <= max_minutes)),
                  key=lambda r: (r.prep_min, r.name))
    if not hits:
        return _empty(f"no {cuisine} recipes" + (f" within {max_minutes} minutes" if max_minutes else ""))
    return {"cuisine": c, "recipes": [{"name": r.name, "prep_min": r.prep_min} for r in hits]}


def _recipe_lookup(w: World, dish: str):
    r = w.get("recipe", dish)
    return _not_found("recipe", dish) if r is None else {**_recipe_dict(r), "source": "tastyapi"}


def _nutrition_facts(w: World, recipe: str):
    r = w.get("recipe", recipe)
    if r is None:
        return _not_found("recipe", recipe)
    return {"recipe": r.name, "calories": r.calories, "protein_g": r.protein_g, "fat_g": r.fat_g,
            "carbs_g": r.carbs_g}


# ---------------------------------------------------------------- flights
def _airport(w: World, key: str) -> City | None:
    return w.get("airport", key) or w.get("city", key)


def _flight_dict(w: World, f) -> dict:
    a, b = w.get("airport", f.origin), w.get("airport", f.destination)
    return {"flight": f.number, "airline": f.airline, "origin": f"{a.name} ({f.origin})",
            "destination": f"{b.name} ({f.destination})", "departure": f.departure, "duration_min": f.duration_min,
            "price_usd": f.price_usd}


def _route(w: World, origin: str, destination: str):
    a, b = _airport(w, origin), _airport(w, destination)
    if a is None:
        return _not_found("airport or city", origin)
    if b is None:
        return _not_found("airport or city", destination)
    hits = sorted((f for f in w.flights if f.origin == a.airport and f.destination == b.airport),
                  key=lambda f: (f.departure, f.number))
    return hits or _empty(f"no flights from {a.name} to {b.name}")


def _search_flights(w: World, origin: str, destination: str):
    hits = _route(w, origin, destination)
    return hits if isinstance(hits, Observation) else {"flights": [_flight_dict(w, f) for f in hits]}


def _cheapest_flight(w: World, origin: str, destination: str):
    hits = _route(w, origin, destination)
    if isinstance(hits, Observation):
        return hits
    return _flight_dict(w, min(hits, key=lambda f: (f.price_usd, f.number)))


def _flight_status(w: World, flight_number: str):
    f = w.get("flight", flight_number)
    if f is None:
        return _not_found("flight", flight_number)
    return {"flight": f.number, "status": f.status, "departure": f.departure,
            "destination": _flight_dict(w, f)["destination"]}


def _airport_info(w: World, code: str):
    c = w.get("airport", code)
    if c is None:
        return _not_found("airport", code)
    return {"code": c.airport, "city": c.name, "country": c.country, "elevation_m": c.elevation_m}


def _track_flight(w: World, flight: str):
    out = _flight_status(w, flight)
    return out if isinstance(out, Observation) else {**out, "source": "flightradar"}


# ---------------------------------------------------------------- stocks
def _stock(w: World, symbol: str):
    s = w.get("stock", symbol)
    return s if s is not None else _not_found("symbol", symbol)


def _stock_quote(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "price": s.price, "change_pct": s.change_pct, "currency": "USD"}


def _company_profile(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "company": s.company, "sector": s.sector, "ceo": s.ceo, "founded": s.founded,
            "market_cap_busd": s.market_cap_busd}


def _dividends(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "dividend_yield_pct": s.dividend_yield, "pays_dividend": s.dividend_yield > 0}


def _top_movers(w: World, direction: str = "gainers", limit: int = 3):
    if direction not in ("gainers", "losers"):
        raise ArgumentError(f"argument 'direction' must be 'gainers' or 'losers', got {direction!r}")
    if not 1 <= limit <= 10:
        raise ArgumentError(f"argument 'limit' must be between 1 and 10, got {limit}")
    sign = -1 if direction == "gainers" else 1
    hits = sorted(w.stocks, key=lambda s: (sign * s.change_pct, s.symbol))[:limit]
    return {"direction": direction, "stocks": [{"symbol": s.symbol, "change_pct": s.change_pct} for s in hits]}


def _symbol_search(w: World, company: str):
    q = _norm(company)
    if not q:
        raise ArgumentError("argument 'company' must not be empty")
    hits = [{"symbol": s.symbol, "company": s.company} for s in w.stocks if q in s.company.lower()]
    return {"results": hits} if hits else _empty(f"no listed company matches '{company}'")


def _quote(w: World, ticker: str):
    out = _stock_quote(w, ticker)
    return out if isinstance(out, Observation) else {**out, "source": "tickerfeed"}


# ---------------------------------------------------------------- geography
def _city_info(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "country": c.country, "population": c.population, "lat": c.lat, "lon": c.lon,
            "elevation_m": c.elevation_m, "airport": c.airport}


def _country_info(w: World, country: str):
    k = w.get("country", country)
    if k is None:
        return _not_found("country", country)
    return {"country": k.name, "code": k.code, "capital": k.capital, "currency": k.currency,
            "language": k.language, "population": k.population, "calling_code": k.calling_code}


def _distance(w: World, city_a: str, city_b: str):
    import math
    a, b = _city(w, city_a), _city(w, city_b)
    for c in (a, b):
        if isinstance(c, Observation):
            return c
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return {"from": a.name, "to": b.name, "distance_km": round(2 * 6371.0 * math.asin(math.sqrt(h)), 1)}


def _cities_in_country(w: World, country: str):
    k = w.get("country", country)
    if k is None:
        return _not_found("country", country)
    return {"country": k.name, "cities": [{"city": c.name, "population": c.population} for c in w.cities_of(k.name)]}


def _timezone(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "utc_offset": f"UTC{c.utc_offset:+d}"}


# ---------------------------------------------------------------- calendar
def _country(w: World, country: str):
    k = w.get("country", country)
    return k if k is not None else _not_found("country", country)


def _public_holidays(w: World, country: str, month: int | None = None):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    if month is not None and not 1 <= month <= 12:
        raise ArgumentError(f"argument 'month' must be between 1 and 12, got {month}")
    hits = [{"date": d, "name": n} for d, n in k.holidays if month is None or int(d[5:7]) == month]
    if not hits:
        return _empty(f"no public holidays in {k.name}" + (f" in month {month}" if month else ""))
    return {"country": k.name, "holidays": hits}


def _is_holiday(w: World, country: str, date: str):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    day = _date(date).isoformat()
    names = [n for d, n in k.holidays if d == day]
    return {"country": k.name, "date": day, "is_holiday": bool(names), "name": names[0] if names else None}


def _next_holiday(w: World, country: str, after: str = TODAY.isoformat()):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    day = _date(after, "after").isoformat()
    for d, n in k.holidays:
        if d > day:
            return {"country": k.name, "date": d, "name": n}
    return _empty(f"no more public holidays in {k.name} after {day} this year")


def _day_of_week(w: World, date: str):
    d = _date(date)
    return {"date": d.isoformat(), "weekday": d.strftime("%A")}


def _days_between(w: World, start: str, end: str):
    a, b = _date(start, "start"), _date(end, "end")
    return {"start": a.isoformat(), "end": b.isoformat(), "days": (b - a).days}


def _add_days(w: World, date: str, days: int):
    d = _date(date)
    try:
        return {"date": d.isoformat(), "days": days, "result": (d + timedelta(days=days)).isoformat()}
    except OverflowError:
        raise ArgumentError(f"argument 'days' is out of range: {days}") from None


# ---------------------------------------------------------------- units
LENGTH = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "inch": 0.0254, "ft": 0.3048, "yard": 0.9144,
          "mile": 1609.344}
MASS = {"mg": 1e-6, "g": 0.001, "kg": 1.0, "tonne": 1000.0, "oz": 0.028349523125, "lb": 0.45359237}
VOLUME = {"ml": 0.001, "l": 1.0, "cup": 0.2365882365, "pint": 0.473176473, "gallon": 3.785411784,
          "fl_oz": 0.0295735295625}
_TEMPS = ("celsius", "fahrenheit", "kelvin")


def _factor_convert(table: dict[str, float], value: float, from_unit: str, to_unit: str):
    for name, u in (("from_unit", from_unit), ("to_unit", to_unit)):
        if u not in table:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(table)}, got {u!r}")
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit,
            "result": round(value * table[from_unit] / table[to_unit], 4)}


def _convert_temperature(w: World, value: float, from_unit: str, to_unit: str):
    for name, u in (("from_unit", from_unit), ("to_unit", to_unit)):
        if u not in _TEMPS:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(_TEMPS)}, got {u!r}")
    c = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[from_unit]
    if c < -273.15:
        raise ArgumentError(f"{value} {from_unit} is below absolute zero")
    out = {"celsius": c, "fahrenheit": c * 9 / 5 + 32, "kelvin": c + 273.15}[to_unit]
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit, "result": round(out, 2)}


# ---------------------------------------------------------------- books
def _book_dict(b) -> dict:
    return {"title": b.title, "author": b.author, "year": b.year, "pages": b.pages, "genre": b.genre,
            "isbn": b.isbn, "price_usd": b.price_usd, "rating": b.rating}


def _search_books(w: World, query: str):
    q = _norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [{"title": b.title, "author": b.author} for b in w.books if q in b.title.lower()]
    return {"results": sorted(hits, key=lambda h: h["title"])} if hits else _empty(f"no books match '{query}'")


def _book_details(w: World, title: str):
    b = w.get("book", title)
    return _not_found("book", title) if b is None else _book_dict(b)


def _books_by_author(w: World, author: str):
    hits = sorted((b for b in w.books if b.author.lower() == _norm(author)), key=lambda b: (b.year, b.title))
    if not hits:
        return _not_found("author", author)
    return {"author": hits[0].author, "books": [{"title": b.title, "year": b.year} for b in hits]}


def _book_by_isbn(w: World, isbn: str):
    digits = isbn.replace("-", "").strip()
    if not (digits.isdigit() and len(digits) == 13):
        raise ArgumentError(f"argument 'isbn' must have 13 digits, got {isbn!r}")
    b = w.get("isbn", digits)
    return _not_found("book with ISBN", isbn) if b is None else _book_dict(b)


def _p(typ: str, desc: str, required: bool = True) -> tuple[str, str, bool]:
    return (typ, desc, required)


_CITY = _p("string", "City name, e.g. the name returned by city_info")
APIS: list[Api] = [
    Api("current_weather_for_skycast", "skycast", "weather", "Current weather for a city: temperature, condition, "
        "humidity and wind.", {"city": _CITY, "units": _p("string", "metric (Celsius, default) or imperial "
                                                          "(Fahrenheit)", False)}, _current_weather),
    Api("forecast_for_skycast", "skycast", "weather", "Daily forecast (high, low, condition) for the next 1-5 days.",
        {"city": _CITY, "days": _p("integer", "number of days, 1-5 (default 3)", False)}, _forecast),
    Api("air_quality_for_skycast", "skycast", "weather", "Air quality index (AQI) and level for a city.",
        {"city": _CITY}, _air_quality),
    Api("weather_now_for_weatherly", "weatherly", "weather", "Current temperature (Celsius), condition and humidity "
        "for a location.", {"location": _p("string", "city name")}, _weather_now),
    Api("sun_times_for_weatherly", "weatherly", "weather", "Today's sunrise and sunset (local time) for a location.",
        {"location": _p("string", "city name")}, _sun_times),
    Api("convert_for_currencyhub", "currencyhub", "currency", "Convert an amount between two currencies at the "
        "latest rate.", {"amount": _p("number", "amount to convert"), "from": _p("string", "source currency code, "
                         "e.g. USD"), "to": _p("string", "target currency code, e.g. EUR")}, _convert),
    Api("exchange_rate_for_currencyhub", "currencyhub", "currency", "Latest exchange rate: units of target per one "
        "unit of base.", {"base": _p("string", "base currency code"), "target": _p("string", "target currency code")},
        _exchange_rate),
    Api("list_currencies_for_currencyhub", "currencyhub", "currency", "List all supported currency codes and names.",
        {}, _list_currencies),
    Api("currency_info_for_currencyhub", "currencyhub", "currency", "Name, rate per US dollar and countries using a "
        "currency.", {"code": _p("string", "currency code")}, _currency_info),
    Api("latest_rate_for_fxfeed", "fxfeed", "currency", "Latest rate for a currency pair written BASE/TARGET.",
        {"pair": _p("string", "currency pair, e.g. USD/EUR")}, _latest_rate),
    Api("fx_convert_for_fxfeed", "fxfeed", "currency", "Convert a value from a source to a target currency.",
        {"value": _p("number", "amount"), "source": _p("string", "source currency code"),
         "target": _p("string", "target currency code")}, _fx_convert),
    Api("search_movies_for_cinemadb", "cinemadb", "movies", "Search films whose title contains a query.",
        {"query": _p("string", "part of the title"), "year": _p("integer", "release year filter", False)},
        _search_movies),
    Api("movie_details_for_cinemadb", "cinemadb", "movies", "Year, director, genre, rating and runtime of a film.",
        {"title": _p("string", "exact film title")}, _movie_details),
    Api("movie_cast_for_cinemadb", "cinemadb", "movies", "Main cast of a film.",
        {"title": _p("string", "exact film title")}, _movie_cast),
    Api("movies_by_director_for_cinemadb", "cinemadb", "movies", "All films by a director, oldest first.",
        {"director": _p("string", "director's full name")}, _movies_by_director),
    Api("top_rated_for_cinemadb", "cinemadb", "movies", "Best rated films, optionally within one genre.",
        {"genre": _p("string", "genre, e.g. drama", False), "limit": _p("integer", "how many, 1-10 (default 3)",
                                                                         False)}, _top_rated),
    Api("title_lookup_for_filmfinder", "filmfinder", "movies", "Look up a film by its title: year, director, genre, "
        "rating.", {"name": _p("string", "film title")}, _title_lookup),
    Api("search_recipes_for_cookbook", "cookbook", "recipes", "Search recipes whose name contains a query.",
        {"query": _p("string", "part of the recipe name")}, _search_recipes),
    Api("recipe_details_for_cookbook", "cookbook", "recipes", "Ingredients, calories, preparation time and servings "
        "of a recipe.", {"name": _p("string", "exact recipe name")}, _recipe_details),
    Api("recipes_by_ingredient_for_cookbook", "cookbook", "recipes", "Recipes that use an ingredient.",
        {"ingredient": _p("string", "ingredient, e.g. lentils")}, _recipes_by_ingredient),
    Api("recipes_by_cuisine_for_cookbook", "cookbook", "recipes", "Recipes of a cuisine, quickest first.",
        {"cuisine": _p("string", "cuisine name"), "max_minutes": _p("integer", "maximum preparation time",
                                                                     False)}, _recipes_by_cuisine),
    Api("recipe_lookup_for_tastyapi", "tastyapi", "recipes", "Look up a dish: ingredients, calories, preparation "
        "time.", {"dish": _p("string", "recipe name")}, _recipe_lookup),
    Api("nutrition_facts_for_nutritionix", "nutritionix", "recipes", "Calories, protein, fat and carbohydrates of a "
        "recipe serving.", {"recipe": _p("string", "recipe name")}, _nutrition_facts),
    Api("search_flights_for_skyroute", "skyroute", "flights", "Flights between two airports (IATA code or city "
        "name), by departure.", {"origin": _p("string", "origin airport code or city"),
                                 "destination": _p("string", "destination airport code or city")}, _search_flights),
    Api("cheapest_flight_for_skyroute", "skyroute", "flights", "The cheapest flight between two airports.",
        {"origin": _p("string", "origin airport code or city"),
         "destination": _p("string", "destination airport code or city")}, _cheapest_flight),
    Api("flight_status_for_skyroute", "skyroute", "flights", "Status (on time, delayed, cancelled, landed) of a "
        "flight.", {"flight_number": _p("string", "flight number, e.g. AE1234")}, _flight_status),
    Api("airport_info_for_skyroute", "skyroute", "flights", "City, country and elevation of an airport.",
        {"code": _p("string", "IATA airport code")}, _airport_info),
    Api("track_flight_for_flightradar", "flightradar", "flights", "Live status of a flight by its number.",
        {"flight": _p("string", "flight number")}, _track_flight),
    Api("stock_quote_for_marketdata", "marketdata", "stocks", "Latest price (USD) and daily change of a stock.",
        {"symbol": _p("string", "ticker symbol")}, _stock_quote),
    Api("company_profile_for_marketdata", "marketdata", "stocks", "Company name, sector, CEO, founding year and "
        "market cap.", {"symbol": _p("string", "ticker symbol")}, _company_profile),
    Api("dividends_for_marketdata", "marketdata", "stocks", "Dividend yield of a stock.",
        {"symbol": _p("string", "ticker symbol")}, _dividends),
    Api("top_movers_for_marketdata", "marketdata", "stocks", "Today's biggest gainers or losers.",
        {"direction": _p("string", "gainers (default) or losers", False),
         "limit": _p("integer", "how many, 1-10 (default 3)", False)}, _top_movers),
    Api("symbol_search_for_marketdata", "marketdata", "stocks", "Find the ticker symbol of a company by name.",
        {"company": _p("string", "company name or part of it")}, _symbol_search),
    Api("quote_for_tickerfeed", "tickerfeed", "stocks", "Price quote (USD) for a ticker.",
        {"ticker": _p("string", "ticker symbol")}, _quote),
    Api("city_info_for_geodb", "geodb", "geography", "Country, population, coordinates, elevation and airport of a "
        "city.", {"city": _CITY}, _city_info),
    Api("country_info_for_geodb", "geodb", "geography", "Capital, currency, language, population and calling code of "
        "a country.", {"country": _p("string", "country name or two-letter code")}, _country_info),
    Api("distance_for_geodb", "geodb", "geography", "Great-circle distance in km between two cities.",
        {"city_a": _CITY, "city_b": _CITY}, _distance),
    Api("cities_in_country_for_geodb", "geodb", "geography", "Cities of a country with populations, largest first.",
        {"country": _p("string", "country name or two-letter code")}, _cities_in_country),
    Api("timezone_for_geodb", "geodb", "geography", "UTC offset of a city.", {"city": _CITY}, _timezone),
    Api("public_holidays_for_calendarific", "calendarific", "calendar", "Public holidays of a country in 2025, "
        "optionally one month.", {"country": _p("string", "country name or code"),
                                   "month": _p("integer", "month 1-12", False)}, _public_holidays),
    Api("is_holiday_for_calendarific", "calendarific", "calendar", "Whether a date is a public holiday in a country.",
        {"country": _p("string", "country name or code"), "date": _p("string", "date as YYYY-MM-DD")}, _is_holiday),
    Api("next_holiday_for_calendarific", "calendarific", "calendar", "The next public holiday in a country after a "
        "date.", {"country": _p("string", "country name or code"),
                  "after": _p("string", f"date as YYYY-MM-DD (default {TODAY.isoformat()})", False)}, _next_holiday),
    Api("day_of_week_for_dateutil", "dateutil", "calendar", "Weekday of a date.",
        {"date": _p("string", "date as YYYY-MM-DD")}, _day_of_week),
    Api("days_between_for_dateutil", "dateutil", "calendar", "Number of days from a start date to an end date.",
        {"start": _p("string", "date as YYYY-MM-DD"), "end": _p("string", "date as YYYY-MM-DD")}, _days_between),
    Api("add_days_for_dateutil", "dateutil", "calendar", "The date a number of days after (or before) a date.",
        {"date": _p("string", "date as YYYY-MM-DD"), "days": _p("integer", "days to add, may be negative")},
        _add_days),
    Api("convert_length_for_unitconv", "unitconv", "units", "Convert a length between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(LENGTH)}"),
         "to_unit": _p("string", f"one of {', '.join(LENGTH)}")},
        lambda w, value, from_unit, to_unit: _factor_convert(LENGTH, value, from_unit, to_unit)),
    Api("convert_mass_for_unitconv", "unitconv", "units", "Convert a mass between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(MASS)}"),
         "to_unit": _p("string", f"one of {', '.join(MASS)}")},
        lambda w, value, from_unit, to_unit: _factor_convert(MASS, value, from_unit, to_unit)),
    Api("convert_volume_for_unitconv", "unitconv", "units", "Convert a volume between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(VOLUME)}"),
         "to_unit": _p("string", f"one of {', '.join(VOLUME)}")},
        lambda w, value, from_unit, to_unit: _factor_convert(VOLUME, value, from_unit, to_unit)),
    Api("convert_temperature_for_unitconv", "unitconv", "units", "Convert a temperature between celsius, "
        "fahrenheit and kelvin.", {"value": _p("number", "value"), "from_unit": _p("string", ", ".join(_TEMPS)),
                                   "to_unit": _p("string", ", ".join(_TEMPS))}, _convert_temperature),
    Api("search_books_for_openlibrary", "openlibrary", "books", "Search books whose title contains a query.",
        {"query": _p("string", "part of the title")}, _search_books),
    Api("book_details_for_openlibrary", "openlibrary", "books", "Author, year, pages, genre, ISBN, price (USD) and "
        "rating of a book.", {"title": _p("string", "exact book title")}, _book_details),
    Api("books_by_author_for_openlibrary", "openlibrary", "books", "All books by an author, oldest first.",
        {"author": _p("string", "author's full name")}, _books_by_author),
    Api("book_by_isbn_for_openlibrary", "openlibrary", "books", "Look up a book by its 13-digit ISBN.",
        {"isbn": _p("string", "ISBN-13")}, _book_by_isbn),
]
API_BY_NAME: dict[str, Api] = {a.name: a for a in APIS}

# primary API -> (alternative API, how to map the primary's arguments onto the alternative's)
ALTERNATIVES: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "current_weather_for_skycast": ("weather_now_for_weatherly", lambda a: {"location": a["city"]}),
    "exchange_rate_for_currencyhub": ("latest_rate_for_fxfeed", lambda a: {"pair": f"{a['base']}/{a['target']}"}),
    "convert_for_currencyhub": ("fx_convert_for_fxfeed",
                                lambda a: {"value": a["amount"], "source": a["from"], "target": a["to"]}),
    "movie_details_for_cinemadb": ("title_lookup_for_filmfinder", lambda a: {"name": a["title"]}),
    "recipe_details_for_cookbook": ("recipe_lookup_for_tastyapi", lambda a: {"dish": a["name"]}),
    "flight_status_for_skyroute": ("track_flight_for_flightradar", lambda a: {"flight": a["flight_number"]}),
    "stock_quote_for_marketdata": ("quote_for_tickerfeed", lambda a: {"ticker": a["symbol"]}),
}


def tools_of(api_names) -> list[str]:
    """All API names of the tools that the given APIs belong to, in catalogue order.

    >>> tools_of(["timezone_for_geodb"])[:2]
    ['city_info_for_geodb', 'country_info_for_geodb']
    """
    tools = {API_BY_NAME[n].tool for n in api_names}
    return [a.name for a in APIS if a.tool in tools]
