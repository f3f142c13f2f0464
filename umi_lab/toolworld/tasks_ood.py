"""Out-of-domain task types: the held-out category (books) and held-out tools (dateutil, nutritionix)."""

from __future__ import annotations

from umi_lab.toolworld.generator import FAKE_WORDS, fake_name, join_list, pick, task
from umi_lab.toolworld.world import TODAY


# ====================================================================== out-of-domain: books, dateutil, nutritionix
@task("G1", "book_details_for_openlibrary")
def book_info(w, rng, ep):
    """Asks e.g. "Who wrote \"{t}\" and when was it published?"."""
    b = pick(rng, w.books)
    ep.ask(["Who wrote \"{t}\" and when was it published?", "Give me the author, year and page count of {t}.",
            "Tell me about the book {t}."], t=b.title)
    r = ep.call("book_details_for_openlibrary", {"title": b.title}, f"I'll look up \"{b.title}\".")
    a, y, p = ep.fact(r["author"]), ep.fact(r["year"]), ep.fact(r["pages"])
    ep.conclude(f"{a}, {y}", f"\"{r['title']}\" was written by {a}, published in {y}, {p} pages.")


@task("G1", "books_by_author_for_openlibrary")
def book_author(w, rng, ep):
    """Asks e.g. "Which books has {a} written?"."""
    a = pick(rng, sorted({b.author for b in w.books}))
    ep.ask(["Which books has {a} written?", "List {a}'s books.", "Bibliography of {a}, please."], a=a)
    r = ep.call("books_by_author_for_openlibrary", {"author": a}, f"I'll list the books by {a}.")
    items = [f"{ep.fact(x['title'])} ({x['year']})" for x in r["books"]]
    ep.conclude(f"{len(items)} book(s)", f"{a} wrote {join_list(items)}.")


@task("G1", "book_by_isbn_for_openlibrary")
def book_isbn(w, rng, ep):
    """Asks e.g. "Which book has ISBN {i}?"."""
    b = pick(rng, w.books)
    ep.ask(["Which book has ISBN {i}?", "Look up ISBN {i} for me: title and author.",
            "What is the title of the book with ISBN {i}?", "I found ISBN {i} on a receipt. Which book is it?"], i=b.isbn)
    r = ep.call("book_by_isbn_for_openlibrary", {"isbn": b.isbn}, f"I'll resolve ISBN {b.isbn}.")
    t, a = ep.fact(r["title"]), ep.fact(r["author"])
    ep.conclude(f"{t} by {a}", f"ISBN {b.isbn} is \"{t}\" by {a}.")


@task("G1", "day_of_week_for_dateutil")
def date_weekday(w, rng, ep):
    """Asks e.g. "What day of the week is {d}?"."""
    d = f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["What day of the week is {d}?", "Which weekday falls on {d}?", "Tell me the weekday of {d}.",
            "Was (or will) {d} be a Monday, a Friday...? Which day is it?"], d=d)
    r = ep.call("day_of_week_for_dateutil", {"date": d}, f"dateutil gives the weekday of {d}.")
    wd = ep.fact(r["weekday"])
    ep.conclude(f"{d} is a {wd}", f"{d} is a {wd}.")


@task("G1", "days_between_for_dateutil")
def date_between(w, rng, ep):
    """Asks e.g. "How many days are there from {a} to {b}?"."""
    a = f"2025-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    b = f"{rng.choice([2025, 2026])}-{rng.randint(7, 12):02d}-{rng.randint(1, 28):02d}"
    ep.ask(["How many days are there from {a} to {b}?", "Count the days between {a} and {b}.",
            "How long is it from {a} until {b}, in days?", "Number of days separating {a} and {b}?"], a=a, b=b)
    r = ep.call("days_between_for_dateutil", {"start": a, "end": b}, "dateutil counts the days.")
    n = ep.fact(r["days"])
    ep.conclude(f"{n} days", f"From {a} to {b} there are {n} days.")


@task("G1", "nutrition_facts_for_nutritionix")
def recipe_nutrition(w, rng, ep):
    """Asks e.g. "How much protein, fat and carbs does {r} have?"."""
    r0 = pick(rng, w.recipes)
    ep.ask(["How much protein, fat and carbs does {r} have?", "Nutrition facts for {r}?",
            "Give me the macros (protein, fat, carbohydrates) of {r}.",
            "Is {r} high in protein? Show its nutrition."], r=r0.name)
    r = ep.call("nutrition_facts_for_nutritionix", {"recipe": r0.name}, f"nutritionix has the macros of {r0.name}.")
    p, f, c = ep.fact(r["protein_g"]), ep.fact(r["fat_g"]), ep.fact(r["carbs_g"])
    ep.conclude(f"{p}/{f}/{c} g", f"{r0.name} has {p} g protein, {f} g fat and {c} g carbohydrates "
                f"({r['calories']} kcal).")


@task("G2", "books_by_author_for_openlibrary", "book_details_for_openlibrary")
def book_latest(w, rng, ep):
    """Asks e.g. "What is {a}'s latest book and how many pages does it have?"."""
    a = pick(rng, sorted({b.author for b in w.books}))
    ep.ask(["What is {a}'s latest book and how many pages does it have?",
            "Newest book by {a}: rating and length?",
            "Which book did {a} publish most recently, and how long is it?",
            "Latest title by {a}: page count and rating?"],
           a=a)
    r = ep.call("books_by_author_for_openlibrary", {"author": a}, f"First {a}'s books.")
    last = r["books"][-1]
    d = ep.call("book_details_for_openlibrary", {"title": last["title"]}, f"The newest is \"{last['title']}\". "
                "Now its details.")
    t, p, rt = ep.fact(d["title"]), ep.fact(d["pages"]), ep.fact(d["rating"])
    ep.conclude(f"{t}, {p} pages", f"{a}'s latest book is \"{t}\" ({d['year']}): {p} pages, rated {rt}.")


