"""ToolWorld API handlers for catalogues and conversions: movies, recipes, stocks, units, books.

Each handler is ``handler(world, **arguments)`` → a JSON-able response or a failure ``Observation``;
``apis.APIS`` names them in the catalogue.
"""

from __future__ import annotations

from umi_lab.tools.registry import ArgumentError, Observation
from umi_lab.toolworld.responses import empty_result, lookup, norm, not_found
from umi_lab.toolworld.world import World


# ---------------------------------------------------------------- movies
def _film_dict(f) -> dict:
    return {"title": f.title, "year": f.year, "director": f.director, "genre": f.genre, "rating": f.rating,
            "runtime_min": f.runtime_min}


def search_movies(w: World, query: str, year: int | None = None):
    q = norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [f for f in w.films if q in f.title.lower() and (year is None or f.year == year)]
    if not hits:
        return empty_result(f"no films match '{query}'")
    return {"results": [{"title": f.title, "year": f.year} for f in sorted(hits, key=lambda f: (f.year, f.title))]}


def movie_details(w: World, title: str):
    f = w.get("film", title)
    return not_found("film", title) if f is None else _film_dict(f)


def movie_cast(w: World, title: str):
    f = w.get("film", title)
    return not_found("film", title) if f is None else {"title": f.title, "cast": list(f.cast)}


def movies_by_director(w: World, director: str):
    hits = sorted((f for f in w.films if f.director.lower() == norm(director)), key=lambda f: (f.year, f.title))
    if not hits:
        return not_found("director", director)
    return {"director": hits[0].director, "films": [{"title": f.title, "year": f.year} for f in hits]}


def top_rated(w: World, genre: str = "", limit: int = 3):
    if not 1 <= limit <= 10:
        raise ArgumentError(f"argument 'limit' must be between 1 and 10, got {limit}")
    hits = [f for f in w.films if not genre or f.genre == norm(genre)]
    if not hits:
        return empty_result(f"no films in genre '{genre}'")
    hits.sort(key=lambda f: (-f.rating, f.title))
    return {"genre": norm(genre) or "all", "films": [{"title": f.title, "rating": f.rating} for f in hits[:limit]]}


def title_lookup(w: World, name: str):
    f = w.get("film", name)
    return not_found("film", name) if f is None else {**_film_dict(f), "source": "filmfinder"}


# ---------------------------------------------------------------- recipes
def _recipe_dict(r) -> dict:
    return {"name": r.name, "cuisine": r.cuisine, "ingredients": list(r.ingredients), "calories": r.calories,
            "prep_min": r.prep_min, "servings": r.servings}


def search_recipes(w: World, query: str):
    q = norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [r.name for r in w.recipes if q in r.name.lower()]
    return {"results": sorted(hits)} if hits else empty_result(f"no recipes match '{query}'")


def recipe_details(w: World, name: str):
    r = w.get("recipe", name)
    return not_found("recipe", name) if r is None else _recipe_dict(r)


def recipes_by_ingredient(w: World, ingredient: str):
    i = norm(ingredient)
    hits = sorted(r.name for r in w.recipes if i in r.ingredients)
    return {"ingredient": i, "recipes": hits} if hits else empty_result(f"no recipes use '{ingredient}'")


def recipes_by_cuisine(w: World, cuisine: str, max_minutes: int | None = None):
    c = norm(cuisine)
    hits = sorted((r for r in w.recipes if r.cuisine.lower() == c and (max_minutes is None or r.prep_min <= max_minutes)),
                  key=lambda r: (r.prep_min, r.name))
    if not hits:
        return empty_result(f"no {cuisine} recipes" + (f" within {max_minutes} minutes" if max_minutes else ""))
    return {"cuisine": c, "recipes": [{"name": r.name, "prep_min": r.prep_min} for r in hits]}


def recipe_lookup(w: World, dish: str):
    r = w.get("recipe", dish)
    return not_found("recipe", dish) if r is None else {**_recipe_dict(r), "source": "tastyapi"}


def nutrition_facts(w: World, recipe: str):
    r = w.get("recipe", recipe)
    if r is None:
        return not_found("recipe", recipe)
    return {"recipe": r.name, "calories": r.calories, "protein_g": r.protein_g, "fat_g": r.fat_g,
            "carbs_g": r.carbs_g}


# ---------------------------------------------------------------- stocks
def _stock(w: World, symbol: str):
    return lookup(w, "stock", symbol, "symbol")


def stock_quote(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "price": s.price, "change_pct": s.change_pct, "currency": "USD"}


def company_profile(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "company": s.company, "sector": s.sector, "ceo": s.ceo, "founded": s.founded,
            "market_cap_busd": s.market_cap_busd}


