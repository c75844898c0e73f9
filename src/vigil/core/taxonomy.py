"""The configurable taxonomy: themes, groups in situations of vulnerability and types of place.

Each body gets the default terms when it is created and may add, rename or retire its own.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from vigil.core.audit import audit
from vigil.core.models import Body, Membership, TaxonomyKind, TaxonomyTerm
from vigil.core.permissions import CORE
from vigil.core.text import validate_visible_text

# (code, label, children) — labels are translation msgids, shown through gettext.
DEFAULT_THEMES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "treatment",
        gettext_noop("Treatment"),
        [
            ("torture-ill-treatment", gettext_noop("Torture and ill-treatment")),
            ("use-of-force", gettext_noop("Use of force and restraint")),
            ("solitary-confinement", gettext_noop("Solitary confinement")),
            ("discipline", gettext_noop("Discipline")),
        ],
    ),
    (
        "safeguards",
        gettext_noop("Protection safeguards"),
        [
            ("registers", gettext_noop("Registers")),
            ("information-on-rights", gettext_noop("Information on rights")),
            ("access-to-lawyer", gettext_noop("Access to a lawyer")),
            ("access-to-doctor", gettext_noop("Access to a doctor")),
            ("contact-with-family", gettext_noop("Notification of and contact with the family")),
            ("complaints", gettext_noop("Complaints")),
        ],
    ),
    (
        "material-conditions",
        gettext_noop("Material conditions"),
        [
            ("accommodation", gettext_noop("Accommodation")),
            ("overcrowding", gettext_noop("Overcrowding")),
            ("food", gettext_noop("Food")),
            ("water", gettext_noop("Water")),
            ("hygiene", gettext_noop("Hygiene")),
        ],
    ),
    (
        "regime",
        gettext_noop("Regime and activities"),
        [
            ("time-outdoors", gettext_noop("Time outdoors")),
            ("work", gettext_noop("Work")),
            ("education", gettext_noop("Education")),
            ("contact-outside-world", gettext_noop("Contact with the outside world")),
        ],
    ),
    ("health-care", gettext_noop("Health care"), []),
    (
        "personnel",
        gettext_noop("Personnel"),
        [
            ("staffing", gettext_noop("Staffing")),
            ("training", gettext_noop("Training")),
            ("recruitment", gettext_noop("Recruitment")),
        ],
    ),
]

DEFAULT_VULNERABLE_GROUPS: list[tuple[str, str]] = [
    ("women", gettext_noop("Women")),
    ("children", gettext_noop("Children")),
    ("older-persons", gettext_noop("Older persons")),
    ("persons-with-disabilities", gettext_noop("Persons with disabilities")),
    ("lgbti-persons", gettext_noop("LGBTI persons")),
    ("migrants-foreign-nationals", gettext_noop("Migrants and foreign nationals")),
    ("indigenous-persons", gettext_noop("Indigenous persons")),
    ("mental-health-conditions", gettext_noop("Persons with mental health conditions")),
]

DEFAULT_PLACE_TYPES: list[tuple[str, str]] = [
    ("prison", gettext_noop("Prison")),
    ("pre-trial-detention", gettext_noop("Pre-trial detention")),
    ("police-custody", gettext_noop("Police custody")),
    ("immigration-detention", gettext_noop("Immigration detention")),
    ("psychiatric-hospital", gettext_noop("Psychiatric hospital")),
    ("social-care-home", gettext_noop("Social care home")),
    ("juvenile-institution", gettext_noop("Juvenile institution")),
    ("military-detention", gettext_noop("Military detention")),
    ("transport", gettext_noop("Transport")),
    ("other", gettext_noop("Other")),
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
            add(
                TaxonomyKind.THEME,
                child_code,
                child_label,
                position * 100 + child_position + 1,
                parent,
            )
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


def _check_label(body: Body, kind: str, label: str, exclude_pk: int | None = None) -> str:
    label = label.strip()
    if not label:
        raise ValidationError({"label": [_("Give the term a label.")]})
    try:
        validate_visible_text(label)
    except ValidationError as error:
        raise ValidationError({"label": error.messages}) from error
    max_length = TaxonomyTerm._meta.get_field("label").max_length or 0
    if len(label) > max_length:
        raise ValidationError(
            {
                "label": [
                    _("A label has at most %(limit)d characters; this one has %(length)d.")
                    % {"limit": max_length, "length": len(label)}
                ]
            }
        )
    clash = TaxonomyTerm.objects.filter(body=body, kind=kind, label__iexact=label)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"label": [_("This list already has a term with this label.")]})
    return label


@transaction.atomic
def term_create(
    *, membership: Membership, kind: str, label: str, parent: TaxonomyTerm | None = None
) -> TaxonomyTerm:
    """Add a body's own term (a theme, a group, a type of place)."""
    CORE.require(membership, "manage_settings")
    body = membership.body
    if kind not in TaxonomyKind.values:
        raise ValidationError({"kind": [_("Choose a list.")]})
    label = _check_label(body, kind, label)
    if parent is not None and (parent.body_id != body.pk or parent.kind != kind):
        raise ValidationError({"parent": [_("Choose a term of the same list.")]})
    base = slugify(label)[:50] or "term"
    code = base
    suffix = 2
    while TaxonomyTerm.objects.filter(body=body, kind=kind, code=code).exists():
        code = f"{base}-{suffix}"
        suffix += 1
    last = TaxonomyTerm.objects.filter(body=body, kind=kind).order_by("-position").first()
    term = TaxonomyTerm.objects.create(
        body=body,
        kind=kind,
        code=code,
        label=label,
        parent=parent,
        position=(last.position + 1) if last else 0,
    )
    audit(
        actor=membership.user,
        action="core.term.create",
        obj=term,
        changes={"label": [None, label], "kind": [None, kind]},
    )
    return term


@transaction.atomic
def term_update(
    *,
    membership: Membership,
    term: TaxonomyTerm,
    label: str | None = None,
    is_active: bool | None = None,
) -> TaxonomyTerm:
    """Rename or retire a term. Retired terms stay on the records that use them, so nothing
    recorded is rewritten; they are no longer offered for new records."""
    CORE.require(membership, "manage_settings")
    if term.body_id != membership.body_id:
        raise PermissionDenied(_("This term belongs to another body."))
    changes: dict[str, list[Any]] = {}
    if label is not None and label.strip() != term.label:
        new_label = _check_label(term.body, term.kind, label, exclude_pk=term.pk)
        changes["label"] = [term.label, new_label]
        term.label = new_label
    if is_active is not None and is_active != term.is_active:
        changes["is_active"] = [term.is_active, is_active]
        term.is_active = is_active
    if changes:
        term.save(update_fields=["label", "is_active"])
        audit(actor=membership.user, action="core.term.update", obj=term, changes=changes)
    return term
