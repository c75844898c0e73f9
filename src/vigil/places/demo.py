"""Synthetic places and regions for `vigil demo` (small to try Vigil, national to benchmark)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from vigil.core import bulk
from vigil.core.audit import build_entry
from vigil.core.demo import DemoContext, register_demo
from vigil.core.models import AuditEntry, Body, TaxonomyTerm
from vigil.core.personas import MEMBER, NATIONAL, OTHER
from vigil.places.duplicates import match_text
from vigil.places.models import OperatorKind, Place, PlaceIdentifier, PlaceStatus, Region
from vigil.places.queries import normalise_text

SYLLABLES = [
    "ka",
    "lo",
    "mir",
    "va",
    "den",
    "sa",
    "tor",
    "eli",
    "bru",
    "nor",
    "an",
    "ves",
    "qui",
    "ro",
    "lan",
    "pe",
    "dal",
    "ti",
    "mon",
    "ga",
    "sel",
    "ur",
    "fen",
    "bo",
]
STREETS = [
    "Harbour Road",
    "Station Street",
    "Main Avenue",
    "Hill Lane",
    "River Road",
    "Market Square",
    "Garden Way",
    "Industrial Zone",
    "Airport Road",
    "Mill Street",
]
TYPE_WEIGHTS = [
    ("police-custody", 40),
    ("prison", 12),
    ("pre-trial-detention", 8),
    ("immigration-detention", 3),
    ("psychiatric-hospital", 6),
    ("social-care-home", 18),
    ("juvenile-institution", 4),
    ("military-detention", 2),
    ("transport", 2),
    ("other", 5),
]
TYPE_NAMES = {
    "police-custody": "{town} Police Station",
    "prison": "{town} Prison",
    "pre-trial-detention": "{town} Remand Centre",
    "immigration-detention": "{town} Immigration Holding Facility",
    "psychiatric-hospital": "{town} Psychiatric Hospital",
    "social-care-home": "{town} Care Home",
    "juvenile-institution": "{town} Youth Education Centre",
    "military-detention": "{town} Military Guardhouse",
    "transport": "{town} Prisoner Transport Unit",
    "other": "{town} Transit Holding Room",
}
AUTHORITIES = {
    "police-custody": "Ministry of the Interior",
    "prison": "Ministry of Justice — Prison Service",
    "pre-trial-detention": "Ministry of Justice — Prison Service",
    "immigration-detention": "Border and Migration Agency",
    "psychiatric-hospital": "Ministry of Health",
    "social-care-home": "Ministry of Social Affairs",
    "juvenile-institution": "Ministry of Justice — Youth Service",
    "military-detention": "Ministry of Defence",
    "transport": "Ministry of the Interior",
    "other": "Ministry of the Interior",
}
SCALE = {
    # regions, districts per region, municipalities per district, places for the main body
    "small": (3, 3, 2, 60),
    "national": (12, 8, 6, 5000),
}


def _word(ctx: DemoContext, parts: int) -> str:
    return "".join(ctx.rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _regions(ctx: DemoContext, body: Body, counts: tuple[int, int, int]) -> list[Region]:
    leaves: list[Region] = []
    regions_n, districts_n, municipalities_n = counts

    def make(name: str, code: str, parent: Region | None, level: int) -> Region:
        region = Region.objects.create(body=body, name=name, code=code, parent=parent, level=level)
        region.path = (f"{parent.path}/" if parent else "") + f"{region.pk:08d}"
        region.save(update_fields=["path"])
        return region

    for r in range(regions_n):
        region = make(f"{_word(ctx, 2)} Region", f"R{r + 1:02d}", None, 1)
        for d in range(districts_n):
            district = make(f"{_word(ctx, 2)} District", f"{region.code}-D{d + 1:02d}", region, 2)
            for m in range(municipalities_n):
                leaves.append(make(_word(ctx, 3), f"{district.code}-M{m + 1:02d}", district, 3))
    return leaves


def _places(
    ctx: DemoContext, body: Body, leaves: list[Region], count: int, prefix: str
) -> list[Place]:
    types = {term.code: term for term in TaxonomyTerm.objects.filter(body=body, kind="place_type")}
    codes = [code for code, _ in TYPE_WEIGHTS]
    weights = [weight for _, weight in TYPE_WEIGHTS]
    today = timezone.localdate()
    places = []
    seen: set[str] = set()
    for index in range(count):
        code = ctx.rng.choices(codes, weights)[0]
        leaf = ctx.rng.choice(leaves)
        name = TYPE_NAMES[code].format(town=leaf.name)
        if name in seen:
            name = f"{name} No. {index + 1}"
        seen.add(name)
        capacity = (
            None if code == "transport" else ctx.rng.choice([6, 12, 20, 40, 80, 150, 400, 900])
        )
        population = None
        population_date = None
        if capacity:
            population = max(0, int(capacity * ctx.rng.uniform(0.4, 1.45)))
            population_date = today - datetime.timedelta(days=ctx.rng.randint(1, 300))
        status = ctx.rng.choices(
            [PlaceStatus.OPEN, PlaceStatus.TEMPORARY, PlaceStatus.CLOSED], [90, 4, 6]
        )[0]
        opened = datetime.date(ctx.rng.randint(1950, 2022), ctx.rng.randint(1, 12), 1)
        place = Place(
            body=body,
            # Unique across the bodies too: a coordinating body's export lists its members'.
            external_id=f"{prefix}-{index + 1:05d}",
            name=name,
            place_type=types[code],
            authority_name=AUTHORITIES[code],
            region=leaf,
            address=f"{ctx.rng.randint(1, 220)} {ctx.rng.choice(STREETS)}, {leaf.name}",
            locality=leaf.name,
            postal_code=f"{ctx.rng.randint(10000, 99999)}",
            operator_kind=OperatorKind.PRIVATE
            if code == "social-care-home" and index % 3 == 0
            else OperatorKind.PUBLIC,
            operator_name="Carewell Services Ltd"
            if code == "social-care-home" and index % 3 == 0
            else "",
            source="Ministry register (demo)",
            latitude=Decimal(f"{ctx.rng.uniform(10.0, 14.0):.6f}"),
            longitude=Decimal(f"{ctx.rng.uniform(20.0, 26.0):.6f}"),
            official_capacity=capacity,
            population=population if status != PlaceStatus.CLOSED else None,
            population_date=population_date if status != PlaceStatus.CLOSED else None,
            status=status,
            opened_on=opened,
            closed_on=(today - datetime.timedelta(days=ctx.rng.randint(30, 900)))
            if status == PlaceStatus.CLOSED
            else None,
            aliases=f"{leaf.name} lock-up" if code == "police-custody" and index % 5 == 0 else "",
            notes="",
        )
        place.search_text = normalise_text(
            " ".join([place.name, place.aliases, place.address, place.external_id])
        )
        place.match_name = match_text(place.name)
        places.append(place)
    bulk.bulk_insert(Place, places)
    # Half the places also carry the statistics office's code: one scheme, unique per body.
    bulk.bulk_insert(
        PlaceIdentifier,
        [
            (body.pk, place.pk, "statistics office code", f"{prefix}-S{index + 1:05d}")
            for index, place in enumerate(places)
            if index % 2 == 0
        ],
        fields=["body", "place", "scheme", "value"],
    )
    return places


def _groups(body: Body, places: list[Place], ctx: DemoContext) -> None:
    groups = {t.code: t for t in TaxonomyTerm.objects.filter(body=body, kind="vulnerable_group")}
    through = Place.population_groups.through
    links: list[tuple[int, int]] = []
    for place in places:
        chosen = {"migrants-foreign-nationals"} if ctx.rng.random() < 0.3 else set()
        if place.place_type.code == "juvenile-institution":
            chosen.add("children")
        if place.place_type.code in {"prison", "pre-trial-detention"} and ctx.rng.random() < 0.4:
            chosen.add("women")
        if place.place_type.code in {"psychiatric-hospital", "social-care-home"}:
            chosen.update({"mental-health-conditions", "older-persons"})
        links.extend((place.pk, groups[code].pk) for code in sorted(chosen))
    bulk.bulk_insert(through, links, fields=["place", "taxonomyterm"])


@register_demo(order=10)
def places_demo(ctx: DemoContext) -> None:
    regions_n, districts_n, municipalities_n, count = SCALE[ctx.scale]
    for key, share in ((NATIONAL, 1.0), (MEMBER, 0.1), (OTHER, 0.05)):
        body = ctx.bodies[key]
        if Place.objects.filter(body=body).exists():
            continue
        leaves = _regions(
            ctx,
            body,
            (
                max(1, int(regions_n * share)) if share < 1 else regions_n,
                districts_n,
                municipalities_n,
            ),
        )
        places = _places(ctx, body, leaves, max(10, int(count * share)), key.upper())
        _groups(body, places, ctx)
        bulk.bulk_insert(
            AuditEntry,
            [
                build_entry(
                    actor="vigil demo",
                    action="places.place.create",
                    obj=place,
                    changes={"name": [None, place.name]},
                )
                for place in places
            ],
        )
        ctx.log(f"  {body}: {len(leaves)} municipalities, {len(places)} places")
    # A near-duplicate pair, as an import from a second source would bring.
    body = ctx.bodies[NATIONAL]
    original = Place.objects.filter(body=body, place_type__code="prison").order_by("pk").first()
    if (
        original
        and not Place.objects.filter(body=body, name=f"{original.name} (old register)").exists()
    ):
        from vigil.places.services import flag_possible_duplicates

        twin = Place.objects.create(
            body=body,
            name=f"{original.name}s",
            place_type=original.place_type,
            region=original.region,
            address=original.address,
            authority_name=original.authority_name,
            search_text=normalise_text(f"{original.name}s {original.address}"),
            match_name=match_text(f"{original.name}s"),
            source="Second register (demo)",
        )
        flag_possible_duplicates([twin])
