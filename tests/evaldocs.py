"""A small collection of distinct, made-up documents for evaluation tests: each
document is one fictional project with two sections whose facts no other shares."""

from __future__ import annotations

from pathlib import Path

_NAMES = [  # fmt: skip
    "Falcon",
    "Heron",
    "Osprey",
    "Kestrel",
    "Puffin",
    "Gannet",
    "Plover",
    "Curlew",
    "Avocet",
    "Bittern",
    "Dunlin",
    "Godwit",
    "Merlin",
    "Shrike",
    "Siskin",
    "Wagtail",
    "Warbler",
    "Nuthatch",
    "Linnet",
    "Bunting",
]
_CITIES = [
    "Lisbon",
    "Porto",
    "Ghent",
    "Lyon",
    "Turin",
    "Krakow",
    "Bergen",
    "Tartu",
    "Cork",
    "Basel",
    "Graz",
    "Brno",
    "Aarhus",
    "Malmo",
    "Bilbao",
    "Split",
    "Leeds",
    "Utrecht",
    "Dresden",
    "Salzburg",
]
_THINGS = [
    "billing ledger",
    "tide gauge network",
    "seed bank catalogue",
    "tram timetable",
    "glacier survey",
    "beehive monitor",
    "lighthouse archive",
    "vineyard sensor grid",
    "library loan system",
    "ferry booking desk",
    "bakery supply chain",
    "orchard irrigation",
    "museum inventory",
    "radio telescope queue",
    "wind farm dashboard",
    "choir rota",
    "harbour crane schedule",
    "cheese cave climate log",
    "bicycle share fleet",
    "observatory weather station",
]


def write_projects(folder: Path, count: int = 20) -> dict[str, str]:
    """``count`` project notes in ``folder``; returns project name -> its lead city."""
    folder.mkdir(parents=True, exist_ok=True)
    leads = {}
    for n in range(count):
        name, city, thing = _NAMES[n], _CITIES[n], _THINGS[n]
        year = 2001 + n
        leads[name] = city
        (folder / f"{name.lower()}.md").write_text(
            f"# Project {name}\n\n"
            f"## Purpose\n\n"
            f"Project {name} rebuilds the {thing} for the regional council. The team "
            f"replaced paper forms with a small web service, and the {thing} now reports "
            f"every change within a minute. Project {name} started in {year} with a budget "
            f"of {n + 3} million euros and a staff of {n + 7} engineers.\n\n"
            f"## People\n\n"
            f"The project {name} is led from the {city} office by an engineer who "
            f"joined in {year - 3}. Weekly reviews take place in {city} on Thursdays, "
            f"and the steering group meets in {city} every quarter to decide priorities "
            f"for the {thing}.\n"
        )
    return leads
