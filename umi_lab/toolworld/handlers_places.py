"""ToolWorld API handlers for places and dates: weather, currency, flights, geography, calendar.

Each handler is ``handler(world, **arguments)`` → a JSON-able response or a failure ``Observation``;
``apis.APIS`` names them in the catalogue.
"""

from __future__ import annotations

from datetime import timedelta

from umi_lab.tools.registry import ArgumentError, Observation
from umi_lab.toolworld.responses import empty_result, lookup, not_found, parse_date
from umi_lab.toolworld.world import TODAY, City, World


# ---------------------------------------------------------------- weather
def _city(w: World, city: str) -> City | Observation:
    return lookup(w, "city", city)


def current_weather(w: World, city: str, units: str = "metric"):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    if units not in ("metric", "imperial"):
        raise ArgumentError(f"argument 'units' must be 'metric' or 'imperial', got {units!r}")
    t = c.weather.temperature_c if units == "metric" else round(c.weather.temperature_c * 9 / 5 + 32, 1)
    return {"city": c.name, "country": c.country, "temperature": t, "units": units,
            "condition": c.weather.condition, "humidity": c.weather.humidity, "wind_kph": c.weather.wind_kph}


def forecast(w: World, city: str, days: int = 3):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    if not 1 <= days <= 5:
        raise ArgumentError(f"argument 'days' must be between 1 and 5, got {days}")
    return {"city": c.name, "days": [{"date": d, "high_c": hi, "low_c": lo, "condition": cond}
                                     for d, hi, lo, cond in c.weather.forecast[:days]]}


def air_quality(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    aqi = c.weather.aqi
    level = "good" if aqi <= 50 else "moderate" if aqi <= 100 else "unhealthy for sensitive groups" \
        if aqi <= 150 else "unhealthy"
    return {"city": c.name, "aqi": aqi, "level": level}


def weather_now(w: World, location: str):
    c = _city(w, location)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "country": c.country, "temperature": c.weather.temperature_c, "units": "metric",
            "condition": c.weather.condition, "humidity": c.weather.humidity, "source": "weatherly"}


def sun_times(w: World, location: str):
    c = _city(w, location)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "date": TODAY.isoformat(), "sunrise": c.weather.sunrise, "sunset": c.weather.sunset}


# ---------------------------------------------------------------- currency
def _rate(w: World, base: str, target: str) -> float | Observation:
    a, b = w.get("currency", base), w.get("currency", target)
    if a is None:
        return not_found("currency", base)
    if b is None:
        return not_found("currency", target)
    return round(b.per_usd / a.per_usd, 6)


def convert(w: World, amount: float, **kw):
    src, dst = kw["from"], kw["to"]
    if amount < 0:
        raise ArgumentError(f"argument 'amount' must not be negative, got {amount}")
    r = _rate(w, src, dst)
    if isinstance(r, Observation):
        return r
    return {"amount": amount, "from": src.upper(), "to": dst.upper(), "rate": r, "result": round(amount * r, 2)}


def exchange_rate(w: World, base: str, target: str):
    r = _rate(w, base, target)
    if isinstance(r, Observation):
        return r
    return {"base": base.upper(), "target": target.upper(), "rate": r}


def list_currencies(w: World):
    return {"currencies": [{"code": c.code, "name": c.name} for c in w.currencies]}


def currency_info(w: World, code: str):
    c = w.get("currency", code)
    if c is None:
        return not_found("currency", code)
    used = [k.name for k in w.countries if k.currency == c.code]
    return {"code": c.code, "name": c.name, "per_usd": c.per_usd, "used_in": used}


def latest_rate(w: World, pair: str):
    if pair.count("/") != 1:
        raise ArgumentError(f"argument 'pair' must look like 'USD/EUR', got {pair!r}")
    base, target = (p.strip() for p in pair.split("/"))
    r = _rate(w, base, target)
    if isinstance(r, Observation):
        return r
    return {"pair": f"{base.upper()}/{target.upper()}", "rate": r, "source": "fxfeed"}


def fx_convert(w: World, value: float, source: str, target: str):
    out = convert(w, value, **{"from": source, "to": target})
    if isinstance(out, Observation):
        return out
    return {"value": value, "source": out["from"], "target": out["to"], "rate": out["rate"], "result": out["result"]}


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
        return not_found("airport or city", origin)
    if b is None:
        return not_found("airport or city", destination)
    hits = sorted((f for f in w.flights if f.origin == a.airport and f.destination == b.airport),
                  key=lambda f: (f.departure, f.number))
    return hits or empty_result(f"no flights from {a.name} to {b.name}")