@task("G2", "next_holiday_for_calendarific", "day_of_week_for_dateutil")
def holiday_weekday(w, rng, ep):
    """Asks e.g. "On which weekday does {k}'s next public holiday fall?"."""
    k = pick(rng, w.countries)
    ep.ask(["On which weekday does {k}'s next public holiday fall?", "Is {k}'s next holiday on a weekend?",
            "What day of the week is the next public holiday in {k}?",
            "Will {k}'s next public holiday give a long weekend? Which weekday is it?"],
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
    """Asks e.g. "f"How many days from {TODAY.isoformat()} until the next public holiday in {{k}}?""."""
    k = pick(rng, w.countries)
    ep.ask([f"How many days from {TODAY.isoformat()} until the next public holiday in {{k}}?",
            "Countdown: days left until {k}'s next holiday?",
            "How long until {k}'s next public holiday, in days?",
            "Days remaining until the next holiday in {k}?"], k=k.name)
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
    """Asks e.g. "Find a recipe with {i} and tell me its protein content."."""
    i = pick(rng, sorted({x for r in w.recipes for x in r.ingredients}))
    ep.ask(["Find a recipe with {i} and tell me its protein content.",
            "Protein in a {i} dish? Pick one recipe.",
            "Pick any recipe with {i} and give its protein per serving.",
            "How much protein does a recipe using {i} have?"],
           i=i)
    r = ep.call("recipes_by_ingredient_for_cookbook", {"ingredient": i}, f"First recipes with {i}.")
    name = r["recipes"][0]
    n = ep.call("nutrition_facts_for_nutritionix", {"recipe": name}, f"I'll take {name} and get its nutrition.")
    fn, p = ep.fact(name), ep.fact(n["protein_g"])
    ep.conclude(f"{fn}: {p} g protein", f"{fn} has {p} g of protein per serving.")


@task("G3", "book_details_for_openlibrary", "convert_for_currencyhub")
def book_price_local(w, rng, ep):
    """Asks e.g. "How much does \"{t}\" cost in {c}?"."""
    b = pick(rng, w.books)
    cur = pick(rng, w.currencies[1:])
    ep.ask(["How much does \"{t}\" cost in {c}?", "Price of the book {t}, converted to {c}?",
            "What does the book \"{t}\" cost when paid in {c}?", "Convert the price of \"{t}\" into {c}."], t=b.title,
           c=cur.code)
    d = ep.call("book_details_for_openlibrary", {"title": b.title}, "First the book's USD price.")
    x = ep.call("convert_for_currencyhub", {"amount": d["price_usd"], "from": "USD", "to": cur.code},
                f"It costs {d['price_usd']} USD; converting to {cur.code}.")
    usd, loc = ep.fact(d["price_usd"]), ep.fact(x["result"])
    ep.conclude(f"{usd} USD = {loc} {cur.code}", f"\"{b.title}\" costs {usd} USD, i.e. {loc} {cur.code}.")


@task("G3", "city_info_for_geodb", "next_holiday_for_calendarific", "day_of_week_for_dateutil")
def city_holiday_weekday(w, rng, ep):
    """Asks e.g. "Which weekday is the next public holiday in the country where {c} lies?"."""
    c = pick(rng, w.cities)
    ep.ask(["Which weekday is the next public holiday in the country where {c} lies?",
            "I'm in {c}. When's the next holiday here and what day of the week is it?",
            "Next public holiday in the country of {c}: which date and weekday?",
            "On what weekday is the upcoming holiday in the country {c} belongs to?"], c=c.name)
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
    """Asks e.g. "Which came out first, the book \"{b}\" or the film \"{f}\"?"."""
    b, f = pick(rng, w.books), pick(rng, w.films)
    ep.ask(["Which came out first, the book \"{b}\" or the film \"{f}\"?",
            "Compare release years: book {b} vs film {f}.",
            "Was the book \"{b}\" published before the film \"{f}\" came out?",
            "Release years of the book {b} and the movie {f}: which is older?"], b=b.title, f=f.title)
    x = ep.call("book_details_for_openlibrary", {"title": b.title}, "First the book's year.")
    y = ep.call("movie_details_for_cinemadb", {"title": f.title}, f"The book is from {x['year']}. Now the film.")
    by, fy = ep.fact(x["year"]), ep.fact(y["year"])
    first = "the book" if x["year"] < y["year"] else "the film" if y["year"] < x["year"] else "neither"
    ep.conclude(f"book {by}, film {fy}", f"The book came out in {by} and the film in {fy}, so {first} came first.")


@task("G1", "book_details_for_openlibrary", n_calls=1, give_up=True)
def book_missing(w, rng, ep):
    """Asks e.g. "Who wrote \"{t}\"?"."""
    t = fake_name(w, rng, "book", lambda: f"The {rng.choice(FAKE_WORDS)} {rng.choice(['Almanac', 'Atlas', 'Diary'])}")
    ep.ask(["Who wrote \"{t}\"?", "How many pages does \"{t}\" have?", "When was \"{t}\" published?",
            "Find the author of the book \"{t}\"."], t=t)
    ep.call("book_details_for_openlibrary", {"title": t}, f"I'll look up \"{t}\".")
