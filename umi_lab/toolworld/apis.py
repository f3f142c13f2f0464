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
from typing import Any

from umi_lab.toolworld.handlers_catalogs import (
    LENGTH,
    MASS,
    TEMPERATURES,
    VOLUME,
    book_by_isbn,
    book_details,
    books_by_author,
    company_profile,
    convert_length,
    convert_mass,
    convert_temperature,
    convert_volume,
    dividends,
    movie_cast,
    movie_details,
    movies_by_director,
    nutrition_facts,
    quote,
    recipe_details,
    recipe_lookup,
    recipes_by_cuisine,
    recipes_by_ingredient,
    search_books,
    search_movies,
    search_recipes,
    stock_quote,
    symbol_search,
    title_lookup,
    top_movers,
    top_rated,
)
from umi_lab.toolworld.handlers_places import (
    add_days,
    air_quality,
    airport_info,
    cheapest_flight,
    cities_in_country,
    city_info,
    convert,
    country_info,
    currency_info,
    current_weather,
    day_of_week,
    days_between,
    distance,
    exchange_rate,
    flight_status,
    forecast,
    fx_convert,
    is_holiday,
    latest_rate,
    list_currencies,
    next_holiday,
    public_holidays,
    search_flights,
    sun_times,
    timezone,
    track_flight,
    weather_now,
)
from umi_lab.toolworld.world import TODAY

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


def _p(typ: str, desc: str, required: bool = True) -> tuple[str, str, bool]:
    return (typ, desc, required)


