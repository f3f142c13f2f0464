"""ToolWorld give-up task types (G1): the film, recipe, stock, flight or city asked about does not exist."""

from __future__ import annotations

from umi_lab.toolworld.generator import (
    FAKE_WORDS,
    fake_name,
    task,
)


# ====================================================================== give-up: the thing does not exist
@task("G1", "movie_details_for_cinemadb", "title_lookup_for_filmfinder", n_calls=1, give_up=True)
def film_missing(w, rng, ep):
    """Asks e.g. "Who directed the film \"{t}\"?"."""
    t = fake_name(w, rng, "film", lambda: f"The {rng.choice(FAKE_WORDS)} {rng.choice(['Harbor', 'Orchard', 'Comet'])}")
    ep.ask(["Who directed the film \"{t}\"?", "When was \"{t}\" released, and how is it rated?",
            "Tell me the rating of the movie \"{t}\".", "I heard about a film called \"{t}\". Who made it?"], t=t)
    ep.call("movie_details_for_cinemadb", {"title": t}, f"I'll look up \"{t}\" in cinemadb.")


@task("G1", "recipe_details_for_cookbook", "recipe_lookup_for_tastyapi", n_calls=1, give_up=True)
def recipe_missing(w, rng, ep):
    """Asks e.g. "How many calories are in {n}?"."""
    n = fake_name(w, rng, "recipe", lambda: f"{rng.choice(FAKE_WORDS)} {rng.choice(['Lentil', 'Tofu'])} Tart")
    ep.ask(["How many calories are in {n}?", "How long does {n} take to cook?", "What ingredients go into {n}?",
            "Give me the recipe details for {n}."], n=n)
    ep.call("recipe_details_for_cookbook", {"name": n}, f"I'll look up the recipe {n}.")


@task("G1", "stock_quote_for_marketdata", "quote_for_tickerfeed", n_calls=1, give_up=True)
def stock_missing(w, rng, ep):
    """Asks e.g. "What's the share price of {s}?"."""
    s = fake_name(w, rng, "stock", lambda: "".join(rng.choice("QWXYZJ") for _ in range(4)))
    ep.ask(["What's the share price of {s}?", "Quote for ticker {s}, please.", "How is {s} stock doing today?",
            "What's {s} trading at right now?"], s=s)
    ep.call("stock_quote_for_marketdata", {"symbol": s}, f"I'll request a quote for {s}.")


@task("G1", "flight_status_for_skyroute", "track_flight_for_flightradar", n_calls=1, give_up=True)
def flight_missing(w, rng, ep):
    """Asks e.g. "Is flight {n} on time?"."""
    n = fake_name(w, rng, "flight", lambda: f"ZZ{rng.randint(10, 99)}")
    ep.ask(["Is flight {n} on time?", "Status of flight {n}?", "Has flight {n} been delayed?",
            "I'm picking someone up from flight {n}. Is it on schedule?"], n=n)
    ep.call("flight_status_for_skyroute", {"flight_number": n}, f"I'll check flight {n}.")


@task("G1", "current_weather_for_skycast", "weather_now_for_weatherly", n_calls=1, give_up=True)
def city_missing(w, rng, ep):
    """Asks e.g. "What's the weather in {c} right now?"."""
    c = fake_name(w, rng, "city", lambda: f"{rng.choice(FAKE_WORDS)}ville")
    ep.ask(["What's the weather in {c} right now?", "How warm is it in {c} today?",
            "Current temperature and conditions in {c}, please.", "Do I need an umbrella in {c} right now?"], c=c)
    ep.call("current_weather_for_skycast", {"city": c}, f"I'll ask skycast about {c}.")
