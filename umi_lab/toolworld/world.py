"""The seeded world behind ToolWorld's APIs: countries, cities, currencies, films, recipes, flights,
stocks and books, all invented by a seeded ``random.Random`` so that the same seed gives the same world.

Names are built from syllables so they are fictional (a model cannot answer from memory) and the
world is small enough to build in milliseconds.

>>> w = build_world(0)
>>> len(w.countries), len(w.cities) > 40
(16, True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

YEAR = 2025
TODAY = date(YEAR, 6, 2)  # the world's "now": current weather and forecasts start here

_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "st", "t", "tr", "v",
           "z", "th", "sh", "qu", "gl", "pr"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
_CODAS = ["", "", "n", "r", "s", "l", "m", "th", "nd", "rk", "st", "x"]
_FIRST_NAMES = ["Ada", "Bruno", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko",
                "Luca", "Maya", "Nils", "Olga", "Pavel", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wen",
                "Yara", "Zoltan"]
_CONDITIONS = ["sunny", "partly cloudy", "cloudy", "light rain", "heavy rain", "thunderstorms", "fog",
               "windy", "clear"]
_LANGUAGES = ["Velan", "Ostric", "Marish", "Torvic", "Suleni", "Kardic", "Aurean", "Pellish"]
_FILM_ADJ = ["Silent", "Crimson", "Hidden", "Last", "Frozen", "Golden", "Broken", "Distant", "Hollow",
             "Burning", "Secret", "Endless", "Paper", "Iron", "Velvet", "Midnight"]
_FILM_NOUN = ["Harbor", "Orchard", "Signal", "Voyage", "Garden", "Mirror", "Frontier", "Lantern", "Kingdom",
              "River", "Archive", "Summit", "Carnival", "Compass", "Tide", "Engine"]
_GENRES = ["drama", "comedy", "thriller", "science fiction", "animation", "documentary", "horror", "romance"]
_CUISINES = ["Velan", "Ostric", "Marish", "Torvic", "Suleni", "Kardic"]
_INGREDIENTS = ["lentils", "chickpeas", "rice", "potatoes", "spinach", "mushrooms", "tomatoes", "eggplant",
                "chicken", "salmon", "tofu", "barley", "carrots", "leeks", "quinoa", "pumpkin", "beans",
                "cabbage", "peppers", "noodles"]
_DISHES = ["stew", "curry", "salad", "soup", "pie", "bake", "risotto", "skillet", "wrap", "bowl"]
_RECIPE_ADJ = ["Smoky", "Spicy", "Creamy", "Herbed", "Roasted", "Golden", "Rustic", "Zesty", "Garlic",
               "Sweet"]
_SECTORS = ["technology", "energy", "healthcare", "finance", "retail", "transport", "materials", "media"]
_COMPANY_SUFFIX = ["Systems", "Holdings", "Labs", "Energy", "Group", "Foods", "Motors", "Networks",
                   "Industries", "Health"]
_AIRLINES = ["Aerolux", "SkyVela", "Nordwing", "Bluecrest Air", "Transora"]
_HOLIDAYS = ["Flag Day", "Founders' Day", "Kite Festival", "Labour Day", "Harvest Day",
             "Independence Day", "Lantern Night", "Unity Day", "Remembrance Day", "Poets' Day",
             "Constitution Day", "Sea Day"]
_BOOK_NOUN = ["Cartographer", "Orchard", "Winter", "Tide", "Clockmaker", "Letter", "Island", "Garden",
              "Weaver", "Observatory", "Lighthouse", "Mapmaker"]
_BOOK_PATTERN = ["The {n} of {p}", "A {a} {n}", "The {a} {n}", "{p} and the {n}"]


@dataclass(frozen=True)
class Currency:
    """A currency and its rate against the US dollar."""

    code: str
    name: str
    per_usd: float  # units of this currency for one US dollar


@dataclass(frozen=True)
class Country:
    """A country with its capital, currency and 2025 public holidays."""

    name: str
    code: str
    capital: str
    currency: str
    language: str
    population: int
    calling_code: str
    holidays: tuple[tuple[str, str], ...]  # (ISO date, name), sorted by date


@dataclass(frozen=True)
class Weather:
    """A city's current weather, air quality, sun times and 5-day forecast."""

    temperature_c: float
    condition: str
    humidity: int
    wind_kph: float
    aqi: int
    sunrise: str
    sunset: str
    forecast: tuple[tuple[str, float, float, str], ...]  # (date, high_c, low_c, condition)


