"""The configurable taxonomy: themes, groups in situations of vulnerability and types of place.

Each body gets the default terms when it is created and may add, rename or retire its own.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext_noop as N_

from vigil.core.models import Body, TaxonomyKind, TaxonomyTerm

# (code, label, children) — labels are translation msgids, shown through gettext.
DEFAULT_THEMES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "treatment",
        N_("Treatment"),
        [
            ("torture-ill-treatment", N_("Torture and ill-treatment")),
            ("use-of-force", N_("Use of force and restraint")),
            ("solitary-confinement", N_("Solitary confinement")),
            ("discipline", N_("Discipline")),
        ],
    ),
    (
        "safeguards",
        N_("Protection safeguards"),
        [
            ("registers", N_("Registers")),
            ("information-on-rights", N_("Information on rights")),
            ("access-to-lawyer", N_("Access to a lawyer")),
            ("access-to-doctor", N_("Access to a doctor")),
            ("contact-with-family", N_("Notification of and contact with the family")),
            ("complaints", N_("Complaints")),
        ],
    ),
    (
        "material-conditions",
        N_("Material conditions"),
        [
            ("accommodation", N_("Accommodation")),
            ("overcrowding", N_("Overcrowding")),
            ("food", N_("Food")),
            ("water", N_("Water")),
            ("hygiene", N_("Hygiene")),
        ],
    ),
    (
        "regime",
        N_("Regime and activities"),
        [
            ("time-outdoors", N_("Time outdoors")),
            ("work", N_("Work")),
            ("education", N_("Education")),
            ("contact-outside-world", N_("Contact with the outside world")),
        ],
    ),
    ("health-care", N_("Health care"), []),
    (
        "personnel",
        N_("Personnel"),
        [
            ("staffing", N_("Staffing")),
            ("training", N_("Training")),
            ("recruitment", N_("Recruitment")),
        ],
    ),
]

DEFAULT_VULNERABLE_GROUPS: list[tuple[str, str]] = [
    ("women", N_("Women")),
    ("children", N_("Children")),
    ("older-persons", N_("Older persons")),
    ("persons-with-disabilities", N_("Persons with disabilities")),
    ("lgbti-persons", N_("LGBTI persons")),
    ("migrants-foreign-nationals", N_("Migrants and foreign nationals")),
    ("indigenous-persons", N_("Indigenous persons")),
    ("mental-health-conditions", N_("Persons with mental health conditions")),
]

DEFAULT_PLACE_TYPES: list[tuple[str, str]] = [
    ("prison", N_("Prison")),
    ("pre-trial-detention", N_("Pre-trial detention")),
    ("police-custody", N_("Police custody")),
    ("immigration-detention", N_("Immigration detention")),
    ("psychiatric-hospital", N_("Psychiatric hospital")),
    ("social-care-home", N_("Social care home")),
    ("juvenile-institution", N_("Juvenile institution")),
    ("military-detention", N_("Military detention")),
    ("transport", N_("Transport")),
    ("other", N_("Other")),
]


@transaction.atomic
def seed_taxonomy(body: Body) -> int:
    """Create the default terms a body lacks; returns how many were created. Idempotent."""
    existing = set(TaxonomyTerm.objects.filter(body=body).values_list("kind", "code"))
    created = 0

    def add(kind: str, code: str, label: str, position: int, parent: TaxonomyTerm | None = None):
        nonlocal created
        if (kind, code) in existing:
            return TaxonomyTerm.objects.get(body=body, kind=kind, code=code)
        created += 1
        return TaxonomyTerm.objects.create(
            body=body, kind=kind, code=code, label=label, position=position, parent=parent
        )

    for position, (code, label, children) in enumerate(DEFAULT_THEMES):
        parent = add(TaxonomyKind.THEME, code, label, position * 100)
        for child_position, (child_code, child_label) in enumerate(children):
            add(TaxonomyKind.THEME, child_code, child_label, position * 100 + child_position + 1, parent)
    for position, (code, label) in enumerate(DEFAULT_VULNERABLE_GROUPS):
        add(TaxonomyKind.VULNERABLE_GROUP, code, label, position)
    for position, (code, label) in enumerate(DEFAULT_PLACE_TYPES):
        add(TaxonomyKind.PLACE_TYPE, code, label, position)
    return created


def terms(body: Body, kind: str) -> models.QuerySet[TaxonomyTerm]:
    """The active terms of one kind for a body, in display order."""
    return TaxonomyTerm.objects.filter(body=body, kind=kind, is_active=True).order_by(
        "position", "label"
    )