def search_flights(w: World, origin: str, destination: str):
    hits = _route(w, origin, destination)
    return hits if isinstance(hits, Observation) else {"flights": [_flight_dict(w, f) for f in hits]}


def cheapest_flight(w: World, origin: str, destination: str):
    hits = _route(w, origin, destination)
    if isinstance(hits, Observation):
        return hits
    return _flight_dict(w, min(hits, key=lambda f: (f.price_usd, f.number)))


def flight_status(w: World, flight_number: str):
    f = w.get("flight", flight_number)
    if f is None:
        return not_found("flight", flight_number)
    return {"flight": f.number, "status": f.status, "departure": f.departure,
            "destination": _flight_dict(w, f)["destination"]}


def airport_info(w: World, code: str):
    c = w.get("airport", code)
    if c is None:
        return not_found("airport", code)
    return {"code": c.airport, "city": c.name, "country": c.country, "elevation_m": c.elevation_m}


def track_flight(w: World, flight: str):
    out = flight_status(w, flight)
    return out if isinstance(out, Observation) else {**out, "source": "flightradar"}


# ---------------------------------------------------------------- geography
def city_info(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "country": c.country, "population": c.population, "lat": c.lat, "lon": c.lon,
            "elevation_m": c.elevation_m, "airport": c.airport}


def country_info(w: World, country: str):
    k = w.get("country", country)
    if k is None:
        return not_found("country", country)
    return {"country": k.name, "code": k.code, "capital": k.capital, "currency": k.currency,
            "language": k.language, "population": k.population, "calling_code": k.calling_code}


def distance(w: World, city_a: str, city_b: str):
    import math
    a, b = _city(w, city_a), _city(w, city_b)
    for c in (a, b):
        if isinstance(c, Observation):
            return c
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return {"from": a.name, "to": b.name, "distance_km": round(2 * 6371.0 * math.asin(math.sqrt(h)), 1)}


def cities_in_country(w: World, country: str):
    k = w.get("country", country)
    if k is None:
        return not_found("country", country)
    return {"country": k.name, "cities": [{"city": c.name, "population": c.population} for c in w.cities_of(k.name)]}


def timezone(w: World, city: str):
    c = _city(w, city)
    if isinstance(c, Observation):
        return c
    return {"city": c.name, "utc_offset": f"UTC{c.utc_offset:+d}"}


# ---------------------------------------------------------------- calendar
def _country(w: World, country: str):
    return lookup(w, "country", country)


def public_holidays(w: World, country: str, month: int | None = None):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    if month is not None and not 1 <= month <= 12:
        raise ArgumentError(f"argument 'month' must be between 1 and 12, got {month}")
    hits = [{"date": d, "name": n} for d, n in k.holidays if month is None or int(d[5:7]) == month]
    if not hits:
        return empty_result(f"no public holidays in {k.name}" + (f" in month {month}" if month else ""))
    return {"country": k.name, "holidays": hits}


def is_holiday(w: World, country: str, date: str):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    day = parse_date(date).isoformat()
    names = [n for d, n in k.holidays if d == day]
    return {"country": k.name, "date": day, "is_holiday": bool(names), "name": names[0] if names else None}


def next_holiday(w: World, country: str, after: str = TODAY.isoformat()):
    k = _country(w, country)
    if isinstance(k, Observation):
        return k
    day = parse_date(after, "after").isoformat()
    for d, n in k.holidays:
        if d > day:
            return {"country": k.name, "date": d, "name": n}
    return empty_result(f"no more public holidays in {k.name} after {day} this year")


def day_of_week(w: World, date: str):
    d = parse_date(date)
    return {"date": d.isoformat(), "weekday": d.strftime("%A")}


def days_between(w: World, start: str, end: str):
    a, b = parse_date(start, "start"), parse_date(end, "end")
    return {"start": a.isoformat(), "end": b.isoformat(), "days": (b - a).days}


def add_days(w: World, date: str, days: int):
    d = parse_date(date)
    try:
        return {"date": d.isoformat(), "days": days, "result": (d + timedelta(days=days)).isoformat()}
    except OverflowError:
        raise ArgumentError(f"argument 'days' is out of range: {days}") from None