@dataclass(frozen=True)
class City:
    """A city with its country, location, airport code and weather."""

    name: str
    country: str
    population: int
    lat: float
    lon: float
    utc_offset: int
    elevation_m: int
    airport: str
    weather: Weather


@dataclass(frozen=True)
class Film:
    """A film in cinemadb."""

    title: str
    year: int
    director: str
    genre: str
    rating: float
    runtime_min: int
    cast: tuple[str, ...]


@dataclass(frozen=True)
class Recipe:
    """A recipe in cookbook, with nutrition per serving."""

    name: str
    cuisine: str
    ingredients: tuple[str, ...]
    calories: int
    prep_min: int
    servings: int
    protein_g: int
    fat_g: int
    carbs_g: int


@dataclass(frozen=True)
class Flight:
    """A scheduled flight between two airports."""

    number: str
    airline: str
    origin: str       # airport code
    destination: str  # airport code
    departure: str    # "YYYY-MM-DD HH:MM"
    duration_min: int
    price_usd: float
    status: str       # "on time", "delayed 40 min", "cancelled", "landed"


@dataclass(frozen=True)
class Stock:
    """A listed company's stock."""

    symbol: str
    company: str
    sector: str
    price: float
    change_pct: float
    market_cap_busd: float
    dividend_yield: float
    ceo: str
    founded: int


@dataclass(frozen=True)
class Book:
    """A book in openlibrary."""

    title: str
    author: str
    year: int
    pages: int
    genre: str
    isbn: str
    price_usd: float
    rating: float


@dataclass
class World:
    """Everything ToolWorld knows, with lookups by normalised name."""

    seed: int
    currencies: list[Currency]
    countries: list[Country]
    cities: list[City]
    films: list[Film]
    recipes: list[Recipe]
    flights: list[Flight]
    stocks: list[Stock]
    books: list[Book]
    index: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self):
        self.index = {
            "currency": {c.code.lower(): c for c in self.currencies},
            "country": {c.name.lower(): c for c in self.countries} | {c.code.lower(): c for c in self.countries},
            "city": {c.name.lower(): c for c in self.cities},
            "airport": {c.airport.lower(): c for c in self.cities},
            "film": {f.title.lower(): f for f in self.films},
            "recipe": {r.name.lower(): r for r in self.recipes},
            "flight": {f.number.lower(): f for f in self.flights},
            "stock": {s.symbol.lower(): s for s in self.stocks},
            "book": {b.title.lower(): b for b in self.books},
            "isbn": {b.isbn: b for b in self.books},
        }

    def get(self, kind: str, key: str):
        """Look an entity up by kind and name, case- and space-insensitively; None when absent.

        >>> build_world(0).get("city", "nowhere") is None
        True
        """
        return self.index[kind].get(" ".join(str(key).split()).lower())

    def cities_of(self, country: str) -> list[City]:
        """The cities of a country (by exact name), largest first."""
        return [c for c in self.cities if c.country == country]


def _name(rng: random.Random, syllables: tuple[int, int] = (2, 3)) -> str:
    n = rng.randint(*syllables)
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(n)]
    return ("".join(parts) + rng.choice(_CODAS)).capitalize()


def _unique(rng: random.Random, make, taken: set[str], n: int) -> list[str]:
    out = []
    while len(out) < n:
        v = make()
        if v.lower() not in taken:
            taken.add(v.lower())
            out.append(v)
    return out


