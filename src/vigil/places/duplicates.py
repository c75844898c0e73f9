"""Possible duplicates: how two places are compared, and which pairs are compared at all.

A pair is scored from the names' trigram similarity (counted as PostgreSQL's pg_trgm counts it),
the distance between the two places, a shared identifier, a shared address and the region; two
places with different identifiers under one scheme are never the same place. Pairs come from
blocking — nearby grid cells, a shared address, names sharing one of their rarest trigrams — never
from every pair of a region, so the check of a national import grows with its rows, not their
square.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

# A pair is flagged from this score up.
FLAG_THRESHOLD = 0.7
# Closer than this, two places are at the same spot (geocoding of one building differs by this).
NEAR_M = 100.0
# Beyond this, coordinates say two places are not the same, whatever their names.
FAR_M = 5000.0
NAME_WEIGHT, PLACE_WEIGHT = 0.55, 0.45
# Without coordinates the names carry the score; the same region adds a little.
NAME_ONLY_WEIGHT, SAME_REGION_BONUS = 0.9, 0.05
# An address shared by more places than this is a town or a street, not a building.
ADDRESS_BLOCK_LIMIT = 20
EARTH_RADIUS_M = 6_371_008.8

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def match_text(text: str) -> str:
    """Lower case, without accents or punctuation, single spaces: how names are compared."""
    if text.isascii():
        # Most cells: the same result without Unicode decomposition.
        return " ".join(_NOT_WORD.sub(" ", text.lower()).split())
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", text).split())


def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's trigrams of an already normalised text: each word padded with two spaces
    before and one after."""
    grams: set[str] = set()
    for word in text.split():
        padded = f"  {word} "
        grams.update(padded[index : index + 3] for index in range(len(padded) - 2))
    return frozenset(grams)


def similarity(first: frozenset[str], second: frozenset[str]) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of both."""
    if not first or not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Candidate:
    """What the comparison needs of a place."""

    pk: int
    name: str  # match_text of the name
    latitude: float | None = None
    longitude: float | None = None
    region_id: int | None = None
    address: str = ""  # match_text of the address
    # scheme (case-folded) -> value (case-folded); the body's own external identifier is the
    # scheme "".
    identifiers: dict[str, str] = field(default_factory=dict)
    grams: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.grams:
            self.grams = trigrams(self.name)

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class PairScore:
    score: float
    name_similarity: float
    distance_m: float | None
    shared_identifier: bool


def score_pair(first: Candidate, second: Candidate) -> PairScore | None:
    """The pair's score, or None when it is no possible duplicate."""
    shared = False
    for scheme in first.identifiers.keys() & second.identifiers.keys():
        if first.identifiers[scheme] != second.identifiers[scheme]:
            # Two different codes in one list: the list says these are two places.
            return None
        shared = True
    same_address = bool(first.address) and first.address == second.address
    distance = None
    if first.located and second.located:
        distance = haversine_m(
            first.latitude,  # type: ignore[arg-type]
            first.longitude,  # type: ignore[arg-type]
            second.latitude,  # type: ignore[arg-type]
            second.longitude,  # type: ignore[arg-type]
        )
        if distance > FLAG_RADIUS_M and not (shared or same_address):
            return None  # too far apart for any name to make up for it
    name = similarity(first.grams, second.grams)
    score = 0.0
    if distance is not None:
        if distance <= FAR_M:
            proximity = 1.0 if distance <= NEAR_M else 1 - (distance - NEAR_M) / (FAR_M - NEAR_M)
            score = NAME_WEIGHT * name + PLACE_WEIGHT * proximity
    elif not (first.region_id and second.region_id and first.region_id != second.region_id):
        same_region = bool(first.region_id) and first.region_id == second.region_id
        score = NAME_ONLY_WEIGHT * name + (SAME_REGION_BONUS if same_region else 0.0)
    if same_address:
        # One building under two names (an operator's and an agency's).
        score = max(score, 0.75 + 0.25 * name)
    if shared:
        score = 1.0
    if score < FLAG_THRESHOLD:
        return None
    return PairScore(
        score=round(min(score, 1.0), 4),
        name_similarity=round(name, 4),
        distance_m=None if distance is None else round(distance, 1),
        shared_identifier=shared,
    )


# The least name similarity that can still reach the threshold, with and without coordinates:
# the name blocking below never misses a pair that could be flagged.
NAME_ONLY_MIN = (FLAG_THRESHOLD - SAME_REGION_BONUS) / NAME_ONLY_WEIGHT
# How far two places can be and still reach the threshold with identical names.
FLAG_RADIUS_M = NEAR_M + (FAR_M - NEAR_M) * (1 - (FLAG_THRESHOLD - NAME_WEIGHT) / PLACE_WEIGHT)


def _cell(candidate: Candidate, size_deg: float) -> tuple[int, int]:
    return (
        math.floor(candidate.latitude / size_deg),  # type: ignore[operator]
        math.floor(candidate.longitude / size_deg),  # type: ignore[operator]
    )


