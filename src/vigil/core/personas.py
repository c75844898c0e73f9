"""The named people of the demo and of the test suite: one per role in the national body, a
monitor of a member body, and the head of another body. One list, so a persona means the same
thing in `vigil demo`, in the README and in every app's tests."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.models import Role

# The demo's and the tests' bodies: the national mechanism, a member body it coordinates, and
# an unrelated mechanism that must never see anything of the other two.
NATIONAL, MEMBER, OTHER = "npm", "member", "other"


@dataclass(frozen=True)
class Persona:
    username: str
    role: str
    body: str
    description: str


PERSONAS = [
    Persona("head", Role.HEAD, NATIONAL, "Head of the national mechanism"),
    Persona("leader", Role.VISIT_LEADER, NATIONAL, "Visit leader"),
    Persona("monitor", Role.MONITOR, NATIONAL, "Monitor"),
    Persona("analyst", Role.ANALYST, NATIONAL, "Analyst"),
    Persona("admin", Role.ADMIN, NATIONAL, "Administrator (users and settings)"),
    Persona("auditor", Role.AUDITOR, NATIONAL, "Auditor (read-only, audit trail)"),
    Persona(
        "focal", Role.AUTHORITY_FOCAL_POINT, NATIONAL, "Focal point of the Ministry of Justice"
    ),
    Persona("regional", Role.MONITOR, MEMBER, "Monitor of the northern member body"),
    Persona("outsider", Role.HEAD, OTHER, "Head of another mechanism (sees none of the above)"),
]
BY_USERNAME = {persona.username: persona for persona in PERSONAS}
# The persona of each role in the national body.
BY_ROLE = {persona.role: persona for persona in PERSONAS if persona.body == NATIONAL}
