"""The national demo data set: the bulk visits and findings keep the distributions a national
mechanism's work has (checked on a small build of the same generator)."""

from __future__ import annotations

import pytest
from django.db.models import Count, F

from vigil.core import demo
from vigil.core.personas import NATIONAL
from vigil.visits.demo import national_visits
from vigil.visits.models import Observation, Severity, TeamMember, Visit, VisitKind


@pytest.mark.django_db
def test_national_generator_builds_the_distributions():
    ctx = demo.build("small", log=lambda message: None)
    body = ctx.bodies[NATIONAL]
    before_visits = Visit.objects.filter(body=body).count()
    before = set(Observation.objects.values_list("pk", flat=True))

    national_visits(ctx, body, visits=1_000, observations=6_000)

    assert Visit.objects.filter(body=body).count() == before_visits + 1_000
    findings = Observation.objects.exclude(pk__in=before)
    assert findings.count() == 6_000
    # Every visit has its leader; findings belong only to visits that took place.
    assert TeamMember.objects.filter(visit__body=body).count() >= before_visits + 1_000
    assert not findings.filter(visit__started_at__isnull=True).exists()
    assert not findings.filter(created_at__lt=F("visit__started_at")).exists()

    severities = dict(findings.values_list("severity").annotate(n=Count("pk")))
    assert severities[Severity.CONCERN] > severities[Severity.SERIOUS] > severities[Severity.URGENT]
    assert 0.02 < severities[Severity.URGENT] / 6_000 < 0.12
    themes = dict(findings.values_list("theme__code").annotate(n=Count("pk")))
    assert len(themes) >= 20
    assert themes["health-care"] > themes["torture-ill-treatment"]
    # Ill-treatment findings weigh heavier than the rest.
    ill = findings.filter(theme__code__in=["torture-ill-treatment", "use-of-force"])
    share_serious = ill.filter(severity__in=[Severity.SERIOUS, Severity.URGENT]).count() / max(
        1, ill.count()
    )
    assert share_serious > 0.45
    kinds = dict(Visit.objects.filter(body=body).values_list("kind").annotate(n=Count("pk")))
    assert kinds[VisitKind.REGULAR] > kinds[VisitKind.FOLLOW_UP] > kinds.get(VisitKind.URGENT, 0)
    # Some visits are still to come, unannounced ones among them: secret until they start.
    assert Visit.objects.filter(body=body, started_at__isnull=True, is_announced=False).exists()
    assert findings.filter(is_good_practice=True).exists()
