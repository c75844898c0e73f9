"""The preparation pack: the place's facts, what the last visits found, the registers checked
last time, and sections other apps plug in without visits importing them."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.visits.conftest import staff, start, theme
from vigil.core.models import Role
from vigil.visits import preparation, services
from vigil.visits.models import SourceKind

pytestmark = pytest.mark.django_db


def past_visit(leader, place, days_ago: int, finding: str, *, announced: bool = True):
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    visit = services.visit_create(
        membership=leader,
        data={"place": place, "planned_start": day, "planned_end": day, "is_announced": announced},
    )
    staff(visit, leader)
    if announced:
        visit = start(visit, leader)
    else:
        # A visit still secret holds no finding (findings need a started visit): none to hide.
        return visit
    services.observation_create(
        membership=leader,
        visit=visit,
        data={
            "theme": theme(visit.body),
            "unit": "Unit A",
            "description": finding,
            "other_sources": [SourceKind.DIRECT_OBSERVATION, SourceKind.DOCUMENTS],
        },
    )
    return visit


def test_the_pack_shows_the_place_the_last_three_visits_and_the_last_registers(
    client_for, leader, place, persona, visit
):
    place.authority_name = "Prison Service"
    place.official_capacity = 320
    place.save()
    oldest = past_visit(leader, place, 400, "Finding of the oldest visit.")
    past_visit(leader, place, 300, "Finding of the third visit back.")
    with_registers = past_visit(leader, place, 200, "Finding of the second visit back.")
    services.register_check_create(
        membership=leader,
        visit=with_registers,
        data={"register_kind": "restraint", "sample_size": 18},
        discrepancies=["Restraint over 4 hours without a doctor"],
    )
    past_visit(leader, place, 100, "Finding of the last visit.")
    monitor = persona(Role.MONITOR)
    staff(visit, leader, monitor)
    response = client_for(monitor).get(reverse("visits:preparation", args=[visit.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("places:detail", args=[place.pk]) in html
    assert "Prison Service" in html and "320" in html
    for text in (
        "Finding of the last visit.",
        "Finding of the second visit back.",
        "Finding of the third visit back.",
    ):
        assert text in html
    assert "Finding of the oldest visit." not in html
    assert reverse("visits:detail", args=[oldest.pk]) not in html
    # The registers of the last visit that checked any, with what did not add up.
    assert "Restraint over 4 hours without a doctor" in html
    assert reverse("visits:detail", args=[with_registers.pk]) + "#registers" in html
    # And a link from the visit's page.
    page = client_for(monitor).get(reverse("visits:detail", args=[visit.pk])).content.decode()
    assert reverse("visits:preparation", args=[visit.pk]) in page


def test_the_pack_holds_only_what_the_member_may_see(client_for, leader, place, persona):
    past_visit(leader, place, 100, "Finding the analyst may read.")
    secret = past_visit(leader, place, 50, "", announced=False)
    current = past_visit(leader, place, 0, "Today's finding.")
    analyst = persona(Role.ANALYST)
    sections = {
        section.key: context
        for section, context in preparation.build_preparation(None, analyst, current)
    }
    shown = [earlier for earlier, _findings in sections["findings"]["visits"]]
    assert secret not in shown and len(shown) == 1
    assert sections["place"]["visits_count"] == 2
    assert sections["findings"]["visits"][0][1][0].description == "Finding the analyst may read."
    # The secret visit is in the leader's pack.
    leader_sections = {
        section.key: context
        for section, context in preparation.build_preparation(None, leader, current)
    }
    assert secret in [earlier for earlier, _f in leader_sections["findings"]["visits"]]


def test_another_app_plugs_a_section_in(client_for, leader, visit):
    """Recommendations and protection add their sections through the registry: visits imports
    neither. A section that returns None hides itself."""
    seen = []

    def open_recommendations(request, membership, for_visit):
        seen.append(for_visit.pk)
        return {"count": 7}

    preparation.register_preparation_section(
        "testapp-recommendations",
        "Open recommendations",
        "testapp/_preparation_section.html",
        40,
        open_recommendations,
    )
    preparation.register_preparation_section(
        "testapp-hidden", "Nothing here", "visits/_missing.html", 50, lambda *args: None
    )
    try:
        response = client_for(leader).get(reverse("visits:preparation", args=[visit.pk]))
        html = response.content.decode()
        assert "Open recommendations" in html and "7 open" in html
        assert "Nothing here" not in html
        assert seen == [visit.pk]
        keys = [section.key for section in preparation.preparation_sections()]
        assert keys.index("registers") < keys.index("testapp-recommendations")
    finally:
        preparation._SECTIONS.pop("testapp-recommendations")
        preparation._SECTIONS.pop("testapp-hidden")


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.HEAD, 200), (Role.ANALYST, 200), (Role.AUTHORITY_FOCAL_POINT, 404)],
)
def test_the_pack_by_role(client_for, persona, visit, leader, role, status):
    start(visit, leader)
    response = client_for(persona(role)).get(reverse("visits:preparation", args=[visit.pk]))
    assert response.status_code == status


def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_pack_prints_as_a_pdf_with_what_the_member_may_see(
    client_for, leader, place, persona, visit, tmp_path
):
    from vigil.core.models import AuditEntry

    place.authority_name = "Prison Service"
    place.save()
    past_visit(leader, place, 200, "Cells without daylight in Unit A.")
    monitor = persona(Role.MONITOR)
    staff(visit, leader, monitor)
    response = client_for(monitor).get(reverse("visits:preparation_pdf", args=[visit.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    (tmp_path / "pack.pdf").write_bytes(response.content)
    text = _pdf_text(response.content)
    for expected in (
        "Preparation pack",
        place.name,
        "Prison Service",
        "Cells without daylight in Unit A.",
        "Findings of the last visits",
        "Registers checked last time",
    ):
        assert expected in text, expected
    entry = AuditEntry.objects.filter(action="visits.visit.print_preparation").latest("id")
    assert entry.object_id == str(visit.pk)
    # The page links to it.
    page = client_for(monitor).get(reverse("visits:preparation", args=[visit.pk])).content.decode()
    assert reverse("visits:preparation_pdf", args=[visit.pk]) in page


def test_the_pack_of_a_secret_visit_is_not_printed_off_the_team(client_for, persona, visit):
    response = client_for(persona(Role.MONITOR)).get(
        reverse("visits:preparation_pdf", args=[visit.pk])
    )
    assert response.status_code == 404
    response = client_for(persona(Role.AUTHORITY_FOCAL_POINT)).get(
        reverse("visits:preparation_pdf", args=[visit.pk])
    )
    assert response.status_code in (403, 404)