def _singular(noun: str) -> str:
    """``_singular("tomatoes") == "tomato"``, ``_singular("leeks") == "leek"``, ``_singular("rice") == "rice"``."""
    if noun.endswith("oes"):
        return noun[:-2]
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _person(rng: random.Random, taken: set[str]) -> str:
    return _unique(rng, lambda: f"{rng.choice(_FIRST_NAMES)} {_name(rng, (2, 2))}", taken, 1)[0]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _weather(rng: random.Random, lat: float) -> Weather:
    base = 30 - abs(lat) * 0.45 + rng.uniform(-4, 4)
    forecast = []
    for d in range(5):
        high = round(base + rng.uniform(-2, 5), 1)
        forecast.append(((TODAY + timedelta(days=d + 1)).isoformat(), high, round(high - rng.uniform(5, 11), 1),
                         rng.choice(_CONDITIONS)))
    sunrise = 330 + int(abs(lat) * 1.5) + rng.randint(0, 40)
    return Weather(round(base, 1), rng.choice(_CONDITIONS), rng.randint(25, 95), round(rng.uniform(2, 45), 1),
                   rng.randint(12, 180), _clock(sunrise), _clock(sunrise + 13 * 60 + rng.randint(-90, 90)),
                   tuple(forecast))


def build_world(seed: int = 0) -> World:
    """Build the world for ``seed`` (bit-identical for equal seeds). Example: ``build_world(0).cities[0].name``."""
    rng = random.Random(f"toolworld-world:{seed}")
    taken: set[str] = set()
    people: set[str] = set()
    country_names = _unique(rng, lambda: _name(rng, (2, 3)) + rng.choice(["ia", "land", "stan", "a", "or"]),
                            taken, 16)
    codes: set[str] = {"usd", "eur"}
    currencies = [Currency("USD", "US Dollar", 1.0), Currency("EUR", "Euro", 0.92)]
    countries: list[Country] = []
    cities: list[City] = []
    airports: set[str] = set()
    for cname in country_names:
        code = _unique(rng, lambda cn=cname: (cn[0] + rng.choice("ABCDEFGHKLMNPRSTVZ")).upper(), codes, 1)[0]
        cur_code = _unique(rng, lambda cn=cname: (cn[:2] + rng.choice("BDFKLMRSTX")).upper(), codes, 1)[0]
        cur_name = f"{cname} {rng.choice(['Mark', 'Crown', 'Dinar', 'Florin', 'Peso', 'Real', 'Lira', 'Rand'])}"
        currencies.append(Currency(cur_code, cur_name, round(rng.uniform(0.3, 150), 4)))
        city_names = _unique(rng, lambda: _name(rng, (2, 3)), taken, rng.randint(3, 4))
        lat0, lon0 = rng.uniform(-50, 60), rng.uniform(-150, 150)
        offset = max(-11, min(12, round(lon0 / 15)))
        pops = sorted((rng.randint(80, 4000) * 1000 + rng.randint(0, 999) for _ in city_names), reverse=True)
        for name, pop in zip(city_names, pops):
            lat, lon = round(lat0 + rng.uniform(-6, 6), 4), round(lon0 + rng.uniform(-8, 8), 4)
            ap = _unique(rng, lambda n=name: (n[:2] + rng.choice("ABCDEFGHIKLMNOPRSTUVXYZ")).upper(), airports, 1)[0]
            cities.append(City(name, cname, pop, lat, lon, offset, rng.randint(0, 2400), ap, _weather(rng, lat)))
        days = sorted(rng.sample(range(1, 365), 7))
        names = rng.sample(_HOLIDAYS, 7)
        hol = tuple((date(YEAR, 1, 1) + timedelta(days=d - 1)).isoformat() for d in days)
        countries.append(Country(cname, code, city_names[0], cur_code, rng.choice(_LANGUAGES),
                                 sum(pops) * rng.randint(3, 9) + rng.randint(0, 999),
                                 f"+{rng.randint(20, 999)}", tuple(zip(hol, names))))
    films = []
    titles: set[str] = set()
    directors = [_person(rng, people) for _ in range(14)]
    for _ in range(70):
        title = _unique(rng, lambda: f"The {rng.choice(_FILM_ADJ)} {rng.choice(_FILM_NOUN)}"
                        if rng.random() < 0.6 else f"{rng.choice(_FILM_ADJ)} {rng.choice(_FILM_NOUN)}", titles, 1)[0]
        films.append(Film(title, rng.randint(1975, 2024), rng.choice(directors), rng.choice(_GENRES),
                          round(rng.uniform(4.0, 9.3), 1), rng.randint(78, 175),
                          tuple(_person(rng, people) for _ in range(3))))
    recipes = []
    rnames: set[str] = set()
    for _ in range(48):
        ings = tuple(sorted(rng.sample(_INGREDIENTS, rng.randint(3, 5))))
        name = _unique(rng, lambda i=ings: f"{rng.choice(_RECIPE_ADJ)} {_singular(rng.choice(i)).capitalize()} "
                       f"{rng.choice(_DISHES).capitalize()}", rnames, 1)[0]
        recipes.append(Recipe(name, rng.choice(_CUISINES), ings, rng.randint(180, 950), rng.randint(10, 120),
                              rng.randint(1, 6), rng.randint(4, 45), rng.randint(2, 40), rng.randint(10, 120)))
    flights = []
    fnums: set[str] = set()
    for _ in range(150):
        a, b = rng.sample(cities, 2)
        airline = rng.choice(_AIRLINES)
        num = _unique(rng, lambda al=airline: f"{al[:2].upper()}{rng.randint(100, 9999)}", fnums, 1)[0]
        dep = f"{(TODAY + timedelta(days=rng.randint(0, 6))).isoformat()} {_clock(rng.randint(5, 22) * 60 + rng.choice([0, 15, 30, 45]))}"
        status = rng.choice(["on time", "on time", "on time", f"delayed {rng.randint(2, 12) * 10} min",
                             "cancelled", "landed"])
        flights.append(Flight(num, airline, a.airport, b.airport, dep, rng.randint(45, 900),
                              round(rng.uniform(49, 1400), 2), status))
    # a few popular routes with several flights, so "cheapest" and "search" have choices
    for _ in range(12):
        a, b = rng.sample(cities, 2)
        for _ in range(rng.randint(2, 4)):
            airline = rng.choice(_AIRLINES)
            num = _unique(rng, lambda al=airline: f"{al[:2].upper()}{rng.randint(100, 9999)}", fnums, 1)[0]
            dep = f"{(TODAY + timedelta(days=rng.randint(0, 6))).isoformat()} {_clock(rng.randint(5, 22) * 60)}"
            flights.append(Flight(num, airline, a.airport, b.airport, dep, rng.randint(45, 900),
                                  round(rng.uniform(49, 1400), 2), rng.choice(["on time", "landed"])))
    stocks = []
    symbols: set[str] = set()
    for _ in range(36):
        company = _unique(rng, lambda: f"{_name(rng, (2, 2))} {rng.choice(_COMPANY_SUFFIX)}", taken, 1)[0]
        sym = _unique(rng, lambda c=company: (c[:3] + rng.choice("ABCDEFGHKLMNPRSTVXZ")).upper(), symbols, 1)[0]
        stocks.append(Stock(sym, company, rng.choice(_SECTORS), round(rng.uniform(3, 900), 2),
                            round(rng.uniform(-9, 9), 2), round(rng.uniform(0.2, 900), 1),
                            round(float(rng.choice([0, 0, rng.uniform(0.3, 6.5)])), 2), _person(rng, people),
                            rng.randint(1890, 2020)))
    books = []
    btitles: set[str] = set()
    authors = [_person(rng, people) for _ in range(12)]
    isbns: set[str] = set()
    for _ in range(50):
        title = _unique(rng, lambda: rng.choice(_BOOK_PATTERN).format(
            n=rng.choice(_BOOK_NOUN), a=rng.choice(_FILM_ADJ), p=rng.choice(country_names + [c.name for c in cities])),
            btitles, 1)[0]
        isbn = _unique(rng, lambda: "978" + "".join(str(rng.randint(0, 9)) for _ in range(10)), isbns, 1)[0]
        books.append(Book(title, rng.choice(authors), rng.randint(1950, 2024), rng.randint(120, 900),
                          rng.choice(_GENRES[:4] + ["history", "poetry", "fantasy"]), isbn,
                          round(rng.uniform(6, 45), 2), round(rng.uniform(2.5, 5.0), 1)))
    return World(seed, currencies, countries, cities, films, recipes, flights, stocks, books)