_CITY = _p("string", "City name, e.g. the name returned by city_info")
APIS: list[Api] = [
    Api("current_weather_for_skycast", "skycast", "weather", "Current weather for a city: temperature, condition, "
        "humidity and wind.", {"city": _CITY, "units": _p("string", "metric (Celsius, default) or imperial "
                                                          "(Fahrenheit)", False)}, current_weather),
    Api("forecast_for_skycast", "skycast", "weather", "Daily forecast (high, low, condition) for the next 1-5 days.",
        {"city": _CITY, "days": _p("integer", "number of days, 1-5 (default 3)", False)}, forecast),
    Api("air_quality_for_skycast", "skycast", "weather", "Air quality index (AQI) and level for a city.",
        {"city": _CITY}, air_quality),
    Api("weather_now_for_weatherly", "weatherly", "weather", "Current temperature (Celsius), condition and humidity "
        "for a location.", {"location": _p("string", "city name")}, weather_now),
    Api("sun_times_for_weatherly", "weatherly", "weather", "Today's sunrise and sunset (local time) for a location.",
        {"location": _p("string", "city name")}, sun_times),
    Api("convert_for_currencyhub", "currencyhub", "currency", "Convert an amount between two currencies at the "
        "latest rate.", {"amount": _p("number", "amount to convert"), "from": _p("string", "source currency code, "
                         "e.g. USD"), "to": _p("string", "target currency code, e.g. EUR")}, convert),
    Api("exchange_rate_for_currencyhub", "currencyhub", "currency", "Latest exchange rate: units of target per one "
        "unit of base.", {"base": _p("string", "base currency code"), "target": _p("string", "target currency code")},
        exchange_rate),
    Api("list_currencies_for_currencyhub", "currencyhub", "currency", "List all supported currency codes and names.",
        {}, list_currencies),
    Api("currency_info_for_currencyhub", "currencyhub", "currency", "Name, rate per US dollar and countries using a "
        "currency.", {"code": _p("string", "currency code")}, currency_info),
    Api("latest_rate_for_fxfeed", "fxfeed", "currency", "Latest rate for a currency pair written BASE/TARGET.",
        {"pair": _p("string", "currency pair, e.g. USD/EUR")}, latest_rate),
    Api("fx_convert_for_fxfeed", "fxfeed", "currency", "Convert a value from a source to a target currency.",
        {"value": _p("number", "amount"), "source": _p("string", "source currency code"),
         "target": _p("string", "target currency code")}, fx_convert),
    Api("search_movies_for_cinemadb", "cinemadb", "movies", "Search films whose title contains a query.",
        {"query": _p("string", "part of the title"), "year": _p("integer", "release year filter", False)},
        search_movies),
    Api("movie_details_for_cinemadb", "cinemadb", "movies", "Year, director, genre, rating and runtime of a film.",
        {"title": _p("string", "exact film title")}, movie_details),
    Api("movie_cast_for_cinemadb", "cinemadb", "movies", "Main cast of a film.",
        {"title": _p("string", "exact film title")}, movie_cast),
    Api("movies_by_director_for_cinemadb", "cinemadb", "movies", "All films by a director, oldest first.",
        {"director": _p("string", "director's full name")}, movies_by_director),
    Api("top_rated_for_cinemadb", "cinemadb", "movies", "Best rated films, optionally within one genre.",
        {"genre": _p("string", "genre, e.g. drama", False), "limit": _p("integer", "how many, 1-10 (default 3)",
                                                                         False)}, top_rated),
    Api("title_lookup_for_filmfinder", "filmfinder", "movies", "Look up a film by its title: year, director, genre, "
        "rating.", {"name": _p("string", "film title")}, title_lookup),
    Api("search_recipes_for_cookbook", "cookbook", "recipes", "Search recipes whose name contains a query.",
        {"query": _p("string", "part of the recipe name")}, search_recipes),
    Api("recipe_details_for_cookbook", "cookbook", "recipes", "Ingredients, calories, preparation time and servings "
        "of a recipe.", {"name": _p("string", "exact recipe name")}, recipe_details),
    Api("recipes_by_ingredient_for_cookbook", "cookbook", "recipes", "Recipes that use an ingredient.",
        {"ingredient": _p("string", "ingredient, e.g. lentils")}, recipes_by_ingredient),
    Api("recipes_by_cuisine_for_cookbook", "cookbook", "recipes", "Recipes of a cuisine, quickest first.",
        {"cuisine": _p("string", "cuisine name"), "max_minutes": _p("integer", "maximum preparation time",
                                                                     False)}, recipes_by_cuisine),
    Api("recipe_lookup_for_tastyapi", "tastyapi", "recipes", "Look up a dish: ingredients, calories, preparation "
        "time.", {"dish": _p("string", "recipe name")}, recipe_lookup),
    Api("nutrition_facts_for_nutritionix", "nutritionix", "recipes", "Calories, protein, fat and carbohydrates of a "
        "recipe serving.", {"recipe": _p("string", "recipe name")}, nutrition_facts),
    Api("search_flights_for_skyroute", "skyroute", "flights", "Flights between two airports (IATA code or city "
        "name), by departure.", {"origin": _p("string", "origin airport code or city"),
                                 "destination": _p("string", "destination airport code or city")}, search_flights),
    Api("cheapest_flight_for_skyroute", "skyroute", "flights", "The cheapest flight between two airports.",
        {"origin": _p("string", "origin airport code or city"),
         "destination": _p("string", "destination airport code or city")}, cheapest_flight),
    Api("flight_status_for_skyroute", "skyroute", "flights", "Status (on time, delayed, cancelled, landed) of a "
        "flight.", {"flight_number": _p("string", "flight number, e.g. AE1234")}, flight_status),
    Api("airport_info_for_skyroute", "skyroute", "flights", "City, country and elevation of an airport.",
        {"code": _p("string", "IATA airport code")}, airport_info),
    Api("track_flight_for_flightradar", "flightradar", "flights", "Live status of a flight by its number.",
        {"flight": _p("string", "flight number")}, track_flight),
    Api("stock_quote_for_marketdata", "marketdata", "stocks", "Latest price (USD) and daily change of a stock.",
        {"symbol": _p("string", "ticker symbol")}, stock_quote),
    Api("company_profile_for_marketdata", "marketdata", "stocks", "Company name, sector, CEO, founding year and "
        "market cap.", {"symbol": _p("string", "ticker symbol")}, company_profile),
    Api("dividends_for_marketdata", "marketdata", "stocks", "Dividend yield of a stock.",
        {"symbol": _p("string", "ticker symbol")}, dividends),
    Api("top_movers_for_marketdata", "marketdata", "stocks", "Today's biggest gainers or losers.",
        {"direction": _p("string", "gainers (default) or losers", False),
         "limit": _p("integer", "how many, 1-10 (default 3)", False)}, top_movers),
    Api("symbol_search_for_marketdata", "marketdata", "stocks", "Find the ticker symbol of a company by name.",
        {"company": _p("string", "company name or part of it")}, symbol_search),
    Api("quote_for_tickerfeed", "tickerfeed", "stocks", "Price quote (USD) for a ticker.",
        {"ticker": _p("string", "ticker symbol")}, quote),
    Api("city_info_for_geodb", "geodb", "geography", "Country, population, coordinates, elevation and airport of a "
        "city.", {"city": _CITY}, city_info),
    Api("country_info_for_geodb", "geodb", "geography", "Capital, currency, language, population and calling code of "
        "a country.", {"country": _p("string", "country name or two-letter code")}, country_info),
    Api("distance_for_geodb", "geodb", "geography", "Great-circle distance in km between two cities.",
        {"city_a": _CITY, "city_b": _CITY}, distance),
    Api("cities_in_country_for_geodb", "geodb", "geography", "Cities of a country with populations, largest first.",
        {"country": _p("string", "country name or two-letter code")}, cities_in_country),
    Api("timezone_for_geodb", "geodb", "geography", "UTC offset of a city.", {"city": _CITY}, timezone),
    Api("public_holidays_for_calendarific", "calendarific", "calendar", "Public holidays of a country in 2025, "
        "optionally one month.", {"country": _p("string", "country name or code"),
                                   "month": _p("integer", "month 1-12", False)}, public_holidays),
    Api("is_holiday_for_calendarific", "calendarific", "calendar", "Whether a date is a public holiday in a country.",
        {"country": _p("string", "country name or code"), "date": _p("string", "date as YYYY-MM-DD")}, is_holiday),
    Api("next_holiday_for_calendarific", "calendarific", "calendar", "The next public holiday in a country after a "
        "date.", {"country": _p("string", "country name or code"),
                  "after": _p("string", f"date as YYYY-MM-DD (default {TODAY.isoformat()})", False)}, next_holiday),
    Api("day_of_week_for_dateutil", "dateutil", "calendar", "Weekday of a date.",
        {"date": _p("string", "date as YYYY-MM-DD")}, day_of_week),
    Api("days_between_for_dateutil", "dateutil", "calendar", "Number of days from a start date to an end date.",
        {"start": _p("string", "date as YYYY-MM-DD"), "end": _p("string", "date as YYYY-MM-DD")}, days_between),
    Api("add_days_for_dateutil", "dateutil", "calendar", "The date a number of days after (or before) a date.",
        {"date": _p("string", "date as YYYY-MM-DD"), "days": _p("integer", "days to add, may be negative")},
        add_days),
    Api("convert_length_for_unitconv", "unitconv", "units", "Convert a length between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(LENGTH)}"),
         "to_unit": _p("string", f"one of {', '.join(LENGTH)}")},
        convert_length),
    Api("convert_mass_for_unitconv", "unitconv", "units", "Convert a mass between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(MASS)}"),
         "to_unit": _p("string", f"one of {', '.join(MASS)}")},
        convert_mass),
    Api("convert_volume_for_unitconv", "unitconv", "units", "Convert a volume between units.",
        {"value": _p("number", "value"), "from_unit": _p("string", f"one of {', '.join(VOLUME)}"),
         "to_unit": _p("string", f"one of {', '.join(VOLUME)}")},
        convert_volume),
    Api("convert_temperature_for_unitconv", "unitconv", "units", "Convert a temperature between celsius, "
        "fahrenheit and kelvin.", {"value": _p("number", "value"), "from_unit": _p("string", ", ".join(TEMPERATURES)),
                                   "to_unit": _p("string", ", ".join(TEMPERATURES))}, convert_temperature),
    Api("search_books_for_openlibrary", "openlibrary", "books", "Search books whose title contains a query.",
        {"query": _p("string", "part of the title")}, search_books),
    Api("book_details_for_openlibrary", "openlibrary", "books", "Author, year, pages, genre, ISBN, price (USD) and "
        "rating of a book.", {"title": _p("string", "exact book title")}, book_details),
    Api("books_by_author_for_openlibrary", "openlibrary", "books", "All books by an author, oldest first.",
        {"author": _p("string", "author's full name")}, books_by_author),
    Api("book_by_isbn_for_openlibrary", "openlibrary", "books", "Look up a book by its 13-digit ISBN.",
        {"isbn": _p("string", "ISBN-13")}, book_by_isbn),
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
