"""The demo gives the monitor a few cases and persons at risk, built through the services."""

from __future__ import annotations

import pytest

from vigil.core import demo
from vigil.protection.models import Case, ProtectedPerson, Referral, Transfer

pytestmark = pytest.mark.django_db


def test_the_demo_has_cases_held_by_the_monitor():
    demo.build("small", log=lambda _line: None)
    assert Case.objects.count() == 3
    assert ProtectedPerson.objects.count() == 2
    assert Referral.objects.count() == 1
    assert Transfer.objects.count() == 1
    assert all(case.holders.get().user.username == "monitor" for case in Case.objects.all())
