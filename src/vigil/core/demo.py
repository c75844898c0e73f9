"""Synthetic, deterministic demo data: bodies and one persona per role, then each app's records.

Nothing here is real: names are made of syllables, coordinates lie in an imaginary country.
Apps add their own records by registering a contributor (later issues: visits, recommendations).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from vigil.core.models import Body, Membership, Role
from vigil.core.personas import MEMBER, NATIONAL, OTHER, PERSONAS
from vigil.core.taxonomy import seed_taxonomy

SCALES = ("small", "national")
DEFAULT_PASSWORD = "vigil-demo-password"  # noqa: S105  (printed by `make run`, demo only)


@dataclass
class DemoContext:
    scale: str
    rng: random.Random
    password: str
    bodies: dict[str, Body] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print


Contributor = Callable[[DemoContext], None]
_CONTRIBUTORS: list[tuple[int, Contributor]] = []


def register_demo(order: int) -> Callable[[Contributor], Contributor]:
    def register(func: Contributor) -> Contributor:
        _CONTRIBUTORS.append((order, func))
        return func

    return register


def _bodies(ctx: DemoContext) -> None:
    npm, _ = Body.objects.get_or_create(
        slug="npm",
        defaults={
            "name": "National Preventive Mechanism of Examplia",
            "short_name": "Examplia NPM",
        },
    )
    north, _ = Body.objects.get_or_create(
        slug="north",
        defaults={
            "name": "Northern Provinces Monitoring Office",
            "short_name": "Northern Office",
            "coordinator": npm,
        },
    )
    other, _ = Body.objects.get_or_create(
        slug="other",
        defaults={
            "name": "Independent Detention Monitor of Samplestan",
            "short_name": "Samplestan",
        },
    )
    for body in (npm, north, other):
        seed_taxonomy(body)
    ctx.bodies = {NATIONAL: npm, MEMBER: north, OTHER: other}


def _personas(ctx: DemoContext) -> None:
    user_model = get_user_model()
    # The second body of the head shows the body switcher in the demo.
    for persona in PERSONAS:
        username, role, body_key = persona.username, persona.role, persona.body
        first, _, last = persona.description.partition(" ")
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
        )
        if created:
            user.set_password(ctx.password)
            user.save()
        Membership.objects.get_or_create(
            user=user, body=ctx.bodies[body_key], defaults={"role": role}
        )
        ctx.users[username] = user
    Membership.objects.get_or_create(
        user=ctx.users["head"], body=ctx.bodies[MEMBER], defaults={"role": Role.ANALYST}
    )


def is_empty() -> bool:
    return not Body.objects.exists()


@transaction.atomic
def build(
    scale: str = "small",
    *,
    seed: int = 2006,
    password: str = DEFAULT_PASSWORD,
    log: Callable[[str], None] = print,
) -> DemoContext:
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; choose one of {', '.join(SCALES)}.")
    rng = random.Random(seed)  # noqa: S311  (synthetic data, not secrets)
    ctx = DemoContext(scale=scale, rng=rng, password=password, log=log)
    _bodies(ctx)
    _personas(ctx)
    for _, contributor in sorted(_CONTRIBUTORS, key=lambda item: item[0]):
        contributor(ctx)
    return ctx
