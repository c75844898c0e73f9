"""The demo's recommendations, and the migration that turns the place registry's free-text
authorities into links."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps as django_apps

from tests.factories import PlaceFactory
from vigil.core.access import visible
from vigil.core.models import Membership, Role
from vigil.recommendations.models import Authority, Recommendation

pytestmark = pytest.mark.django_db


def test_the_demo_has_recommendations_the_focal_point_can_answer():
    from vigil.core.demo import build

    build("small", log=lambda line: None)
    assert Recommendation.objects.count() > 5
    assert Recommendation.objects.exclude(position="no_response").exists()
    assert Recommendation.objects.filter(assessment="implemented").exists()
    focal = Membership.objects.get(user__username="focal", role=Role.AUTHORITY_FOCAL_POINT)
    seen = visible(focal, Recommendation).count()
    assert 0 < seen <= Recommendation.objects.count()


def test_places_free_text_authorities_become_links(body, other_body):
    first = PlaceFactory(body=body, authority_name="Ministry of Justice")
    second = PlaceFactory(body=body, authority_name="  ministry of   Justice ")
    elsewhere = PlaceFactory(body=other_body, authority_name="Ministry of Justice")
    PlaceFactory(body=body, authority_name="")
    migration = import_module("vigil.recommendations.migrations.0002_authorities_from_places")
    migration.link_places(django_apps, None)
    national = Authority.objects.get(body=body)
    assert set(national.places.all()) == {first, second}
    assert list(Authority.objects.get(body=other_body).places.all()) == [elsewhere]