def dividends(w: World, symbol: str):
    s = _stock(w, symbol)
    if isinstance(s, Observation):
        return s
    return {"symbol": s.symbol, "dividend_yield_pct": s.dividend_yield, "pays_dividend": s.dividend_yield > 0}


def top_movers(w: World, direction: str = "gainers", limit: int = 3):
    if direction not in ("gainers", "losers"):
        raise ArgumentError(f"argument 'direction' must be 'gainers' or 'losers', got {direction!r}")
    if not 1 <= limit <= 10:
        raise ArgumentError(f"argument 'limit' must be between 1 and 10, got {limit}")
    sign = -1 if direction == "gainers" else 1
    hits = sorted(w.stocks, key=lambda s: (sign * s.change_pct, s.symbol))[:limit]
    return {"direction": direction, "stocks": [{"symbol": s.symbol, "change_pct": s.change_pct} for s in hits]}


def symbol_search(w: World, company: str):
    q = norm(company)
    if not q:
        raise ArgumentError("argument 'company' must not be empty")
    hits = [{"symbol": s.symbol, "company": s.company} for s in w.stocks if q in s.company.lower()]
    return {"results": hits} if hits else empty_result(f"no listed company matches '{company}'")


def quote(w: World, ticker: str):
    out = stock_quote(w, ticker)
    return out if isinstance(out, Observation) else {**out, "source": "tickerfeed"}


# ---------------------------------------------------------------- units
LENGTH = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "inch": 0.0254, "ft": 0.3048, "yard": 0.9144,
          "mile": 1609.344}
MASS = {"mg": 1e-6, "g": 0.001, "kg": 1.0, "tonne": 1000.0, "oz": 0.028349523125, "lb": 0.45359237}
VOLUME = {"ml": 0.001, "l": 1.0, "cup": 0.2365882365, "pint": 0.473176473, "gallon": 3.785411784,
          "fl_oz": 0.0295735295625}
TEMPERATURES = ("celsius", "fahrenheit", "kelvin")


def _factor_convert(table: dict[str, float], value: float, from_unit: str, to_unit: str):
    for name, u in (("from_unit", from_unit), ("to_unit", to_unit)):
        if u not in table:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(table)}, got {u!r}")
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit,
            "result": round(value * table[from_unit] / table[to_unit], 4)}


def convert_temperature(w: World, value: float, from_unit: str, to_unit: str):
    for name, u in (("from_unit", from_unit), ("to_unit", to_unit)):
        if u not in TEMPERATURES:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(TEMPERATURES)}, got {u!r}")
    c = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[from_unit]
    if c < -273.15:
        raise ArgumentError(f"{value} {from_unit} is below absolute zero")
    out = {"celsius": c, "fahrenheit": c * 9 / 5 + 32, "kelvin": c + 273.15}[to_unit]
    return {"value": value, "from_unit": from_unit, "to_unit": to_unit, "result": round(out, 2)}




def convert_length(w: World, value: float, from_unit: str, to_unit: str):
    return _factor_convert(LENGTH, value, from_unit, to_unit)


def convert_mass(w: World, value: float, from_unit: str, to_unit: str):
    return _factor_convert(MASS, value, from_unit, to_unit)


def convert_volume(w: World, value: float, from_unit: str, to_unit: str):
    return _factor_convert(VOLUME, value, from_unit, to_unit)


# ---------------------------------------------------------------- books
def _book_dict(b) -> dict:
    return {"title": b.title, "author": b.author, "year": b.year, "pages": b.pages, "genre": b.genre,
            "isbn": b.isbn, "price_usd": b.price_usd, "rating": b.rating}


def search_books(w: World, query: str):
    q = norm(query)
    if not q:
        raise ArgumentError("argument 'query' must not be empty")
    hits = [{"title": b.title, "author": b.author} for b in w.books if q in b.title.lower()]
    return {"results": sorted(hits, key=lambda h: h["title"])} if hits else empty_result(f"no books match '{query}'")


def book_details(w: World, title: str):
    b = w.get("book", title)
    return not_found("book", title) if b is None else _book_dict(b)


def books_by_author(w: World, author: str):
    hits = sorted((b for b in w.books if b.author.lower() == norm(author)), key=lambda b: (b.year, b.title))
    if not hits:
        return not_found("author", author)
    return {"author": hits[0].author, "books": [{"title": b.title, "year": b.year} for b in hits]}


def book_by_isbn(w: World, isbn: str):
    digits = isbn.replace("-", "").strip()
    if not (digits.isdigit() and len(digits) == 13):
        raise ArgumentError(f"argument 'isbn' must have 13 digits, got {isbn!r}")
    b = w.get("isbn", digits)
    return not_found("book with ISBN", isbn) if b is None else _book_dict(b)


