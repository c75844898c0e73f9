"""The configurable taxonomy: seeded per body, extended, renamed and retired by its managers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from vigil.core import taxonomy
from vigil.core.models import AuditEntry, Role, TaxonomyKind, TaxonomyTerm


def test_each_body_is_seeded_with_the_design_taxonomy(body):
    themes = TaxonomyTerm.objects.filter(body=body, kind=TaxonomyKind.THEME)
    assert themes.filter(parent__isnull=True).count() == 6
    assert themes.get(code="solitary-confinement").parent.code == "treatment"
    groups = set(
        TaxonomyTerm.objects.filter(body=body, kind="vulnerable_group").values_list(
            "code", flat=True
        )
    )
    assert {"women", "children", "lgbti-persons", "indigenous-persons"} <= groups
    assert TaxonomyTerm.objects.filter(body=body, kind="place_type").count() == 10
    assert taxonomy.seed_taxonomy(body) == 0  # idempotent


def test_term_create_update_and_retire_are_audited(body, head_membership):
    term = taxonomy.term_create(
        membership=head_membership, kind=TaxonomyKind.PLACE_TYPE, label="Airport transit zone"
    )
    assert term.code == "airport-transit-zone"
    taxonomy.term_update(
        membership=head_membership, term=term, label="Airport transit area", is_active=False
    )
    term.refresh_from_db()
    assert term.label == "Airport transit area" and not term.is_active
    actions = list(
        AuditEntry.objects.filter(object_id=str(term.pk), object_type="core.taxonomyterm")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["core.term.create", "core.term.update"]
    with pytest.raises(ValidationError):
        taxonomy.term_create(membership=head_membership, kind="place_type", label="prison")


def test_page_lets_managers_edit_and_others_read(body, persona, client_for):
    url = reverse("taxonomy")
    admin = client_for(persona(Role.ADMIN).user)
    response = admin.post(url, {"kind": "theme", "label": "Deaths in custody"})
    assert response.status_code == 302
    assert TaxonomyTerm.objects.filter(body=body, label="Deaths in custody").exists()
    monitor = client_for(persona(Role.MONITOR).user)
    assert b"Deaths in custody" in monitor.get(url).content
    assert monitor.post(url, {"kind": "theme", "label": "X"}).status_code == 403
    focal = client_for(persona(Role.AUTHORITY_FOCAL_POINT).user)
    assert focal.get(url).status_code == 404


def test_term_of_another_body_is_404(body, other_body, outsider, client_for):
    term = TaxonomyTerm.objects.filter(body=body).first()
    response = client_for(outsider).post(reverse("taxonomy_term", args=[term.pk]), {"label": "x"})
    assert response.status_code == 404


def test_api_lists_the_bodys_terms_translated(body, head):
    client = APIClient()
    client.force_authenticate(head)
    with translation.override("fr"):
        data = client.get("/api/v1/taxonomy/", {"kind": "place_type"}, HTTP_ACCEPT_LANGUAGE="fr")
    codes = {term["code"] for term in data.json()}
    assert "prison" in codes and len(codes) == 10