def find_pairs(
    candidates: Iterable[Candidate], new_pks: Iterable[int]
) -> list[tuple[int, int, PairScore]]:
    """The flagged pairs (lower pk first) between the new places and all candidates (the new
    places included). Each pair is scored once."""
    everyone = {candidate.pk: candidate for candidate in candidates}
    new = [everyone[pk] for pk in dict.fromkeys(new_pks) if pk in everyone]
    if not new:
        return []
    pairs: dict[tuple[int, int], PairScore | None] = {}

    def compare(first: Candidate, second: Candidate) -> None:
        if first.pk == second.pk:
            return
        key = (first.pk, second.pk) if first.pk < second.pk else (second.pk, first.pk)
        if key not in pairs:
            pairs[key] = score_pair(first, second)

    # 1. Places near each other: a grid whose cells are at least the flag radius in both
    # directions, so every near pair is in neighbouring cells.
    located = [candidate for candidate in everyone.values() if candidate.located]
    if located:
        widest = max(abs(candidate.latitude) for candidate in located)  # type: ignore[arg-type]
        stretch = 1 / max(math.cos(math.radians(min(widest, 89.0))), 0.01)
        size_deg = FLAG_RADIUS_M / 111_000 * stretch
        max_latitude_gap = math.degrees(FLAG_RADIUS_M / EARTH_RADIUS_M)
        grid: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
        for candidate in located:
            grid[_cell(candidate, size_deg)].append(candidate)
        for candidate in new:
            if not candidate.located:
                continue
            row, column = _cell(candidate, size_deg)
            latitude = candidate.latitude
            for d_row in (-1, 0, 1):
                for d_column in (-1, 0, 1):
                    for other in grid.get((row + d_row, column + d_column), ()):
                        # The distance is at least the difference in latitude.
                        if abs(other.latitude - latitude) > max_latitude_gap:  # type: ignore[operator]
                            continue
                        compare(candidate, other)

    # 2. The same address, unless it is shared so widely that it says nothing.
    by_address: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in everyone.values():
        if candidate.address:
            by_address[candidate.address].append(candidate)
    for candidate in new:
        block = by_address.get(candidate.address, ()) if candidate.address else ()
        if len(block) <= ADDRESS_BLOCK_LIMIT:
            for other in block:
                compare(candidate, other)

    # 3. A shared identifier.
    by_identifier: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in everyone.values():
        for item in candidate.identifiers.items():
            by_identifier[item].append(candidate)
    for candidate in new:
        for item in candidate.identifiers.items():
            for other in by_identifier[item]:
                compare(candidate, other)

    # 4. Similar names where one of the two has no coordinates: prefix filtering. Trigrams are
    # ranked rarest first; two names with similarity >= t share one of the first
    # |grams| - ceil(t * |grams|) + 1 trigrams of each, so only those are indexed and probed.
    # A located new place is only compared by name with places without coordinates, so only
    # they are indexed unless a new place has no coordinates itself.
    unlocated_new = [candidate for candidate in new if not candidate.located]
    indexed = (
        list(everyone.values())
        if unlocated_new
        else [candidate for candidate in everyone.values() if not candidate.located]
    )
    if indexed:
        frequency: Counter[str] = Counter()
        for candidate in itertools.chain(indexed, new):
            frequency.update(candidate.grams)

        def prefix(candidate: Candidate) -> list[str]:
            ranked = sorted(candidate.grams, key=lambda gram: (frequency[gram], gram))
            keep = len(ranked) - math.ceil(NAME_ONLY_MIN * len(ranked)) + 1
            return ranked[: max(keep, 0)]

        # Names alone pair places of one region (or where one has no region), and a located
        # new place pairs by name only with places without coordinates: the index is keyed by
        # both, so a probe reads only lists it could pair with.
        index: dict[tuple[bool, int | None, str], list[Candidate]] = defaultdict(list)
        any_region: dict[tuple[bool, str], list[Candidate]] = defaultdict(list)
        regionless_new = any(candidate.region_id is None for candidate in new)
        for candidate in indexed:
            for gram in prefix(candidate):
                index[(candidate.located, candidate.region_id, gram)].append(candidate)
                if regionless_new:
                    any_region[(candidate.located, gram)].append(candidate)
        for candidate in new:
            size = len(candidate.grams)
            region = candidate.region_id
            kinds = (False,) if candidate.located else (False, True)
            probed: set[int] = set()
            for gram in prefix(candidate):
                for is_located in kinds:
                    if region is None:
                        lists: tuple[list[Candidate], ...] = (
                            any_region.get((is_located, gram), []),
                        )
                    else:
                        lists = (
                            index.get((is_located, region, gram), []),
                            index.get((is_located, None, gram), []),
                        )
                    for block in lists:
                        for other in block:
                            if other.pk in probed:
                                continue
                            probed.add(other.pk)
                            other_size = len(other.grams)
                            # Similarity >= t needs sizes within a factor t of each other.
                            if (
                                other_size < NAME_ONLY_MIN * size
                                or size < NAME_ONLY_MIN * other_size
                            ):
                                continue
                            compare(candidate, other)

    return [(first, second, score) for (first, second), score in pairs.items() if score]
