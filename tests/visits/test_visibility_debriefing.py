"""What a member may not see of a visit does not exist for them in its registers checked,
debriefing, commitments and difficulties either: a secret visit's, off the team; another
body's, whoever asks."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory, UserFactory
from tests.invisibility import assert_invisible
from tests.visits.conftest import staff, start
from vigil.core.access import can_see
from vigil.core.models import Role
from vigil.visits import services
from vigil.visits.models import (
    Commitment,
    Debriefing,
    DebriefingFinding,
    Discrepancy,
    RegisterCheck,
)

pytestmark = pytest.mark.django_db

OFF_TEAM = [Role.MONITOR, Role.ANALYST, Role.AUDITOR]


def obstruct(visit, membership, **data):
    return services.obstruction_create(
        membership=membership,
        visit=visit,
        data={
            "kind": "gate_delay",
            "occurred_at": timezone.now(),
            "description": "Kept two hours at the gate of the secret visit.",
            "severity": "serious",
            **data,
        },
    )


def secret_debriefing(visit) -> Debriefing:
    """A debriefing is recorded once a visit has started, which ends its secrecy; the rule
    must hide it all the same, so the record is made directly here."""
    debriefing = Debriefing.objects.create(
        visit=visit, held_at=timezone.now(), attendees="Mr J. Synthetic, director"
    )
    Commitment.objects.create(
        debriefing=debriefing, text="Give the team the keys", due_on=timezone.localdate()
    )
    return debriefing


@pytest.mark.parametrize("role", OFF_TEAM)
def test_a_secret_visits_debriefing_and_difficulties_do_not_exist_off_the_team(
    persona, visit, leader, role
):
    staff(visit, leader)
    obstruction = obstruct(visit, leader)  # kept at the gate: the visit has not started
    debriefing = secret_debriefing(visit)
    member = persona(role)
    assert assert_invisible(member, debriefing) > 10
    assert assert_invisible(member, obstruction) > 10
    assert not can_see(member, debriefing.commitments.get())
    # The team sees them.
    assert can_see(leader, debriefing) and can_see(leader, obstruction)


@pytest.mark.parametrize("role", [Role.HEAD, Role.VISIT_LEADER, Role.MONITOR])
def test_another_bodys_members_never_see_them(other_body, visit, leader, role):
    visit = start(visit, leader)
    staff(visit, leader)
    check = services.register_check_create(
        membership=leader,
        visit=visit,
        data={"register_kind": "custody", "sample_size": 10},
        discrepancies=["Two arrivals missing from the custody register"],
    )
    observation = services.discrepancy_to_observation(
        membership=leader, discrepancy=check.discrepancies.get()
    )
    debriefing = services.debriefing_save(
        membership=leader,
        visit=visit,
        data={"held_at": timezone.now(), "attendees": "Ms K. Example, head of security"},
        findings=[observation],
    )
    commitment = services.commitment_create(
        membership=leader,
        debriefing=debriefing,
        text="Complete the register",
        due_on=timezone.localdate() + datetime.timedelta(days=7),
    )
    obstruction = obstruct(visit, leader, description="Another body must never read this.")
    stranger = MembershipFactory(
        user=UserFactory(username=f"stranger-{role}"), body=other_body, role=role
    )
    assert assert_invisible(stranger, debriefing) > 10
    assert assert_invisible(stranger, obstruction) > 10
    for record in (
        check,
        check.discrepancies.get(),
        commitment,
        DebriefingFinding.objects.get(debriefing=debriefing),
    ):
        assert not can_see(stranger, record), record
        assert can_see(leader, record), record


def test_once_the_visit_started_the_body_sees_its_debriefing(persona, visit, leader):
    visit = start(visit, leader)
    staff(visit, leader)
    debriefing = services.debriefing_save(
        membership=leader,
        visit=visit,
        data={"held_at": timezone.now(), "attendees": "Mr J. Synthetic, director"},
    )
    assert can_see(persona(Role.ANALYST), debriefing)
    assert not can_see(persona(Role.AUTHORITY_FOCAL_POINT), debriefing)
    assert RegisterCheck.objects.count() == 0 and Discrepancy.objects.count() == 0
