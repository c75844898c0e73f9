"""The reference library of international standards that questions and findings cite.

Each body gets the common standards below the first time its library is used, and keeps its own
copy (it may retire one, or add national rules later). Titles are short paraphrases, not the
texts themselves; they are translation msgids, shown through gettext.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext_noop

from vigil.core.models import Body
from vigil.visits.models import Instrument, Standard

# (code, instrument, rule or article, short title)
DEFAULT_STANDARDS: list[tuple[str, str, str, str]] = [
    # United Nations Standard Minimum Rules for the Treatment of Prisoners (2015).
    (
        "mandela-1",
        Instrument.MANDELA,
        "1",
        gettext_noop("Respect for dignity; no torture or ill-treatment, whatever the reason"),
    ),
    (
        "mandela-7",
        Instrument.MANDELA,
        "7",
        gettext_noop("Admission only with a valid commitment order; the prisoner file system"),
    ),
    (
        "mandela-11",
        Instrument.MANDELA,
        "11",
        gettext_noop("Separation of categories: women, untried, civil and young prisoners"),
    ),
    (
        "mandela-13",
        Instrument.MANDELA,
        "13",
        gettext_noop("Accommodation: floor space, air, light, heating and ventilation"),
    ),
    (
        "mandela-15",
        Instrument.MANDELA,
        "15",
        gettext_noop("Sanitary installations, clean and decent"),
    ),
    (
        "mandela-22",
        Instrument.MANDELA,
        "22",
        gettext_noop("Food of nutritional value and drinking water whenever needed"),
    ),
    (
        "mandela-23",
        Instrument.MANDELA,
        "23",
        gettext_noop("At least one hour of suitable exercise in the open air daily"),
    ),
    (
        "mandela-24",
        Instrument.MANDELA,
        "24",
        gettext_noop("Health care is the State's responsibility, equivalent to the community's"),
    ),
    (
        "mandela-30",
        Instrument.MANDELA,
        "30",
        gettext_noop("Medical examination on admission, noting any sign of ill-treatment"),
    ),
    (
        "mandela-34",
        Instrument.MANDELA,
        "34",
        gettext_noop("Health staff document and report signs of torture or ill-treatment"),
    ),
    (
        "mandela-39",
        Instrument.MANDELA,
        "39",
        gettext_noop("Sanctions only as the law provides, after a fair hearing"),
    ),
    (
        "mandela-43",
        Instrument.MANDELA,
        "43",
        gettext_noop(
            "Prohibited disciplinary sanctions: indefinite or prolonged solitary confinement, "
            "dark or constantly lit cells, corporal punishment, reduced food or water, "
            "collective punishment"
        ),
    ),
    (
        "mandela-44",
        Instrument.MANDELA,
        "44",
        gettext_noop(
            "Definition of solitary confinement: 22 hours or more a day without meaningful "
            "human contact; prolonged beyond 15 consecutive days"
        ),
    ),
    (
        "mandela-45",
        Instrument.MANDELA,
        "45",
        gettext_noop(
            "Solitary confinement only in exceptional cases, as a last resort, for as short a "
            "time as possible; never for persons whose disabilities it would worsen"
        ),
    ),
    (
        "mandela-47",
        Instrument.MANDELA,
        "47",
        gettext_noop("Chains, irons and degrading restraints prohibited; others only by law"),
    ),
    (
        "mandela-54",
        Instrument.MANDELA,
        "54",
        gettext_noop("Written information on admission: rules, rights and complaints"),
    ),
    (
        "mandela-56",
        Instrument.MANDELA,
        "56",
        gettext_noop("Requests and complaints, also to inspectors in confidence"),
    ),
    (
        "mandela-57",
        Instrument.MANDELA,
        "57",
        gettext_noop("Complaints dealt with promptly; no retaliation against complainants"),
    ),
    (
        "mandela-58",
        Instrument.MANDELA,
        "58",
        gettext_noop("Contact with family and friends: visits and correspondence"),
    ),
    (
        "mandela-61",
        Instrument.MANDELA,
        "61",
        gettext_noop("Confidential consultation with a legal adviser"),
    ),
    (
        "mandela-71",
        Instrument.MANDELA,
        "71",
        gettext_noop("Deaths, disappearances and serious injuries reported and investigated"),
    ),
    (
        "mandela-82",
        Instrument.MANDELA,
        "82",
        gettext_noop("Force by staff only when strictly necessary, and reported"),
    ),
    (
        "mandela-84",
        Instrument.MANDELA,
        "84",
        gettext_noop("Inspectors' access to all information, all places and private interviews"),
    ),
    # United Nations Rules for the Treatment of Women Prisoners (2010).
    (
        "bangkok-5",
        Instrument.BANGKOK,
        "5",
        gettext_noop("Hygiene needs of women: sanitary towels and water at no cost"),
    ),
    (
        "bangkok-6",
        Instrument.BANGKOK,
        "6",
        gettext_noop("Comprehensive health screening of women on admission"),
    ),
    (
        "bangkok-7",
        Instrument.BANGKOK,
        "7",
        gettext_noop("Sexual abuse or violence found on screening: rights and recourse"),
    ),
    (
        "bangkok-8",
        Instrument.BANGKOK,
        "8",
        gettext_noop("Medical confidentiality, including reproductive health history"),
    ),
    (
        "bangkok-10",
        Instrument.BANGKOK,
        "10",
        gettext_noop("Gender-specific health care; a woman doctor on request"),
    ),
    (
        "bangkok-11",
        Instrument.BANGKOK,
        "11",
        gettext_noop("Only medical staff present at examinations"),
    ),
    (
        "bangkok-12",
        Instrument.BANGKOK,
        "12",
        gettext_noop("Individual, gender-sensitive mental health care"),
    ),
    (
        "bangkok-16",
        Instrument.BANGKOK,
        "16",
        gettext_noop("Prevention of suicide and self-harm among women"),
    ),
    (
        "bangkok-18",
        Instrument.BANGKOK,
        "18",
        gettext_noop("Preventive health care for women, as in the community"),
    ),
    (
        "bangkok-20",
        Instrument.BANGKOK,
        "20",
        gettext_noop("Alternative screening to replace strip and invasive body searches"),
    ),
    (
        "bangkok-22",
        Instrument.BANGKOK,
        "22",
        gettext_noop("No solitary confinement for pregnant women and mothers with infants"),
    ),
    (
        "bangkok-24",
        Instrument.BANGKOK,
        "24",
        gettext_noop("No restraints during labour, birth and immediately after"),
    ),
    # United Nations Standard Minimum Rules for the Administration of Juvenile Justice (1985).
    (
        "beijing-10",
        Instrument.BEIJING,
        "10",
        gettext_noop("On apprehension of a juvenile, the parents are told at once"),
    ),
    (
        "beijing-13",
        Instrument.BEIJING,
        "13",
        gettext_noop(
            "Detention pending trial only as a last resort and for the shortest time; "
            "juveniles kept apart from adults"
        ),
    ),
    (
        "beijing-19",
        Instrument.BEIJING,
        "19",
        gettext_noop("Institutional placement as a last resort, for the minimum period"),
    ),
    # United Nations Rules for the Protection of Juveniles Deprived of their Liberty (1990).
    (
        "havana-17",
        Instrument.HAVANA,
        "17",
        gettext_noop("Juveniles awaiting trial are presumed innocent; detention avoided"),
    ),
    (
        "havana-29",
        Instrument.HAVANA,
        "29",
        gettext_noop("Juveniles detained apart from adults"),
    ),
    (
        "havana-47",
        Instrument.HAVANA,
        "47",
        gettext_noop("Daily free exercise, in the open air when the weather allows"),
    ),
    (
        "havana-60",
        Instrument.HAVANA,
        "60",
        gettext_noop("Regular and frequent visits from family"),
    ),
    (
        "havana-64",
        Instrument.HAVANA,
        "64",
        gettext_noop("Restraint and force only in exceptional cases, as the law provides"),
    ),
    (
        "havana-67",
        Instrument.HAVANA,
        "67",
        gettext_noop(
            "Prohibited disciplinary measures: corporal punishment, dark cells, closed or "
            "solitary confinement, reduced diet, denial of family contact"
        ),
    ),
    (
        "havana-75",
        Instrument.HAVANA,
        "75",
        gettext_noop("Every juvenile may make requests and complaints"),
    ),
    # Body of Principles for the Protection of All Persons under Any Form of Detention (1988).
    (
        "principles-6",
        Instrument.BODY_OF_PRINCIPLES,
        "6",
        gettext_noop("No torture or cruel, inhuman or degrading treatment of detainees"),
    ),
    (
        "principles-12",
        Instrument.BODY_OF_PRINCIPLES,
        "12",
        gettext_noop("Arrest recorded: reasons, time, place and the officers involved"),
    ),
    (
        "principles-13",
        Instrument.BODY_OF_PRINCIPLES,
        "13",
        gettext_noop("Information on one's rights at arrest and detention"),
    ),
    (
        "principles-16",
        Instrument.BODY_OF_PRINCIPLES,
        "16",
        gettext_noop("Family notified promptly of the arrest and of any transfer"),
    ),
    (
        "principles-17",
        Instrument.BODY_OF_PRINCIPLES,
        "17",
        gettext_noop("Right to the assistance of a lawyer"),
    ),
    (
        "principles-24",
        Instrument.BODY_OF_PRINCIPLES,
        "24",
        gettext_noop("Medical examination promptly after admission, free of charge"),
    ),
    (
        "principles-29",
        Instrument.BODY_OF_PRINCIPLES,
        "29",
        gettext_noop("Visits by an independent authority; confidential talks with detainees"),
    ),
    (
        "principles-33",
        Instrument.BODY_OF_PRINCIPLES,
        "33",
        gettext_noop("Right to complain about treatment, in particular torture"),
    ),
    # Convention against Torture (1984).
    (
        "cat-2",
        Instrument.CAT,
        "2",
        gettext_noop("Effective measures to prevent torture; no exceptional circumstances"),
    ),
    (
        "cat-11",
        Instrument.CAT,
        "11",
        gettext_noop("Systematic review of interrogation rules and custody arrangements"),
    ),
    (
        "cat-12",
        Instrument.CAT,
        "12",
        gettext_noop("Prompt and impartial investigation of torture"),
    ),
    (
        "cat-13",
        Instrument.CAT,
        "13",
        gettext_noop("Right to complain, and protection of complainants and witnesses"),
    ),
    (
        "cat-16",
        Instrument.CAT,
        "16",
        gettext_noop("Prevention of other cruel, inhuman or degrading treatment"),
    ),
    # Optional Protocol to the Convention against Torture (2002).
    (
        "opcat-20",
        Instrument.OPCAT,
        "20",
        gettext_noop("Preventive mechanisms' access to places, information and private interviews"),
    ),
    (
        "opcat-21",
        Instrument.OPCAT,
        "21",
        gettext_noop("No sanction for communicating with the preventive mechanism"),
    ),
    # Convention on the Rights of Persons with Disabilities (2006).
    (
        "crpd-14",
        Instrument.CRPD,
        "14",
        gettext_noop("Liberty and security: a disability never justifies deprivation of liberty"),
    ),
    (
        "crpd-15",
        Instrument.CRPD,
        "15",
        gettext_noop("Freedom from torture; no experimentation without free consent"),
    ),
    (
        "crpd-16",
        Instrument.CRPD,
        "16",
        gettext_noop("Freedom from exploitation, violence and abuse; independent monitoring"),
    ),
]


@transaction.atomic
def seed_standards(body: Body) -> int:
    """Create the default standards a body lacks; returns how many were created. Idempotent."""
    existing = set(Standard.objects.filter(body=body).values_list("code", flat=True))
    missing = [
        Standard(
            body=body,
            code=code,
            instrument=str(instrument),
            rule=rule,
            title=title,
            position=position,
        )
        for position, (code, instrument, rule, title) in enumerate(DEFAULT_STANDARDS)
        if code not in existing
    ]
    Standard.objects.bulk_create(missing)
    return len(missing)


def library(body: Body) -> models.QuerySet[Standard]:
    """The body's active standards, seeded with the common ones the first time it is used."""
    if not Standard.objects.filter(body=body).exists():
        seed_standards(body)
    return Standard.objects.filter(body=body, is_active=True)
